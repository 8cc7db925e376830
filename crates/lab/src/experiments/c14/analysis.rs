//! From c14's raw runs to its summary, and the rule that judges C14.
//!
//! Nothing here touches a process: the measurement hands in what it saw
//! (per route and trial), this module turns it into medians with their
//! range ([`summarize`]) and decides ([`c14_verdict`]). Keeping the two apart
//! is what lets the rule be tested against the numbers of a broken set-up:
//! a JWKS node that fetches keys for every request, an "outage" during which
//! the auth service kept answering.

use std::collections::BTreeMap;

use serde::Serialize;

use super::pace::{LoopRecord, SecondCount};
use crate::{
    results::Verdict,
    summaries::{
        AuthProbe, DownstreamRoute, DownstreamSummary, OrdersRoute, OutageRoute, RotationFigures,
        Spread,
    },
    wrk::WrkResult,
    Stack,
};

/// JWKS may fetch keys now and then (at start, after `max-age`, for a new
/// `kid`), never per request: at most one fetch per hundred requests.
pub const JWKS_MAX_CALLS: f64 = 0.01;
/// JWKS keeps serving while the auth service is down: at most 1% errors.
pub const JWKS_MAX_DOWN_PCT: f64 = 1.0;
/// Introspection asks on every request. Counted calls per completed request
/// can only exceed 1 (a request cut off at the end of a run was asked for
/// but not counted), so the 1% margin is for counters read over HTTP, not a
/// licence to skip calls.
pub const INTROSPECTION_MIN_CALLS: f64 = 0.99;
/// Introspection fails while the auth service is down: at least half its
/// requests during the outage.
pub const INTROSPECTION_MIN_DOWN_PCT: f64 = 50.0;
/// The stopped stack's own `/health` must fail this often during the outage,
/// or there was no outage to judge by.
pub const OUTAGE_CONFIRMED_PCT: f64 = 90.0;
/// A route that still served a full second into the outage hid it: the
/// uncached introspection fails in the second the session nodes die.
pub const HID_OUTAGE_S: f64 = 1.0;

/// The routes every verdict needs, measured under load.
const NEEDED_UNDER_LOAD: [OrdersRoute; 4] = [
    OrdersRoute::Jwks,
    OrdersRoute::Introspection,
    OrdersRoute::IntrospectionCached,
    OrdersRoute::Gateway,
];
/// The routes every verdict needs, measured through the outage.
const NEEDED_IN_OUTAGE: [OrdersRoute; 3] = [
    OrdersRoute::Jwks,
    OrdersRoute::Introspection,
    OrdersRoute::IntrospectionCached,
];

/// One route in one trial: a loop at a fixed offered load (latency), wrk at
/// saturation (throughput), and the auth-service counters read around both.
#[derive(Debug, Clone, Serialize)]
pub struct LoadSample {
    pub route: OrdersRoute,
    pub trial: usize,
    pub fixed: LoopRecord,
    pub wrk: WrkResult,
    /// Auth-service calls the orders node counted over both runs; `None`
    /// for the baseline, which has no orders node.
    pub calls: Option<f64>,
    /// The same calls as the auth nodes counted them.
    pub auth_side_calls: Option<f64>,
    /// Why the load check refused these runs; `None` when both passed.
    pub invalid: Option<String>,
}

impl LoadSample {
    pub fn requests(&self) -> u64 {
        self.fixed.requests() + self.wrk.requests
    }

    fn per_request(&self, calls: Option<f64>) -> Option<f64> {
        calls.map(|c| c / self.requests().max(1) as f64)
    }
}

/// One route's loop through an outage.
#[derive(Debug, Clone, Serialize)]
pub struct RouteLoop {
    pub route: OrdersRoute,
    /// The auth stack the route depends on, which was stopped.
    pub depends_on: Stack,
    pub record: LoopRecord,
}

/// A stopped stack's own `/health`, asked through HAProxy during the outage.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeLoop {
    pub stack: Stack,
    pub record: LoopRecord,
}

/// One outage: every auth node stopped at `stop_s`, all back (ready and up
/// in HAProxy) at `restart_s`, seconds on the loops' shared timeline.
#[derive(Debug, Clone, Serialize)]
pub struct OutageSample {
    pub trial: usize,
    pub stop_s: f64,
    pub restart_s: f64,
    pub routes: Vec<RouteLoop>,
    pub probes: Vec<ProbeLoop>,
}

