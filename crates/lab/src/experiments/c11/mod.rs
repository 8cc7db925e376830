//! c11 — a stolen credential in another client's hands.
//!
//! Whoever holds a bearer credential is its owner as far as the server can
//! tell. The experiment makes that concrete with two clients that share
//! nothing but the bytes of one credential: the victim logs in, the thief
//! (another address, another User-Agent, his own client) sends a copy.
//!
//! * **session cookie**: the copy works until the victim logs out, then
//!   stops at once, because the server forgets the session;
//! * **bearer JWT** (revocation `none`): the copy works after the logout
//!   too, until the token's own `exp`: in this mode the logout cannot reach
//!   it (c7 measures the denylist that can); and its payload reads with a
//!   base64 decoder, no key needed;
//! * **DPoP-bound JWT** (RFC 9449): the token names the victim's key, and
//!   every request needs a fresh proof signed with it; without the key the
//!   copy is refused however it is sent. What is left is the replay of a
//!   whole captured request, token and proof, within the proof's minute:
//!   a per-node replay cache stops it only on the node that saw the
//!   original, a shared one everywhere. Four JWT nodes in one cluster, two
//!   of each kind, with HAProxy's rotation narrowed to one pair at a time.
//!
//! And the price of DPoP per request, against bearer, straight to one node.
//!
//! [`measure`] talks to the cluster, [`analysis`] reduces what it saw to a
//! [`StolenSummary`] (whose types live in `crate::summaries`, where c15 reads
//! them) and holds the rule, [`report`] turns the summary into tables, a
//! chart and the lesson.

pub mod analysis;
mod measure;
mod report;

use self::{
    analysis::{c11_verdict, evidence, RULE},
    measure::Raw,
};
use crate::{
    experiment::{About, Experiment, Presentation, RunContext},
    results::ClaimVerdict,
    summaries::{StolenSummary, Summary},
    LabError,
};
use jwt_server::DpopMode;

pub struct StolenToken {
    /// The JWT nodes' `--dpop` mode: `optional`, except in the test that
    /// breaks the set-up on purpose (`off`: the "bound" token is a plain
    /// bearer token, and the verdict must turn).
    pub dpop: DpopMode,
}

impl Default for StolenToken {
    fn default() -> Self {
        Self {
            dpop: DpopMode::Optional,
        }
    }
}

impl Experiment for StolenToken {
    type Raw = Raw;
    type Summary = StolenSummary;

    const ABOUT: About = About {
        id: "c11",
        title: "A stolen credential replayed by another client; DPoP as the remedy",
        claims: &["C11"],
        question: "Does a stolen token work for anyone until it expires, with its payload readable, and does \
                   binding it to a key (DPoP) stop that?",
        seconds: (25, 50),
    };

    const LOCAL_ONLY: Option<&'static str> = Some(
        "it reads a JWT node's CPU time from /proc by its process id, Node::pid, and gives its nodes different DPoP replay caches, per node or shared, with dpop_replay_cache",
    );

    async fn measure(&self, ctx: &RunContext) -> Result<Raw, LabError> {
        measure::run(ctx, self.dpop).await
    }

    fn summarize(&self, raw: &Raw) -> StolenSummary {
        analysis::summarize(raw)
    }

    fn judge(&self, s: &StolenSummary) -> Vec<ClaimVerdict> {
        vec![ClaimVerdict {
            headline: report::headline(s),
            by_design: None,
            claim: "C11".into(),
            verdict: c11_verdict(s),
            rule: RULE.into(),
            evidence: evidence(s),
        }]
    }

    fn present(&self, raw: &Raw, s: &StolenSummary, _quick: bool) -> Presentation {
        report::present(raw, s)
    }

    fn shared(&self, s: &StolenSummary) -> Option<Summary> {
        Some(Summary::Stolen(Box::new(s.clone())))
    }
}
