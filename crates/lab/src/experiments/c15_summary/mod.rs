//! c15 — the summary: both designs side by side, from the numbers of this run.
//!
//! Not an experiment of its own: it reads the typed [`Summary`] of the
//! others (never their raw JSON), puts their figures in one table and derives
//! a recommendation per situation with a stated rule. A figure whose
//! experiment did not run, or failed, reads "not measured", never a number.
//!
//! [`Sources`] gathers the summaries, [`rows`] builds the table from them,
//! and this module judges C15 and writes the rest of the result.
//!
//! [`Summary`]: crate::summaries::Summary

mod sources;
mod table;

use self::sources::{not_measured, outcome};
pub use self::{
    sources::Sources,
    table::{rows, Row},
};
use crate::{
    results::{ClaimVerdict, ExperimentResult, Table, Verdict},
    summaries::{setups, CapacitySummary, Outcome},
};

/// C15's rule, from facts of c7 and c5 (`None`: the experiment did not run).
///
/// * `revocation`: (the session was refused on every node within 0.5 s in
///   every trial, the 1 h JWT was still accepted at the end of every trial);
/// * `store_ops`: median store operations per `/me` request (session, JWT);
/// * `scale_out_measured`: c5 had the cores to measure more nodes as more
///   throughput, rather than modelling it.
pub fn c15_verdict(
    revocation: Option<(bool, bool)>,
    store_ops: Option<(f64, f64)>,
    scale_out_measured: bool,
) -> Verdict {
    let mut missing = Vec::new();
    if revocation.is_none() {
        missing.push("c7 (revocation)");
    }
    if store_ops.is_none() {
        missing.push("c5 (store operations per request)");
    }
    let (Some((session_at_once, plain_outlived)), Some((session_ops, jwt_ops))) =
        (revocation, store_ops)
    else {
        return Verdict::NotMeasured(format!("needs {}", missing.join(" and ")));
    };
    if jwt_ops > 0.05 || session_ops < 0.5 {
        Verdict::DoesNotHold(format!(
            "no scale advantage measured: JWT /me made {jwt_ops:.2} store operations per request, session /me {session_ops:.2}"
        ))
    } else if !session_at_once {
        Verdict::DoesNotHold(
            "the session was not refused on every node within 0.5 s of logout, so server-side state showed no \
             revocation edge in this run"
                .into(),
        )
    } else if !plain_outlived {
        Verdict::HoldsWithCaveat(
            "the 1 h JWT was refused before c7's window closed in some trial, so this run did not show the revocation gap"
                .into(),
        )
    } else if !scale_out_measured {
        Verdict::HoldsWithCaveat(
            "the scale advantage is measured per request (no store operation); its effect on throughput is c5's model, \
             because this machine has too few cores to run more nodes as more capacity"
                .into(),
        )
    } else {
        Verdict::Holds
    }
}

const RULE: &str = "not measured without c7 and c5; does not hold when JWT /me makes more than 0.05 store operations per \
    request or session /me fewer than 0.5 (no scale advantage), or when the session is not refused on every node within \
    0.5 s of logout in every trial (no revocation edge for sessions); holds with a caveat when the 1 h JWT was refused \
    before the end of c7's window in some trial, or when c5 could only model the scale-out (too few cores); holds \
    otherwise. The other rows are reported, not judged.";

