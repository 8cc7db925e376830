//! c8's figures and rule: per set-up, the seconds until every node stopped
//! granting the demoted admin her rights, and whether a reissued token
//! brought them back.

use serde::Serialize;

use super::measure::Raw;
use crate::{
    kit::revocation::{
        evidence, fastest, immediate, revocation_headline, revocation_summary, slowest, trials_of,
    },
    results::{ClaimVerdict, Verdict},
    summaries::{setups, RevocationSummary},
    Stack,
};

/// C8's rule, from the seconds after the demotion until every node refused
/// admin, slowest trial for the session and fastest for the 1 h JWT
/// (`Some(None)`: a node still granted it when a window closed; `None`: the
/// set-up did not run), and whether a token reissued by refresh after the
/// demotion still granted admin in some trial.
pub fn c8_verdict(
    session_s: Option<Option<f64>>,
    long_jwt_s: Option<Option<f64>>,
    reissued_still_admin: bool,
) -> Verdict {
    let (Some(session_s), Some(long_jwt_s)) = (session_s, long_jwt_s) else {
        return Verdict::NotMeasured("the session or the 1 h JWT set-up did not run".into());
    };
    if !immediate(session_s) {
        Verdict::DoesNotHold(
            "the session kept the old role for more than 0.5 s on some node in some trial".into(),
        )
    } else if let Some(s) = long_jwt_s {
        Verdict::DoesNotHold(format!(
            "the 1 h JWT lost its role on every node after {s:.2} s in some trial, long before it expired"
        ))
    } else if reissued_still_admin {
        Verdict::HoldsWithCaveat(
            "a token reissued by refresh after the demotion still granted admin: reissuing did not refresh the roles".into(),
        )
    } else {
        Verdict::Holds
    }
}

/// What the verdict and the report read.
#[derive(Serialize)]
pub struct Summary {
    /// Per set-up, the seconds of every trial (c15 reads it too).
    pub setups: RevocationSummary,
    /// A JWT reissued by refresh after the demotion got admin (200) in
    /// some trial.
    pub reissued_still_admin: bool,
}

const RULE: &str = "not measured when the session or 1 h JWT set-up did not run. Does not hold when, in some trial, the \
    session still gets admin on some node 0.5 s after the demotion, or the 1 h JWT stops getting it on \
    every node before the window closes. Holds with a caveat when a token reissued by refresh after the \
    demotion still gets admin (200) in some trial; holds otherwise.";

pub fn summarize(raw: &Raw) -> Summary {
    Summary {
        setups: revocation_summary(&raw.setups),
        reissued_still_admin: raw
            .setups
            .iter()
            .filter(|o| o.variant.stack == Stack::Jwt)
            .any(|o| o.after.iter().any(|a| a == "200")),
    }
}

pub fn judge(summary: &Summary) -> ClaimVerdict {
    let ran = |name: &str| trials_of(&summary.setups, name);
    ClaimVerdict {
        headline: revocation_headline(&summary.setups, "demotion"),
        by_design: None,
        claim: "C8".into(),
        verdict: c8_verdict(
            ran(setups::SESSION).map(slowest),
            ran(setups::PLAIN_JWT).map(fastest),
            summary.reissued_still_admin,
        ),
        rule: RULE.into(),
        evidence: evidence(&summary.setups),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c8_rule() {
        let at_once = Some(Some(0.001));
        assert_eq!(c8_verdict(at_once, Some(None), false), Verdict::Holds);
        assert_eq!(
            c8_verdict(Some(Some(0.49)), Some(None), false),
            Verdict::Holds
        );
        assert!(matches!(
            c8_verdict(at_once, Some(None), true),
            Verdict::HoldsWithCaveat(m) if m.contains("reissued")
        ));
        assert!(matches!(
            c8_verdict(Some(Some(0.5)), Some(None), false),
            Verdict::DoesNotHold(m) if m.starts_with("the session")
        ));
        assert!(matches!(
            c8_verdict(Some(None), Some(None), false),
            Verdict::DoesNotHold(_)
        ));
        assert!(matches!(
            c8_verdict(at_once, Some(Some(9.0)), false),
            Verdict::DoesNotHold(m) if m.contains("9.00 s")
        ));
        assert!(matches!(
            c8_verdict(None, Some(None), false),
            Verdict::NotMeasured(_)
        ));
    }
}
