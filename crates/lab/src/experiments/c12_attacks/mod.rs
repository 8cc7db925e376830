//! c12 — an attack corpus against the real JWT server and a naive verifier.
//!
//! Every forged or invalid token of [`attack_corpus`] is sent to a real JWT
//! node (it must answer 401 to each), then handed to the
//! [naive verifier](crate::naive) with no checks at all, and with each check
//! turned on alone. The "stopped by" column is measured, not asserted: it
//! lists the checks that, on their own, reject that token.
//!
//! [`measure`] runs the corpus, [`analysis`] counts what each side refused
//! and judges C12, [`report`] writes the tables, the chart and the lesson.

mod analysis;
mod measure;
mod report;

use std::time::Duration;

use jwt_server::SigningAlgorithm;

use crate::{
    experiment::{About, Experiment, Presentation, RunContext},
    results::ClaimVerdict,
    summaries::Summary,
    LabError,
};

#[derive(Default)]
pub struct Attacks {
    /// The JWT node's clock leeway, when not the server's default: a test
    /// widens it to let an expired token through and see the verdict turn.
    pub leeway: Option<Duration>,
}

impl Experiment for Attacks {
    type Raw = measure::Raw;
    type Summary = analysis::Summary;

    const ABOUT: About = About {
        id: "c12",
        title: "Forged tokens against a strict and a naive verifier",
        claims: &["C12"],
        question: "Do the classic JWT implementation mistakes (no signature check, alg none, weak or confused keys, \
                   unchecked exp/iss/aud) really open holes, and does each check of a careful verifier close one?",
        seconds: (1, 2),
    };

    const LOCAL_ONLY: Option<&'static str> = Some(
        "it forges tokens with the key set file the cluster wrote on this machine, keyset_path, and starts a JWT server in this process against the cluster's directory and store",
    );

    async fn measure(&self, ctx: &RunContext) -> Result<measure::Raw, LabError> {
        let algorithms: &[SigningAlgorithm] = if ctx.quick {
            &[SigningAlgorithm::EdDsa, SigningAlgorithm::Rs256]
        } else {
            &SigningAlgorithm::ALL
        };
        measure::measure(ctx, algorithms, self.leeway).await
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
        Some(Summary::Attacks(summary.shared()))
    }
}