fn recommendations(s: &Sources<'_>) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    out.push(vec![
        "one server, or a few behind a load balancer".to_owned(),
        match s.capacity.and_then(CapacitySummary::store_share) {
            Some(share) if share < 0.25 => format!(
                "sessions: the store is {:.0}% of a session request's CPU here, and in exchange logout and role changes \
                 reach every node at once (c7, c8)",
                share * 100.0
            ),
            Some(share) => format!(
                "either: the store is {:.0}% of a session request's CPU here, a price worth weighing",
                share * 100.0
            ),
            None => not_measured("c5"),
        },
        "store share of a session request's CPU < 25% → sessions".into(),
    ]);
    out.push(vec![
        "many nodes, heavy read traffic".to_owned(),
        match s.capacity.and_then(CapacitySummary::store_ceiling_cores) {
            Some(cores) => format!(
                "by c5's model (not a measurement) one Redis core keeps up with about {cores:.0} cores of session nodes; \
                 beyond that, short-lived JWTs with refresh avoid the store on every request"
            ),
            None => not_measured("c5"),
        },
        "more node cores than one store core keeps up with → stateless tokens".into(),
    ]);
    out.push(vec![
        "instant logout or demotion is a requirement".to_owned(),
        match outcome(s.logout, setups::DENYLIST) {
            Some(Outcome::RefusedWithin(secs)) if secs < 0.5 => {
                "sessions, or JWT + denylist, which revoked on every node at once here but asks the store on every \
                 request, like a session (c7)"
                    .into()
            }
            Some(o) => format!("sessions: the JWT denylist here was {o} (c7)"),
            None => not_measured("c7"),
        },
        "only a set-up that asks server-side state per request revoked at once in c7".into(),
    ]);
    out
}

/// The first screen's figure for C15: the two facts its rule weighs, the
/// store work a request costs and who can end a logged-out credential.
pub fn c15_headline(s: &Sources<'_>) -> String {
    let scale = s.capacity.map_or_else(
        || "store operations per /me not measured".to_owned(),
        |c| {
            format!(
                "{:.2} store operations per JWT /me vs {:.2} per session /me",
                c.jwt_store_ops, c.session_store_ops
            )
        },
    );
    let ended = match (
        outcome(s.logout, setups::SESSION),
        outcome(s.logout, setups::PLAIN_JWT),
    ) {
        (Some(session), Some(plain)) => {
            format!("after a logout the session was refused {session}, the 1 h JWT {plain}")
        }
        _ => "revocation not measured".to_owned(),
    };
    format!("{scale}; {ended}")
}

fn lesson(s: &Sources<'_>) -> String {
    let mut sentences = Vec::new();
    if let (Some(session), Some(plain)) = (
        outcome(s.logout, setups::SESSION),
        outcome(s.logout, setups::PLAIN_JWT),
    ) {
        sentences.push(format!(
            "After a logout this run saw the session refused on every node {session}, and the 1 h JWT {plain}."
        ));
    }
    if let Some(c) = s.capacity {
        sentences.push(format!(
            "What the token buys is a request that asks nobody: {:.2} store operations per JWT /me against {:.2} per \
             session /me.",
            c.jwt_store_ops, c.session_store_ops
        ));
    }
    if let Some(a) = s.attacks {
        sentences.push(format!(
            "Token checks are the price of that: a verifier without them accepted {} of {} forged tokens.",
            a.naive_accepted, a.corpus
        ));
    }
    if let Some((cookie, bearer)) = s
        .stolen
        .and_then(|st| st.session.as_ref().zip(st.bearer.as_ref()))
    {
        if cookie.before_logout.accepted > 0 && bearer.before_logout.accepted > 0 {
            sentences.push(format!(
                "Neither credential resists theft: another client's copy of the session cookie was accepted {} of {} \
                 times until the logout, and a copy of the bearer JWT {} of {} times, then {} of {} polls after the \
                 logout (c11); the difference is who can end it.",
                cookie.before_logout.accepted,
                cookie.before_logout.attempts,
                bearer.before_logout.accepted,
                bearer.before_logout.attempts,
                bearer.after_logout.accepted,
                bearer.after_logout.attempts
            ));
        }
    }
    if sentences.is_empty() {
        "Too few source experiments ran to say anything.".into()
    } else {
        sentences.join(" ")
    }
}

