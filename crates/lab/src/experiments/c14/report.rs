//! c14's tables, chart, evidence and lesson, from the summary and the raw
//! outage loops. Every sentence here formats a number of the run in; where a
//! figure is missing it says so instead of guessing one.

use std::collections::BTreeMap;

use super::{
    analysis::{ms, served_for},
    measure::OutageSample,
    plan::Plan,
};
use crate::{
    kit::behaviour::point,
    results::{Chart, ChartKind, Series, Table},
    summaries::{
        DownstreamRoute, DownstreamSummary, OrdersRoute, OutageRoute, RotationFigures, Spread,
    },
};

const NOT_MEASURED: &str = "not measured";

/// The set-up as the report states it, every number from the plan.
pub fn setup(plan: &Plan) -> String {
    format!(
        "One cluster: {} nodes per auth stack behind HAProxy, the JWT stack signing with ES256 (HAProxy's jwt_verify \
         has no EdDSA), and one orders-service node per variant behind its own HAProxy frontend: jwks (fetches the \
         JWT stack's /.well-known/jwks.json through HAProxy, caches it), introspection (asks the session stack's \
         /introspect through HAProxy on every request), introspection-cached (the same, active answers cached {} s) \
         and gateway (HAProxy verifies the JWT, the node trusts it). {} load users log in on each stack before every \
         run: the JWT routes get their access tokens, the introspection routes their session cookie values, both \
         as Authorization: Bearer. Per request: a paced loop at {} requests/s for {} s (latency), then wrk -t2 \
         -c{} for {} s (throughput); the orders node's and the auth nodes' counters read before and after; a run \
         with more than {:.1}% errors is refused by the load check. Auth service down: paced loops of {} \
         requests/s on each orders route, every JWT and session node killed after {} s and restarted {} s later, \
         the loops running {} s past the recovery (every auth node ready and up in HAProxy), the stopped stacks' \
         own /health probed at {} requests/s; the outage is counted from the kill to the recovery, and every \
         figure of it by when each request was sent. Key rotation: paced loops of {} requests/s with old tokens on \
         the jwks and gateway routes while the key set is staged and activated, then {} fresh logins' tokens for \
         {} s; {} rotations back to back. {} trial(s) of the other parts, the per-request routes interleaved with \
         the order rotating per trial. The lab runs on the same cores as the cluster.",
        plan.nodes,
        plan.cache_ttl.as_secs(),
        plan.users,
        plan.fixed_rate,
        plan.fixed_time.as_secs(),
        plan.wrk_connections,
        plan.wrk_time.as_secs(),
        crate::kit::load_check::MAX_ERROR_SHARE * 100.0,
        plan.outage_rate,
        plan.before.as_secs(),
        plan.down.as_secs(),
        plan.after.as_secs(),
        plan.probe_rate,
        plan.rotation_rate,
        plan.new_logins,
        plan.after_rotation.as_secs(),
        plan.rotations,
        plan.trials,
    )
}

/// How each route learns who is calling: a fact of the set-up.
pub fn checks_by(route: OrdersRoute, plan: &Plan) -> String {
    match route {
        OrdersRoute::JwtStack => "it is the auth service: verifies its own token".into(),
        OrdersRoute::Jwks => {
            "verifies the ES256 signature, exp, iss, aud itself, keys fetched from the JWT stack's JWKS and cached".into()
        }
        OrdersRoute::Introspection => "POST /introspect to the session stack on every request".into(),
        OrdersRoute::IntrospectionCached => format!(
            "POST /introspect to the session stack, active answers cached {} s",
            plan.cache_ttl.as_secs()
        ),
        OrdersRoute::Gateway => {
            "HAProxy verifies signature, exp, iss, aud (jwt_verify, a key file); the node decodes the payload".into()
        }
    }
}

fn spread(s: &Spread, decimals: usize, unit: &str) -> String {
    if s.min == s.max {
        format!("{:.decimals$}{unit}", s.median)
    } else {
        format!(
            "{:.decimals$}{unit} ({:.decimals$}–{:.decimals$}{unit})",
            s.median, s.min, s.max
        )
    }
}

