//! Every experiment, in report order, and the selection `--only` makes.
//!
//! Adding an experiment is one line in [`all`]; the claim it answers is one
//! line in [`crate::claims::CLAIMS`].

use std::path::{Path, PathBuf};

use super::{
    c10_sliding, c11, c12_attacks, c13_memory, c14, c15_summary, c1_affinity, c2_sticky, c3_outage,
    c4_latency, c6_verify, c7_revocation, c8_demotion, c9_size, capacity,
};
use crate::{experiment::Runnable, LabError};

/// Every experiment, in report order.
pub fn all() -> Vec<Box<dyn Runnable>> {
    vec![
        Box::new(c1_affinity::SessionAffinity),
        Box::new(c2_sticky::Stickiness),
        Box::new(c3_outage::StoreOutage),
        Box::new(c4_latency::StoreLatency),
        Box::new(capacity::ScaleOut::default()),
        Box::new(c6_verify::VerifyCost),
        Box::new(c7_revocation::Revocation::default()),
        Box::new(c8_demotion::RoleDemotion),
        Box::new(c9_size::CredentialSize),
        Box::new(c10_sliding::Sliding),
        Box::new(c11::StolenToken::default()),
        Box::new(c12_attacks::Attacks::default()),
        Box::new(c13_memory::MemoryPerUser),
        Box::new(c14::Downstream::default()),
    ]
}

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
