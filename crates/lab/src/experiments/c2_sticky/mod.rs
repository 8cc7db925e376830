//! c2 — sticky sessions: the fix for c1, and its price.
//!
//! HAProxy's cookie pins each user to a node, so per-node memory sessions
//! work; but a node's load is then the sum of its users' habits (a few
//! heavy users make one node hot), and the users of a node that dies lose
//! their sessions with it.
//!
//! [`measure`] runs the variants, [`analysis`] turns the per-node counts
//! into spreads and holds the rule, [`report`] writes the table, the chart
//! and the lesson.

mod analysis;
mod measure;
mod report;

use self::{analysis::Summary, measure::Raw};
use crate::{
    experiment::{About, Experiment, Presentation, RunContext},
    results::ClaimVerdict,
    LabError,
};

#[derive(Default)]
pub struct Stickiness;

impl Experiment for Stickiness {
    type Raw = Raw;
    type Summary = Summary;

    const ABOUT: About = About {
        id: "c2",
        title: "Sticky sessions: balance with skewed users, and a node's death",
        claims: &["C2"],
        question: "Do sticky sessions fix C1 at the price of uneven load, and what happens to a node's users when it dies?",
        seconds: (20, 160),
    };

    const LOCAL_ONLY: Option<&'static str> = Some(
        "it kills a sticky node and measures the rest of the run without it; on the swarm the engine replaces a killed task within seconds (its restart policy), so \"a node died\" would not mean what it means here",
    );

    async fn measure(&self, ctx: &RunContext) -> Result<Raw, LabError> {
        measure::run(ctx).await
    }

    fn summarize(&self, raw: &Raw) -> Summary {
        analysis::summarize(raw.trials, &raw.runs)
    }

    fn judge(&self, summary: &Summary) -> Vec<ClaimVerdict> {
        vec![analysis::verdict(summary)]
    }

    fn present(&self, raw: &Raw, summary: &Summary, _quick: bool) -> Presentation {
        report::present(raw, summary)
    }
}