/// One key rotation under load.
#[derive(Debug, Clone, Serialize)]
pub struct RotationSample {
    pub trial: usize,
    pub staged_kid: String,
    pub active_kid: String,
    /// Logins after the activation, and how many tokens named the new kid.
    pub new_logins: usize,
    pub new_logins_with_new_kid: usize,
    /// Old-kid tokens from before the stage until the new tokens were tried.
    pub jwks_old: LoopRecord,
    pub gateway_old: LoopRecord,
    /// New-kid tokens after the activation.
    pub jwks_new: LoopRecord,
    pub gateway_new: LoopRecord,
    /// `orders_upstream_requests_total{kind="jwks"}` of the JWKS node, after
    /// minus before.
    pub jwks_fetches: u64,
    pub seconds: f64,
}

/// % of the requests sent in the whole seconds between `from` and `to`
/// (timeline seconds) that failed; 0 when none were sent.
pub fn phase_pct(per_second: &[SecondCount], from: f64, to: f64) -> f64 {
    let (requests, errors) = per_second
        .iter()
        .filter(|s| (s.second as f64) >= from.ceil() && (s.second as f64) < to.floor())
        .fold((0, 0), |(q, e), s| (q + s.requests, e + s.errors));
    errors as f64 / requests.max(1) as f64 * 100.0
}

/// Seconds from `stop_s` to the first second (the one the stop fell in
/// included) in which at least half the requests failed, before `restart_s`.
pub fn first_failing(per_second: &[SecondCount], stop_s: f64, restart_s: f64) -> Option<f64> {
    per_second
        .iter()
        .filter(|s| (s.second as f64) >= stop_s.floor() && (s.second as f64) < restart_s)
        .find(|s| s.requests > 0 && s.errors * 2 >= s.requests)
        .map(|s| (s.second as f64 - stop_s).max(0.0))
}

/// Seconds from `restart_s` to the end of the first second with traffic and
/// no errors; `None` when the loop ended first.
pub fn healed_after(per_second: &[SecondCount], restart_s: f64) -> Option<f64> {
    per_second
        .iter()
        .find(|s| s.second as f64 >= restart_s.floor() && s.requests > 0 && s.errors == 0)
        .map(|s| (s.second as f64 + 1.0 - restart_s).max(0.0))
}

