//! c15 — the summary: both designs side by side, from the numbers of this run.
//!
//! Not an experiment of its own: it reads the results of the others and puts
//! their figures in one table, then derives a recommendation per situation
//! with a stated rule. A figure whose experiment did not run this time says
//! so instead of being filled in.

use serde_json::Value;

use crate::results::{ClaimVerdict, ExperimentResult, Table, Verdict};

fn find<'a>(results: &'a [ExperimentResult], id: &str) -> Option<&'a ExperimentResult> {
    results.iter().find(|r| r.id == id && r.error.is_none())
}

fn not_run(id: &str) -> String {
    format!("not measured (run {id})")
}

/// Seconds until every node refused, per variant, from c7 or c8's raw figures.
fn seconds_of(raw: &Value, variant: &str) -> Option<String> {
    raw.as_array()?
        .iter()
        .find(|v| v["variant"] == variant)
        .map(|v| match v["seconds"].as_f64() {
            Some(s) if s < 0.05 => "at once".to_owned(),
            Some(s) => format!("{s:.1} s"),
            None => format!(
                "> {:.0} s (until expiry)",
                v["window_s"].as_f64().unwrap_or(0.0)
            ),
        })
}

fn model(results: &[ExperimentResult]) -> Option<(f64, f64, f64)> {
    let m = &find(results, "c5")?.raw["model"];
    Some((
        m["session_node_cpu_us"].as_f64()?,
        m["jwt_node_cpu_us"].as_f64()?,
        m["redis_cpu_us"].as_f64()?,
    ))
}

/// C15's rule, from whether c7 saw the plain 1 h JWT still accepted at the
/// end of its observation window after logout (`None`: c7 did not run), and
/// whether c5's per-request CPU model (the store's share of a request) is
/// available.
pub fn c15_verdict(plain_jwt_outlived_logout: Option<bool>, cpu_model_measured: bool) -> Verdict {
    let mut missing = Vec::new();
    if plain_jwt_outlived_logout.is_none() {
        missing.push("c7 (revocation)");
    }
    if !cpu_model_measured {
        missing.push("c5 (CPU per request)");
    }
    match plain_jwt_outlived_logout {
        _ if !missing.is_empty() => {
            Verdict::HoldsWithCaveat(format!("not measured in this run: {}", missing.join(", ")))
        }
        Some(true) => Verdict::Holds,
        _ => Verdict::HoldsWithCaveat(
            "the plain JWT was refused before c7's window closed, so this run did not show the \
             revocation gap between the designs"
                .into(),
        ),
    }
}

