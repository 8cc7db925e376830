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

use super::pace::LoopRecord;
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
/// From a cache TTL after the kill to the recovery, every answer cached
/// before the kill has expired and the session stack is still down: a cache
/// that respects its TTL fails there; one that served more than half its
/// requests did not run out.
pub const CACHE_RAN_OUT_MIN_PCT: f64 = 50.0;

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

/// The requests of `sent` sent in `[from, to)` (seconds on the loops'
/// timeline): how many, and how many failed.
fn in_window(sent: &[(u32, u16)], from: f64, to: f64) -> impl Iterator<Item = (f64, bool)> + '_ {
    sent.iter()
        .map(|&(ms, status)| (f64::from(ms) / 1e3, !(200..300).contains(&status)))
        .filter(move |&(at, _)| at >= from && at < to)
}

/// % of the requests sent in `[from, to)` that failed; `None` when none were sent.
pub fn window_pct(sent: &[(u32, u16)], from: f64, to: f64) -> Option<f64> {
    let (requests, failed) = in_window(sent, from, to).fold((0u64, 0u64), |(q, f), (_, failed)| {
        (q + 1, f + u64::from(failed))
    });
    (requests > 0).then(|| failed as f64 / requests as f64 * 100.0)
}

/// Seconds from the kill (`stop_s`) to the first failed request sent
/// before the recovery (`restart_s`); `None` when none failed.
pub fn first_failure(sent: &[(u32, u16)], stop_s: f64, restart_s: f64) -> Option<f64> {
    in_window(sent, stop_s, restart_s)
        .find(|&(_, failed)| failed)
        .map(|(at, _)| at - stop_s)
}

