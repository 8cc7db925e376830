//! c11's tables, chart and lesson, from [`StolenSummary`] alone.

use serde_json::Value;

use super::measure::{Raw, CAPTURED_REPLAYS, USER_DATA};
use crate::{
    experiment::Presentation,
    kit::load_check::MAX_ERROR_SHARE,
    results::{Chart, ChartKind, Point, Series, Table},
    summaries::{
        BearerReplay, CapturedReplay, CookieReplay, CostSummary, DpopRound, PayloadReading, Spread,
        StolenSummary, Tally,
    },
};

/// The set-up, tables, chart and lesson, from the summary (the set-up from
/// the run's settings).
pub fn present(raw: &Raw, s: &StolenSummary) -> Presentation {
    let mut tables = vec![replay_table(s)];
    tables.extend(s.bearer.as_ref().map(expiry_table));
    if let Some(p) = &s.payload {
        tables.push(payload_table(p));
        tables.push(cookie_table(p));
    }
    tables.extend(s.cost.as_ref().map(cost_table));
    Presentation {
        setup: setup(raw),
        tables,
        chart: Some(chart(s)),
        lesson: lesson(s),
    }
}

fn setup(raw: &Raw) -> String {
    format!(
        "One cluster, 4 nodes per stack behind HAProxy (round-robin). JWT nodes: --dpop {}, access \
         tokens of {} s, no leeway after exp, revocation none; jwt-1 and jwt-2 remember DPoP proofs in their \
         own memory (--dpop-replay-cache node), jwt-3 and jwt-4 in Redis (shared). The victim is one client \
         on 127.0.0.1 (User-Agent authlab-victim), the thief another bound to 127.0.0.2 (authlab-thief); \
         neither keeps cookies, and the thief only ever has a copy of the credential's bytes. Session \
         cookie: the thief sends GET /me with it 5 times, the victim logs out, 5 more. Bearer JWT: 5 \
         times, the victim logs out, then once a second until the first 401. DPoP (an ES256, then an \
         EdDSA key): the victim's own requests (control), then the thief with the token as Bearer, as DPoP \
         with a proof of his own key, and with no proof, 3 times each; then the victim sends one request \
         with a fresh proof and the thief sends {} exact copies of it (same token, same proof) within the \
         proof's minute, first with only the per-node pair in HAProxy's rotation, then only the shared \
         pair. The payloads are decoded with base64 alone. Cost: GET /me straight to jwt-1 (bearer, DPoP) \
         and jwt-3 (DPoP, shared cache), {} sequential requests per loop (at most {} s), after a fresh login \
         and 20 warm-up requests, proofs (ES256) signed before the clock starts; {} trial(s), the \
         order rotating per trial; a loop with more than {:.1}% errors is refused.",
        raw.dpop_mode,
        raw.access_ttl_s,
        CAPTURED_REPLAYS,
        raw.cost_requests,
        raw.cost_limit_s,
        raw.trials,
        MAX_ERROR_SHARE * 100.0,
    )
}

/// `0.00–0.41 s`, or `—` when nothing was accepted.
fn accepted_span(t: &Tally) -> String {
    match (t.first_accepted_s, t.last_accepted_s) {
        (Some(first), Some(last)) if (last - first).abs() < 0.005 => format!("{first:.2} s"),
        (Some(first), Some(last)) => format!("{first:.2}–{last:.2} s"),
        _ => "—".into(),
    }
}

fn row(credential: &str, attempt: &str, t0: &str, t: &Tally) -> Vec<String> {
    vec![
        credential.into(),
        attempt.into(),
        t.share_text(),
        t.statuses_text(),
        if t.accepted > 0 {
            format!("{} after {t0}", accepted_span(t))
        } else {
            "—".into()
        },
        t.nodes_text(),
    ]
}

fn captured_row(alg: &str, r: &CapturedReplay) -> Vec<String> {
    let cache = if r.cache == "node" {
        "per-node"
    } else {
        "shared"
    };
    row(
        &format!("DPoP-bound JWT ({alg})"),
        &format!(
            "exact copy of a captured request (token + proof) through {} ({cache} replay cache); the victim's original: {} on {}",
            r.nodes.join(" and "),
            r.victim_status,
            if r.victim_node.is_empty() { "—" } else { &r.victim_node },
        ),
        "the original",
        &r.replays,
    )
}

