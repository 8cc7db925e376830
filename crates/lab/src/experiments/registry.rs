//! The selection `--only` makes from [`all`](super::all), and the runs.
//!
//! The list itself is the `experiments!` macro in `experiments/mod.rs`:
//! registering an experiment is one line there, and the claim it answers is
//! one line in [`crate::claims::CLAIMS`].

use std::path::PathBuf;

use super::{all, c15_summary};
use clap::ValueEnum;

use crate::{
    experiment::{EngineChoice, Plan, RunSettings, Runnable},
    LabError,
};

/// The experiments `only` names (ids, case-insensitive), or all of them.
pub fn select(only: &[String]) -> Result<Vec<Box<dyn Runnable>>, LabError> {
    let wanted: Vec<String> = only
        .iter()
        .map(|id| id.trim().to_ascii_lowercase())
        .filter(|id| !id.is_empty())
        .collect();
    let experiments = all();
    if wanted.is_empty() {
        return Ok(experiments);
    }
    let known: Vec<&str> = experiments.iter().map(|e| e.id()).collect();
    if let Some(unknown) = wanted.iter().find(|id| !known.contains(&id.as_str())) {
        return Err(LabError::Config(format!(
            "no experiment {unknown:?}; `authlab list` shows: {}",
            known.join(", ")
        )));
    }
    Ok(experiments
        .into_iter()
        .filter(|e| wanted.iter().any(|w| w == e.id()))
        .collect())
}

/// The engines an experiment runs on, as `authlab list` shows them:
/// `local, swarm`, or `local only`.
pub fn engines(experiment: &dyn Runnable) -> String {
    if experiment.local_only().is_some() {
        return "local only".into();
    }
    EngineChoice::value_variants()
        .iter()
        .filter_map(|e| e.to_possible_value())
        .map(|v| v.get_name().to_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `authlab list`'s table of experiments, then why each local-only one is.
pub fn listing(experiments: &[Box<dyn Runnable>]) -> String {
    let mut out = format!("{:<6} {:<10} {:<13} TITLE\n", "ID", "CLAIMS", "ENGINES");
    for e in experiments {
        out.push_str(&format!(
            "{:<6} {:<10} {:<13} {}\n",
            e.id(),
            e.claims().join(","),
            engines(e.as_ref()),
            e.title()
        ));
    }
    let local_only: Vec<_> = experiments
        .iter()
        .filter_map(|e| Some((e.id(), e.local_only()?)))
        .collect();
    if !local_only.is_empty() {
        out.push_str(
            "\nLocal only (on another engine `authlab run` lists them with the reason and runs the rest):\n",
        );
        for (id, reason) in local_only {
            out.push_str(&format!("{id:<6} local only: {reason}\n"));
        }
    }
    out
}

/// The selection `only` makes, split by what runs on the engine named
/// `engine` (see [`Plan::for_engine`]).
pub fn plan(only: &[String], engine: &str) -> Result<Plan, LabError> {
    Plan::for_engine(select(only)?, engine)
}

/// Runs the experiments `settings.only` selects that its engine runs, and
/// writes `<root>/<run-id>/` plus the `<root>/latest` link, with C15
/// derived from the others.
pub async fn run(settings: &RunSettings) -> Result<PathBuf, LabError> {
    run_plan(plan(&settings.only, settings.engine.name())?, settings).await
}

/// Runs `experiments` (instances, so a test can hand in one set up to fail
/// on purpose) as [`run`] does.
pub async fn run_these(
    experiments: Vec<Box<dyn Runnable>>,
    settings: &RunSettings,
) -> Result<PathBuf, LabError> {
    run_plan(
        Plan::for_engine(experiments, settings.engine.name())?,
        settings,
    )
    .await
}

/// Runs a plan made beforehand (`authlab run` prints what it leaves out
/// first).
pub async fn run_plan(plan: Plan, settings: &RunSettings) -> Result<PathBuf, LabError> {
    crate::experiment::run_these(plan, c15_summary::summarize, settings).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selecting_unknown_experiments_names_the_known_ones() {
        let error = select(&["c99".into()]).err().unwrap().to_string();
        assert!(error.contains("c12"), "{error}");
        assert_eq!(select(&["C12".into()]).unwrap().len(), 1);
    }

    #[test]
    fn the_list_says_where_each_experiment_runs_and_why_not_elsewhere() {
        let text = listing(&all());
        let line = |id: &str| {
            text.lines()
                .find(|l| l.starts_with(&format!("{id:<6} ")))
                .unwrap_or_default()
                .to_owned()
        };
        assert!(
            line("c1").starts_with("c1     C1         local, swarm  "),
            "{text}"
        );
        assert!(line("c5").contains(" local, swarm "), "{text}");
        assert!(
            line("c4").starts_with("c4     C4         local only    "),
            "{text}"
        );
        let why = text
            .split_once("\nLocal only")
            .map(|(_, why)| why)
            .unwrap_or_default();
        assert!(
            why.contains("\nc4     local only: it sets the store's delay with the latency proxy")
                && why.contains("\nc2     local only: it kills a sticky node")
                && !why.contains("\nc1 ")
                && !why.contains("\nc8 "),
            "{text}"
        );
    }
}
