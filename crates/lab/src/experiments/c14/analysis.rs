//! From c14's raw runs to its summary.
//!
//! Nothing here touches a process: the measurement hands in what it saw
//! (per route and trial), this module turns it into medians with their
//! range ([`summarize`]), and [`rule`](super::rule) decides from them.
//! Keeping the two apart is what lets the rule be tested against the numbers
//! of a broken set-up: a JWKS node that fetches keys for every request, an
//! "outage" during which the auth service kept answering.
//!
//! Every outage figure counts requests by when they were sent: before the
//! kill, from the kill to the recovery, after it ([`window_pct`]).

use std::collections::BTreeMap;

use super::measure::{LoadSample, OutageSample, RotationSample, RouteLoop};
use crate::{
    summaries::{
        AuthProbe, DownstreamRoute, DownstreamSummary, OrdersRoute, OutageRoute, RotationFigures,
        Spread,
    },
    Stack,
};

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
    DownstreamSummary {
        trials,
        cache_ttl_s,
        routes: OrdersRoute::ALL
            .into_iter()
            .filter_map(|route| route_figures(route, load))
            .collect(),
        outage: OrdersRoute::ALL
            .into_iter()
            .filter_map(|route| outage_figures(route, outages, cache_ttl_s))
            .collect(),
        auth_probes: [Stack::Jwt, Stack::Session]
            .into_iter()
            .filter_map(|stack| probe_figures(stack, outages))
            .collect(),
        rotation: rotation_figures(rotations),
        invalid_runs: invalid_runs(load),
    }
}

/// Each load run the load check refused, with its trial, route and reason.
fn invalid_runs(load: &[LoadSample]) -> Vec<String> {
    load.iter()
        .filter_map(|s| {
            s.invalid
                .as_ref()
                .map(|why| format!("trial {}, {}: {why}", s.trial + 1, s.route.label()))
        })
        .collect()
}

/// A route's figures under load, over the trials whose runs passed the
/// load check; `None` when none did.
fn route_figures(route: OrdersRoute, load: &[LoadSample]) -> Option<DownstreamRoute> {
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
}

/// A route's figures through the outages; `None` when it ran in none.
fn outage_figures(
    route: OrdersRoute,
    outages: &[OutageSample],
    cache_ttl_s: f64,
) -> Option<OutageRoute> {
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
        .filter_map(|(o, r)| window_pct(&r.record.sent, o.stop_s + cache_ttl_s, o.restart_s))
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
        failed_answers: failed_answers(&runs),
    })
}

/// The failed answers of the requests sent from the kill to the recovery,
/// over every trial, `(status, count)` by status.
fn failed_answers(runs: &[(&OutageSample, &RouteLoop)]) -> Vec<(u16, u64)> {
    runs.iter()
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
        .collect()
}

/// How often a stopped stack's own `/health` failed during the outages;
/// `None` when it was not probed.
fn probe_figures(stack: Stack, outages: &[OutageSample]) -> Option<AuthProbe> {
    let down: Vec<f64> = outages
        .iter()
        .flat_map(|o| {
            o.probes
                .iter()
                .filter(move |p| p.stack == stack)
                .map(move |p| window_pct(&p.record.sent, o.stop_s, o.restart_s).unwrap_or(0.0))
        })
        .collect();
    (!down.is_empty()).then(|| AuthProbe {
        stack: stack.name().into(),
        down_error_pct: Spread::of(&down),
    })
}

/// The rotations summed; `None` when none ran.
fn rotation_figures(rotations: &[RotationSample]) -> Option<RotationFigures> {
    (!rotations.is_empty()).then(|| {
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
    })
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
mod tests {
    use super::*;
    use crate::{
        experiments::c14::{
            measure::{ProbeLoop, RouteLoop},
            pace::{LoopRecord, SecondCount},
            rule::c14_verdict,
        },
        results::Verdict,
        wrk::WrkResult,
    };

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