/// Every attempt, by credential.
pub fn replay_table(s: &StolenSummary) -> Table {
    let mut rows = Vec::new();
    if let Some(c) = &s.session {
        rows.push(row(
            "session cookie",
            "thief, before the victim's logout",
            "login",
            &c.before_logout,
        ));
        rows.push(row(
            "session cookie",
            &format!(
                "thief, right after the victim's logout (answered {})",
                c.logout_status
            ),
            "logout",
            &c.after_logout,
        ));
    }
    if let Some(b) = &s.bearer {
        rows.push(row(
            "bearer JWT",
            "thief, before the victim's logout",
            "login",
            &b.before_logout,
        ));
        rows.push(row(
            "bearer JWT",
            &format!(
                "thief, every 1 s after the victim's logout (answered {}) until the first 401",
                b.logout_status
            ),
            "logout",
            &b.after_logout,
        ));
    }
    for round in &s.dpop {
        let credential = format!("DPoP-bound JWT ({})", round.alg);
        rows.push(row(
            &credential,
            &format!(
                "victim, her own key's fresh proofs (control; token_type {:?}, cnf.jkt {})",
                round.token_type,
                if round.bound { "hers" } else { "absent" }
            ),
            "login",
            &round.victim,
        ));
        for (how, t) in round.without_key() {
            rows.push(row(&credential, &format!("thief, {how}"), "login", t));
        }
        for r in [&round.node_cache, &round.shared_cache]
            .into_iter()
            .flatten()
        {
            rows.push(captured_row(&round.alg, r));
        }
    }
    Table {
        title: "What the thief (127.0.0.2, User-Agent authlab-thief, his own client) got with a copy of the victim's \
                credential, GET /me through HAProxy"
            .into(),
        columns: ["credential", "who sends what", "accepted", "answers", "accepted from–to", "accepted on"]
            .map(String::from)
            .to_vec(),
        rows,
    }
}

/// The bearer token's life after the logout, against its own exp.
pub fn expiry_table(b: &BearerReplay) -> Table {
    let s = |v: Option<f64>| v.map_or("—".to_owned(), |v| format!("{v:.1} s"));
    Table {
        title: format!(
            "The stolen bearer JWT after the victim's logout (access token lifetime {} s; the thief polls every 1 s, for at \
             most {:.0} s)",
            b.access_ttl_s, b.poll_window_s
        ),
        columns: [
            "logout before exp",
            "thief accepted after the logout",
            "last accepted after the logout",
            "last accepted relative to exp",
            "first 401 after the logout",
            "first 401 relative to exp",
        ]
        .map(String::from)
        .to_vec(),
        rows: vec![vec![
            format!("{:.1} s", b.exp as f64 - b.logout_at),
            b.after_logout.share_text(),
            s(b.accepted_after_logout_s()),
            b.accepted_after_logout_s()
                .map_or("—".into(), |v| format!("{:+.1} s", b.logout_at + v - b.exp as f64)),
            s(b.after_logout.first_refused_s),
            b.refused_after_exp_s()
                .map_or("never refused".into(), |v| format!("{v:+.1} s")),
        ]],
    }
}