/// The summary, if at least two source experiments ran.
pub fn summarize(results: &[ExperimentResult]) -> Option<ExperimentResult> {
    let sources = Sources::from_results(results);
    if sources.count() < 2 {
        return None;
    }
    let rows = rows(&sources);
    let revocation = sources.logout.and_then(|l| {
        let session = l.outcome(setups::SESSION)?;
        let plain = l.outcome(setups::PLAIN_JWT)?;
        Some((
            matches!(session, Outcome::RefusedWithin(s) if s < 0.5),
            matches!(plain, Outcome::AcceptedThroughout { .. }),
        ))
    });
    let capacity = sources.capacity;
    let verdict = c15_verdict(
        revocation,
        capacity.map(|c| (c.session_store_ops, c.jwt_store_ops)),
        capacity.is_some_and(|c| c.scale_out_measured),
    );
    Some(ExperimentResult {
        id: "c15".into(),
        title: "Summary: both designs side by side".into(),
        claims: vec!["C15".into()],
        question: "Is JWT more secure than sessions, or is its advantage scale; and for a small deployment, are sessions simpler?".into(),
        setup: "Derived from the typed summaries of the other experiments of this run; nothing is measured here.".into(),
        verdicts: vec![ClaimVerdict {
            headline: c15_headline(&sources),
            by_design: None,
            claim: "C15".into(),
            verdict,
            rule: RULE.into(),
            evidence: rows.iter().map(|r| format!("{}: session {} / JWT {}", r[0], r[1], r[2])).collect::<Vec<_>>().join("; "),
        }],
        tables: vec![
            Table {
                title: "Measured costs and risks".into(),
                columns: ["", "sessions", "JWT", "from"].map(String::from).to_vec(),
                rows: rows.iter().map(|r| r.to_vec()).collect(),
            },
            Table {
                title: "Recommendation per situation, and the rule behind it".into(),
                columns: ["situation", "recommendation", "rule"].map(String::from).to_vec(),
                rows: recommendations(&sources),
            },
        ],
        chart: None,
        lesson: lesson(&sources),
        summary: None,
        raw: serde_json::Value::Null,
        seconds: 0.0,
        error: None,
    })
}

#[cfg(test)]
mod tests {
    use super::table::{downstream_row, stolen_row};
    use super::*;
    use crate::summaries::{DelaySetting, RevocationSetup};
    use crate::summaries::{
        DownstreamSummary, LatencySummary, OrdersRoute, RevocationSummary, SizeSummary,
        StolenSummary,
    };

    fn capacity(session_ops: f64, jwt_ops: f64) -> CapacitySummary {
        CapacitySummary {
            cores: 2,
            hosts: 1,
            machines: 1,
            scale_out_measured: false,
            session_node_cpu_us: 40.0,
            jwt_node_cpu_us: 30.0,
            redis_cpu_us: 6.0,
            session_store_ops: session_ops,
            jwt_store_ops: jwt_ops,
            points: Vec::new(),
        }
    }

    /// The CPU row of a run with only c5.
    fn rows_of_capacity(c: &CapacitySummary) -> Row {
        let sources = Sources {
            capacity: Some(c),
            ..Sources::default()
        };
        rows(&sources).remove(0)
    }

    fn revocation(session: Vec<Option<f64>>, plain: Vec<Option<f64>>) -> RevocationSummary {
        let setup = |name: &str, seconds| RevocationSetup {
            name: name.into(),
            seconds,
            window_s: 15.0,
        };
        RevocationSummary {
            setups: vec![
                setup(setups::SESSION, session),
                setup(setups::PLAIN_JWT, plain),
                setup(setups::SHORT_JWT, vec![Some(10.4)]),
                setup(setups::DENYLIST, vec![Some(0.001)]),
            ],
        }
    }