fn calls(c: Option<Spread>) -> String {
    c.map_or_else(|| "— (no downstream hop)".into(), |c| spread(&c, 3, ""))
}

/// Per-trial seconds of something that may not have happened: "none" when
/// it never did, the spread of the trials where it did otherwise.
fn seconds(values: &[Option<f64>]) -> String {
    let found: Vec<f64> = values.iter().flatten().copied().collect();
    match (found.len(), values.len()) {
        (0, _) => "none".into(),
        (n, all) if n == all => spread(&Spread::of(&found), 1, " s"),
        (n, all) => format!(
            "{}; none in {} of {all}",
            spread(&Spread::of(&found), 1, " s"),
            all - n
        ),
    }
}

/// The report's tables: per request, through the outage, and through the
/// key rotation when it ran.
pub fn tables(s: &DownstreamSummary, plan: &Plan) -> Vec<Table> {
    let mut tables = vec![load_table(s, plan), outage_table(s, plan)];
    tables.extend(s.rotation.as_ref().map(|r| rotation_table(r, plan)));
    tables
}

/// Per route under load: latency, throughput, auth-service calls.
fn load_table(s: &DownstreamSummary, plan: &Plan) -> Table {
    let mut load = Table {
        title: format!(
            "GET /orders per route, median (min–max) over {} trial(s), routes interleaved. Latency: a paced loop at \
             {} requests/s for {} s. Throughput: wrk -t2 -c{} for {} s. Auth-service calls per request: the orders \
             node's own count (orders_upstream_requests_total), then the auth nodes' (introspections answered, JWKS \
             documents served), over both runs.",
            s.trials,
            plan.fixed_rate,
            plan.fixed_time.as_secs(),
            plan.wrk_connections,
            plan.wrk_time.as_secs()
        ),
        columns: [
            "route",
            "how it checks the user",
            "p50",
            "p99",
            "req/s (saturated)",
            "auth calls per request (orders node)",
            "(auth nodes)",
            "valid trials",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
    };
    for route in OrdersRoute::ALL {
        let how = checks_by(route, plan);
        load.rows.push(match s.route(route) {
            Some(DownstreamRoute {
                p50_ms,
                p99_ms,
                saturated_rps,
                calls_per_request,
                auth_side_per_request,
                valid_trials,
                ..
            }) => vec![
                route.label().into(),
                how,
                ms(p50_ms),
                ms(p99_ms),
                spread(saturated_rps, 0, ""),
                calls(*calls_per_request),
                calls(*auth_side_per_request),
                format!("{valid_trials} of {}", s.trials),
            ],
            None => {
                let mut row = vec![route.label().into(), how];
                row.extend(std::iter::repeat_n(
                    "not measured (see the load check)".to_owned(),
                    5,
                ));
                row.push(format!("0 of {}", s.trials));
                row
            }
        });
    }
    load
}

/// Per route through the outage, then the stopped stacks' own probes.
fn outage_table(s: &DownstreamSummary, plan: &Plan) -> Table {
    let down = Spread::of(
        &s.outage
            .iter()
            .flat_map(|o| o.down_s.iter().copied())
            .collect::<Vec<_>>(),
    );
    let mut outage = Table {
        title: format!(
            "Auth service down: every node of both auth stacks killed {} s into a paced loop of {} requests/s per \
             route and restarted {} s later. The outage runs from the kill to the recovery (every auth node ready \
             and up in HAProxy again): {}. Every figure counts the requests by the moment they were sent: before \
             the kill, from the kill to the recovery, after the recovery; % failed, median (min–max) over {} \
             trial(s). \"Past the cache TTL\" counts the requests sent from {} s after the kill to the recovery, \
             when every answer cached before the kill has expired. The probe rows are the stopped stacks' own \
             /health through HAProxy: the proof that they were down.",
            plan.before.as_secs(),
            plan.outage_rate,
            plan.down.as_secs(),
            spread(&down, 1, " s"),
            s.trials,
            plan.cache_ttl.as_secs(),
        ),
        columns: [
            "route",
            "depends on (stopped)",
            "before the kill",
            "from the kill to the recovery",
            "past the cache TTL",
            "after the recovery",
            "served into the outage",
            "last failure after the recovery",
            "failed answers in the outage (status: count)",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
    };
    for route in OrdersRoute::ALL.into_iter().skip(1) {
        outage.rows.push(match s.outage(route) {
            Some(o) => outage_row(o),
            None => {
                let mut row = vec![route.label().to_owned()];
                row.extend(std::iter::repeat_n(NOT_MEASURED.to_owned(), 8));
                row
            }
        });
    }
    for probe in &s.auth_probes {
        outage.rows.push(vec![
            format!("{} stack's own /health (probe)", probe.stack),
            probe.stack.clone(),
            "—".into(),
            spread(&probe.down_error_pct, 1, "%"),
            "—".into(),
            "—".into(),
            "—".into(),
            "—".into(),
            "—".into(),
        ]);
    }
    outage
}

/// The JWKS and gateway routes through the key rotations, summed.
fn rotation_table(r: &RotationFigures, plan: &Plan) -> Table {
    Table {
        title: format!(
            "Key rotation under a paced loop of {} requests/s per route: the key set staged, then activated (each \
             time the JWT nodes restart one at a time), then {} users log in for new tokens; {} trial(s), summed",
            plan.rotation_rate, plan.new_logins, r.trials
        ),
        columns: ["what", "requests", "failed", "share failed", "note"]
            .map(String::from)
            .to_vec(),
        rows: vec![
            vec![
                "JWKS route, tokens signed with the new key".into(),
                r.new_requests.to_string(),
                r.new_failed.to_string(),
                format!("{:.1}%", r.new_failed_pct()),
                format!(
                    "the only requests that meet an unknown kid; {} of {} logins after the activation carried \
                     the new kid; p99 per rotation {} (the first new-kid request waits for a JWKS fetch, up \
                     to the orders node's refetch cooldown)",
                    r.new_logins_with_new_kid,
                    r.new_logins,
                    r.new_p99_ms
                        .iter()
                        .map(|ms| format!("{ms:.1} ms"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ],
            vec![
                "JWKS route, tokens signed with the old key (through stage and activate)".into(),
                r.old_requests.to_string(),
                r.old_failed.to_string(),
                pct(r.old_failed, r.old_requests),
                "the old key stays in the JWKS as verify-only".into(),
            ],
            vec![
                "gateway route, old and new tokens".into(),
                r.gateway_requests.to_string(),
                r.gateway_failed.to_string(),
                pct(r.gateway_failed, r.gateway_requests),
                "HAProxy reloaded with a key file per kid".into(),
            ],
            vec![
                "JWKS documents the orders node fetched during the rotation".into(),
                r.jwks_fetches
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                "—".into(),
                "—".into(),
                "per rotation; 1 expected: the first token with the unknown kid".into(),
            ],
        ],
    }
}

fn pct(failed: u64, requests: u64) -> String {
    format!("{:.1}%", failed as f64 / requests.max(1) as f64 * 100.0)
}

fn outage_row(o: &OutageRoute) -> Vec<String> {
    vec![
        o.route.label().into(),
        o.depends_on.clone(),
        spread(&o.before_pct, 1, "%"),
        spread(&o.down_pct, 1, "%"),
        o.past_ttl_pct
            .as_ref()
            .map_or_else(|| "none sent".into(), |p| spread(p, 1, "%")),
        spread(&o.after_pct, 1, "%"),
        served_for(o),
        seconds(&o.last_failure_after_recovery_s),
        answers(&o.failed_answers),
    ]
}

/// "503: 320, no answer: 4", or "none".
fn answers(failed: &[(u16, u64)]) -> String {
    if failed.is_empty() {
        return "none".into();
    }
    failed
        .iter()
        .map(|(status, n)| match status {
            0 => format!("no answer: {n}"),
            s => format!("{s}: {n}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Error rate per second of each route through the outage: per second the
/// median across trials, the whiskers the range.
pub fn chart(outages: &[OutageSample]) -> Chart {
    let series = OrdersRoute::ALL
        .into_iter()
        .filter_map(|route| {
            let mut per_second: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
            for o in outages {
                for r in o.routes.iter().filter(|r| r.route == route) {
                    for s in &r.record.per_second {
                        per_second
                            .entry(s.second)
                            .or_default()
                            .push(s.errors as f64 / s.requests.max(1) as f64 * 100.0);
                    }
                }
            }
            (!per_second.is_empty()).then(|| Series {
                name: route.label().into(),
                points: per_second
                    .iter()
                    .map(|(second, rates)| point(second.to_string(), rates))
                    .collect(),
            })
        })
        .collect();
    let stop = Spread::of(&outages.iter().map(|o| o.stop_s).collect::<Vec<_>>());
    let restart = Spread::of(&outages.iter().map(|o| o.restart_s).collect::<Vec<_>>());
    Chart {
        title: format!(
            "Error rate per second of sending through the outage (every auth node killed at {:.1} s, all back up in \
             HAProxy at {:.1} s, medians)",
            stop.median, restart.median
        ),
        kind: ChartKind::Lines,
        x_label: "second of the loop".into(),
        y_label: "% of GET /orders failed".into(),
        series,
    }
}

fn calls_of(s: &DownstreamSummary, route: OrdersRoute) -> String {
    s.route(route)
        .and_then(|r| r.calls_per_request)
        .map_or_else(|| NOT_MEASURED.into(), |c| format!("{:.3}", c.median))
}

fn p50_of(s: &DownstreamSummary, route: OrdersRoute) -> String {
    s.route(route)
        .map_or_else(|| NOT_MEASURED.into(), |r| ms(&r.p50_ms))
}

fn down_of(s: &DownstreamSummary, route: OrdersRoute) -> String {
    s.outage(route).map_or_else(
        || NOT_MEASURED.into(),
        |o| format!("{:.1}%", o.down_pct.median),
    )
}

fn past_ttl_of(s: &DownstreamSummary) -> String {
    s.outage(OrdersRoute::IntrospectionCached)
        .and_then(|o| o.past_ttl_pct)
        .map_or_else(|| NOT_MEASURED.into(), |p| format!("{:.1}%", p.median))
}

/// The numbers the rule read, in one line.
pub fn evidence(s: &DownstreamSummary) -> String {
    let probes = s
        .auth_probes
        .iter()
        .map(|p| format!("{} {:.0}%", p.stack, p.down_error_pct.median))
        .collect::<Vec<_>>()
        .join(", ");
    let rotation = s.rotation.as_ref().map_or_else(
        || "rotation not measured".into(),
        |r| {
            format!(
                "rotation: JWKS requests failed {} of {} with new-key tokens ({:.1}%), {} of {} with old-key tokens, \
                 JWKS fetches per rotation: {}",
                r.new_failed,
                r.new_requests,
                r.new_failed_pct(),
                r.old_failed,
                r.old_requests,
                r.jwks_fetches
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
    );
    format!(
        "medians over {} trial(s): auth calls per request JWKS {}, introspection {}, cached {}; failed from the \
         kill to the recovery: JWKS {}, introspection {}, cached {} ({}; past its TTL {}); stopped stacks' own /health failed: {}; p50 JWKS {}, \
         introspection {}; {rotation}; {} load run(s) refused",
        s.trials,
        calls_of(s, OrdersRoute::Jwks),
        calls_of(s, OrdersRoute::Introspection),
        calls_of(s, OrdersRoute::IntrospectionCached),
        down_of(s, OrdersRoute::Jwks),
        down_of(s, OrdersRoute::Introspection),
        down_of(s, OrdersRoute::IntrospectionCached),
        s.outage(OrdersRoute::IntrospectionCached)
            .map_or_else(|| NOT_MEASURED.into(), served_for),
        past_ttl_of(s),
        if probes.is_empty() {
            NOT_MEASURED.into()
        } else {
            probes
        },
        p50_of(s, OrdersRoute::Jwks),
        p50_of(s, OrdersRoute::Introspection),
        s.invalid_runs.len(),
    )
}

/// What the run showed, in prose, every figure from `s`.
pub fn lesson(s: &DownstreamSummary, plan: &Plan) -> String {
    let missing: Vec<&str> = [
        OrdersRoute::Jwks,
        OrdersRoute::Introspection,
        OrdersRoute::IntrospectionCached,
    ]
    .into_iter()
    .filter(|r| s.route(*r).is_none() || s.outage(*r).is_none())
    .map(OrdersRoute::label)
    .collect();
    if !missing.is_empty() {
        return format!(
            "No lesson from this run: {} did not give valid figures (see the tables and the verdict).",
            missing.join(", ")
        );
    }
    let mut text = format!(
        "The orders service that verified JWTs with the published keys made {} auth-service calls per request and \
         failed {} of its requests from the kill of every JWT node to their recovery. The one that introspected \
         session cookies made {} calls per request and failed {} of its requests over the same outage. Caching \
         active introspection answers for {} s cut that to {} calls per request; over the outage the cached route \
         failed {} of its requests ({}), and {} of those sent once its TTL had passed. While its answers \
         last the cache does not ask, so it would also keep accepting a session ended at the auth service for up \
         to its TTL (a fact of the set-up, not measured here). \
         Latency at {} requests/s (p50): JWKS {}, introspection {}, cached {}, gateway {}, the JWT stack's own \
         /orders {}.",
        calls_of(s, OrdersRoute::Jwks),
        down_of(s, OrdersRoute::Jwks),
        calls_of(s, OrdersRoute::Introspection),
        down_of(s, OrdersRoute::Introspection),
        plan.cache_ttl.as_secs(),
        calls_of(s, OrdersRoute::IntrospectionCached),
        down_of(s, OrdersRoute::IntrospectionCached),
        s.outage(OrdersRoute::IntrospectionCached)
            .map_or_else(|| NOT_MEASURED.into(), served_for),
        past_ttl_of(s),
        plan.fixed_rate,
        p50_of(s, OrdersRoute::Jwks),
        p50_of(s, OrdersRoute::Introspection),
        p50_of(s, OrdersRoute::IntrospectionCached),
        p50_of(s, OrdersRoute::Gateway),
        p50_of(s, OrdersRoute::JwtStack),
    );
    if let Some(r) = &s.rotation {
        text.push_str(&format!(
            " Through {} key rotation(s) the JWKS route failed {} of {} requests made with new-key tokens ({:.1}%) \
             and {} of {} made with old-key tokens; the orders node fetched the JWKS {} time(s) per rotation, and {} \
             of {} new logins carried the new kid.",
            r.trials,
            r.new_failed,
            r.new_requests,
            r.new_failed_pct(),
            r.old_failed,
            r.old_requests,
            r.jwks_fetches
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            r.new_logins_with_new_kid,
            r.new_logins
        ));
    }
    text.push_str(
        " Not measured but true of this set-up: the JWKS and gateway routes check only what the token says. \
         Neither asks whether it was revoked (a logged-out user's token works downstream until it expires, see c7), \
         and the gateway's HAProxy checks signature, exp, iss and aud, not roles: the orders node reads the subject \
         from a payload it does not verify, so it must be reachable only through the gateway.",
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::c14::rule::tests::healthy;

    #[test]
    fn every_route_has_a_row_and_missing_figures_say_so() {
        let plan = Plan::new(true);
        let mut s = healthy();
        s.routes.retain(|r| r.route != OrdersRoute::Gateway);
        s.outage
            .retain(|r| r.route != OrdersRoute::IntrospectionCached);
        let tables = tables(&s, &plan);
        assert_eq!(tables.len(), 3);
        assert_eq!(tables[0].rows.len(), OrdersRoute::ALL.len());
        let gateway = &tables[0].rows[4];
        assert!(gateway[2].starts_with("not measured"), "{gateway:?}");
        assert_eq!(gateway[7], "0 of 1");
        for row in tables.iter().flat_map(|t| &t.rows) {
            assert_eq!(
                row.len(),
                tables
                    .iter()
                    .find(|t| t.rows.contains(row))
                    .unwrap()
                    .columns
                    .len()
            );
        }
        // 4 orders routes and 2 probes.
        assert_eq!(tables[1].rows.len(), 6);
        assert_eq!(tables[1].rows[2][3], NOT_MEASURED);
        assert_eq!(tables[1].rows[4][0], "jwt stack's own /health (probe)");
        assert_eq!(tables[1].rows[0][8], "503: 10");
        assert_eq!(tables[1].rows[0][4], "0.0%");
        assert_eq!(tables[1].rows[1][4], "100.0%");
        // Every outage figure names the one window.
        assert!(
            tables[1]
                .title
                .contains("The outage runs from the kill to the recovery"),
            "{}",
            tables[1].title
        );
        // Rotation failures as a share of the new-key requests, old ones apart.
        assert_eq!(
            tables[2].rows[0][0],
            "JWKS route, tokens signed with the new key"
        );
        assert_eq!(tables[2].rows[0][1..4], ["80", "0", "0.0%"]);
        assert_eq!(tables[2].rows[1][1..4], ["400", "0", "0.0%"]);
        assert_eq!(tables[2].rows[3][1], "1");
    }

    #[test]
    fn the_lesson_and_evidence_carry_the_run_s_numbers() {
        let plan = Plan::new(true);
        let s = healthy();
        let lesson = lesson(&s, &plan);
        assert!(
            lesson.contains("made 0.000 auth-service calls per request and failed 0.0%"),
            "{lesson}"
        );
        assert!(
            lesson.contains("made 1.000 calls per request and failed 100.0%"),
            "{lesson}"
        );
        assert!(lesson.contains("cut that to 0.020 calls"), "{lesson}");
        assert!(
            lesson.contains(
                "failed 100.0% of its requests (first failure 0.0 s into the 8.0 s outage), and 100.0% of those \
                 sent once its TTL had passed"
            ),
            "{lesson}"
        );
        assert!(tables(&s, &plan)[2].rows[0][4].contains("p99 per rotation 2.0 ms"));
        assert!(
            lesson.contains("failed 0 of 80 requests made with new-key tokens (0.0%) and 0 of 400"),
            "{lesson}"
        );
        assert!(
            lesson.contains("JWKS 1.20 ms, introspection 2.60 ms"),
            "{lesson}"
        );
        assert!(lesson.contains("fetched the JWKS 1 time(s)"), "{lesson}");
        assert!(lesson.contains("not roles"), "{lesson}");
        let evidence = evidence(&s);
        assert!(
            evidence.contains("JWKS 0.000, introspection 1.000"),
            "{evidence}"
        );
        assert!(evidence.contains("jwt 100%, session 100%"), "{evidence}");
        assert!(
            evidence.contains(
                "failed 0 of 80 with new-key tokens (0.0%), 0 of 400 with old-key tokens"
            ),
            "{evidence}"
        );
        assert!(evidence.contains("0 load run(s) refused"), "{evidence}");
        // Nothing measured: every figure says so, none is invented.
        let empty = DownstreamSummary {
            trials: 1,
            cache_ttl_s: 5.0,
            routes: Vec::new(),
            outage: Vec::new(),
            auth_probes: Vec::new(),
            rotation: None,
            invalid_runs: Vec::new(),
        };
        let lesson = super::lesson(&empty, &plan);
        assert!(
            lesson.starts_with("No lesson from this run: orders, JWKS,"),
            "{lesson}"
        );
        assert!(!lesson.contains(" ms"), "{lesson}");
    }
}