/// The summary of every trial's runs.
pub fn summarize(
    trials: usize,
    cache_ttl_s: f64,
    load: &[LoadSample],
    outages: &[OutageSample],
    rotations: &[RotationSample],
) -> DownstreamSummary {
    let invalid_runs = load
        .iter()
        .filter_map(|s| {
            s.invalid
                .as_ref()
                .map(|why| format!("trial {}, {}: {why}", s.trial + 1, s.route.label()))
        })
        .collect();
    let routes = OrdersRoute::ALL
        .into_iter()
        .filter_map(|route| {
            let valid: Vec<&LoadSample> = load
                .iter()
                .filter(|s| s.route == route && s.invalid.is_none())
                .collect();
            if valid.is_empty() {
                return None;
            }
            let spread = |f: &dyn Fn(&LoadSample) -> f64| {
                Spread::of(&valid.iter().map(|s| f(s)).collect::<Vec<_>>())
            };
            let optional = |f: &dyn Fn(&LoadSample) -> Option<f64>| {
                let values: Option<Vec<f64>> = valid.iter().map(|s| f(s)).collect();
                values.map(|v| Spread::of(&v))
            };
            Some(DownstreamRoute {
                route,
                p50_ms: spread(&|s| s.fixed.p50_ms),
                p99_ms: spread(&|s| s.fixed.p99_ms),
                saturated_rps: spread(&|s| s.wrk.rps),
                calls_per_request: optional(&|s| s.per_request(s.calls)),
                auth_side_per_request: optional(&|s| s.per_request(s.auth_side_calls)),
                valid_trials: valid.len(),
            })
        })
        .collect();

    let outage = OrdersRoute::ALL
        .into_iter()
        .filter_map(|route| {
            let runs: Vec<(&OutageSample, &RouteLoop)> = outages
                .iter()
                .filter_map(|o| o.routes.iter().find(|r| r.route == route).map(|r| (o, r)))
                .collect();
            let (_, first) = runs.first()?;
            let pct = |from: &dyn Fn(&OutageSample) -> f64, to: &dyn Fn(&OutageSample) -> f64| {
                Spread::of(
                    &runs
                        .iter()
                        .map(|(o, r)| phase_pct(&r.record.per_second, from(o), to(o)))
                        .collect::<Vec<_>>(),
                )
            };
            Some(OutageRoute {
                route,
                depends_on: first.depends_on.name().into(),
                before_pct: pct(&|_| 0.0, &|o| o.stop_s),
                down_pct: pct(&|o| o.stop_s, &|o| o.restart_s),
                after_pct: pct(&|o| o.restart_s, &|_| f64::MAX),
                first_failing_s: runs
                    .iter()
                    .map(|(o, r)| first_failing(&r.record.per_second, o.stop_s, o.restart_s))
                    .collect(),
                healed_s: runs
                    .iter()
                    .map(|(o, r)| healed_after(&r.record.per_second, o.restart_s))
                    .collect(),
                down_s: runs.iter().map(|(o, _)| o.restart_s - o.stop_s).collect(),
                failed_answers: runs
                    .iter()
                    .flat_map(|(_, r)| &r.record.statuses)
                    .filter(|(status, _)| !(200..300).contains(*status))
                    .fold(BTreeMap::new(), |mut sum, (status, n)| {
                        *sum.entry(*status).or_default() += n;
                        sum
                    })
                    .into_iter()
                    .collect(),
            })
        })
        .collect();

    let auth_probes = [Stack::Jwt, Stack::Session]
        .into_iter()
        .filter_map(|stack| {
            let down: Vec<f64> = outages
                .iter()
                .flat_map(|o| {
                    o.probes
                        .iter()
                        .filter(move |p| p.stack == stack)
                        .map(move |p| phase_pct(&p.record.per_second, o.stop_s, o.restart_s))
                })
                .collect();
            (!down.is_empty()).then(|| AuthProbe {
                stack: stack.name().into(),
                down_error_pct: Spread::of(&down),
            })
        })
        .collect();

    let rotation = (!rotations.is_empty()).then(|| {
        let sum = |f: fn(&RotationSample) -> u64| rotations.iter().map(f).sum::<u64>();
        RotationFigures {
            trials: rotations.len(),
            old_requests: sum(|r| r.jwks_old.requests()),
            old_failed: sum(|r| r.jwks_old.errors()),
            new_requests: sum(|r| r.jwks_new.requests()),
            new_failed: sum(|r| r.jwks_new.errors()),
            new_logins: rotations.iter().map(|r| r.new_logins).sum(),
            new_logins_with_new_kid: rotations.iter().map(|r| r.new_logins_with_new_kid).sum(),
            jwks_fetches: rotations.iter().map(|r| r.jwks_fetches).collect(),
            gateway_requests: sum(|r| r.gateway_old.requests() + r.gateway_new.requests()),
            gateway_failed: sum(|r| r.gateway_old.errors() + r.gateway_new.errors()),
        }
    });

    DownstreamSummary {
        trials,
        cache_ttl_s,
        routes,
        outage,
        auth_probes,
        rotation,
        invalid_runs,
    }
}

/// How long a route kept serving into the outage: its earliest failing
/// second over the trials (the one a user meets first), or the whole outage
/// when it never failed.
pub fn served_s(route: &OutageRoute) -> f64 {
    route
        .first_failing_s
        .iter()
        .flatten()
        .copied()
        .reduce(f64::min)
        .unwrap_or_else(|| Spread::of(&route.down_s).median)
}

/// "failing after 2.4 s" / "did not fail in 8 s of outage", over the trials.
pub fn served_for(route: &OutageRoute) -> String {
    let failed: Vec<f64> = route.first_failing_s.iter().flatten().copied().collect();
    let down = Spread::of(&route.down_s);
    match failed.iter().copied().reduce(f64::min) {
        None => format!("did not fail in {:.0} s of outage", down.median),
        Some(s) if failed.len() == route.first_failing_s.len() => {
            format!("failing after {s:.1} s")
        }
        Some(s) => format!(
            "failing after {s:.1} s in {} of {} trials, not at all in the others",
            failed.len(),
            route.first_failing_s.len()
        ),
    }
}

/// C14's rule, in words, as the report prints it.
pub const C14_RULE: &str = "inconclusive when a load run failed the load check (its errors would \
    count as throughput), when the JWKS, introspection, cached-introspection or gateway runs or \
    the outage of the first three are missing, or when a stopped stack's own /health answered \
    more than 10% of the time during the outage (then it was not down). Does not hold when the \
    JWKS variant made more than 0.01 auth-service calls per request or failed more than 1% of its \
    requests while the JWT stack was down, or when introspection made fewer than 0.99 calls per \
    request or failed fewer than 50% of its requests while the session stack was down. \
    Otherwise holds, with a caveat when the cached introspection kept serving a second or more into \
    the outage or failed fewer than 50% of its requests during it (its cache hid the outage), when the JWKS variant's p50 was not below \
    introspection's in every trial (within the spread), or when the key rotation failed a request \
    or was not measured. Figures are medians over the trials; the latency comparison uses the \
    range.";

