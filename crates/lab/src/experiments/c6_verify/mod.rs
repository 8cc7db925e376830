//! c6 — is checking a signature faster than asking the session store?
//!
//! Two questions, two measurements, both inside one process so nothing but
//! the operation is timed:
//!
//! * **waiting time**, in isolation: one operation at a time, wall time per
//!   operation: `TokenService::verify` (the server's full check) per
//!   algorithm, against one `GETEX` on a loopback Redis through the server's
//!   own client;
//! * **CPU**, under load: the machine kept busy for a while: verification on
//!   one thread per core, lookups many at a time over the multiplexed
//!   connection; CPU time per operation (this process, plus the redis-server
//!   process for lookups), read from /proc.
//!
//! A loopback round trip wanders by a factor of two or more between runs on
//! the same machine, so nothing is compared across trials: every trial
//! measures the lookup beside the verifications (the scheduler rotates their
//! order), each algorithm is judged by its ratio to the lookup *of the same
//! trial*, and a ratio that falls on both sides of 1 is reported as noise
//! rather than as a side.
//!
//! [`measure`] runs the trials and, beside them, [`connection_cost`] at
//! HAProxy; [`analysis`] holds the ratios and the rule; [`report`] the
//! tables, chart and lesson.

mod analysis;
mod connection_cost;
mod measure;
mod report;

use self::{
    analysis::{c6_headline, c6_verdict, evidence, Summary, RULE},
    measure::Raw,
};
use crate::{
    experiment::{About, Experiment, Presentation, RunContext},
    results::ClaimVerdict,
    LabError,
};

#[derive(Default)]
pub struct VerifyCost;

impl Experiment for VerifyCost {
    type Raw = Raw;
    type Summary = Summary;

    const ABOUT: About = About {
        id: "c6",
        title: "Signature check vs one session-store lookup",
        claims: &["C6"],
        question: "Is checking a token's signature faster than looking a session up in a store?",
        seconds: (25, 95),
    };

    const LOCAL_ONLY: Option<&'static str> = Some(
        "it reads CPU time from /proc by process id: its own, a redis-server's it starts on loopback, and HAProxy's from haproxy_pid; and it puts a TLS frontend, spec.frontend, before one JWT node",
    );

    async fn measure(&self, ctx: &RunContext) -> Result<Raw, LabError> {
        measure::measure(ctx).await
    }

    fn summarize(&self, raw: &Raw) -> Summary {
        analysis::summarize(raw)
    }

    fn judge(&self, summary: &Summary) -> Vec<ClaimVerdict> {
        vec![ClaimVerdict {
            headline: c6_headline(&summary.judged),
            by_design: None,
            claim: "C6".into(),
            verdict: c6_verdict(&summary.judged),
            rule: RULE.into(),
            evidence: evidence(summary),
        }]
    }

    fn present(&self, raw: &Raw, summary: &Summary, _quick: bool) -> Presentation {
        report::present(raw, summary)
    }
}
