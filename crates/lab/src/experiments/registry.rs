//! The selection `--only` makes from [`all`](super::all), and the runs.
//!
//! The list itself is the `experiments!` macro in `experiments/mod.rs`:
//! registering an experiment is one line there, and the claim it answers is
//! one line in [`crate::claims::CLAIMS`].

use std::path::{Path, PathBuf};

use super::{all, c15_summary};
use crate::{experiment::Runnable, LabError};

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

/// Runs the selected experiments and writes `<root>/<run-id>/` plus the
/// `<root>/latest` link, with C15 derived from the others.
pub async fn run(
    only: &[String],
    quick: bool,
    root: &Path,
    launcher: PathBuf,
) -> Result<PathBuf, LabError> {
    run_these(select(only)?, only, quick, root, launcher).await
}

/// Runs `experiments` (instances, so a test can hand in one set up to fail
/// on purpose) as [`run`] does.
pub async fn run_these(
    experiments: Vec<Box<dyn Runnable>>,
    only: &[String],
    quick: bool,
    root: &Path,
    launcher: PathBuf,
) -> Result<PathBuf, LabError> {
    crate::experiment::run_these(
        experiments,
        c15_summary::summarize,
        only,
        quick,
        root,
        launcher,
    )
    .await
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
}