    #[test]
    fn c15_rule_every_branch() {
        assert!(
            matches!(c15_verdict(None, None, false), Verdict::NotMeasured(m) if m.contains("c7") && m.contains("c5"))
        );
        assert!(
            matches!(c15_verdict(Some((true, true)), None, false), Verdict::NotMeasured(m) if m.contains("c5"))
        );
        assert_eq!(
            c15_verdict(Some((true, true)), Some((1.0, 0.0)), true),
            Verdict::Holds
        );
        assert!(matches!(
            c15_verdict(Some((true, true)), Some((1.0, 0.0)), false),
            Verdict::HoldsWithCaveat(m) if m.contains("model")
        ));
        assert!(matches!(
            c15_verdict(Some((true, false)), Some((1.0, 0.0)), true),
            Verdict::HoldsWithCaveat(m) if m.contains("revocation gap")
        ));
        assert!(matches!(
            c15_verdict(Some((false, true)), Some((1.0, 0.0)), true),
            Verdict::DoesNotHold(m) if m.contains("no revocation edge")
        ));
        // A broken set-up: the JWT stack asks the store on every request.
        assert!(matches!(
            c15_verdict(Some((true, true)), Some((1.0, 1.0)), true),
            Verdict::DoesNotHold(m) if m.contains("no scale advantage")
        ));
    }

    #[test]
    fn the_headline_weighs_what_the_rule_weighs() {
        let c = capacity(1.0, 0.0);
        let logout = revocation(vec![Some(0.002)], vec![None]);
        let sources = Sources {
            capacity: Some(&c),
            logout: Some(&logout),
            ..Sources::default()
        };
        assert_eq!(
            c15_headline(&sources),
            "0.00 store operations per JWT /me vs 1.00 per session /me; after a logout the session was refused at \
             once (first poll, 2 ms), the 1 h JWT still accepted when observation ended (15 s)"
        );
        assert_eq!(
            c15_headline(&Sources::default()),
            "store operations per /me not measured; revocation not measured"
        );
    }

    #[test]
    fn nothing_measured_is_said_as_such() {
        let sources = Sources::default();
        for r in rows(&sources) {
            assert!(
                r[1].starts_with("not measured") && r[2].starts_with("not measured"),
                "{r:?}"
            );
        }
        assert!(recommendations(&sources)
            .iter()
            .all(|r| r[1].starts_with("not measured")));
    }

    #[test]
    fn cells_come_from_the_summaries() {
        // The sample run's defect: c8 measured ~1 ms for the session, and c15
        // said "> 12 s (until expiry)".
        let demotion = revocation(
            vec![Some(0.001), Some(0.0012), Some(0.0009)],
            vec![None, None, None],
        );
        let logout = revocation(vec![Some(0.002)], vec![None]);
        let cap = capacity(1.0, 0.0);
        let latency = LatencySummary {
            settings: vec![
                DelaySetting {
                    setting_ms: 0.0,
                    store_rtt_ms: 0.05,
                    session_p50_ms: 0.36,
                    jwt_p50_ms: 0.24,
                },
                DelaySetting {
                    setting_ms: 2.0,
                    store_rtt_ms: 2.07,
                    session_p50_ms: 2.5,
                    jwt_p50_ms: 0.25,
                },
            ],
        };
        let sources = Sources {
            latency: Some(&latency),
            capacity: Some(&cap),
            logout: Some(&logout),
            demotion: Some(&demotion),
            ..Sources::default()
        };
        let rows = rows(&sources);
        let demoted = rows.iter().find(|r| r[3] == "c8").unwrap();
        assert_eq!(demoted[1], "at once (first poll, 1 ms)");
        assert!(
            demoted[2].starts_with("1 h token: still accepted when observation ended (15 s)"),
            "{demoted:?}"
        );
        let latency_row = rows.iter().find(|r| r[3] == "c4").unwrap();
        assert!(
            latency_row[0].contains("2.02 ms longer (proxy setting 2.0 ms)"),
            "{latency_row:?}"
        );
        assert_eq!(latency_row[1], "+2.14 ms");
        assert_eq!(latency_row[2], "+0.01 ms");
        let cpu = rows.iter().find(|r| r[0].starts_with("CPU per")).unwrap();
        assert_eq!(cpu[1], "40.0 µs + 6.0 µs of Redis");
        let mut with_haproxy = cap.clone();
        with_haproxy.points = vec![crate::summaries::CapacityPoint {
            nodes: 3,
            ceiling_rps: crate::summaries::Spread::of(&[35_000.0]),
            session_rps: crate::summaries::Spread::of(&[26_000.0]),
            jwt_rps: crate::summaries::Spread::of(&[33_000.0]),
            session_generator_bound: false,
            jwt_generator_bound: true,
            session_haproxy_cpu_us: 21.2,
            jwt_haproxy_cpu_us: 22.6,
        }];
        let cpu = rows_of_capacity(&with_haproxy);
        assert_eq!(
            (cpu[0].as_str(), cpu[1].as_str(), cpu[2].as_str()),
            (
                "CPU per /me request (nodes; store; HAProxy)",
                "40.0 µs + 6.0 µs of Redis + 21.2 µs of HAProxy",
                "30.0 µs, no store, + 22.6 µs of HAProxy"
            )
        );
        let ops = rows
            .iter()
            .find(|r| r[0].starts_with("store operations"))
            .unwrap();
        assert_eq!((ops[1].as_str(), ops[2].as_str()), ("1.00", "0.00"));
        assert!(rows.iter().find(|r| r[3] == "c9").unwrap()[1].starts_with("not measured"));
    }