/// The summary, if at least two source experiments ran.
pub fn summarize(results: &[ExperimentResult]) -> Option<ExperimentResult> {
    let sources = ["c4", "c5", "c6", "c7", "c8", "c9", "c12", "c13"];
    if sources
        .iter()
        .filter(|id| find(results, id).is_some())
        .count()
        < 2
    {
        return None;
    }
    let mut rows = Vec::new();
    let mut row = |what: &str, session: String, jwt: String, source: &str| {
        rows.push(vec![what.to_owned(), session, jwt, source.to_owned()]);
    };

    match model(results) {
        Some((session_cpu, jwt_cpu, redis_cpu)) => row(
            "CPU per /me request (nodes; store)",
            format!("{session_cpu:.0} µs + {redis_cpu:.1} µs of Redis"),
            format!("{jwt_cpu:.0} µs, no store"),
            "c5",
        ),
        None => row("CPU per /me request", not_run("c5"), not_run("c5"), "c5"),
    }
    let store_ops = |suffix: &str| -> Option<String> {
        let samples = find(results, "c5")?.raw["samples"].as_array()?;
        let mut ops: Vec<f64> = samples
            .iter()
            .filter(|s| s["variant"].as_str().is_some_and(|v| v.ends_with(suffix)))
            .filter_map(|s| s["store_ops_per_request"].as_f64())
            .collect();
        ops.sort_by(f64::total_cmp);
        ops.get(ops.len() / 2).map(|m| format!("{m:.2}"))
    };
    row(
        "store operations per request (measured)",
        store_ops("|session /me").unwrap_or_else(|| not_run("c5")),
        store_ops("|JWT /me")
            .map(|m| format!("{m} (a denylist adds one)"))
            .unwrap_or_else(|| not_run("c5")),
        "c5",
    );
    let c4 = find(results, "c4")
        .and_then(|r| r.verdicts.first())
        .map(|v| v.evidence.clone());
    row(
        "latency added by a store 2 ms away",
        c4.clone().unwrap_or_else(|| not_run("c4")),
        "none (never asks the store)".into(),
        "c4",
    );
    let c7 = find(results, "c7").map(|r| &r.raw);
    row(
        "logout takes effect on every node",
        c7.and_then(|r| seconds_of(r, "session (Redis)"))
            .unwrap_or_else(|| not_run("c7")),
        c7.map(|r| {
            format!(
                "plain: {}; short access + refresh: {}; denylist: {}",
                seconds_of(r, "JWT, 1 h access token").unwrap_or_default(),
                seconds_of(r, "JWT, short access token + refresh").unwrap_or_default(),
                seconds_of(r, "JWT + denylist").unwrap_or_default()
            )
        })
        .unwrap_or_else(|| not_run("c7")),
        "c7",
    );
    let c8 = find(results, "c8").map(|r| &r.raw);
    row(
        "a demoted admin keeps admin rights",
        c8.and_then(|r| seconds_of(r, "session (Redis)"))
            .unwrap_or_else(|| not_run("c8")),
        c8.and_then(|r| seconds_of(r, "JWT, 1 h access token"))
            .map(|s| format!("{s} (until refresh or expiry)"))
            .unwrap_or_else(|| not_run("c8")),
        "c8",
    );
    let c9 = find(results, "c9").map(|r| &r.raw);
    row(
        "credential bytes per request",
        c9.and_then(|r| r["cookie_header_bytes"].as_u64())
            .map(|b| format!("{b} B"))
            .unwrap_or_else(|| not_run("c9")),
        c9.and_then(|r| r["login_jwt_header_bytes"].as_u64())
            .map(|b| format!("{b} B, growing with every claim"))
            .unwrap_or_else(|| not_run("c9")),
        "c9",
    );
    let c13 = find(results, "c13").map(|r| &r.raw);
    let per_login = |r: &Value, key: &str| {
        let logins = r[key]["logins"].as_f64()?;
        Some(r[key]["store_bytes"].as_f64()? / logins.max(1.0))
    };
    row(
        "store memory per logged-in user",
        c13.and_then(|r| per_login(r, "session"))
            .map(|b| format!("{b:.0} B"))
            .unwrap_or_else(|| not_run("c13")),
        c13.and_then(|r| per_login(r, "jwt"))
            .map(|b| format!("{b:.0} B (refresh tokens)"))
            .unwrap_or_else(|| not_run("c13")),
        "c13",
    );
    let c12 = find(results, "c12").map(|r| &r.raw);
    let naive_accepted = c12.and_then(|r| r["rows"].as_array()).map(|rows| {
        let accepted = rows.iter().filter(|r| r["naive_accepts"] == true).count();
        format!(
            "{accepted} of {} forged tokens pass a verifier without checks",
            rows.len()
        )
    });
    row(
        "what an implementation mistake costs",
        "— (this run forged no cookies; a session id is random, signed, and must exist in the store)".into(),
        naive_accepted.unwrap_or_else(|| not_run("c12")),
        "c12",
    );

    // Recommendations, each from a stated rule over the numbers above.
    let mut recommendations = Vec::new();
    let store_share = model(results).map(|(s, _, r)| r / (s + r));
    recommendations.push(vec![
        "one server, or a few behind a load balancer".to_owned(),
        match store_share {
            Some(share) if share < 0.25 => format!(
                "sessions: the store is {:.0}% of a request's CPU here, and in exchange logout and role changes are instant",
                share * 100.0
            ),
            Some(share) => format!("either: the store is {:.0}% of a request's CPU here", share * 100.0),
            None => "sessions (c5 not run: no cost figure)".into(),
        },
        "store share of CPU per request < 25% → sessions".into(),
    ]);
    recommendations.push(vec![
        "many nodes, heavy read traffic".to_owned(),
        match model(results) {
            Some((s, _, r)) if r > 0.0 => format!(
                "JWT (short-lived, with refresh): by the c5 model one Redis core saturates at about {:.0} cores of session nodes",
                s / r
            ),
            _ => "JWT (c5 not run: no ceiling figure)".into(),
        },
        "the store ceiling is reachable with the cores you plan for → stateless tokens".into(),
    ]);
    recommendations.push(vec![
        "instant logout or demotion is a requirement".to_owned(),
        "sessions, or JWT + denylist, which pays a store lookup per request like a session (c7)"
            .into(),
        "c7/c8: only server-side state revokes at once".into(),
    ]);
    recommendations.push(vec![
        "other services must verify the user themselves".to_owned(),
        "JWT with published keys (JWKS); not measured in this run (claim C14)".into(),
        "—".into(),
    ]);

    let jwt_slower_to_revoke =
        c7.map(|r| seconds_of(r, "JWT, 1 h access token").is_some_and(|s| s.starts_with('>')));
    let verdict = c15_verdict(jwt_slower_to_revoke, store_share.is_some());
    Some(ExperimentResult {
        id: "c15".into(),
        title: "Summary: both designs side by side".into(),
        claims: vec!["C15".into()],
        question: "Is JWT more secure than sessions, or is its advantage scale; and for a small deployment, are sessions simpler?".into(),
        setup: "Derived from the other experiments of this run; nothing is measured here.".into(),
        verdicts: vec![ClaimVerdict {
            claim: "C15".into(),
            verdict,
            rule: "holds when c7 measured a plain JWT still accepted on some node at the end of its window after logout \
                   (revocation favours server-side state) and c5's per-request CPU figures give the store's share of a \
                   session request (the cost the JWT avoids); with a caveat otherwise. The other rows of the table are \
                   reported, not judged."
                .into(),
            evidence: rows.iter().map(|r| format!("{}: session {} / JWT {}", r[0], r[1], r[2])).collect::<Vec<_>>().join("; "),
        }],
        tables: vec![
            Table {
                title: "Measured costs and risks".into(),
                columns: ["", "sessions", "JWT", "from"].map(String::from).to_vec(),
                rows,
            },
            Table {
                title: "Recommendation per situation, and the rule behind it".into(),
                columns: ["situation", "recommendation", "rule"].map(String::from).to_vec(),
                rows: recommendations,
            },
        ],
        chart: None,
        lesson: "Neither design is more secure by itself: sessions keep the power to say no on the server, tokens give it \
                 away for the length of their lifetime, and each mistake in token checking is a hole. What tokens buy is a \
                 request that asks nobody, which matters once the store is the ceiling; below that, sessions are the \
                 simpler system."
            .into(),
        raw: Value::Null,
        seconds: 0.0,
        error: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c15_rule() {
        assert_eq!(c15_verdict(Some(true), true), Verdict::Holds);
        assert_eq!(
            c15_verdict(None, true),
            Verdict::HoldsWithCaveat("not measured in this run: c7 (revocation)".into())
        );
        assert_eq!(
            c15_verdict(Some(true), false),
            Verdict::HoldsWithCaveat("not measured in this run: c5 (CPU per request)".into())
        );
        assert_eq!(
            c15_verdict(None, false),
            Verdict::HoldsWithCaveat(
                "not measured in this run: c7 (revocation), c5 (CPU per request)".into()
            )
        );
        assert!(
            matches!(c15_verdict(Some(false), true), Verdict::HoldsWithCaveat(m) if m.contains("did not show"))
        );
    }
}
