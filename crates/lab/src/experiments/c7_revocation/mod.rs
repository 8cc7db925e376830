//! c7 — how long a credential outlives a logout.
//!
//! Log out at time zero, then ask *every node directly* (not through
//! HAProxy, so no node can hide) every 50 ms until all of them refuse.
//! Sessions are checked against JWTs in the revocation set-ups a real
//! deployment chooses between: a plain long-lived token, a short access
//! token with a refresh token, and a denylist; the denylist's price is then
//! measured on `/me`. The watch is shared with c8
//! ([`crate::kit::revocation`]).
//!
//! [`measure`] runs the trials, [`analysis`] holds the figures and the
//! rule, [`report`] turns them into tables, a chart and the lesson.

mod analysis;
mod measure;
mod report;

use jwt_server::RevocationMode;

use crate::{
    experiment::{About, Experiment, Presentation, RunContext},
    kit::revocation::{variants, TRIALS},
    results::ClaimVerdict,
    summaries::Summary,
    LabError,
};

pub struct Revocation {
    /// The denylist set-up's mode: `Denylist`, except in the test that
    /// breaks it on purpose.
    pub denylist: RevocationMode,
}

impl Default for Revocation {
    fn default() -> Self {
        Self {
            denylist: RevocationMode::Denylist,
        }
    }
}

impl Experiment for Revocation {
    type Raw = measure::Raw;
    type Summary = analysis::Summary;

    const ABOUT: About = About {
        id: "c7",
        title: "Time from logout until every node refuses the credential",
        claims: &["C7"],
        question: "Can a JWT be revoked before it expires without extra machinery, while a session logs out instantly?",
        seconds: (16, 95),
    };

    async fn measure(&self, ctx: &RunContext) -> Result<measure::Raw, LabError> {
        let all = variants(ctx.quick, self.denylist);
        measure::measure(ctx, &all, TRIALS.count(ctx.quick)).await
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
        quick: bool,
    ) -> Presentation {
        report::present(raw, summary, quick)
    }

    fn shared(&self, summary: &analysis::Summary) -> Option<Summary> {
        Some(Summary::Revocation(summary.setups.clone()))
    }
}
