//! What c4's runs amount to: the median `/me` latency of each stack per
//! store round trip (the summary c15 reads), and C4's rule on what the
//! largest delay added over loopback.

use super::measure::{Raw, DELAYS, JWT, SESSION};
use crate::{
    kit::stats::median,
    results::Verdict,
    summaries::{Added, DelaySetting, LatencySummary},
};

/// C4's rule, from what the largest store delay added over loopback
/// (`None`: fewer than two settings were measured). The store round trip is
/// the one measured through the proxy, not the setting.
pub fn c4_verdict(added: Option<Added>) -> Verdict {
    let Some(a) = added else {
        return Verdict::NotMeasured("needs loopback and at least one added delay".into());
    };
    if a.store_rtt_ms < 0.5 * a.setting_ms {
        return Verdict::Inconclusive(format!(
            "the latency proxy added only {:.2} ms of round trip for a {:.1} ms setting",
            a.store_rtt_ms, a.setting_ms
        ));
    }
    let passed_on = a.session_p50_ms >= 0.8 * a.store_rtt_ms;
    if passed_on && a.jwt_p50_ms.abs() < 0.5 {
        Verdict::Holds
    } else if passed_on {
        Verdict::HoldsWithCaveat(format!(
            "JWT /me, which never asks the store, also moved by {:+.2} ms (machine noise or shared cores)",
            a.jwt_p50_ms
        ))
    } else {
        Verdict::DoesNotHold(format!(
            "a store round trip {:.2} ms longer added only {:+.2} ms to session /me's median",
            a.store_rtt_ms, a.session_p50_ms
        ))
    }
}

/// The one figure of the run for the first screen: what the largest delay
/// added to each stack's median.
pub fn c4_headline(added: Option<Added>) -> String {
    added.map_or_else(String::new, |a| {
        format!(
            "store round trip +{:.2} ms: session /me p50 {:+.2} ms, JWT {:+.2} ms",
            a.store_rtt_ms, a.session_p50_ms, a.jwt_p50_ms
        )
    })
}

pub const C4_RULE: &str = "judged on the largest delay against loopback, with the store round trip as measured through \
    the proxy (PINGs), not the setting. Inconclusive when the proxy delivered less than half its setting. Holds when \
    session GET /me's median at the fixed offered load rose by at least 80% of the added round trip and JWT GET \
    /me's moved by less than 0.5 ms; holds with a caveat when the session rose that much but JWT moved by 0.5 ms or \
    more; does not hold when the session rose by less.";

/// Per setting, the measured round trip and each stack's median p50.
pub fn summarize(raw: &Raw) -> LatencySummary {
    LatencySummary {
        settings: DELAYS
            .iter()
            .enumerate()
            .map(|(delay, (_, micros))| DelaySetting {
                setting_ms: *micros as f64 / 1e3,
                store_rtt_ms: store_rtt(raw, delay),
                session_p50_ms: median(&raw.figure(delay, SESSION, |r| r.latency.me.p50)),
                jwt_p50_ms: median(&raw.figure(delay, JWT, |r| r.latency.me.p50)),
            })
            .collect(),
    }
}

/// A setting as the report names it: the round trip measured before the
/// session runs (ms).
pub fn store_rtt(raw: &Raw, delay: usize) -> f64 {
    median(&raw.figure(delay, SESSION, |r| r.latency.store_rtt_ms))
}

/// The figures behind the verdict, as the report's evidence line.
pub fn evidence(summary: &LatencySummary) -> String {
    let rtt = |s: Option<&DelaySetting>| s.map_or(0.0, |s| s.store_rtt_ms);
    match summary.added() {
        Some(a) => format!(
            "store round trip measured {:.2} ms at loopback and {:.2} ms at the {:.1} ms setting ({:+.2} ms): \
             session p50 {:+.2} ms, JWT p50 {:+.2} ms",
            rtt(summary.settings.first()),
            rtt(summary.settings.last()),
            a.setting_ms,
            a.store_rtt_ms,
            a.session_p50_ms,
            a.jwt_p50_ms
        ),
        None => "fewer than two settings measured".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn added(store_rtt_ms: f64, session_p50_ms: f64, jwt_p50_ms: f64) -> Option<Added> {
        Some(Added {
            setting_ms: 2.0,
            store_rtt_ms,
            session_p50_ms,
            jwt_p50_ms,
        })
    }

    #[test]
    fn c4_rule() {
        assert_eq!(c4_verdict(added(2.0, 2.1, 0.1)), Verdict::Holds);
        assert_eq!(c4_verdict(added(2.0, 1.6, -0.49)), Verdict::Holds);
        assert!(matches!(
            c4_verdict(added(2.0, 2.1, 0.9)),
            Verdict::HoldsWithCaveat(_)
        ));
        assert!(matches!(
            c4_verdict(added(2.0, 0.4, 0.0)),
            Verdict::DoesNotHold(_)
        ));
        assert!(matches!(
            c4_verdict(added(2.0, 1.59, 0.0)),
            Verdict::DoesNotHold(_)
        ));
        // The rule follows the measured round trip, not the setting: a
        // proxy that delivered 3.2 ms needs 2.56 ms on the session.
        assert!(matches!(
            c4_verdict(added(3.2, 2.2, 0.0)),
            Verdict::DoesNotHold(_)
        ));
        assert!(matches!(
            c4_verdict(added(0.5, 2.0, 0.0)),
            Verdict::Inconclusive(_)
        ));
        assert!(matches!(c4_verdict(None), Verdict::NotMeasured(_)));
    }

    #[test]
    fn c4_headline_is_the_added_latency() {
        assert_eq!(
            c4_headline(added(2.02, 2.22, 0.06)),
            "store round trip +2.02 ms: session /me p50 +2.22 ms, JWT +0.06 ms"
        );
        assert_eq!(c4_headline(None), "");
    }
}