/// Seconds from the recovery to the last failed request sent after it;
/// `None` when none failed.
pub fn last_failure_after(sent: &[(u32, u16)], restart_s: f64) -> Option<f64> {
    in_window(sent, restart_s, f64::MAX)
        .filter(|&(_, failed)| failed)
        .last()
        .map(|(at, _)| at - restart_s)
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
                        .map(|(o, r)| window_pct(&r.record.sent, from(o), to(o)).unwrap_or(0.0))
                        .collect::<Vec<_>>(),
                )
            };
            let past_ttl: Vec<f64> = runs
                .iter()
                .filter_map(|(o, r)| {
                    window_pct(&r.record.sent, o.stop_s + cache_ttl_s, o.restart_s)
                })
                .collect();
            Some(OutageRoute {
                route,
                depends_on: first.depends_on.name().into(),
                before_pct: pct(&|_| 0.0, &|o| o.stop_s),
                down_pct: pct(&|o| o.stop_s, &|o| o.restart_s),
                after_pct: pct(&|o| o.restart_s, &|_| f64::MAX),
                first_failure_s: runs
                    .iter()
                    .map(|(o, r)| first_failure(&r.record.sent, o.stop_s, o.restart_s))
                    .collect(),
                past_ttl_pct: (!past_ttl.is_empty()).then(|| Spread::of(&past_ttl)),
                last_failure_after_recovery_s: runs
                    .iter()
                    .map(|(o, r)| last_failure_after(&r.record.sent, o.restart_s))
                    .collect(),
                down_s: runs.iter().map(|(o, _)| o.restart_s - o.stop_s).collect(),
                failed_answers: runs
                    .iter()
                    .flat_map(|(o, r)| {
                        r.record.sent.iter().filter(|&&(ms, status)| {
                            let at = f64::from(ms) / 1e3;
                            at >= o.stop_s && at < o.restart_s && !(200..300).contains(&status)
                        })
                    })
                    .fold(BTreeMap::new(), |mut sum, &(_, status)| {
                        *sum.entry(status).or_default() += 1;
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
                        .map(move |p| {
                            window_pct(&p.record.sent, o.stop_s, o.restart_s).unwrap_or(0.0)
                        })
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
            new_p99_ms: rotations.iter().map(|r| r.jwks_new.p99_ms).collect(),
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

/// "first failure 2.4 s into the 10.5 s outage" / "no failure in the 10.5 s
/// outage", over the trials; the outage runs from the kill to the
/// recovery, as in every other figure.
pub fn served_for(route: &OutageRoute) -> String {
    let failed: Vec<f64> = route.first_failure_s.iter().flatten().copied().collect();
    let down = Spread::of(&route.down_s).median;
    match failed.iter().copied().reduce(f64::min) {
        None => format!("no failure in the {down:.1} s outage"),
        Some(s) if failed.len() == route.first_failure_s.len() => {
            format!("first failure {s:.1} s into the {down:.1} s outage")
        }
        Some(s) => format!(
            "first failure {s:.1} s into the {down:.1} s outage in {} of {} trials, none in the others",
            failed.len(),
            route.first_failure_s.len()
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
    Otherwise holds, with a caveat when the cached introspection failed fewer than 50% of the \
    requests it got from its cache TTL after the kill to the recovery (its cache outlived the \
    TTL), or the outage was too short to tell, when the JWKS variant's p50 was not below \
    introspection's in every trial (within the spread), or when the key rotation failed a request \
    (new-key failures are counted over the new-key requests, old-key ones apart) or was not \
    measured. The outage runs from the kill to the recovery (every auth node back up in \
    HAProxy) and every outage figure counts the requests sent in it. How long the cached route \
    answers into the outage (up to its TTL) is the design's, not the run's, and is stated apart. \
    Figures are medians over the trials; the latency comparison uses the range.";

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
    match &cached.past_ttl_pct {
        None => caveats.push(format!(
            "the outage was no longer than the cache's {:.0} s TTL: whether the cached introspection runs out \
             was not measured",
            s.cache_ttl_s
        )),
        Some(p) if p.median < CACHE_RAN_OUT_MIN_PCT => caveats.push(format!(
            "from {:.0} s after the kill to the recovery, when every answer it cached before the kill had \
             expired, the cached introspection failed only {:.1}% of its requests: its cache outlived its TTL",
            s.cache_ttl_s, p.median
        )),
        Some(_) => {}
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
            "through {} key rotation(s) the JWKS route failed {} of {} requests with new-key tokens ({:.1}%) and \
             {} of {} with old-key tokens",
            r.trials,
            r.new_failed,
            r.new_requests,
            r.new_failed_pct(),
            r.old_failed,
            r.old_requests
        )),
        Some(_) => {}
    }
    if caveats.is_empty() {
        Verdict::Holds
    } else {
        Verdict::HoldsWithCaveat(caveats.join("; "))
    }
}

/// C14's one figure for the first screen: what the JWKS and introspection
/// routes cost the auth service per request, and what its outage cost them.
pub fn c14_headline(s: &DownstreamSummary) -> String {
    let calls = |route| {
        s.route(route)
            .and_then(|r| r.calls_per_request)
            .map_or_else(|| "not measured".to_owned(), |c| format!("{:.2}", c.median))
    };
    let down = |route| {
        s.outage(route).map_or_else(
            || "not measured".to_owned(),
            |o| format!("{:.0}%", o.down_pct.median),
        )
    };
    format!(
        "auth calls per request: JWKS {}, introspection {}; failed with the auth service down: {} vs {}",
        calls(OrdersRoute::Jwks),
        calls(OrdersRoute::Introspection),
        down(OrdersRoute::Jwks),
        down(OrdersRoute::Introspection),
    )
}

/// What the set-up decides in C14, not the run: a cache answers for up to
/// its TTL, and that holds for an ended session as much as for an outage.
pub fn c14_by_design(s: &DownstreamSummary) -> Option<String> {
    (s.cache_ttl_s > 0.0).then(|| {
        format!(
            "With active answers cached {ttl:.0} s, the cached introspection keeps answering for up to {ttl:.0} s \
             after the session stack stops (how much of that a run sees depends on when its entries were \
             cached), and would accept a session ended at the auth service for as long: the TTL decides both, not \
             the run, which checks only that the cache runs out after it. Likewise the JWKS and gateway routes \
             never ask about a logout, so a token works downstream until its exp (c7 measures that delay).",
            ttl = s.cache_ttl_s
        )
    })
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
    use crate::experiments::c14::pace::SecondCount;

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
            first_failure_s: vec![first],
            past_ttl_pct: Some(one(down_pct)),
            last_failure_after_recovery_s: vec![Some(0.5)],
            down_s: vec![8.0],
            failed_answers: vec![(503, 10)],
        }
    }

    /// The numbers of a set-up that works as designed: JWKS never asks and
    /// keeps serving, introspection asks every time and fails, the cache
    /// runs out after its TTL, the rotation is clean: no caveat applies.
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
                new_p99_ms: vec![2.0],
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
            r.first_failure_s = vec![Some(4.0)];
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
            r.first_failure_s = vec![None];
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
    fn a_cache_that_serves_into_the_outage_for_its_ttl_is_the_design_not_a_caveat() {
        // The sample of 2026-11-27: served 2.6 s into a 10.5 s outage, 82%
        // failed while down, every request failed once the TTL had passed.
        let mut s = healthy();
        set_outage(&mut s, OrdersRoute::IntrospectionCached, |r| {
            r.down_pct = one(82.2);
            r.first_failure_s = vec![Some(2.6)];
            r.past_ttl_pct = Some(one(100.0));
            r.down_s = vec![10.5];
        });
        assert_eq!(c14_verdict(&s), Verdict::Holds);
        let by_design = c14_by_design(&s).unwrap();
        assert!(
            by_design.contains("keeps answering for up to 5 s after the session stack stops"),
            "{by_design}"
        );
        // No cache, nothing the TTL decides.
        s.cache_ttl_s = 0.0;
        assert_eq!(c14_by_design(&s), None);
    }

    #[test]
    fn a_cache_that_outlives_its_ttl_is_a_caveat() {
        // Broken set-up: a cache that never expires answers the whole outage.
        let mut s = healthy();
        set_outage(&mut s, OrdersRoute::IntrospectionCached, |r| {
            r.down_pct = one(0.0);
            r.first_failure_s = vec![None];
            r.past_ttl_pct = Some(one(0.0));
        });
        let verdict = c14_verdict(&s);
        assert!(
            matches!(verdict, Verdict::HoldsWithCaveat(_)),
            "{verdict:?}"
        );
        assert!(
            note(&verdict).contains(
                "from 5 s after the kill to the recovery, when every answer it cached before the kill had \
                 expired, the cached introspection failed only 0.0% of its requests: its cache outlived its TTL"
            ),
            "{verdict:?}"
        );
        // At the threshold it ran out.
        set_outage(&mut s, OrdersRoute::IntrospectionCached, |r| {
            r.past_ttl_pct = Some(one(50.0))
        });
        assert_eq!(c14_verdict(&s), Verdict::Holds);
        // An outage no longer than the TTL cannot tell.
        set_outage(&mut s, OrdersRoute::IntrospectionCached, |r| {
            r.past_ttl_pct = None
        });
        assert!(note(&c14_verdict(&s)).contains("was not measured"));
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
        // The sample of 2026-11-27: the unknown-kid cooldown refused 25 of
        // 360 new-key requests; the 571 old-key ones could not fail.
        let mut s = healthy();
        if let Some(r) = s.rotation.as_mut() {
            (r.old_requests, r.new_requests, r.new_failed) = (571, 360, 25);
        }
        let verdict = c14_verdict(&s);
        assert!(
            note(&verdict).contains(
                "failed 25 of 360 requests with new-key tokens (6.9%) and 0 of 571 with old-key tokens"
            ),
            "{verdict:?}"
        );
        assert!(matches!(verdict, Verdict::HoldsWithCaveat(_)));
        // Old-key failures alone turn it too.
        if let Some(r) = s.rotation.as_mut() {
            (r.new_failed, r.old_failed) = (0, 3);
        }
        assert!(note(&c14_verdict(&s))
            .contains("0 of 360 requests with new-key tokens (0.0%) and 3 of 571"));
        s.rotation = None;
        assert!(matches!(c14_verdict(&s), Verdict::HoldsWithCaveat(_)));
    }

    #[test]
    fn the_headline_is_calls_and_outage_errors_of_jwks_against_introspection() {
        assert_eq!(
            c14_headline(&healthy()),
            "auth calls per request: JWKS 0.00, introspection 1.00; failed with the auth service down: 0% vs 100%"
        );
        let mut s = healthy();
        s.routes.clear();
        s.outage.retain(|o| o.route != OrdersRoute::Jwks);
        assert_eq!(
            c14_headline(&s),
            "auth calls per request: JWKS not measured, introspection not measured; failed with the auth service \
             down: not measured vs 100%"
        );
    }

    /// Requests at `per_second` a second from 0 s, the ones in `failing`
    /// seconds-ranges failed (503).
    fn sends(seconds: u32, per_second: u32, failing: &[(f64, f64)]) -> Vec<(u32, u16)> {
        (0..seconds * per_second)
            .map(|i| {
                let ms = i * 1000 / per_second;
                let at = f64::from(ms) / 1e3;
                let failed = failing.iter().any(|&(from, to)| at >= from && at < to);
                (ms, if failed { 503 } else { 200 })
            })
            .collect()
    }

    #[test]
    fn every_outage_figure_counts_from_the_kill_to_the_recovery() {
        // Killed at 2.5 s, back at 5.2 s; the route failed from 2.6 s to
        // 5.0 s. Every figure cuts at 2.5 and 5.2, inside seconds.
        let sent = sends(7, 10, &[(2.6, 5.0)]);
        assert_eq!(window_pct(&sent, 0.0, 2.5), Some(0.0));
        // 27 requests sent in [2.5, 5.2), 24 failed.
        let down = window_pct(&sent, 2.5, 5.2).unwrap();
        assert!((down - 24.0 / 27.0 * 100.0).abs() < 1e-9, "{down}");
        assert_eq!(window_pct(&sent, 5.2, f64::MAX), Some(0.0));
        assert_eq!(window_pct(&sent, 9.0, 10.0), None);
        let first = first_failure(&sent, 2.5, 5.2).unwrap();
        assert!((first - 0.1).abs() < 1e-9, "{first}");
        assert_eq!(last_failure_after(&sent, 5.2), None);
        // Failing past the recovery: the last failure counts from it.
        let slow = sends(7, 10, &[(2.6, 5.5)]);
        let last = last_failure_after(&slow, 5.2).unwrap();
        assert!((last - 0.2).abs() < 1e-9, "{last}");
        assert_eq!(first_failure(&sends(7, 10, &[]), 2.5, 5.2), None);
    }

    fn record(sent: Vec<(u32, u16)>, p50_ms: f64) -> LoopRecord {
        let mut per_second = BTreeMap::new();
        for &(ms, status) in &sent {
            let second = u64::from(ms / 1000);
            let count = per_second.entry(second).or_insert(SecondCount {
                second,
                requests: 0,
                errors: 0,
            });
            count.requests += 1;
            count.errors += u64::from(status != 200);
        }
        LoopRecord {
            rate: 10,
            per_second: per_second.into_values().collect(),
            sent,
            p50_ms,
            p99_ms: p50_ms * 2.0,
            ..LoopRecord::default()
        }
    }

    fn load(route: OrdersRoute, trial: usize, p50: f64, calls: Option<f64>) -> LoadSample {
        LoadSample {
            route,
            trial,
            fixed: record(sends(2, 100, &[]), p50),
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
            restart_s: 8.0,
            routes: vec![RouteLoop {
                route: OrdersRoute::Introspection,
                depends_on: Stack::Session,
                record: record(sends(10, 10, &[(2.5, 8.0)]), 2.0),
            }],
            probes: vec![ProbeLoop {
                stack: Stack::Session,
                record: record(sends(10, 5, &[(2.5, 8.0)]), 1.0),
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
        assert_eq!(intro.first_failure_s, [Some(0.0)]);
        assert_eq!(intro.down_s, [5.5]);
        // 7.5 s to 8.0 s: past the TTL, all failed.
        assert_eq!(intro.past_ttl_pct.map(|p| p.median), Some(100.0));
        assert_eq!(intro.last_failure_after_recovery_s, [None]);
        // 55 requests sent from the kill to the recovery, every one a 503.
        assert_eq!(intro.failed_answers, [(503, 55)]);
        assert_eq!(
            served_for(intro),
            "first failure 0.0 s into the 5.5 s outage"
        );
        let mut mixed = intro.clone();
        mixed.first_failure_s = vec![Some(2.6), None, Some(3.1)];
        assert_eq!(
            served_for(&mixed),
            "first failure 2.6 s into the 5.5 s outage in 2 of 3 trials, none in the others"
        );
        mixed.first_failure_s = vec![None];
        assert_eq!(served_for(&mixed), "no failure in the 5.5 s outage");
        assert_eq!(s.auth_probes.len(), 1);
        assert_eq!(s.auth_probes[0].down_error_pct.median, 100.0);
        assert!(s.rotation.is_none());
        // And the rule reads the refusal.
        assert!(matches!(c14_verdict(&s), Verdict::Inconclusive(_)));
    }
}
