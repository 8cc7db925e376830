//! The two faces of an experiment: [`Experiment`], the stages its author
//! writes, and [`Runnable`], what the runner and the registry hold.

use std::{future::Future, pin::Pin, time::Duration, time::Instant};

use serde::Serialize;

use super::RunContext;
use crate::{
    results::{Chart, ClaimVerdict, ExperimentResult, NotRun, NotRunStatus, Table},
    summaries::Summary,
    Engine, LabError, Local,
};

/// What an experiment is, before it runs.
#[derive(Debug, Clone, Copy)]
pub struct About {
    /// `c12`: the report's anchor and `--only`'s name.
    pub id: &'static str,
    pub title: &'static str,
    /// The claims of `docs/claims.md` it answers, `["C12"]`.
    pub claims: &'static [&'static str],
    /// The question the report opens the experiment with.
    pub question: &'static str,
    /// Rough wall time in seconds, quick and full, for the progress
    /// display's "remaining": measured on a 2-core machine, rounded up.
    pub seconds: (u64, u64),
}

/// What the report shows of an experiment besides its verdicts.
#[derive(Debug, Clone, Default)]
pub struct Presentation {
    pub setup: String,
    pub tables: Vec<Table>,
    pub chart: Option<Chart>,
    pub lesson: String,
}

/// An experiment, declared in stages (see the [module docs](super)).
///
/// `Raw` is what `measure` saw, every figure the later stages use;
/// `Summary` is what `summarize` makes of it. Both are written to
/// `results.json`, so a reader can check the summary against the raw
/// figures and re-derive the verdict.
#[allow(async_fn_in_trait)] // the runner awaits it in place; no Send bound wanted
pub trait Experiment: Send + Sync {
    type Raw: Serialize;
    type Summary: Serialize;

    const ABOUT: About;

    /// Why it runs on the local engine only, when it does: what it uses
    /// that another engine does not give (a process id to read `/proc` by,
    /// the latency proxy, a file the cluster wrote on this machine). On
    /// another engine the run lists it with this reason instead of running
    /// it. `None`: it runs on any engine.
    const LOCAL_ONLY: Option<&'static str> = None;

    /// The only stage that talks to processes: runs the trials (through
    /// [`kit::schedule`](crate::kit::schedule)) and checks every load run.
    async fn measure(&self, ctx: &RunContext) -> Result<Self::Raw, LabError>;

    fn summarize(&self, raw: &Self::Raw) -> Self::Summary;

    /// One verdict per claim in [`About::claims`], by a pure rule.
    fn judge(&self, summary: &Self::Summary) -> Vec<ClaimVerdict>;

    /// The set-up, tables, chart and lesson; `quick` is the run's mode, for
    /// a set-up that names the trial counts and durations.
    fn present(&self, raw: &Self::Raw, summary: &Self::Summary, quick: bool) -> Presentation;

    /// The summary as the report's summary (c15) and first screen read it,
    /// for the experiments they read.
    fn shared(&self, _summary: &Self::Summary) -> Option<Summary> {
        None
    }
}

pub type Outcome<'a> = Pin<Box<dyn Future<Output = Result<ExperimentResult, LabError>> + 'a>>;

/// An experiment as the runner sees it: every [`Experiment`] is one.
pub trait Runnable: Send + Sync {
    fn id(&self) -> &'static str;
    fn title(&self) -> &'static str;
    fn claims(&self) -> &'static [&'static str];
    fn estimate(&self, quick: bool) -> Duration;
    /// [`Experiment::LOCAL_ONLY`].
    fn local_only(&self) -> Option<&'static str>;
    fn run<'a>(&'a self, ctx: &'a RunContext) -> Outcome<'a>;

    /// Why it does not run on the engine named `engine` (`None`: it does).
    fn not_run_on(&self, engine: &str) -> Option<NotRun> {
        let reason = self.local_only().filter(|_| engine != Local.name())?;
        Some(NotRun {
            id: self.id().into(),
            title: self.title().into(),
            claims: self.claims().iter().map(|c| c.to_string()).collect(),
            status: NotRunStatus::LocalOnly,
            reason: reason.into(),
        })
    }
}

impl<E: Experiment> Runnable for E {
    fn id(&self) -> &'static str {
        E::ABOUT.id
    }

    fn title(&self) -> &'static str {
        E::ABOUT.title
    }

    fn claims(&self) -> &'static [&'static str] {
        E::ABOUT.claims
    }

    fn estimate(&self, quick: bool) -> Duration {
        let (quick_s, full_s) = E::ABOUT.seconds;
        Duration::from_secs(if quick { quick_s } else { full_s })
    }

    fn local_only(&self) -> Option<&'static str> {
        E::LOCAL_ONLY
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> Outcome<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let raw = self.measure(ctx).await?;
            let summary = self.summarize(&raw);
            let verdicts = self.judge(&summary);
            let shown = self.present(&raw, &summary, ctx.quick);
            let about = E::ABOUT;
            Ok(ExperimentResult {
                id: about.id.into(),
                title: about.title.into(),
                claims: about.claims.iter().map(|c| c.to_string()).collect(),
                question: about.question.into(),
                setup: shown.setup,
                verdicts,
                tables: shown.tables,
                chart: shown.chart,
                lesson: shown.lesson,
                summary: self.shared(&summary),
                raw: serde_json::json!({ "measured": raw, "summary": summary }),
                seconds: started.elapsed().as_secs_f64(),
                error: None,
            })
        })
    }
}
