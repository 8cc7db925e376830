//! c4 — the store's distance, paid by every session request.
//!
//! A session request cannot be answered before the store has answered, so
//! whatever the round trip to the store costs is added to it; a JWT request
//! (revocation `none`) never asks. To see that, one node per stack reaches
//! the store through the lab's latency proxy set to 0, 0.5 and 2 ms, and
//! each setting is measured two ways:
//!
//! * **latency at a fixed offered load**, with goose: 16 users browsing with
//!   40–60 ms of think time, about 300 requests/s in all, far below both the
//!   servers' and goose's ceilings, so a request's time is its service time
//!   plus the store's distance and not a queue. Coordinated-omission
//!   mitigation is on (a throttle well above the users' own pace enables it
//!   without ever holding a request back), and the percentiles up to p99.9
//!   come from goose's histograms;
//! * **throughput at saturation**, with wrk (64 connections), where the delay
//!   no longer shows as latency (the queue in front of the busy node hides
//!   it) but as requests a fixed number of connections can no longer send.
//!
//! [`measure`] runs the trials, [`analysis`] holds the summary and C4's
//! rule, [`report`] the table, chart and lesson.

mod analysis;
mod measure;
mod report;

use self::{
    analysis::{c4_headline, c4_verdict, evidence, C4_RULE},
    measure::Raw,
};
use crate::{
    experiment::{About, Experiment, Presentation, RunContext},
    results::ClaimVerdict,
    summaries::{LatencySummary, Summary},
    LabError,
};

#[derive(Default)]
pub struct StoreLatency;

impl Experiment for StoreLatency {
    type Raw = Raw;
    type Summary = LatencySummary;

    const ABOUT: About = About {
        id: "c4",
        title: "Store round trip: loopback, +0.5 ms, +2 ms",
        claims: &["C4"],
        question: "Does a shared session store add its network latency to every API call?",
        seconds: (40, 315),
    };

    const LOCAL_ONLY: Option<&'static str> = Some(
        "it sets the store's delay with the latency proxy in front of the store, through store_latency and set_store_latency",
    );

    async fn measure(&self, ctx: &RunContext) -> Result<Raw, LabError> {
        measure::measure(ctx).await
    }

    fn summarize(&self, raw: &Raw) -> LatencySummary {
        analysis::summarize(raw)
    }

    fn judge(&self, summary: &LatencySummary) -> Vec<ClaimVerdict> {
        let added = summary.added();
        vec![ClaimVerdict {
            headline: c4_headline(added),
            by_design: None,
            claim: "C4".into(),
            verdict: c4_verdict(added),
            rule: C4_RULE.into(),
            evidence: evidence(summary),
        }]
    }

    fn present(&self, raw: &Raw, summary: &LatencySummary, _quick: bool) -> Presentation {
        Presentation {
            setup: report::setup(),
            tables: vec![report::table(raw)],
            chart: Some(report::chart(raw)),
            lesson: report::lesson(summary),
        }
    }

    fn shared(&self, summary: &LatencySummary) -> Option<Summary> {
        Some(Summary::Latency(summary.clone()))
    }
}
