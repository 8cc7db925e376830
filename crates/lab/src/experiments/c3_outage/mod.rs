//! c3 — the shared session store stops during load.
//!
//! goose users browse both stacks while the store is stopped and restarted:
//! every session request needs the store, a JWT `/me` (revocation `none`)
//! does not. The JWT stack keeps its refresh tokens in the same store, so
//! beside the browsing, two clients log in and rotate refresh tokens on the
//! JWT stack throughout: those calls need the store, and whether they fail
//! during the outage is measured, not assumed. Two variants of the store:
//! without persistence (killed, back empty: every session is gone), and
//! with an append-only file fsynced every second (a clean shutdown, back
//! from the file: no session may be lost).
//!
//! [`measure`] runs the outages, [`analysis`] cuts every trial's seconds into
//! phases and holds the rule, [`report`] writes the tables, the chart and the
//! lesson.

mod analysis;
mod measure;
mod report;

use std::time::Duration;

use self::analysis::{Persistence, Raw, Summary};
use crate::{
    experiment::{About, Experiment, Presentation, RunContext},
    kit::{behaviour::trials, schedule},
    results::ClaimVerdict,
    LabError,
};

#[derive(Default)]
pub struct StoreOutage;

impl Experiment for StoreOutage {
    type Raw = Raw;
    type Summary = Summary;

    const ABOUT: About = About {
        id: "c3",
        title: "The shared session store stops during load",
        claims: &["C3"],
        question: "Does a shared session store become a single point of failure, and what does its restart lose?",
        seconds: (25, 160),
    };

    async fn measure(&self, ctx: &RunContext) -> Result<Raw, LabError> {
        let phase = Duration::from_secs(if ctx.quick { 3 } else { 8 });
        let trials = trials(ctx);
        // Both stacks share each outage; each variant on a fresh cluster per trial.
        let runs = schedule::run(
            ctx,
            &Persistence::ALL,
            trials,
            |persistence| {
                format!(
                    "both stacks under load, store {}: stopped after {} s, back {} s later",
                    persistence.label(),
                    phase.as_secs(),
                    phase.as_secs()
                )
            },
            async |persistence, trial| measure::outage_run(ctx, phase, *persistence, trial).await,
        )
        .await?
        .into_iter()
        .map(|m| m.value)
        .collect();
        Ok(Raw {
            phase_s: phase.as_secs(),
            trials,
            runs,
        })
    }

    fn summarize(&self, raw: &Raw) -> Summary {
        analysis::summarize(&raw.runs)
    }

    fn judge(&self, summary: &Summary) -> Vec<ClaimVerdict> {
        vec![analysis::verdict(summary)]
    }

    fn present(&self, raw: &Raw, summary: &Summary, _quick: bool) -> Presentation {
        report::present(raw, summary)
    }
}
