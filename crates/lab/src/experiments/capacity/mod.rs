//! c5 — what the shared store does to capacity.
//!
//! A session node answers a request only after asking the shared store; a
//! JWT node (revocation `none`) asks nothing, so adding JWT nodes should add
//! capacity while session nodes share one store. c5 starts a cluster per
//! node count (1, 2, 3 per stack) and drives each stack's `/me` with wrk
//! through HAProxy, with the `/health` ceiling through the same path beside
//! it to tell when a run measured the generator rather than the stack
//! ([`kit::wrk_probe`](crate::kit::wrk_probe) charges each run's CPU to the
//! processes on the path and counts the store's commands per request).
//!
//! A machine with fewer cores than nodes, HAProxy, Redis and the generator
//! cannot show scaling out, however many nodes it starts; there the verdict
//! says so and the [`model`] projects, from the measured costs per request,
//! what each stack would pass with more cores. The cores are those of the
//! hosts that ran the clusters, each machine's counted once: on a swarm
//! whose hosts share one machine (one boot id) more nodes cannot add cores,
//! and the caveat says so; on distinct machines the rule weighs their cores
//! together and the model projects to them beside what was measured.
//!
//! [`measure`] runs the trials, [`analysis`] holds the summary and C5's
//! rule, [`model`] the projection, [`report`] the tables, chart and lesson.

mod analysis;
mod measure;
mod model;
mod report;

use jwt_server::RevocationMode;

use self::{
    analysis::{c5_headline, c5_verdict, evidence, C5_RULE},
    measure::Raw,
};
use crate::{
    experiment::{About, Experiment, Presentation, RunContext},
    results::ClaimVerdict,
    summaries::{CapacitySummary, Summary},
    LabError,
};

pub struct ScaleOut {
    /// The JWT stack's revocation mode: `None`, except in the test that
    /// gives it a store lookup per request to see the verdict turn.
    pub jwt_revocation: RevocationMode,
}

impl Default for ScaleOut {
    fn default() -> Self {
        Self {
            jwt_revocation: RevocationMode::None,
        }
    }
}

impl Experiment for ScaleOut {
    type Raw = Raw;
    type Summary = CapacitySummary;

    const ABOUT: About = About {
        id: "c5",
        title: "Scaling out: throughput, CPU per request and store operations per request",
        claims: &["C5"],
        question: "Do JWT nodes scale out with no shared state, and where does the shared session store become the ceiling?",
        seconds: (15, 235),
    };

    async fn measure(&self, ctx: &RunContext) -> Result<Raw, LabError> {
        measure::measure(ctx, self.jwt_revocation).await
    }

    fn summarize(&self, raw: &Raw) -> CapacitySummary {
        analysis::summarize(raw)
    }

    fn judge(&self, summary: &CapacitySummary) -> Vec<ClaimVerdict> {
        vec![ClaimVerdict {
            headline: c5_headline(summary),
            by_design: None,
            claim: "C5".into(),
            verdict: c5_verdict(summary),
            rule: C5_RULE.into(),
            evidence: evidence(summary),
        }]
    }

    fn present(&self, raw: &Raw, summary: &CapacitySummary, _quick: bool) -> Presentation {
        Presentation {
            setup: report::setup(raw, self.jwt_revocation),
            tables: vec![report::measured_table(raw), report::model_table(summary)],
            chart: Some(report::chart(raw)),
            lesson: report::c5_lesson(summary),
        }
    }

    fn shared(&self, summary: &CapacitySummary) -> Option<Summary> {
        Some(Summary::Capacity(summary.clone()))
    }
}