    #[test]
    fn cookies_of_different_lengths_are_labelled_in_the_wire_row() {
        // The sample said 138 B over HTTP/1.1 and 136 B over HTTP/1.1 + TLS
        // without saying the two clusters had issued cookies of 128 and
        // 126 bytes.
        let wire = |protocol: &str, cookie: f64, value: u64| crate::summaries::WireFacts {
            protocol: protocol.into(),
            http2: false,
            cookie,
            bearer: 442.0,
            jwt_cookie: 442.0,
            cookie_value_bytes: value,
        };
        let size = SizeSummary {
            cookie_header_bytes: 138,
            login_jwt_header_bytes: 442,
            wire: vec![
                wire("HTTP/1.1", 138.0, 128),
                wire("HTTP/1.1 + TLS", 136.0, 126),
            ],
        };
        let sources = Sources {
            size: Some(&size),
            ..Sources::default()
        };
        let table = rows(&sources);
        let sized = table.iter().find(|r| r[3] == "c9").unwrap();
        assert_eq!(
            sized[1],
            "HTTP/1.1: 138 B (a 128 B cookie); HTTP/1.1 + TLS: 136 B (a 126 B cookie)"
        );
        let same = SizeSummary {
            wire: vec![
                wire("HTTP/1.1", 136.0, 126),
                wire("HTTP/1.1 + TLS", 136.0, 126),
            ],
            ..size
        };
        let sources = Sources {
            size: Some(&same),
            ..Sources::default()
        };
        assert_eq!(
            rows(&sources).iter().find(|r| r[3] == "c9").unwrap()[1],
            "HTTP/1.1: 136 B; HTTP/1.1 + TLS: 136 B"
        );
    }