/// C14's verdict from the summary (see [`C14_RULE`]).
pub fn c14_verdict(s: &DownstreamSummary) -> Verdict {
    if !s.invalid_runs.is_empty() {
        return Verdict::Inconclusive(format!(
            "the load check refused {} run(s): {}",
            s.invalid_runs.len(),
            s.invalid_runs.join("; ")
        ));
    }
    let missing: Vec<&str> = NEEDED_UNDER_LOAD
        .iter()
        .filter(|r| s.route(**r).is_none())
        .map(|r| r.label())
        .chain(
            NEEDED_IN_OUTAGE
                .iter()
                .filter(|r| s.outage(**r).is_none())
                .map(|r| r.label()),
        )
        .collect();
    if !missing.is_empty() {
        return Verdict::Inconclusive(format!("did not run: {}", missing.join(", ")));
    }
    if let Some(probe) = s
        .auth_probes
        .iter()
        .find(|p| p.down_error_pct.median < OUTAGE_CONFIRMED_PCT)
    {
        return Verdict::Inconclusive(format!(
            "the {} stack's own /health failed only {:.0}% of the time during the outage: it was not down",
            probe.stack, probe.down_error_pct.median
        ));
    }
    if s.auth_probes.is_empty() {
        return Verdict::Inconclusive(
            "the outage was not confirmed (no probe of the stopped stacks)".into(),
        );
    }
    // Present: checked above.
    let (Some(jwks), Some(intro), Some(cached)) = (
        s.route(OrdersRoute::Jwks),
        s.route(OrdersRoute::Introspection),
        s.outage(OrdersRoute::IntrospectionCached),
    ) else {
        return Verdict::Inconclusive("a variant did not run".into());
    };
    let (Some(jwks_down), Some(intro_down)) = (
        s.outage(OrdersRoute::Jwks),
        s.outage(OrdersRoute::Introspection),
    ) else {
        return Verdict::Inconclusive("a variant did not run".into());
    };
    let calls = |r: &DownstreamRoute| r.calls_per_request.map_or(f64::NAN, |c| c.median);
    let jwks_calls = calls(jwks);
    if jwks_calls.is_nan() || jwks_calls > JWKS_MAX_CALLS {
        return Verdict::DoesNotHold(format!(
            "the JWKS variant made {jwks_calls:.2} auth-service calls per request: it did not verify locally"
        ));
    }
    if jwks_down.down_pct.median > JWKS_MAX_DOWN_PCT {
        return Verdict::DoesNotHold(format!(
            "the JWKS variant failed {:.1}% of its requests while the JWT stack was down",
            jwks_down.down_pct.median
        ));
    }
    let intro_calls = calls(intro);
    if intro_calls.is_nan() || intro_calls < INTROSPECTION_MIN_CALLS {
        return Verdict::DoesNotHold(format!(
            "introspection made only {intro_calls:.2} calls per request"
        ));
    }
    if intro_down.down_pct.median < INTROSPECTION_MIN_DOWN_PCT {
        return Verdict::DoesNotHold(format!(
            "introspection failed only {:.1}% of its requests while the session stack was down",
            intro_down.down_pct.median
        ));
    }

    let mut caveats = Vec::new();
    let cached_calls = s
        .route(OrdersRoute::IntrospectionCached)
        .map_or(f64::NAN, calls);
    if served_s(cached) >= HID_OUTAGE_S || cached.down_pct.median < INTROSPECTION_MIN_DOWN_PCT {
        caveats.push(format!(
            "with active answers cached {:.0} s, introspection made {cached_calls:.3} calls per request and \
             hid the first {:.1} s of the {:.0} s outage ({:.0}% of its requests failed while down): a cache \
             trades calls for answers up to its TTL old",
            s.cache_ttl_s,
            served_s(cached),
            Spread::of(&cached.down_s).median,
            cached.down_pct.median,
        ));
    }
    if !jwks.p50_ms.below(&intro.p50_ms) {
        caveats.push(format!(
            "the JWKS variant's p50 ({}) was not below introspection's ({}) in every trial: the latency \
             difference is within the spread",
            ms(&jwks.p50_ms),
            ms(&intro.p50_ms)
        ));
    }
    match &s.rotation {
        None => caveats.push("the key rotation was not measured".into()),
        Some(r) if r.old_failed + r.new_failed > 0 => caveats.push(format!(
            "the key rotation failed {} of {} JWKS requests",
            r.old_failed + r.new_failed,
            r.old_requests + r.new_requests
        )),
        Some(_) => {}
    }
    if caveats.is_empty() {
        Verdict::Holds
    } else {
        Verdict::HoldsWithCaveat(caveats.join("; "))
    }
}

