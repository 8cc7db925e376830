//! The runner: runs experiments one after another, turns a failure into
//! inconclusive verdicts, and writes `reports/<run-id>/`.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant, SystemTime},
};

use super::{progress, RunContext, Runnable};
use crate::{
    report,
    results::{ClaimVerdict, ExperimentResult, Machine, RunResults, Verdict, Versions},
    LabError,
};

/// Makes a result out of the others' (c15 reads the typed summaries of the
/// experiments that ran); `None` when there is nothing to derive it from.
pub type Derive = fn(&[ExperimentResult]) -> Option<ExperimentResult>;

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

/// Runs `experiments` and writes `<root>/<run-id>/` plus the `<root>/latest`
/// link; `only` is recorded as the selection that produced them. A failing
/// experiment is recorded (inconclusive verdicts, the error in the report);
/// the others still run.
pub async fn run_these(
    experiments: Vec<Box<dyn Runnable>>,
    derive: Derive,
    only: &[String],
    quick: bool,
    root: &Path,
    launcher: PathBuf,
) -> Result<PathBuf, LabError> {
    let (id, started) = run_id(SystemTime::now());
    let dir = root.join(&id);
    std::fs::create_dir_all(&dir).map_err(|e| LabError::Io(format!("{}: {e}", dir.display())))?;

    let mut results = run_all(&experiments, quick, &dir, launcher).await;
    if let Some(derived) = derive(&results) {
        results.push(derived);
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

async fn run_all(
    experiments: &[Box<dyn Runnable>],
    quick: bool,
    dir: &Path,
    launcher: PathBuf,
) -> Vec<ExperimentResult> {
    let total: Duration = experiments.iter().map(|e| e.estimate(quick)).sum();
    let progress = progress::Progress::new(total, experiments.len());
    let ctx = RunContext {
        quick,
        launcher,
        dir: dir.to_path_buf(),
        // The one engine there is yet; `--engine` will choose.
        engine: std::sync::Arc::new(crate::Local),
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
    results
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

    #[test]
    fn run_ids_sort_by_time() {
        let (id, started) = run_id(SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000));
        assert_eq!(started, "2026-11-18T11:06:40Z");
        assert_eq!(id, "20261118-110640");
    }
}
