//! The experiments: each answers one or more claims of `docs/claims.md` from
//! numbers it measures, and states the rule its verdict follows.
//!
//! An experiment has an id (`c12`), a title, the claims it answers, a quick
//! and a full configuration (`RunContext::quick`), and returns an
//! [`ExperimentResult`] with its tables, chart, verdicts and lesson. The
//! runner writes `reports/<run-id>/` and renders the report from
//! `results.json` alone.

mod behaviour;
mod c10_sliding;
pub mod c11;
mod c12_attacks;
mod c13_memory;
mod c14;
pub mod c15_summary;
mod c1_affinity;
mod c2_sticky;
mod c3_outage;
mod c4_latency;
pub(crate) mod c6_verify;
mod c9_size;
mod c9_wire;
mod capacity;
mod connection_cost;
pub mod load_check;
mod logins;
mod progress;
mod revocation;
pub mod schedule;

pub use c12_attacks::Attacks;
pub use c14::Downstream;
pub use capacity::ScaleOut;
pub use revocation::Revocation;

use std::{
    future::Future,
    path::{Path, PathBuf},
    pin::Pin,
    time::{Duration, Instant, SystemTime},
};

use indicatif::ProgressBar;

use crate::{
    report,
    results::{ClaimVerdict, ExperimentResult, Machine, RunResults, Verdict, Versions},
    summaries::Spread,
    LabError,
};

/// An experiment step failed: the message becomes the report's error line.
pub(crate) fn err(e: impl std::fmt::Display) -> LabError {
    LabError::Config(e.to_string())
}

// The three below are tuple-shaped views of [`Spread`], the one place that
// sorts and picks the median.

/// The middle value (the upper one of an even count); 0 for no values.
pub(crate) fn median(values: &[f64]) -> f64 {
    Spread::of(values).median
}

/// (min, max) of the values: the spread the report shows beside a median.
pub(crate) fn spread(values: &[f64]) -> (f64, f64) {
    let s = Spread::of(values);
    (s.min, s.max)
}

/// (median, min, max): a figure across trials as the report shows it.
pub(crate) fn median_spread(values: &[f64]) -> (f64, f64, f64) {
    let s = Spread::of(values);
    (s.median, s.min, s.max)
}

pub type Outcome<'a> = Pin<Box<dyn Future<Output = Result<ExperimentResult, LabError>> + 'a>>;

/// What every experiment gets to run with.
pub struct RunContext {
    pub quick: bool,
    /// The `authlab` binary, for experiments that start clusters.
    pub launcher: PathBuf,
    /// This run's directory (charts go here).
    pub dir: PathBuf,
    progress: ProgressBar,
}

impl RunContext {
    /// Names the variant now running, for the progress display.
    pub fn variant(&self, what: impl Into<String>) {
        self.progress.set_message(what.into());
    }
}

pub trait Experiment: Send + Sync {
    fn id(&self) -> &'static str;
    fn title(&self) -> &'static str;
    fn claims(&self) -> &'static [&'static str];
    /// Rough wall time, for the progress display's "remaining": the times
    /// measured on a 2-core machine (quick and full runs of 2026-12-07,
    /// docs/performance.md), rounded up.
    fn estimate(&self, quick: bool) -> Duration;
    fn run<'a>(&'a self, ctx: &'a RunContext) -> Outcome<'a>;
}

/// Every experiment, in report order.
pub fn all() -> Vec<Box<dyn Experiment>> {
    vec![
        Box::new(c1_affinity::SessionAffinity),
        Box::new(c2_sticky::Stickiness),
        Box::new(c3_outage::StoreOutage),
        Box::new(c4_latency::StoreLatency),
        Box::new(capacity::ScaleOut::default()),
        Box::new(c6_verify::VerifyCost),
        Box::new(revocation::Revocation::default()),
        Box::new(revocation::RoleDemotion),
        Box::new(c9_size::CredentialSize),
        Box::new(c10_sliding::Sliding),
        Box::new(c11::StolenToken::default()),
        Box::new(c12_attacks::Attacks::default()),
        Box::new(c13_memory::MemoryPerUser),
        Box::new(c14::Downstream::default()),
    ]
}

/// The experiments `only` names (ids, case-insensitive), or all of them.
pub fn select(only: &[String]) -> Result<Vec<Box<dyn Experiment>>, LabError> {
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

/// `(run id, start time)`: `20261126-153000` sorts by time and is safe as a
/// directory name; the start time is RFC 3339.
pub(crate) fn run_id(now: SystemTime) -> (String, String) {
    let started = humantime::format_rfc3339_seconds(now).to_string();
    let id = started
        .trim_end_matches('Z')
        .replace(['-', ':'], "")
        .replace('T', "-");
    (id, started)
}

/// Runs the selected experiments and writes `<root>/<run-id>/` plus the
/// `<root>/latest` link. A failing experiment is recorded (inconclusive
/// verdicts, the error in the report); the others still run.
pub async fn run(
    only: &[String],
    quick: bool,
    root: &Path,
    launcher: PathBuf,
) -> Result<PathBuf, LabError> {
    run_these(select(only)?, only, quick, root, launcher).await
}

/// Runs `experiments` (instances, so a test can hand in one set up to fail
/// on purpose) and writes the run as [`run`] does; `only` is recorded as the
/// selection that produced them.
pub async fn run_these(
    experiments: Vec<Box<dyn Experiment>>,
    only: &[String],
    quick: bool,
    root: &Path,
    launcher: PathBuf,
) -> Result<PathBuf, LabError> {
    let (id, started) = run_id(SystemTime::now());
    let dir = root.join(&id);
    std::fs::create_dir_all(&dir).map_err(|e| LabError::Io(format!("{}: {e}", dir.display())))?;

    let total: Duration = experiments.iter().map(|e| e.estimate(quick)).sum();
    let progress = progress::Progress::new(total, experiments.len());
    let ctx = RunContext {
        quick,
        launcher,
        dir: dir.clone(),
        progress: progress.bar(),
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
    // C15 is derived from the others' numbers, never measured on its own.
    if let Some(summary) = c15_summary::summarize(&results) {
        results.push(summary);
    }

    let run = RunResults {
        run_id: id,
        started,
        quick,
        only: only.to_vec(),
        machine: Machine::detect(),
        versions: Versions::detect(),
        experiments: results,
    };
    run.write(&dir)?;
    report::render(&run, &dir)?;
    let latest = root.join("latest");
    let _ = std::fs::remove_file(&latest);
    #[cfg(unix)]
    let _ = std::os::unix::fs::symlink(dir.file_name().unwrap_or_default(), &latest);
    Ok(dir)
}

fn failed(experiment: &dyn Experiment, error: &LabError, started: Instant) -> ExperimentResult {
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

    #[test]
    fn run_ids_sort_by_time() {
        let (id, started) = run_id(SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000));
        assert_eq!(started, "2026-11-18T11:06:40Z");
        assert_eq!(id, "20261118-110640");
    }

    #[test]
    fn selecting_unknown_experiments_names_the_known_ones() {
        let error = select(&["c99".into()]).err().unwrap().to_string();
        assert!(error.contains("c12"), "{error}");
        assert_eq!(select(&["C12".into()]).unwrap().len(), 1);
    }
}
