//! The runner: runs experiments one after another on the run's engine,
//! turns a failure into inconclusive verdicts, records where everything
//! ran, and writes `reports/<run-id>/`.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime},
};

use super::{placements::PlacementLog, progress, RunContext, Runnable};
use crate::{
    report,
    results::{
        ClaimVerdict, Environment, ExperimentResult, Machine, NotRun, RunResults, Verdict, Versions,
    },
    Engine, LabError,
};

/// Makes a result out of the others' (c15 reads the typed summaries of the
/// experiments that ran); `None` when there is nothing to derive it from.
pub type Derive = fn(&[ExperimentResult]) -> Option<ExperimentResult>;

/// What a run is asked for, besides which experiments.
pub struct RunSettings {
    /// What starts the clusters.
    pub engine: Arc<dyn Engine>,
    /// The `--only` selection, recorded with the results.
    pub only: Vec<String>,
    pub quick: bool,
    /// Where run directories go (`reports`).
    pub root: PathBuf,
    /// The `authlab` binary, for engines that start it as a node.
    pub launcher: PathBuf,
}

/// The experiments a run runs on its engine, and those it leaves out.
pub struct Plan {
    pub run: Vec<Box<dyn Runnable>>,
    pub not_run: Vec<NotRun>,
}

impl Plan {
    /// `experiments` split by whether they run on the engine named
    /// `engine`. An error when none of them does: a run of nothing would
    /// write an empty report and look like a result.
    pub fn for_engine(experiments: Vec<Box<dyn Runnable>>, engine: &str) -> Result<Self, LabError> {
        let mut plan = Plan {
            run: Vec::new(),
            not_run: Vec::new(),
        };
        for experiment in experiments {
            match experiment.not_run_on(engine) {
                Some(left_out) => plan.not_run.push(left_out),
                None => plan.run.push(experiment),
            }
        }
        if plan.run.is_empty() && !plan.not_run.is_empty() {
            return Err(LabError::Config(format!(
                "nothing to run on the {engine} engine: {}",
                plan.not_run
                    .iter()
                    .map(NotRun::line)
                    .collect::<Vec<_>>()
                    .join("; ")
            )));
        }
        Ok(plan)
    }
}

/// `(run id, start time)`: `20261126-153000` sorts by time and is safe as a
/// directory name; the start time is RFC 3339.
pub fn run_id(now: SystemTime) -> (String, String) {
    let started = humantime::format_rfc3339_seconds(now).to_string();
    let id = started
        .trim_end_matches('Z')
        .replace(['-', ':'], "")
        .replace('T', "-");
    (id, started)
}

/// Runs `plan` and writes `<root>/<run-id>/` plus the `<root>/latest` link.
/// A failing experiment is recorded (inconclusive verdicts, the error in
/// the report); the others still run. The experiments left out are
/// recorded with their reasons.
pub async fn run_these(
    plan: Plan,
    derive: Derive,
    settings: &RunSettings,
) -> Result<PathBuf, LabError> {
    let (id, started) = run_id(SystemTime::now());
    let dir = settings.root.join(&id);
    std::fs::create_dir_all(&dir).map_err(|e| LabError::Io(format!("{}: {e}", dir.display())))?;

    let (mut results, environment) = run_all(&plan.run, settings, &dir).await;
    if let Some(derived) = derive(&results) {
        results.push(derived);
    }
    let run = RunResults {
        run_id: id,
        started,
        quick: settings.quick,
        only: settings.only.clone(),
        machine: Machine::detect(),
        versions: Versions::detect(),
        environment: Some(environment),
        experiments: results,
        not_run: plan.not_run,
    };
    run.write(&dir)?;
    report::render(&run, &dir)?;
    let latest = settings.root.join("latest");
    let _ = std::fs::remove_file(&latest);
    #[cfg(unix)]
    let _ = std::os::unix::fs::symlink(dir.file_name().unwrap_or_default(), &latest);
    Ok(dir)
}

/// The engine and its hosts, as a run starts (the hosts, and the record of
/// them for `results.json`); an engine that cannot list its hosts does not
/// stop the run, and the record says it could not.
pub async fn environment_of(engine: &dyn Engine) -> (harness::Hosts, Environment) {
    match engine.hosts().await {
        Ok(hosts) => {
            let environment = Environment::new(engine.name(), &hosts);
            (hosts, environment)
        }
        Err(error) => {
            let hosts = harness::Hosts::default();
            let mut environment = Environment::new(engine.name(), &hosts);
            environment.hosts_error = Some(error.to_string());
            (hosts, environment)
        }
    }
}