    #[test]
    fn the_downstream_row_has_introspection_cached_and_jwks() {
        use crate::summaries::{DownstreamRoute, OutageRoute, Spread};
        let one = |v: f64| Spread::of(&[v]);
        let route = |route, p50, calls| DownstreamRoute {
            route,
            p50_ms: one(p50),
            p99_ms: one(p50 * 3.0),
            saturated_rps: one(5_000.0),
            calls_per_request: Some(one(calls)),
            auth_side_per_request: Some(one(calls)),
            valid_trials: 3,
        };
        let outage = |route, down| OutageRoute {
            route,
            depends_on: "session".into(),
            before_pct: one(0.0),
            down_pct: one(down),
            after_pct: one(0.0),
            first_failure_s: vec![None],
            past_ttl_pct: None,
            last_failure_after_recovery_s: vec![None],
            down_s: vec![10.5],
            failed_answers: Vec::new(),
        };
        // The figures of the sample of 2026-11-27.
        let d = DownstreamSummary {
            trials: 3,
            cache_ttl_s: 5.0,
            routes: vec![
                route(OrdersRoute::Jwks, 0.80, 0.0),
                route(OrdersRoute::Introspection, 1.36, 1.0004),
                route(OrdersRoute::IntrospectionCached, 0.63, 0.0011),
            ],
            outage: vec![
                outage(OrdersRoute::Jwks, 0.0),
                outage(OrdersRoute::Introspection, 100.0),
                outage(OrdersRoute::IntrospectionCached, 82.2),
            ],
            auth_probes: Vec::new(),
            rotation: None,
            invalid_runs: Vec::new(),
        };
        let [what, session, jwt, source] = downstream_row(Some(&d));
        assert_eq!(
            (what.as_str(), source.as_str()),
            ("another service checks the credential", "c14")
        );
        assert_eq!(
            session,
            "introspection: 1.000 auth-service calls per request, p50 1.36 ms, 100% of requests failed while it \
             was down; cached 5 s: 0.001 auth-service calls per request, p50 0.63 ms, 82% of requests failed while \
             it was down (answers up to its TTL old)"
        );
        assert_eq!(
            jwt,
            "JWKS: 0.000 auth-service calls per request, p50 0.80 ms, 0% of requests failed while it was down"
        );
        // A cached route that did not run says so, never a number.
        let mut d = d;
        d.routes
            .retain(|r| r.route != OrdersRoute::IntrospectionCached);
        d.outage
            .retain(|r| r.route != OrdersRoute::IntrospectionCached);
        let [_, session, _, _] = downstream_row(Some(&d));
        assert!(
            session.ends_with(
                "cached 5 s: calls not measured, p50 not measured, outage not measured (answers up to its TTL old)"
            ),
            "{session}"
        );
    }

    #[test]
    fn the_stolen_credential_row_counts_what_the_thief_got() {
        use crate::summaries::{BearerReplay, CapturedReplay, CookieReplay, DpopRound, Tally};
        let tally = |accepted: u32, refused: u32| {
            let mut t = Tally::default();
            for i in 0..accepted {
                t.record(200, f64::from(i), "n1");
            }
            for i in 0..refused {
                t.record(401, f64::from(accepted + i), "n1");
            }
            t
        };
        let stolen = StolenSummary {
            session: Some(CookieReplay {
                before_logout: tally(5, 0),
                logout_status: 200,
                after_logout: tally(0, 5),
            }),
            bearer: Some(BearerReplay {
                access_ttl_s: 15,
                exp: 1_000_015,
                before_logout: tally(5, 0),
                logout_status: 200,
                logout_at: 1_000_005.0,
                after_logout: tally(10, 1),
                poll_window_s: 20.0,
            }),
            dpop: vec![DpopRound {
                alg: "ES256".into(),
                login_status: 200,
                token_type: "DPoP".into(),
                bound: true,
                victim: tally(3, 0),
                thief_bearer: tally(0, 3),
                thief_own_key: tally(0, 3),
                thief_no_proof: tally(0, 3),
                node_cache: Some(CapturedReplay {
                    cache: "node".into(),
                    nodes: vec!["jwt-1".into(), "jwt-2".into()],
                    victim_status: 200,
                    victim_node: "jwt-1".into(),
                    replays: tally(1, 5),
                }),
                shared_cache: None,
            }],
            ..StolenSummary::default()
        };
        let r = stolen_row(Some(&stolen));
        assert_eq!(
            r[1],
            "accepted 5 of 5 times before the user's logout, refused 5 of 5 after it"
        );
        assert!(
            r[2].contains(
                "bearer: still accepted 9 s after the logout, first refused +0.0 s from its exp"
            ),
            "{}",
            r[2]
        );
        assert!(r[2].contains("refused 9 of 9 without the key"), "{}", r[2]);
        assert!(
            r[2].contains("per-node cache let 1 of 6 through, shared cache not measured"),
            "{}",
            r[2]
        );
        assert!(stolen_row(None)[1].starts_with("not measured"));
    }
}
