//! c9 — how big is the credential, and when is it too big?
//!
//! A session cookie carries a random id and a signature: its size does not
//! depend on who the user is. A JWT carries the claims themselves, so every
//! permission added to a user is added to every request they make. This
//! experiment measures both credentials as the claims grow, then sends
//! validly signed tokens of growing size through HAProxy and straight to a
//! node, on each side of every limit as configured, and reads from the
//! answers which layer refused each one and how.
//!
//! The layer is read from evidence, never from the status alone: `x-node`
//! is set only by the node's application (actix answers a head it cannot
//! parse before any middleware runs), the node's JSON error body says which
//! check failed, and HAProxy's per-server pick counter says whether HAProxy
//! forwarded the request at all.
//!
//! [`measure`] runs both clusters and [`wire`] counts the bytes on the
//! wire; [`analysis`] reads each answer's layer and holds the rule;
//! [`report`] writes the tables, chart and lesson.

mod analysis;
mod measure;
mod report;
mod wire;

use self::{
    analysis::{c9_headline, c9_rule, c9_verdict, evidence, Summary},
    measure::Measured,
};
use crate::{
    experiment::{About, Experiment, Presentation, RunContext},
    results::ClaimVerdict,
    summaries::{SizeSummary, Summary as Shared},
    LabError,
};

#[derive(Default)]
pub struct CredentialSize;

impl Experiment for CredentialSize {
    type Raw = Measured;
    type Summary = Summary;

    const ABOUT: About = About {
        id: "c9",
        title: "Credential size per request, and where big tokens are refused",
        claims: &["C9"],
        question: "Is a JWT much bigger than a session id, so that it costs bandwidth on every request, and can it hit header size limits?",
        seconds: (5, 10),
    };

    const LOCAL_ONLY: Option<&'static str> = Some(
        "it counts bytes with wire proxies on 127.0.0.1 before HAProxy's frontend ports, starts TLS frontends with spec.frontend, and reads haproxy.cfg and the JWT key set from the cluster's directory on this machine",
    );

    async fn measure(&self, ctx: &RunContext) -> Result<Measured, LabError> {
        measure::measure(ctx).await
    }

    fn summarize(&self, raw: &Measured) -> Summary {
        analysis::summarize(raw)
    }

    fn judge(&self, summary: &Summary) -> Vec<ClaimVerdict> {
        vec![ClaimVerdict {
            headline: c9_headline(&summary.facts.wire),
            by_design: summary.by_design.clone(),
            claim: "C9".into(),
            verdict: c9_verdict(&summary.facts),
            rule: c9_rule(),
            evidence: evidence(summary),
        }]
    }

    fn present(&self, raw: &Measured, summary: &Summary, _quick: bool) -> Presentation {
        report::present(raw, summary)
    }

    fn shared(&self, summary: &Summary) -> Option<Shared> {
        Some(Shared::Size(SizeSummary {
            cookie_header_bytes: summary.cookie_bytes as u64,
            login_jwt_header_bytes: summary.login_bytes as u64,
            wire: summary.facts.wire.clone(),
        }))
    }
}