async fn run_all(
    experiments: &[Box<dyn Runnable>],
    settings: &RunSettings,
    dir: &Path,
) -> (Vec<ExperimentResult>, Environment) {
    let quick = settings.quick;
    let total: Duration = experiments.iter().map(|e| e.estimate(quick)).sum();
    let progress = progress::Progress::new(total, experiments.len());
    let (hosts, mut environment) = environment_of(&*settings.engine).await;
    let ctx = RunContext {
        quick,
        launcher: settings.launcher.clone(),
        dir: dir.to_path_buf(),
        engine: settings.engine.clone(),
        hosts,
        progress: progress.bar(),
        placements: Mutex::new(PlacementLog::default()),
    };
    let mut results = Vec::new();
    let mut done = Duration::ZERO;
    for (index, experiment) in experiments.iter().enumerate() {
        // goose owns SIGINT once it has run (see loadtests' docs): a Ctrl-C
        // stops the goose run in progress and is remembered here, so the
        // remaining experiments are skipped and the partial report written.
        if loadtests::interrupt_requested() {
            progress.note("interrupted: skipping the remaining experiments");
            break;
        }
        progress.started(
            index,
            experiment.id(),
            experiment.title(),
            experiment.estimate(quick),
        );
        ctx.log().begin(experiment.id());
        let started = Instant::now();
        let result = experiment
            .run(&ctx)
            .await
            .unwrap_or_else(|error| failed(experiment.as_ref(), &error, started));
        done += experiment.estimate(quick);
        progress.finished(&result, done);
        results.push(result);
    }
    progress.finish();
    environment.experiments = std::mem::take(&mut *ctx.log()).into_records();
    (results, environment)
}

fn failed(experiment: &dyn Runnable, error: &LabError, started: Instant) -> ExperimentResult {
    ExperimentResult {
        id: experiment.id().into(),
        title: experiment.title().into(),
        claims: experiment.claims().iter().map(|c| c.to_string()).collect(),
        question: String::new(),
        setup: String::new(),
        verdicts: experiment
            .claims()
            .iter()
            .map(|claim| ClaimVerdict {
                headline: String::new(),
                by_design: None,
                claim: claim.to_string(),
                verdict: Verdict::Inconclusive(format!("the experiment failed: {error}")),
                rule: "no numbers, no verdict".into(),
                evidence: String::new(),
            })
            .collect(),
        tables: Vec::new(),
        chart: None,
        lesson: String::new(),
        summary: None,
        raw: serde_json::Value::Null,
        seconds: started.elapsed().as_secs_f64(),
        error: Some(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments;

    fn ids(plan: &Plan) -> (Vec<&str>, Vec<&str>) {
        (
            plan.run.iter().map(|e| e.id()).collect(),
            plan.not_run.iter().map(|n| n.id.as_str()).collect(),
        )
    }

    #[test]
    fn on_the_swarm_only_what_runs_there_is_planned_and_the_rest_has_a_reason() {
        let local = Plan::for_engine(experiments::all(), "local").unwrap();
        assert_eq!(local.run.len(), experiments::all().len());
        assert!(local.not_run.is_empty());

        let swarm = Plan::for_engine(experiments::all(), "swarm").unwrap();
        let (run, not_run) = ids(&swarm);
        assert_eq!(run, ["c1", "c3", "c5", "c7", "c8", "c10"]);
        assert_eq!(
            not_run,
            ["c2", "c4", "c6", "c9", "c11", "c12", "c13", "c14"]
        );
        for left_out in &swarm.not_run {
            assert!(!left_out.reason.is_empty() && !left_out.claims.is_empty());
            assert!(
                left_out
                    .line()
                    .starts_with(&format!("{}: local only (", left_out.id)),
                "{}",
                left_out.line()
            );
        }
    }

    #[test]
    fn a_selection_of_local_only_experiments_on_the_swarm_is_an_error_that_says_why() {
        let only = experiments::select(&["c4".into(), "c1".into()]).unwrap();
        let plan = Plan::for_engine(only, "swarm").unwrap();
        assert_eq!(ids(&plan), (vec!["c1"], vec!["c4"]));

        let only = experiments::select(&["c4".into(), "c13".into()]).unwrap();
        let error = Plan::for_engine(only, "swarm").err().unwrap().to_string();
        assert!(
            error.starts_with("nothing to run on the swarm engine: c4: local only (")
                && error.contains("; c13: local only ("),
            "{error}"
        );
    }

    #[test]
    fn run_ids_sort_by_time() {
        let (id, started) = run_id(SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000));
        assert_eq!(started, "2026-11-18T11:06:40Z");
        assert_eq!(id, "20261118-110640");
    }
}
