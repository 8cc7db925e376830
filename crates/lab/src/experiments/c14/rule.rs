//! The rule that judges C14 from the summary, and the first screen's figure.
//!
//! A verdict needs every route measured under load and through the outage,
//! and proof that the outage was one (the stopped stacks' own `/health`
//! failing); only then do the thresholds below decide. What the set-up
//! decides rather than the run (how long a cache answers) is stated apart,
//! in [`c14_by_design`], so a TTL doing its job is not read as a caveat.

use super::analysis::ms;
use crate::{
    results::Verdict,
    summaries::{DownstreamRoute, DownstreamSummary, OrdersRoute, OutageRoute},
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
    if let Some(verdict) = not_judged(s) {
        return verdict;
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
    if let Some(verdict) = does_not_hold(jwks, intro, jwks_down, intro_down) {
        return verdict;
    }
    let mut caveats = Vec::new();
    caveats.extend(cache_caveat(s, cached));
    if !jwks.p50_ms.below(&intro.p50_ms) {
        caveats.push(format!(
            "the JWKS variant's p50 ({}) was not below introspection's ({}) in every trial: the latency \
             difference is within the spread",
            ms(&jwks.p50_ms),
            ms(&intro.p50_ms)
        ));
    }
    caveats.extend(rotation_caveat(s));
    if caveats.is_empty() {
        Verdict::Holds
    } else {
        Verdict::HoldsWithCaveat(caveats.join("; "))
    }
}

/// Inconclusive: a refused load run, a route that did not run, or an
/// outage that was not confirmed.
fn not_judged(s: &DownstreamSummary) -> Option<Verdict> {
    if !s.invalid_runs.is_empty() {
        return Some(Verdict::Inconclusive(format!(
            "the load check refused {} run(s): {}",
            s.invalid_runs.len(),
            s.invalid_runs.join("; ")
        )));
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
        return Some(Verdict::Inconclusive(format!(
            "did not run: {}",
            missing.join(", ")
        )));
    }
    if let Some(probe) = s
        .auth_probes
        .iter()
        .find(|p| p.down_error_pct.median < OUTAGE_CONFIRMED_PCT)
    {
        return Some(Verdict::Inconclusive(format!(
            "the {} stack's own /health failed only {:.0}% of the time during the outage: it was not down",
            probe.stack, probe.down_error_pct.median
        )));
    }
    if s.auth_probes.is_empty() {
        return Some(Verdict::Inconclusive(
            "the outage was not confirmed (no probe of the stopped stacks)".into(),
        ));
    }
    None
}

/// JWKS that asks or fails with the auth service down, introspection that
/// does not ask or keeps answering.
fn does_not_hold(
    jwks: &DownstreamRoute,
    intro: &DownstreamRoute,
    jwks_down: &OutageRoute,
    intro_down: &OutageRoute,
) -> Option<Verdict> {
    let calls = |r: &DownstreamRoute| r.calls_per_request.map_or(f64::NAN, |c| c.median);
    let jwks_calls = calls(jwks);
    if jwks_calls.is_nan() || jwks_calls > JWKS_MAX_CALLS {
        return Some(Verdict::DoesNotHold(format!(
            "the JWKS variant made {jwks_calls:.2} auth-service calls per request: it did not verify locally"
        )));
    }
    if jwks_down.down_pct.median > JWKS_MAX_DOWN_PCT {
        return Some(Verdict::DoesNotHold(format!(
            "the JWKS variant failed {:.1}% of its requests while the JWT stack was down",
            jwks_down.down_pct.median
        )));
    }
    let intro_calls = calls(intro);
    if intro_calls.is_nan() || intro_calls < INTROSPECTION_MIN_CALLS {
        return Some(Verdict::DoesNotHold(format!(
            "introspection made only {intro_calls:.2} calls per request"
        )));
    }
    if intro_down.down_pct.median < INTROSPECTION_MIN_DOWN_PCT {
        return Some(Verdict::DoesNotHold(format!(
            "introspection failed only {:.1}% of its requests while the session stack was down",
            intro_down.down_pct.median
        )));
    }
    None
}

/// A cache that outlived its TTL, or an outage too short to tell.
fn cache_caveat(s: &DownstreamSummary, cached: &OutageRoute) -> Option<String> {
    match &cached.past_ttl_pct {
        None => Some(format!(
            "the outage was no longer than the cache's {:.0} s TTL: whether the cached introspection runs out \
             was not measured",
            s.cache_ttl_s
        )),
        Some(p) if p.median < CACHE_RAN_OUT_MIN_PCT => Some(format!(
            "from {:.0} s after the kill to the recovery, when every answer it cached before the kill had \
             expired, the cached introspection failed only {:.1}% of its requests: its cache outlived its TTL",
            s.cache_ttl_s, p.median
        )),
        Some(_) => None,
    }
}

/// A rotation that failed requests, or did not run.
fn rotation_caveat(s: &DownstreamSummary) -> Option<String> {
    match &s.rotation {
        None => Some("the key rotation was not measured".into()),
        Some(r) if r.old_failed + r.new_failed > 0 => Some(format!(
            "through {} key rotation(s) the JWKS route failed {} of {} requests with new-key tokens ({:.1}%) and \
             {} of {} with old-key tokens",
            r.trials,
            r.new_failed,
            r.new_requests,
            r.new_failed_pct(),
            r.old_failed,
            r.old_requests
        )),
        Some(_) => None,
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::summaries::{AuthProbe, RotationFigures, Spread};

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
}
