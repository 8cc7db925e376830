//! c8 — how long a demoted admin keeps admin rights.
//!
//! carol, an admin, takes her own admin role away at time zero; then
//! *every node* is asked `GET /admin/stats` directly every 50 ms until all
//! of them stop granting it. The session stack rewrites the role inside
//! every live session; a JWT carries a copy of the role the server cannot
//! reach, so it keeps it until it expires or is reissued by refresh. The
//! set-ups and the watch are c7's ([`crate::kit::revocation`]), without the
//! denylist, which revokes tokens, not roles.
//!
//! [`measure`] runs the trials, [`analysis`] holds the figures and the
//! rule, [`report`] turns them into a table, a chart and the lesson.

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

#[derive(Default)]
pub struct RoleDemotion;

impl Experiment for RoleDemotion {
    type Raw = measure::Raw;
    type Summary = analysis::Summary;

    const ABOUT: About = About {
        id: "c8",
        title: "How long a demoted user keeps admin rights",
        claims: &["C8"],
        question: "Do permissions baked into a token go stale until it expires or is reissued, while a session follows a role change at once?",
        seconds: (13, 90),
    };

    async fn measure(&self, ctx: &RunContext) -> Result<measure::Raw, LabError> {
        let all = variants(ctx.quick, RevocationMode::Denylist);
        // A demotion cannot be undone by the demoted admin: a fresh
        // cluster per set-up and trial. The denylist set-up is c7's.
        let demoted = [all[0], all[2], all[1]];
        measure::measure(ctx, &demoted, TRIALS.count(ctx.quick)).await
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
        Some(Summary::Revocation(summary.setups.clone()))
    }
}
