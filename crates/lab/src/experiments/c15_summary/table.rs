//! The side-by-side table: one row per figure, sessions against JWT, each
//! cell from one experiment's summary and named with it.

use super::sources::{not_measured, outcome, Sources};
use crate::summaries::{
    setups, CapacitySummary, DownstreamSummary, LatencySummary, OrdersRoute, Outcome, StolenSummary,
};

/// One row of the side-by-side table: what, sessions, JWT, source.
pub type Row = [String; 4];

fn row(what: &str, session: String, jwt: String, source: &str) -> Row {
    [what.to_owned(), session, jwt, source.to_owned()]
}

fn show(outcome: Option<Outcome>, source: &str) -> String {
    outcome.map_or_else(|| not_measured(source), |o| o.to_string())
}

/// The side-by-side table, each cell from one summary: one row per figure,
/// in the order the report shows them.
pub fn rows(s: &Sources<'_>) -> Vec<Row> {
    vec![
        cpu_row(s),
        store_ops_row(s),
        latency_row(s),
        logout_row(s),
        demotion_row(s),
        size_row(s),
        memory_row(s),
        attacks_row(s),
        stolen_row(s.stolen),
        downstream_row(s.downstream),
    ]
}

/// CPU per `/me` request, nodes, store and HAProxy (c5).
fn cpu_row(s: &Sources<'_>) -> Row {
    match (
        s.capacity,
        s.capacity.and_then(CapacitySummary::haproxy_cpu_us),
    ) {
        // HAProxy is on both paths, and dearer per request than a JWT node.
        (Some(c), Some((session_haproxy, jwt_haproxy))) => row(
            "CPU per /me request (nodes; store; HAProxy)",
            format!(
                "{:.1} µs + {:.1} µs of Redis + {session_haproxy:.1} µs of HAProxy",
                c.session_node_cpu_us, c.redis_cpu_us
            ),
            format!(
                "{:.1} µs, no store, + {jwt_haproxy:.1} µs of HAProxy",
                c.jwt_node_cpu_us
            ),
            "c5",
        ),
        // Results written before HAProxy's CPU was recorded.
        (Some(c), None) => row(
            "CPU per /me request (nodes; store)",
            format!(
                "{:.1} µs + {:.1} µs of Redis",
                c.session_node_cpu_us, c.redis_cpu_us
            ),
            format!("{:.1} µs, no store", c.jwt_node_cpu_us),
            "c5",
        ),
        (None, _) => row(
            "CPU per /me request",
            not_measured("c5"),
            not_measured("c5"),
            "c5",
        ),
    }
}

/// Store operations per `/me` request (c5).
fn store_ops_row(s: &Sources<'_>) -> Row {
    match s.capacity {
        Some(c) => row(
            "store operations per /me request",
            format!("{:.2}", c.session_store_ops),
            format!("{:.2}", c.jwt_store_ops),
            "c5",
        ),
        None => row(
            "store operations per /me request",
            not_measured("c5"),
            not_measured("c5"),
            "c5",
        ),
    }
}

/// The median latency a slower store adds (c4).
fn latency_row(s: &Sources<'_>) -> Row {
    match s.latency.and_then(LatencySummary::added) {
        Some(a) => row(
            &format!(
                "median /me latency added by a store round trip {:.2} ms longer (proxy setting {:.1} ms)",
                a.store_rtt_ms, a.setting_ms
            ),
            format!("{:+.2} ms", a.session_p50_ms),
            format!("{:+.2} ms", a.jwt_p50_ms),
            "c4",
        ),
        None => row("median /me latency added by a slower store", not_measured("c4"), not_measured("c4"), "c4"),
    }
}

