//! c13 — what a logged-in user costs in memory, on each side.
//!
//! Logs N load users in on each stack of a real cluster and reads what grew:
//! the session store's `used_memory` (Redis `INFO memory`), `MEMORY USAGE` of
//! one session and its index entry, and the resident memory of each node.
//! The JWT stack's access tokens live only on the client; its refresh tokens,
//! however, are server state too, and are measured the same way.
//!
//! [`measure`] talks to the cluster, [`analysis`] turns the readings into
//! bytes per login and judges C13, [`report`] writes the tables, the chart
//! and the lesson.

mod analysis;
mod measure;
mod report;

use crate::{
    experiment::{About, Experiment, Presentation, RunContext},
    results::ClaimVerdict,
    summaries::{MemorySummary, Summary},
    LabError,
};

#[derive(Default)]
pub struct MemoryPerUser;

impl Experiment for MemoryPerUser {
    type Raw = measure::Raw;
    type Summary = analysis::Summary;

    const ABOUT: About = About {
        id: "c13",
        title: "Server-side memory per logged-in user",
        claims: &["C13"],
        question: "Do sessions cost server-side memory per logged-in user while JWTs cost none?",
        seconds: (8, 20),
    };

    const LOCAL_ONLY: Option<&'static str> = Some(
        "it reads a node's resident memory from /proc by its process id, Node::pid",
    );

    async fn measure(&self, ctx: &RunContext) -> Result<measure::Raw, LabError> {
        let users = if ctx.quick { 2_000 } else { 20_000 };
        measure::measure(ctx, users).await
    }

    fn summarize(&self, raw: &measure::Raw) -> analysis::Summary {
        analysis::summarize(raw)
    }

    fn judge(&self, summary: &analysis::Summary) -> Vec<ClaimVerdict> {
        vec![analysis::judge(summary)]
    }

    fn present(
        &self,
        raw: &measure::Raw,
        summary: &analysis::Summary,
        _quick: bool,
    ) -> Presentation {
        report::present(raw, summary)
    }

    fn shared(&self, summary: &analysis::Summary) -> Option<Summary> {
        Some(Summary::Memory(MemorySummary {
            session_bytes_per_login: summary.figures.session_bytes_per_login,
            jwt_bytes_per_login: summary.figures.jwt_bytes_per_login,
        }))
    }
}
