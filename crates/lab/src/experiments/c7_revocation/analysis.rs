//! c7's figures and rule: per set-up, the seconds until every node refused
//! the logged-out credential, and the denylist's price on `/me`.

use serde::Serialize;

use super::measure::Raw;
use crate::{
    kit::{
        revocation::{
            evidence, fastest, immediate, revocation_headline, revocation_summary, slowest,
            trials_of,
        },
        stats::{median, spread},
    },
    results::{ClaimVerdict, Verdict},
    summaries::{setups, RevocationSummary},
};

/// C7's rule, from the seconds after logout until every node refused the
/// credential, slowest trial first: `Some(None)` means a node still accepted
/// it when some trial's window closed, `None` that the set-up did not run.
/// The denylist's price (median `/me` µs, with and without it, and the
/// spread of the trials without) decides between "holds" and the caveat.
pub fn c7_verdict(
    session_s: Option<Option<f64>>,
    plain_jwt_s: Option<Option<f64>>,
    denylist_s: Option<Option<f64>>,
    price: DenylistPrice,
) -> Verdict {
    let (Some(session_s), Some(plain_jwt_s)) = (session_s, plain_jwt_s) else {
        return Verdict::NotMeasured("the session or the plain JWT set-up did not run".into());
    };
    if !immediate(session_s) {
        return Verdict::DoesNotHold(
            "the session was not refused on every node within 0.5 s in every trial".into(),
        );
    }
    if let Some(s) = plain_jwt_s {
        return Verdict::DoesNotHold(format!(
            "the plain JWT was refused on every node after {s:.2} s in some trial, before it expired: no extra machinery was needed"
        ));
    }
    match denylist_s {
        None => Verdict::HoldsWithCaveat("the denylist set-up did not run, so the remedy was not shown".into()),
        Some(d) if !immediate(d) => Verdict::DoesNotHold(format!(
            "the denylist did not revoke the JWT within 0.5 s in every trial ({}): the extra machinery failed, so this \
             run cannot show that it works",
            d.map_or("still accepted when a window closed".into(), |s| format!("slowest {s:.2} s"))
        )),
        Some(_) if price.measurable() => Verdict::HoldsWithCaveat(format!(
            "the denylist revokes a JWT at once too, at the price of a store lookup per request (median /me {:.0} µs vs \
             {:.0} µs without): the JWT is then no longer stateless",
            price.denylist_us, price.plain_us
        )),
        Some(_) => Verdict::Holds,
    }
}

/// The denylist's cost on `/me`: medians of the per-trial medians (µs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DenylistPrice {
    pub plain_us: f64,
    pub denylist_us: f64,
    /// The highest per-trial median without the denylist.
    pub plain_max_us: f64,
}

impl DenylistPrice {
    /// The denylist's median lies above every trial without it: a price the
    /// run could tell from noise.
    pub fn measurable(self) -> bool {
        self.denylist_us > self.plain_max_us
    }
}

/// What the verdict and the report read.
#[derive(Serialize)]
pub struct Summary {
    /// Per set-up, the seconds of every trial (c15 reads it too).
    pub setups: RevocationSummary,
    pub price: DenylistPrice,
}

const RULE: &str = "not measured when the session or plain-JWT set-up did not run. Does not hold when, in some trial, the \
    session is not refused on every node within 0.5 s of the logout, the plain JWT is refused before the \
    end of its window, or the denylist (the extra machinery) does not get the JWT refused everywhere \
    within 0.5 s. Otherwise it holds with a caveat when the denylist's median /me latency lies above \
    every trial without it (a measurable price: the JWT is no longer stateless), or when the denylist \
    set-up did not run; and holds when the denylist revoked at once at no price this run could measure.";

pub fn summarize(raw: &Raw) -> Summary {
    let cost = &raw.denylist_cost;
    Summary {
        setups: revocation_summary(&raw.setups),
        price: DenylistPrice {
            plain_us: median(&cost.none_us),
            denylist_us: median(&cost.denylist_us),
            plain_max_us: spread(&cost.none_us).1,
        },
    }
}

pub fn judge(summary: &Summary) -> ClaimVerdict {
    // Every trial must show the claim: the session refused at once in
    // each, the plain JWT accepted to the end in each.
    let ran = |name: &str| trials_of(&summary.setups, name);
    ClaimVerdict {
        headline: revocation_headline(&summary.setups, "logout"),
        by_design: None,
        claim: "C7".into(),
        verdict: c7_verdict(
            ran(setups::SESSION).map(slowest),
            ran(setups::PLAIN_JWT).map(fastest),
            ran(setups::DENYLIST).map(slowest),
            summary.price,
        ),
        rule: RULE.into(),
        evidence: evidence(&summary.setups),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(plain_us: f64, denylist_us: f64, plain_max_us: f64) -> DenylistPrice {
        DenylistPrice {
            plain_us,
            denylist_us,
            plain_max_us,
        }
    }

    #[test]
    fn c7_rule() {
        let paid = price(800.0, 900.0, 820.0);
        let free = price(800.0, 810.0, 820.0);
        let at_once = Some(Some(0.06));
        let survived = Some(None);
        assert!(matches!(
            c7_verdict(None, survived, at_once, paid),
            Verdict::NotMeasured(_)
        ));
        assert_eq!(c7_verdict(at_once, survived, at_once, free), Verdict::Holds);
        assert!(matches!(
            c7_verdict(at_once, survived, Some(Some(0.49)), paid),
            Verdict::HoldsWithCaveat(m) if m.contains("900 µs vs 800 µs")
        ));
        assert!(matches!(
            c7_verdict(at_once, survived, None, paid),
            Verdict::HoldsWithCaveat(m) if m.contains("did not run")
        ));
        assert!(matches!(
            c7_verdict(Some(Some(0.5)), survived, at_once, paid),
            Verdict::DoesNotHold(m) if m.starts_with("the session")
        ));
        assert!(matches!(
            c7_verdict(Some(None), survived, at_once, paid),
            Verdict::DoesNotHold(_)
        ));
        assert!(matches!(
            c7_verdict(at_once, Some(Some(14.0)), at_once, paid),
            Verdict::DoesNotHold(m) if m.contains("14.00 s")
        ));
        // A broken set-up: the denylist does not deny. The verdict must not
        // get stronger for it (it once turned the caveat into "holds").
        assert!(matches!(
            c7_verdict(at_once, survived, Some(None), free),
            Verdict::DoesNotHold(m) if m.contains("denylist did not revoke")
        ));
        assert!(matches!(
            c7_verdict(at_once, survived, Some(Some(0.7)), paid),
            Verdict::DoesNotHold(_)
        ));
    }
}