/// "1.23 ms" or "1.23 ms (1.10–1.40)".
pub fn ms(spread: &Spread) -> String {
    if spread.min == spread.max {
        format!("{:.2} ms", spread.median)
    } else {
        format!(
            "{:.2} ms ({:.2}–{:.2})",
            spread.median, spread.min, spread.max
        )
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn one(value: f64) -> Spread {
        Spread::of(&[value])
    }

    fn route(route: OrdersRoute, p50: f64, calls: Option<f64>) -> DownstreamRoute {
        DownstreamRoute {
            route,
            p50_ms: one(p50),
            p99_ms: one(p50 * 4.0),
            saturated_rps: one(1_000.0),
            calls_per_request: calls.map(one),
            auth_side_per_request: calls.map(one),
            valid_trials: 1,
        }
    }

    fn outage(route: OrdersRoute, stack: &str, down_pct: f64, first: Option<f64>) -> OutageRoute {
        OutageRoute {
            route,
            depends_on: stack.into(),
            before_pct: one(0.0),
            down_pct: one(down_pct),
            after_pct: one(0.0),
            first_failing_s: vec![first],
            healed_s: vec![Some(1.0)],
            down_s: vec![8.0],
            failed_answers: vec![(503, 10)],
        }
    }

    /// The numbers of a set-up that works as designed: JWKS never asks and
    /// keeps serving, introspection asks every time and fails, the rotation
    /// is clean; and a cache that ran out at once (as if its TTL were under
    /// a second), so that no caveat applies.
    pub(crate) fn healthy() -> DownstreamSummary {
        DownstreamSummary {
            trials: 1,
            cache_ttl_s: 5.0,
            routes: vec![
                route(OrdersRoute::JwtStack, 1.0, None),
                route(OrdersRoute::Jwks, 1.2, Some(0.0)),
                route(OrdersRoute::Introspection, 2.6, Some(1.0)),
                route(OrdersRoute::IntrospectionCached, 1.3, Some(0.02)),
                route(OrdersRoute::Gateway, 1.4, Some(0.0)),
            ],
            outage: vec![
                outage(OrdersRoute::Jwks, "jwt", 0.0, None),
                outage(OrdersRoute::Introspection, "session", 100.0, Some(0.0)),
                outage(
                    OrdersRoute::IntrospectionCached,
                    "session",
                    100.0,
                    Some(0.0),
                ),
                outage(OrdersRoute::Gateway, "jwt", 0.0, None),
            ],
            auth_probes: vec![
                AuthProbe {
                    stack: "jwt".into(),
                    down_error_pct: one(100.0),
                },
                AuthProbe {
                    stack: "session".into(),
                    down_error_pct: one(100.0),
                },
            ],
            rotation: Some(RotationFigures {
                trials: 1,
                old_requests: 400,
                old_failed: 0,
                new_requests: 80,
                new_failed: 0,
                new_logins: 8,
                new_logins_with_new_kid: 8,
                jwks_fetches: vec![1],
                gateway_requests: 480,
                gateway_failed: 0,
            }),
            invalid_runs: Vec::new(),
        }
    }

    fn set_route(
        s: &mut DownstreamSummary,
        which: OrdersRoute,
        f: impl FnOnce(&mut DownstreamRoute),
    ) {
        f(s.routes.iter_mut().find(|r| r.route == which).unwrap());
    }

    fn set_outage(s: &mut DownstreamSummary, which: OrdersRoute, f: impl FnOnce(&mut OutageRoute)) {
        f(s.outage.iter_mut().find(|r| r.route == which).unwrap());
    }

    fn note(verdict: &Verdict) -> &str {
        verdict.note().unwrap_or("")
    }

    #[test]
    fn the_summary_reads_back_from_results_json() {
        // As `results.json` holds it: inside the internally tagged Summary.
        let summary = crate::summaries::Summary::Downstream(healthy());
        let json = serde_json::to_string(&summary).unwrap();
        assert_eq!(
            serde_json::from_str::<crate::summaries::Summary>(&json).unwrap(),
            summary
        );
    }

    #[test]
    fn holds_when_jwks_never_asks_and_introspection_always_does() {
        assert_eq!(c14_verdict(&healthy()), Verdict::Holds);
        // At the thresholds, still holds.
        let mut s = healthy();
        set_route(&mut s, OrdersRoute::Jwks, |r| {
            r.calls_per_request = Some(one(0.01))
        });
        set_route(&mut s, OrdersRoute::Introspection, |r| {
            r.calls_per_request = Some(one(0.99))
        });
        set_outage(&mut s, OrdersRoute::Jwks, |r| r.down_pct = one(1.0));
        set_outage(&mut s, OrdersRoute::Introspection, |r| {
            r.down_pct = one(50.0)
        });
        set_outage(&mut s, OrdersRoute::IntrospectionCached, |r| {
            r.down_pct = one(50.0)
        });
        assert_eq!(c14_verdict(&s), Verdict::Holds);
    }

    #[test]
    fn a_refused_load_run_is_inconclusive() {
        let mut s = healthy();
        s.invalid_runs
            .push("trial 1, orders, JWKS: 1200 non-2xx answers in 3000 requests".into());
        let verdict = c14_verdict(&s);
        assert!(matches!(verdict, Verdict::Inconclusive(_)), "{verdict:?}");
        assert!(note(&verdict).contains("1200 non-2xx"), "{verdict:?}");
    }

    #[test]
    fn a_variant_that_did_not_run_is_inconclusive() {
        let mut s = healthy();
        s.routes.retain(|r| r.route != OrdersRoute::Gateway);
        let verdict = c14_verdict(&s);
        assert!(note(&verdict).contains("gateway"), "{verdict:?}");
        assert!(matches!(verdict, Verdict::Inconclusive(_)));

        let mut s = healthy();
        s.outage.retain(|r| r.route != OrdersRoute::Introspection);
        assert!(matches!(c14_verdict(&s), Verdict::Inconclusive(_)));

        let mut s = healthy();
        s.auth_probes.clear();
        assert!(matches!(c14_verdict(&s), Verdict::Inconclusive(_)));
    }

    #[test]
    fn a_jwks_node_that_fetches_keys_for_every_request_does_not_hold() {
        // Broken set-up: no key cache, one JWKS fetch per request.
        let mut s = healthy();
        set_route(&mut s, OrdersRoute::Jwks, |r| {
            r.calls_per_request = Some(one(1.0))
        });
        let verdict = c14_verdict(&s);
        assert!(matches!(verdict, Verdict::DoesNotHold(_)), "{verdict:?}");
        assert!(
            note(&verdict).contains("1.00 auth-service calls"),
            "{verdict:?}"
        );
        // Just over the threshold turns it too.
        set_route(&mut s, OrdersRoute::Jwks, |r| {
            r.calls_per_request = Some(one(0.011))
        });
        assert!(matches!(c14_verdict(&s), Verdict::DoesNotHold(_)));
        // A JWKS route without a count cannot pass for one that asked nothing.
        set_route(&mut s, OrdersRoute::Jwks, |r| r.calls_per_request = None);
        assert!(matches!(c14_verdict(&s), Verdict::DoesNotHold(_)));
    }

    #[test]
    fn a_jwks_variant_that_fails_in_the_outage_does_not_hold() {
        // A JWKS node that drops its keys when the refetch fails: no stale-if-error.
        let mut s = healthy();
        set_outage(&mut s, OrdersRoute::Jwks, |r| {
            r.down_pct = one(38.0);
            r.first_failing_s = vec![Some(4.0)];
        });
        let verdict = c14_verdict(&s);
        assert!(matches!(verdict, Verdict::DoesNotHold(_)), "{verdict:?}");
        assert!(note(&verdict).contains("38.0%"), "{verdict:?}");
    }

    #[test]
    fn introspection_that_skips_calls_does_not_hold() {
        let mut s = healthy();
        set_route(&mut s, OrdersRoute::Introspection, |r| {
            r.calls_per_request = Some(one(0.5))
        });
        let verdict = c14_verdict(&s);
        assert!(matches!(verdict, Verdict::DoesNotHold(_)), "{verdict:?}");
        assert!(note(&verdict).contains("0.50 calls"), "{verdict:?}");
    }

    #[test]
    fn an_outage_in_which_introspection_kept_answering_never_holds() {
        // Broken set-up: the "stopped" session stack kept answering, so did
        // introspection. Its own /health gives it away: inconclusive.
        let mut s = healthy();
        set_outage(&mut s, OrdersRoute::Introspection, |r| {
            r.down_pct = one(0.0);
            r.first_failing_s = vec![None];
        });
        set_outage(&mut s, OrdersRoute::IntrospectionCached, |r| {
            r.down_pct = one(0.0)
        });
        s.auth_probes[1].down_error_pct = one(0.0);
        let verdict = c14_verdict(&s);
        assert!(matches!(verdict, Verdict::Inconclusive(_)), "{verdict:?}");
        assert!(
            note(&verdict).contains("session stack's own /health"),
            "{verdict:?}"
        );

        // The stack was down, yet introspection answered: the claim fails.
        s.auth_probes[1].down_error_pct = one(100.0);
        let verdict = c14_verdict(&s);
        assert!(matches!(verdict, Verdict::DoesNotHold(_)), "{verdict:?}");
        assert!(note(&verdict).contains("failed only 0.0%"), "{verdict:?}");

        // Half-down still does not hold.
        set_outage(&mut s, OrdersRoute::Introspection, |r| {
            r.down_pct = one(49.9)
        });
        assert!(matches!(c14_verdict(&s), Verdict::DoesNotHold(_)));
    }

    #[test]
    fn a_cache_that_hides_the_outage_is_a_caveat() {
        // The quick run of 2026-11-26: failing from 4.0 s into an 8.6 s outage.
        let mut s = healthy();
        set_outage(&mut s, OrdersRoute::IntrospectionCached, |r| {
            r.down_pct = one(62.9);
            r.first_failing_s = vec![Some(4.0)];
            r.down_s = vec![8.6];
        });
        let verdict = c14_verdict(&s);
        assert!(
            matches!(verdict, Verdict::HoldsWithCaveat(_)),
            "{verdict:?}"
        );
        assert!(
            note(&verdict).contains(
                "cached 5 s, introspection made 0.020 calls per request and hid the first 4.0 s of the 9 s \
                 outage (63% of its requests failed while down)"
            ),
            "{verdict:?}"
        );
        // A cache that outlived the outage.
        set_outage(&mut s, OrdersRoute::IntrospectionCached, |r| {
            r.down_pct = one(12.0);
            r.first_failing_s = vec![None];
        });
        assert!(note(&c14_verdict(&s)).contains("hid the first 8.6 s"));
        // One that ran out within the first second hid nothing.
        set_outage(&mut s, OrdersRoute::IntrospectionCached, |r| {
            r.down_pct = one(97.0);
            r.first_failing_s = vec![Some(0.9)];
        });
        assert_eq!(c14_verdict(&s), Verdict::Holds);
    }

    #[test]
    fn latency_within_the_spread_is_a_caveat() {
        let mut s = healthy();
        set_route(&mut s, OrdersRoute::Jwks, |r| {
            r.p50_ms = Spread::of(&[1.2, 2.0, 2.8])
        });
        set_route(&mut s, OrdersRoute::Introspection, |r| {
            r.p50_ms = Spread::of(&[2.5, 2.6, 3.0])
        });
        let verdict = c14_verdict(&s);
        assert!(
            matches!(verdict, Verdict::HoldsWithCaveat(_)),
            "{verdict:?}"
        );
        assert!(note(&verdict).contains("within the spread"), "{verdict:?}");
        assert!(
            note(&verdict).contains("2.00 ms (1.20–2.80)"),
            "{verdict:?}"
        );
    }

    #[test]
    fn a_rotation_that_failed_requests_or_did_not_run_is_a_caveat() {
        let mut s = healthy();
        if let Some(r) = s.rotation.as_mut() {
            r.old_failed = 3;
        }
        let verdict = c14_verdict(&s);
        assert!(note(&verdict).contains("failed 3 of 480"), "{verdict:?}");
        assert!(matches!(verdict, Verdict::HoldsWithCaveat(_)));
        s.rotation = None;
        assert!(matches!(c14_verdict(&s), Verdict::HoldsWithCaveat(_)));
    }

    fn seconds(counts: &[(u64, u64)]) -> Vec<SecondCount> {
        counts
            .iter()
            .enumerate()
            .map(|(second, &(requests, errors))| SecondCount {
                second: second as u64,
                requests,
                errors,
            })
            .collect()
    }

    #[test]
    fn phases_count_whole_seconds_only() {
        // Stop at 2.5 s, back at 5.2 s: second 2 is mixed and left out of
        // both phases, as is second 5.
        let per_second = seconds(&[
            (10, 0),
            (10, 0),
            (10, 5),
            (10, 10),
            (10, 10),
            (10, 4),
            (10, 0),
        ]);
        assert_eq!(phase_pct(&per_second, 0.0, 2.5), 0.0);
        assert_eq!(phase_pct(&per_second, 2.5, 5.2), 100.0);
        assert_eq!(phase_pct(&per_second, 5.2, f64::MAX), 0.0);
        assert_eq!(first_failing(&per_second, 2.5, 5.2), Some(0.0));
        let healed = healed_after(&per_second, 5.2).unwrap();
        assert!((healed - 1.8).abs() < 1e-9, "{healed}");
        // A cache that serves until second 4.
        let cached = seconds(&[(10, 0), (10, 0), (10, 0), (10, 2), (10, 9), (10, 0)]);
        assert_eq!(first_failing(&cached, 2.5, 5.2), Some(1.5));
        assert_eq!(first_failing(&seconds(&[(10, 0); 6]), 2.5, 5.2), None);
        assert_eq!(healed_after(&seconds(&[(10, 10); 6]), 2.0), None);
    }

    fn record(per_second: Vec<SecondCount>, p50_ms: f64) -> LoopRecord {
        LoopRecord {
            rate: 10,
            per_second,
            p50_ms,
            p99_ms: p50_ms * 2.0,
            ..LoopRecord::default()
        }
    }

    fn load(route: OrdersRoute, trial: usize, p50: f64, calls: Option<f64>) -> LoadSample {
        LoadSample {
            route,
            trial,
            fixed: record(seconds(&[(100, 0), (100, 0)]), p50),
            wrk: WrkResult {
                requests: 800,
                rps: 400.0,
                ..WrkResult::default()
            },
            calls,
            auth_side_calls: calls,
            invalid: None,
        }
    }

    #[test]
    fn the_summary_takes_medians_and_leaves_refused_runs_out() {
        let mut refused = load(OrdersRoute::Gateway, 0, 9.0, Some(0.0));
        refused.invalid = Some("1000 non-2xx answers".into());
        let samples = vec![
            load(OrdersRoute::Jwks, 0, 1.0, Some(1.0)),
            load(OrdersRoute::Jwks, 1, 3.0, Some(1.0)),
            load(OrdersRoute::Jwks, 2, 2.0, Some(1.0)),
            load(OrdersRoute::Introspection, 0, 4.0, Some(1_000.0)),
            load(OrdersRoute::JwtStack, 0, 0.5, None),
            refused,
        ];
        let outages = vec![OutageSample {
            trial: 0,
            stop_s: 2.5,
            restart_s: 5.2,
            routes: vec![RouteLoop {
                route: OrdersRoute::Introspection,
                depends_on: Stack::Session,
                record: record(
                    seconds(&[
                        (10, 0),
                        (10, 0),
                        (10, 5),
                        (10, 10),
                        (10, 10),
                        (10, 4),
                        (10, 0),
                    ]),
                    2.0,
                ),
            }],
            probes: vec![ProbeLoop {
                stack: Stack::Session,
                record: record(
                    seconds(&[(5, 0), (5, 0), (5, 3), (5, 5), (5, 5), (5, 0)]),
                    1.0,
                ),
            }],
        }];
        let s = summarize(3, 5.0, &samples, &outages, &[]);
        let jwks = s.route(OrdersRoute::Jwks).unwrap();
        assert_eq!(
            (jwks.p50_ms.median, jwks.p50_ms.min, jwks.p50_ms.max),
            (2.0, 1.0, 3.0)
        );
        // One call over 200 loop + 800 wrk requests.
        assert_eq!(jwks.calls_per_request.unwrap().median, 0.001);
        assert_eq!(jwks.valid_trials, 3);
        assert_eq!(
            s.route(OrdersRoute::Introspection)
                .unwrap()
                .calls_per_request
                .unwrap()
                .median,
            1.0
        );
        assert_eq!(
            s.route(OrdersRoute::JwtStack).unwrap().calls_per_request,
            None
        );
        assert!(s.route(OrdersRoute::Gateway).is_none());
        assert_eq!(
            s.invalid_runs,
            ["trial 1, orders behind the HAProxy gateway: 1000 non-2xx answers"]
        );
        let intro = s.outage(OrdersRoute::Introspection).unwrap();
        assert_eq!(
            (
                intro.before_pct.median,
                intro.down_pct.median,
                intro.after_pct.median
            ),
            (0.0, 100.0, 0.0)
        );
        assert_eq!(intro.depends_on, "session");
        assert_eq!(intro.first_failing_s, [Some(0.0)]);
        assert_eq!(served_for(intro), "failing after 0.0 s");
        assert_eq!(s.auth_probes.len(), 1);
        assert_eq!(s.auth_probes[0].down_error_pct.median, 100.0);
        assert!(s.rotation.is_none());
        // And the rule reads the refusal.
        assert!(matches!(c14_verdict(&s), Verdict::Inconclusive(_)));
    }
}