fn claim_text(claims: &Option<Value>, name: &str) -> String {
    match claims.as_ref().and_then(|c| c.get(name)) {
        None => "—".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Every claim of either token, decoded with base64 alone.
pub fn payload_table(p: &PayloadReading) -> Table {
    let mut names: Vec<String> = Vec::new();
    for claims in [&p.bearer_claims, &p.dpop_claims].into_iter().flatten() {
        if let Some(object) = claims.as_object() {
            for name in object.keys() {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
    }
    Table {
        title: "The captured tokens' payloads, read with a base64 decoder and no key".into(),
        columns: ["claim", "bearer JWT", "DPoP-bound JWT"]
            .map(String::from)
            .to_vec(),
        rows: names
            .iter()
            .map(|name| {
                vec![
                    name.clone(),
                    claim_text(&p.bearer_claims, name),
                    claim_text(&p.dpop_claims, name),
                ]
            })
            .collect(),
    }
}

pub fn cookie_table(p: &PayloadReading) -> Table {
    Table {
        title: "The session cookie, read the same way".into(),
        columns: [
            "value bytes",
            "the user's data found in it (plain or base64-decoded)",
        ]
        .map(String::from)
        .to_vec(),
        rows: vec![vec![
            p.cookie_bytes.to_string(),
            if p.cookie_user_data.is_empty() {
                format!("none (looked for {})", USER_DATA.join(", "))
            } else {
                p.cookie_user_data.join(", ")
            },
        ]],
    }
}

/// `123 (110–140)` µs, one decimal below 10.
fn us(s: &Spread) -> String {
    if s.min == s.max {
        format!("{:.0}", s.median)
    } else {
        format!("{:.0} ({:.0}–{:.0})", s.median, s.min, s.max)
    }
}

fn ratio(s: &Option<Spread>) -> String {
    match s {
        None => "—".into(),
        Some(r) if (r.max - r.min).abs() < 0.005 => format!("{:.2}x", r.median),
        Some(r) => format!("{:.2}x ({:.2}–{:.2}x)", r.median, r.min, r.max),
    }
}

pub fn cost_table(c: &CostSummary) -> Table {
    Table {
        title: format!(
            "GET /me straight to one JWT node ({} build), {} sequential requests per variant and trial, {} interleaved trial(s); \
             DPoP proofs signed before the clock starts; node CPU from /proc/<pid>/stat (10 ms ticks). Medians (min–max); \
             ratios to the bearer variant of the same trial",
            if cfg!(debug_assertions) { "debug" } else { "release" },
            c.requests_per_trial,
            c.trials
        ),
        columns: ["variant", "node", "p50 µs", "p99 µs", "node CPU µs/request", "p50 ÷ bearer", "CPU ÷ bearer"]
            .map(String::from)
            .to_vec(),
        rows: c
            .variants
            .iter()
            .map(|v| {
                vec![
                    v.name.clone(),
                    v.node.clone(),
                    us(&v.p50_us),
                    us(&v.p99_us),
                    us(&v.cpu_us),
                    ratio(&v.p50_ratio),
                    ratio(&v.cpu_ratio),
                ]
            })
            .collect(),
    }
}

fn percent(t: &Tally) -> Point {
    Point {
        x: String::new(),
        y: if t.attempts == 0 {
            0.0
        } else {
            100.0 * t.accepted as f64 / t.attempts as f64
        },
        low: None,
        high: None,
    }
}

fn at(x: &str, t: &Tally) -> Point {
    Point {
        x: x.into(),
        ..percent(t)
    }
}

/// The share of the thief's attempts accepted, per way of using the copy.
pub fn chart(s: &StolenSummary) -> Chart {
    let mut plain = Vec::new();
    if let Some(c) = &s.session {
        plain.push(at("cookie before", &c.before_logout));
        plain.push(at("cookie after", &c.after_logout));
    }
    if let Some(b) = &s.bearer {
        plain.push(at("JWT before", &b.before_logout));
        plain.push(at("JWT after", &b.after_logout));
    }
    let mut series = vec![Series {
        name: "session cookie / bearer JWT".into(),
        points: plain,
    }];
    for round in &s.dpop {
        let mut points: Vec<Point> = ["as Bearer", "own key", "no proof"]
            .iter()
            .zip(round.without_key())
            .map(|(x, (_, t))| at(x, t))
            .collect();
        for (x, r) in [
            ("replay node", &round.node_cache),
            ("replay shared", &round.shared_cache),
        ] {
            if let Some(r) = r {
                points.push(at(x, &r.replays));
            }
        }
        series.push(Series {
            name: format!("DPoP-bound, {} key", round.alg),
            points,
        });
    }
    Chart {
        title: "Share of the thief's requests accepted".into(),
        kind: ChartKind::Bars,
        x_label: "cookie and JWT: before / after the logout; DPoP-bound JWT: without the key, captured proof".into(),
        y_label: "% accepted".into(),
        series,
    }
}

/// The first screen's figure: how long the stolen bearer copy outlived the
/// logout, beside the DPoP-bound copy's acceptances without the key.
pub fn headline(s: &StolenSummary) -> String {
    let mut parts = Vec::new();
    if let Some(b) = &s.bearer {
        parts.push(match b.accepted_after_logout_s() {
            Some(last) => {
                format!("a copied bearer JWT still accepted {last:.1} s after the logout")
            }
            None => "a copied bearer JWT refused right after the logout".into(),
        });
    }
    let without: Vec<&Tally> = s
        .dpop
        .iter()
        .flat_map(|r| r.without_key().map(|(_, t)| t))
        .collect();
    if !without.is_empty() {
        let (accepted, attempts) = without
            .iter()
            .fold((0, 0), |(a, n), t| (a + t.accepted, n + t.attempts));
        parts.push(format!(
            "a DPoP-bound copy accepted {accepted} of {attempts} times without the key"
        ));
    }
    parts.join("; ")
}

/// How late after `exp` a first refusal still reads as "at expiry".
const AT_EXPIRY_S: f64 = 2.5;

/// The lesson: every figure from the summary, nothing the run did not show.
/// One paragraph per phase that ran, then what did not run.
pub fn lesson(s: &StolenSummary) -> String {
    let mut text = Vec::new();
    text.extend(s.session.as_ref().map(session_lesson));
    text.extend(s.bearer.as_ref().map(bearer_lesson));
    text.extend(s.payload.as_ref().map(payload_lesson));
    if !s.dpop.is_empty() {
        text.push(binding_lesson(&s.dpop));
        text.extend(captured_lesson(&s.dpop));
    }
    text.extend(s.cost.as_ref().and_then(cost_lesson));
    if !s.failed.is_empty() {
        text.push(format!(
            "Not measured in this run: {}.",
            s.failed.join("; ")
        ));
    }
    text.join(" ")
}

fn session_lesson(c: &CookieReplay) -> String {
    let ending = if c.after_logout.all_refused() {
        "the difference is that the server keeps the session, so the victim's logout ended the thief's copy at once"
    } else {
        "and here the victim's logout did not end the thief's copy on every attempt"
    };
    format!(
        "From another address and client, the thief's copy of the session cookie was accepted {} before the victim \
         logged out and {} right after: a session cookie is a bearer credential too, good for whoever sends it; \
         {ending}.",
        c.before_logout.share_text(),
        c.after_logout.share_text()
    )
}

fn bearer_lesson(b: &BearerReplay) -> String {
    let after = match (b.accepted_after_logout_s(), b.refused_after_exp_s()) {
        (Some(last), Some(exp)) => format!(
            "it was still accepted {last:.1} s after the logout, and first refused {exp:+.1} s from its exp{}",
            // exp is whole seconds and the polls are 1 s apart, so the
            // first refused poll lands up to 2 s after exp, plus the
            // poll's own time in flight.
            if (0.0..=AT_EXPIRY_S).contains(&exp) {
                ", at the first poll after it (polls 1 s apart; exp counts whole seconds)"
            } else if exp < 0.0 {
                ", before it"
            } else {
                ", well after it"
            }
        ),
        (None, Some(exp)) => format!("it was refused at the first poll after the logout ({exp:+.1} s from its exp)"),
        (_, None) => format!("it was still accepted when polling ended, {:.0} s after the logout", b.poll_window_s),
    };
    // The cluster ran revocation none: that, not JWTs as such, is why
    // the logout could not reach the copy; c7 measures the remedy.
    format!(
        "The stolen bearer JWT ({} s lifetime) was accepted {} before the logout; after it, {after}. This cluster \
         ran revocation none, under which a logout cannot reach a copy of the token: nothing the victim did here \
         ended it before its exp. A denylist (--revocation denylist) can, at a store lookup per request; c7 \
         measures it, not this experiment.",
        b.access_ttl_s,
        b.before_logout.share_text()
    )
}

fn payload_lesson(p: &PayloadReading) -> String {
    let names: Vec<String> = ["sub", "name", "roles", "exp"]
        .iter()
        .filter(|n| p.bearer_claims.as_ref().and_then(|c| c.get(**n)).is_some())
        .map(|n| format!("{n} {}", claim_text(&p.bearer_claims, n)))
        .collect();
    format!(
        "Its payload read without any key ({}){}. The session cookie's {} bytes held {}.",
        if names.is_empty() {
            "no claims found".into()
        } else {
            names.join(", ")
        },
        match &p.dpop_claims {
            Some(claims) if claims["cnf"]["jkt"].is_string() => {
                "; the DPoP-bound token's just as well, with the key's thumbprint added: binding hides nothing"
            }
            Some(_) => "; the token of the DPoP login just as well",
            None => "",
        },
        p.cookie_bytes,
        if p.cookie_user_data.is_empty() {
            "none of the user's data".to_owned()
        } else {
            format!("the user's {}", p.cookie_user_data.join(", "))
        }
    )
}

/// What the thief got without the key, and whether the logins bound the
/// token at all.
fn binding_lesson(dpop: &[DpopRound]) -> String {
    let without: Vec<&Tally> = dpop
        .iter()
        .flat_map(|r| r.without_key().map(|(_, t)| t))
        .collect();
    let (accepted, attempts) = without
        .iter()
        .fold((0, 0), |(a, n), t| (a + t.accepted, n + t.attempts));
    let algs: Vec<&str> = dpop.iter().map(|r| r.alg.as_str()).collect();
    if dpop.iter().all(|r| r.bound) {
        format!(
            "Bound to the victim's key with DPoP ({} keys), the token got the thief {accepted} acceptances in \
             {attempts} attempts without the key (as Bearer, with a proof of his own key, with no proof).",
            algs.join(" and ")
        )
    } else {
        let types: Vec<String> = dpop
            .iter()
            .map(|r| {
                format!(
                    "{} login: token_type {:?}, key-bound {}",
                    r.alg, r.token_type, r.bound
                )
            })
            .collect();
        format!(
            "A login with a DPoP proof did not give a token bound to the key ({}); the thief got {accepted} \
             acceptances in {attempts} attempts with it without the key.",
            types.join("; ")
        )
    }
}

/// Accepted and sent copies of captured requests through one kind of
/// replay cache, and where the accepted ones landed. Only replays whose
/// original the server accepted say anything.
fn captured_sum(
    dpop: &[DpopRound],
    pick: fn(&DpopRound) -> &Option<CapturedReplay>,
) -> (u32, u32, Vec<String>) {
    let replays: Vec<(&str, &CapturedReplay)> = dpop
        .iter()
        .filter_map(|round| pick(round).as_ref().map(|r| (round.alg.as_str(), r)))
        .filter(|(_, r)| r.victim_status == 200)
        .collect();
    let accepted: u32 = replays.iter().map(|(_, r)| r.replays.accepted).sum();
    let attempts: u32 = replays.iter().map(|(_, r)| r.replays.attempts).sum();
    let nodes: Vec<String> = replays
        .iter()
        .filter(|(_, r)| r.replays.accepted > 0)
        .map(|(alg, r)| {
            format!(
                "{} with the {alg} proof, whose original went to {}",
                r.replays.nodes_text(),
                r.victim_node
            )
        })
        .collect();
    (accepted, attempts, nodes)
}

/// The replays of a captured request, per kind of replay cache; `None`
/// when no replay ran with an accepted original.
fn captured_lesson(dpop: &[DpopRound]) -> Option<String> {
    let (node_ok, node_n, node_where) = captured_sum(dpop, |r| &r.node_cache);
    let (shared_ok, shared_n, shared_where) = captured_sum(dpop, |r| &r.shared_cache);
    (node_n + shared_n > 0).then(|| {
        format!(
            "A captured request, token and proof together, sent again within the proof's minute, carries a valid \
             proof: with per-node replay caches {node_ok} of {node_n} copies were accepted{}; with the cache shared \
             in Redis {shared_ok} of {shared_n}{}.",
            if node_where.is_empty() {
                String::new()
            } else {
                format!(
                    " (on {}): a node that had not seen the original, and cannot know what its neighbour saw",
                    node_where.join("; ")
                )
            },
            if shared_where.is_empty() { String::new() } else { format!(" (on {})", shared_where.join(", ")) },
        )
    })
}

/// DPoP's price against bearer; `None` without a bearer variant.
fn cost_lesson(c: &CostSummary) -> Option<String> {
    let bearer = c.variants.iter().find(|v| v.name.starts_with("bearer"))?;
    let parts: Vec<String> = c
        .variants
        .iter()
        .filter(|v| v.p50_ratio.is_some())
        .map(|v| {
            format!(
                "{} p50 {} µs ({} the bearer's), node CPU {} µs per request ({})",
                v.name,
                us(&v.p50_us),
                ratio(&v.p50_ratio),
                us(&v.cpu_us),
                ratio(&v.cpu_ratio)
            )
        })
        .collect();
    Some(format!(
        "The price, per GET /me straight to a node: bearer p50 {} µs and {} µs of node CPU; {}.",
        us(&bearer.p50_us),
        us(&bearer.cpu_us),
        parts.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::c11::analysis::tests::healthy;
    use crate::summaries::CostVariant;

    #[test]
    fn the_tables_show_every_attempt() {
        let s = healthy();
        let table = replay_table(&s);
        // 2 cookie + 2 bearer + 2 rounds × (control + 3 thief + 2 captured).
        assert_eq!(table.rows.len(), 16);
        assert_eq!(table.rows[0][2], "5 of 5");
        assert_eq!(table.rows[3][4], "0.00–12.00 s after logout");
        let node = table
            .rows
            .iter()
            .find(|r| r[1].contains("per-node"))
            .unwrap();
        assert_eq!((node[2].as_str(), node[5].as_str()), ("1 of 6", "jwt-2"));
        let expiry = expiry_table(s.bearer.as_ref().unwrap());
        assert_eq!(
            expiry.rows[0],
            ["12.8 s", "13 of 14", "12.0 s", "-0.8 s", "13.0 s", "+0.2 s"]
        );
        let payload = payload_table(s.payload.as_ref().unwrap());
        let names: Vec<&str> = payload.rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(names, ["exp", "name", "roles", "sub", "cnf"]);
        assert_eq!(payload.rows[2][1], r#"["user"]"#);
        assert_eq!(payload.rows[4][2], r#"{"jkt":"abc"}"#);
        assert!(cookie_table(s.payload.as_ref().unwrap()).rows[0][1].starts_with("none"));
    }

    #[test]
    fn the_lesson_says_what_the_numbers_say() {
        let mut s = healthy();
        let spread = |v: f64| Spread {
            median: v,
            min: v,
            max: v,
        };
        s.cost = Some(CostSummary {
            trials: 1,
            requests_per_trial: 1000,
            variants: vec![
                CostVariant {
                    name: "bearer".into(),
                    node: "jwt-1".into(),
                    p50_us: spread(400.0),
                    p99_us: spread(900.0),
                    cpu_us: spread(120.0),
                    p50_ratio: None,
                    cpu_ratio: None,
                },
                CostVariant {
                    name: "DPoP, shared replay cache".into(),
                    node: "jwt-3".into(),
                    p50_us: spread(700.0),
                    p99_us: spread(1500.0),
                    cpu_us: spread(300.0),
                    p50_ratio: Some(spread(1.75)),
                    cpu_ratio: Some(spread(2.5)),
                },
            ],
        });
        let text = lesson(&s);
        // The run used revocation none; it cannot say that nothing could
        // end the token sooner (c7's denylist does).
        assert!(!text.contains("could end it sooner"), "{text}");
        assert!(
            text.contains("This cluster ran revocation none, under which a logout cannot reach a copy of the token"),
            "{text}"
        );
        assert!(text.contains("c7 measures it"), "{text}");
        assert_eq!(
            headline(&s),
            "a copied bearer JWT still accepted 12.0 s after the logout; a DPoP-bound copy accepted 0 of 18 times \
             without the key"
        );
        for expected in [
            "accepted 5 of 5 before the victim logged out and 0 of 5 right after: a session cookie is a bearer credential too",
            "still accepted 12.0 s after the logout, and first refused +0.2 s from its exp, at the first poll after it",
            "sub alice, name Alice, roles [\"user\"], exp 1800000015",
            "held none of the user's data",
            "0 acceptances in 18 attempts without the key",
            "with per-node replay caches 2 of 12 copies were accepted (on jwt-2 with the ES256 proof, whose original went to jwt-1; jwt-2 with the EdDSA proof, whose original went to jwt-1): a node that had not seen",
            "with the cache shared in Redis 0 of 12.",
            "bearer p50 400 µs and 120 µs of node CPU; DPoP, shared replay cache p50 700 µs (1.75x the bearer's), node CPU 300 µs per request (2.50x)",
        ] {
            assert!(text.contains(expected), "{expected}\n{text}");
        }
        let chart = chart(&s);
        assert_eq!(chart.series.len(), 3);
        assert_eq!(chart.series[0].points[0].y, 100.0);
        assert!((chart.series[1].points[3].y - 100.0 / 6.0).abs() < 1e-9);
    }
}