/// How soon every node refuses a credential after its logout (c7).
fn logout_row(s: &Sources<'_>) -> Row {
    row(
        "after logout, every node refuses the credential",
        show(outcome(s.logout, setups::SESSION), "c7"),
        match s.logout {
            Some(_) => format!(
                "1 h token: {}; short token + refresh: {}; denylist: {}",
                show(outcome(s.logout, setups::PLAIN_JWT), "c7"),
                show(outcome(s.logout, setups::SHORT_JWT), "c7"),
                show(outcome(s.logout, setups::DENYLIST), "c7"),
            ),
            None => not_measured("c7"),
        },
        "c7",
    )
}

/// How soon every node refuses an old admin role after a demotion (c8).
fn demotion_row(s: &Sources<'_>) -> Row {
    row(
        "after a demotion, every node refuses the old admin role",
        show(outcome(s.demotion, setups::SESSION), "c8"),
        match s.demotion {
            Some(_) => format!(
                "1 h token: {}; short token + refresh: {}",
                show(outcome(s.demotion, setups::PLAIN_JWT), "c8"),
                show(outcome(s.demotion, setups::SHORT_JWT), "c8"),
            ),
            None => not_measured("c8"),
        },
        "c8",
    )
}

/// What the credential adds to each request, on the wire per protocol when
/// measured so (c9).
fn size_row(s: &Sources<'_>) -> Row {
    match s.size {
        // On the wire, per protocol: what the credential adds to each request.
        Some(z) if !z.wire.is_empty() => {
            let per = |figure: &dyn Fn(&crate::summaries::WireFacts) -> String| {
                z.wire
                    .iter()
                    .map(|w| format!("{}: {}", w.protocol, figure(w)))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            // Each cluster issues its own cookie, a few bytes longer or
            // shorter: name its length where the protocols' differ, so two
            // figures of one row do not read as a contradiction.
            let mut lengths: Vec<u64> = z
                .wire
                .iter()
                .map(|w| w.cookie_value_bytes)
                .filter(|n| *n > 0)
                .collect();
            lengths.dedup();
            let differ = lengths.len() > 1;
            row(
                "credential bytes on the wire per request, at login",
                per(&|w| {
                    if differ {
                        format!("{:.0} B (a {} B cookie)", w.cookie, w.cookie_value_bytes)
                    } else {
                        format!("{:.0} B", w.cookie)
                    }
                }),
                per(&|w| {
                    if w.http2 {
                        format!("{:.0} B (in a cookie: {:.0} B)", w.bearer, w.jwt_cookie)
                    } else {
                        format!("{:.0} B", w.bearer)
                    }
                }),
                "c9",
            )
        }
        Some(z) => row(
            "credential header bytes per request, at login",
            format!("{} B", z.cookie_header_bytes),
            format!("{} B", z.login_jwt_header_bytes),
            "c9",
        ),
        None => row(
            "credential header bytes per request",
            not_measured("c9"),
            not_measured("c9"),
            "c9",
        ),
    }
}

/// Store memory per logged-in user (c13).
fn memory_row(s: &Sources<'_>) -> Row {
    match s.memory {
        Some(m) => row(
            "store memory per logged-in user",
            format!("{:.0} B", m.session_bytes_per_login),
            format!("{:.0} B (refresh tokens)", m.jwt_bytes_per_login),
            "c13",
        ),
        None => row(
            "store memory per logged-in user",
            not_measured("c13"),
            not_measured("c13"),
            "c13",
        ),
    }
}

/// Forged and invalid tokens against the server and a verifier without checks (c12).
fn attacks_row(s: &Sources<'_>) -> Row {
    match s.attacks {
        Some(a) => row(
            "forged or invalid tokens",
            "not tested (c12 forges tokens only)".into(),
            format!(
                "the server refused {} of {}; a verifier without checks accepts {} of {}",
                a.server_refused, a.corpus, a.naive_accepted, a.corpus
            ),
            "c12",
        ),
        None => row(
            "forged or invalid tokens",
            not_measured("c12"),
            not_measured("c12"),
            "c12",
        ),
    }
}

/// "Another service checks the credential": c14's calls per request, p50
/// and failures over the auth service's outage, session by introspection
/// (asked every time, and cached) and JWT by JWKS.
pub fn downstream_row(downstream: Option<&DownstreamSummary>) -> Row {
    const WHAT: &str = "another service checks the credential";
    let Some(d) = downstream else {
        return row(WHAT, not_measured("c14"), not_measured("c14"), "c14");
    };
    let cell = |route: OrdersRoute, how: &str| {
        let measured = d.route(route);
        let calls = measured
            .and_then(|r| r.calls_per_request.as_ref())
            .map_or_else(
                || "calls not measured".to_owned(),
                |c| format!("{:.3} auth-service calls per request", c.median),
            );
        let p50 = measured.map_or_else(
            || "p50 not measured".to_owned(),
            |r| format!("p50 {:.2} ms", r.p50_ms.median),
        );
        let down = d.outage(route).map_or_else(
            || "outage not measured".to_owned(),
            |o| {
                format!(
                    "{:.0}% of requests failed while it was down",
                    o.down_pct.median
                )
            },
        );
        format!("{how}: {calls}, {p50}, {down}")
    };
    let cached = format!("cached {:.0} s", d.cache_ttl_s);
    row(
        WHAT,
        format!(
            "{}; {} (answers up to its TTL old)",
            cell(OrdersRoute::Introspection, "introspection"),
            cell(OrdersRoute::IntrospectionCached, &cached)
        ),
        cell(OrdersRoute::Jwks, "JWKS"),
        "c14",
    )
}

/// "A copied credential": what c11's thief got with each kind, from its tallies.
pub fn stolen_row(stolen: Option<&StolenSummary>) -> Row {
    const WHAT: &str = "a copied credential, replayed by another client";
    let Some(stolen) = stolen else {
        return row(WHAT, not_measured("c11"), not_measured("c11"), "c11");
    };
    let session = stolen.session.as_ref().map_or_else(
        || not_measured("c11"),
        |c| {
            format!(
                "accepted {} of {} times before the user's logout, refused {} of {} after it",
                c.before_logout.accepted,
                c.before_logout.attempts,
                c.after_logout.refused(),
                c.after_logout.attempts
            )
        },
    );
    let bearer = stolen.bearer.as_ref().map(|b| {
        match (b.accepted_after_logout_s(), b.refused_after_exp_s()) {
            (Some(after), Some(exp)) => format!(
                "bearer: still accepted {after:.0} s after the logout, first refused {exp:+.1} s from its exp"
            ),
            (Some(after), None) => {
                format!("bearer: still accepted {after:.0} s after the logout, never refused while polled")
            }
            (None, _) => "bearer: refused after the logout".to_owned(),
        }
    });
    let bound: Vec<String> = stolen
        .dpop
        .iter()
        .filter(|round| round.bound)
        .map(|round| {
            let tries = [&round.thief_bearer, &round.thief_own_key, &round.thief_no_proof];
            let attempts: u32 = tries.iter().map(|t| t.attempts).sum();
            let refused: u32 = tries.iter().map(|t| t.refused()).sum();
            let leaked = |replay: &Option<crate::summaries::CapturedReplay>| {
                replay.as_ref().map_or_else(
                    || "not measured".to_owned(),
                    |r| format!("{} of {}", r.replays.accepted, r.replays.attempts),
                )
            };
            format!(
                "DPoP-bound ({}): refused {refused} of {attempts} without the key; a captured request replayed: \
                 per-node cache let {} through, shared cache {}",
                round.alg,
                leaked(&round.node_cache),
                leaked(&round.shared_cache)
            )
        })
        .collect();
    let jwt = bearer
        .into_iter()
        .chain(bound)
        .collect::<Vec<_>>()
        .join("; ");
    let jwt = if jwt.is_empty() {
        not_measured("c11")
    } else {
        jwt
    };
    row(WHAT, session, jwt, "c11")
}
