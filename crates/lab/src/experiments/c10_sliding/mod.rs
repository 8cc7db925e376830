//! c10 — staying logged in: sliding sessions against access + refresh tokens.
//!
//! A session slides: every request pushes its idle expiry forward, so an
//! active user never sees a login page. A JWT cannot slide (its `exp` is
//! signed into it), so staying logged in takes a refresh token, and keeping
//! that safe takes rotation and replay detection. This experiment plays an
//! active and an idle user against each stack with short lifetimes, then
//! replays a stolen refresh token.
//!
//! [`measure`] plays the users, [`analysis`] holds what they saw and the
//! rule, [`report`] writes the tables, the chart and the lesson.

mod analysis;
mod measure;
mod report;

use self::analysis::Observed;
use crate::{
    experiment::{About, Experiment, Presentation, RunContext},
    results::ClaimVerdict,
    LabError,
};

#[derive(Default)]
pub struct Sliding;

impl Experiment for Sliding {
    type Raw = Observed;
    type Summary = Observed;

    const ABOUT: About = About {
        id: "c10",
        title: "Staying logged in: sliding sessions vs access + refresh tokens",
        claims: &["C10"],
        question: "Can a JWT slide like a session, or does staying logged in need refresh tokens, and do rotation and replay detection make those safe?",
        seconds: (22, 35),
    };

    async fn measure(&self, ctx: &RunContext) -> Result<Observed, LabError> {
        measure::run(ctx).await
    }

    fn summarize(&self, raw: &Observed) -> Observed {
        raw.clone()
    }

    fn judge(&self, summary: &Observed) -> Vec<ClaimVerdict> {
        vec![analysis::claim_verdict(summary, report::evidence(summary))]
    }

    fn present(&self, _raw: &Observed, summary: &Observed, _quick: bool) -> Presentation {
        report::present(summary)
    }
}
