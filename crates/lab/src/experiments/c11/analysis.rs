//! From what c11 measured to its summary, and the rule that judges C11.
//!
//! Every phase of the experiment fills one part of [`StolenSummary`]; a phase
//! that could not run leaves its part empty and says why in `failed`, so the
//! rule can tell "refused" from "never tried". The rule ([`c11_verdict`]) is
//! a pure function of the summary: the report prints [`RULE`] beside it.
//! The summary's types are in [`crate::summaries`]; this module adds the
//! cost loops' reduction ([`cost_summary`]) and the verdict's evidence.
//!
//! A refusal counts only when it is an authentication refusal (401): a 503
//! or a dropped connection says nothing about the credential, and a thief
//! "refused" by a broken node must not read as a remedy that works.

use super::measure::{CostTrial, Raw};
use crate::{
    kit::stats::{per_trial_ratios, Comparison},
    results::Verdict,
    summaries::{
        BearerReplay, CapturedReplay, CookieReplay, CostSummary, CostVariant, DpopRound, Spread,
        StolenSummary, Tally, EXPIRY_SLACK_S,
    },
};

/// The summary: the phases as measured, and the cost loops reduced to
/// medians and per-trial ratios (no cost figures when no loop passed).
pub fn summarize(raw: &Raw) -> StolenSummary {
    StolenSummary {
        session: raw.session.clone(),
        bearer: raw.bearer.clone(),
        dpop: raw.dpop.clone(),
        payload: raw.payload.clone(),
        cost: (!raw.cost_trials.is_empty())
            .then(|| cost_summary(&raw.cost_names, &raw.cost_trials)),
        failed: raw.failed.clone(),
    }
}

/// The variants from per-trial loops, the first variant named being the
/// baseline the others are divided by, trial by trial.
pub fn cost_summary(names: &[(String, String)], trials: &[CostTrial]) -> CostSummary {
    let of = |name: &str| -> Vec<&CostTrial> {
        let mut of: Vec<&CostTrial> = trials.iter().filter(|t| t.variant == name).collect();
        of.sort_by_key(|t| t.trial);
        of
    };
    let figure =
        |name: &str, f: fn(&CostTrial) -> f64| of(name).into_iter().map(f).collect::<Vec<f64>>();
    let base = names.first().map(|(n, _)| n.clone()).unwrap_or_default();
    let ratio = |name: &str, f: fn(&CostTrial) -> f64| {
        (name != base)
            .then(|| Comparison::of(&per_trial_ratios(&figure(name, f), &figure(&base, f))))
            .flatten()
            .map(|c| c.ratio)
    };
    CostSummary {
        trials: trials.iter().map(|t| t.trial + 1).max().unwrap_or(0),
        requests_per_trial: trials.iter().map(|t| t.requests).max().unwrap_or(0),
        variants: names
            .iter()
            .filter(|(name, _)| !of(name).is_empty())
            .map(|(name, node)| CostVariant {
                name: name.clone(),
                node: node.clone(),
                p50_us: Spread::of(&figure(name, |t| t.p50_us)),
                p99_us: Spread::of(&figure(name, |t| t.p99_us)),
                cpu_us: Spread::of(&figure(name, |t| t.cpu_us)),
                p50_ratio: ratio(name, |t| t.p50_us),
                cpu_ratio: ratio(name, |t| t.cpu_us),
            })
            .collect(),
    }
}

/// The rule [`c11_verdict`] applies, as the report prints it.
pub const RULE: &str = "A refusal counts only as a 401; any other answer (503, no answer) says nothing about the \
    credential. The does-not-hold findings are checked first, on whatever phases ran. \
    Inconclusive when a phase did not run or a timed loop failed its load check, when the bearer \
    replay or the DPoP thief's attempts got answers other than 200 or 401, or when the victim's own DPoP requests \
    were not accepted (the binding then shows nothing). Does not hold when the thief was accepted with the \
    DPoP-bound token without the victim's key (as Bearer, with his own key's proof, or with no proof), when the \
    stolen bearer JWT was refused while it was live (before the logout, or after it more than 1 s before its exp), \
    or when the payload could not be read without a key. Holds when the stolen session cookie was accepted until \
    the victim's logout and refused right after, the stolen bearer JWT was accepted until its exp, every attempt \
    without the key was refused, and the payload named the user; with a caveat naming each replay of a captured \
    proof a replay cache let through, and anything else that differed (a cookie refused before the logout or \
    accepted after it, a token still accepted after its exp).";

/// C11's rule (see [`RULE`]).
pub fn c11_verdict(s: &StolenSummary) -> Verdict {
    if let Some(verdict) = does_not_hold(s) {
        return verdict;
    }
    if !s.failed.is_empty() {
        return Verdict::Inconclusive(s.failed.join("; "));
    }
    let (Some(session), Some(bearer), Some(_)) = (&s.session, &s.bearer, &s.payload) else {
        return Verdict::Inconclusive(
            "a phase did not run (session cookie, bearer JWT or payload reading)".into(),
        );
    };
    if s.dpop.is_empty() {
        return Verdict::Inconclusive("the DPoP phase did not run".into());
    }
    if let Some(verdict) = inconclusive(s, bearer) {
        return verdict;
    }
    let mut caveats = replay_caveats(s);
    caveats.extend(cookie_and_bearer_caveats(session, bearer));
    let shared: Vec<&CapturedReplay> = s
        .dpop
        .iter()
        .filter_map(|r| r.shared_cache.as_ref())
        .collect();
    let shared_copies: u32 = shared.iter().map(|r| r.replays.attempts).sum();
    if !caveats.is_empty() && shared_copies > 0 && shared.iter().all(|r| r.replays.all_refused()) {
        caveats.push(format!(
            "the shared replay cache refused all {shared_copies} copies"
        ));
    }
    if caveats.is_empty() {
        Verdict::Holds
    } else {
        Verdict::HoldsWithCaveat(caveats.join("; "))
    }
}

/// The findings that decide on their own, from whatever phases ran: a
/// thief let in without the key stays a fact when a later loop fails.
fn does_not_hold(s: &StolenSummary) -> Option<Verdict> {
    let stolen: Vec<String> = s
        .dpop
        .iter()
        .flat_map(|round| {
            round
                .without_key()
                .into_iter()
                .filter(|(_, t)| t.accepted > 0)
                .map(move |(how, t)| format!("{} {how}: accepted {}", round.alg, t.share_text()))
        })
        .collect();
    if !stolen.is_empty() {
        return Some(Verdict::DoesNotHold(format!(
            "the DPoP-bound token was accepted from the thief without the victim's key ({}){}",
            stolen.join("; "),
            if s.dpop.iter().any(|r| !r.bound) {
                ": the login gave no key-bound token"
            } else {
                ""
            }
        )));
    }
    if let Some(bearer) = s.bearer.as_ref().filter(|b| b.refused_while_live()) {
        return Some(Verdict::DoesNotHold(match bearer.refused_after_exp_s() {
            Some(after) if after < -EXPIRY_SLACK_S => format!(
                "the stolen bearer JWT was refused {:.1} s before its exp, {:.1} s after the logout",
                -after,
                bearer.after_logout.first_refused_s.unwrap_or_default()
            ),
            _ => format!(
                "the stolen bearer JWT was refused before the logout ({})",
                bearer.before_logout.statuses_text()
            ),
        }));
    }
    if s.payload.as_ref().is_some_and(|p| !p.readable()) {
        return Some(Verdict::DoesNotHold(
            "no decoded payload named the user: the claims could not be read without a key".into(),
        ));
    }
    None
}

/// With every phase run: the remaining refusals must be 401s, and the
/// victim must get in.
fn inconclusive(s: &StolenSummary, bearer: &BearerReplay) -> Option<Verdict> {
    let mut unrelated: Vec<String> = Vec::new();
    let mut check = |what: String, t: &Tally| {
        if t.attempts == 0 || t.unrelated() > 0 {
            unrelated.push(format!("{what}: {}", t.statuses_text()));
        }
    };
    check(
        "bearer replay before the logout".into(),
        &bearer.before_logout,
    );
    check(
        "bearer replay after the logout".into(),
        &bearer.after_logout,
    );
    for round in &s.dpop {
        for (how, t) in round.without_key() {
            check(format!("{} thief {how}", round.alg), t);
        }
    }
    if !unrelated.is_empty() {
        return Some(Verdict::Inconclusive(format!(
            "answers other than 200 or 401 (or none at all), which say nothing about the credential: {}",
            unrelated.join("; ")
        )));
    }
    if let Some(round) = s.dpop.iter().find(|r| !r.victim.all_accepted()) {
        return Some(Verdict::Inconclusive(format!(
            "the victim's own {} DPoP requests were not all accepted ({}): a binding that refuses its holder shows nothing",
            round.alg,
            round.victim.statuses_text()
        )));
    }
    if !bearer.before_logout.all_accepted() {
        return Some(Verdict::Inconclusive(format!(
            "the stolen bearer JWT was not accepted before the logout ({})",
            bearer.before_logout.statuses_text()
        )));
    }
    None
}

/// Each replay of a captured proof that a cache let through, each that did
/// not run, and each whose original the server did not accept.
fn replay_caveats(s: &StolenSummary) -> Vec<String> {
    let mut caveats = Vec::new();
    for round in &s.dpop {
        for replay in [&round.node_cache, &round.shared_cache] {
            match replay {
                Some(r) if r.replays.accepted > 0 => caveats.push(format!(
                    "with the {} replay cache, {} of {} exact copies of a captured {} proof and token were accepted (on {}; \
                     the victim's original went to {})",
                    if r.cache == "node" { "per-node" } else { "shared" },
                    r.replays.accepted,
                    r.replays.attempts,
                    round.alg,
                    r.replays.nodes_text(),
                    r.victim_node,
                )),
                Some(_) => {}
                None => caveats.push(format!("a {} captured-proof replay did not run", round.alg)),
            }
            match replay {
                Some(r) if r.victim_status != 200 => caveats.push(format!(
                    "the victim's own request with the captured {} proof ({} cache) answered {}, so its replay shows little",
                    round.alg, r.cache, r.victim_status
                )),
                _ => {}
            }
        }
    }
    caveats
}

/// A cookie refused before the logout or accepted after it, a token still
/// accepted when polling ended.
fn cookie_and_bearer_caveats(session: &CookieReplay, bearer: &BearerReplay) -> Vec<String> {
    let mut caveats = Vec::new();
    if !session.before_logout.all_accepted() {
        caveats.push(format!(
            "the stolen session cookie was not accepted before the logout ({})",
            session.before_logout.statuses_text()
        ));
    }
    if !session.after_logout.all_refused() {
        caveats.push(format!(
            "the stolen session cookie was not refused with 401 right after the logout ({})",
            session.after_logout.statuses_text()
        ));
    }
    if bearer.after_logout.first_refused_s.is_none() {
        caveats.push(format!(
            "the stolen bearer JWT was still accepted when polling ended, {:.0} s after the logout",
            bearer.poll_window_s
        ));
    }
    caveats
}

/// The verdict's evidence: what each phase saw, in one line.
pub fn evidence(s: &StolenSummary) -> String {
    let mut parts = Vec::new();
    if let Some(c) = &s.session {
        parts.push(format!(
            "cookie: thief accepted {} before the logout, {} after",
            c.before_logout.share_text(),
            c.after_logout.share_text()
        ));
    }
    if let Some(b) = &s.bearer {
        parts.push(format!(
            "bearer JWT: accepted {} before the logout, {} polls after it; first 401 {}",
            b.before_logout.share_text(),
            b.after_logout.share_text(),
            b.refused_after_exp_s()
                .map_or("never".into(), |v| format!("{v:+.1} s from exp"))
        ));
    }
    parts.extend(s.dpop.iter().map(dpop_evidence));
    if let Some(p) = &s.payload {
        parts.push(format!(
            "payload named the user: {}; cookie held user data: {}",
            if p.readable() { "yes" } else { "no" },
            if p.cookie_user_data.is_empty() {
                "none".into()
            } else {
                p.cookie_user_data.join(", ")
            }
        ));
    }
    parts.join("; ")
}

fn dpop_evidence(round: &DpopRound) -> String {
    let without: Vec<String> = round
        .without_key()
        .iter()
        .map(|(how, t)| format!("{how} {}", t.share_text()))
        .collect();
    let captured: Vec<String> = [&round.node_cache, &round.shared_cache]
        .into_iter()
        .flatten()
        .map(|r| {
            format!(
                "captured replay, {} cache {}",
                r.cache,
                r.replays.share_text()
            )
        })
        .collect();
    format!(
        "{} DPoP: victim {}; thief {}; {}",
        round.alg,
        round.victim.share_text(),
        without.join(", "),
        captured.join(", ")
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;
    use crate::summaries::PayloadReading;

    pub(crate) fn tally(answers: &[(u16, &str)]) -> Tally {
        let mut t = Tally::default();
        for (i, (status, node)) in answers.iter().enumerate() {
            t.record(*status, i as f64, node);
        }
        t
    }

    fn ok(n: usize) -> Tally {
        tally(&vec![(200, "jwt-1"); n])
    }

    fn refused(n: usize) -> Tally {
        tally(&vec![(401, ""); n])
    }

    fn round(alg: &str) -> DpopRound {
        DpopRound {
            alg: alg.into(),
            login_status: 200,
            token_type: "DPoP".into(),
            bound: true,
            victim: ok(3),
            thief_bearer: refused(3),
            thief_own_key: refused(3),
            thief_no_proof: refused(3),
            node_cache: Some(CapturedReplay {
                cache: "node".into(),
                nodes: vec!["jwt-1".into(), "jwt-2".into()],
                victim_status: 200,
                victim_node: "jwt-1".into(),
                replays: tally(&[
                    (200, "jwt-2"),
                    (401, ""),
                    (401, ""),
                    (401, ""),
                    (401, ""),
                    (401, ""),
                ]),
            }),
            shared_cache: Some(CapturedReplay {
                cache: "shared".into(),
                nodes: vec!["jwt-3".into(), "jwt-4".into()],
                victim_status: 200,
                victim_node: "jwt-3".into(),
                replays: refused(6),
            }),
        }
    }

    /// A quick run as the experiment should see it: 15 s tokens, logout 2 s
    /// after login, refused at the first poll after exp.
    pub(crate) fn healthy() -> StolenSummary {
        let mut after_logout = Tally::default();
        for s in 0..13 {
            after_logout.record(200, s as f64, "jwt-2");
        }
        after_logout.record(401, 13.0, "");
        StolenSummary {
            session: Some(CookieReplay {
                before_logout: tally(&[(200, "session-1"); 5]),
                logout_status: 200,
                after_logout: refused(5),
            }),
            bearer: Some(BearerReplay {
                access_ttl_s: 15,
                exp: 1_800_000_015,
                before_logout: ok(5),
                logout_status: 200,
                logout_at: 1_800_000_002.2,
                after_logout,
                poll_window_s: 18.0,
            }),
            dpop: vec![round("ES256"), round("EdDSA")],
            payload: Some(PayloadReading {
                username: "alice".into(),
                bearer_claims: Some(
                    json!({"sub": "alice", "name": "Alice", "roles": ["user"], "exp": 1_800_000_015u64}),
                ),
                dpop_claims: Some(json!({"sub": "alice", "cnf": {"jkt": "abc"}})),
                cookie_bytes: 130,
                cookie_user_data: vec![],
            }),
            cost: None,
            failed: vec![],
        }
    }

    #[test]
    fn tallies_count_refusals_apart_from_other_answers() {
        let t = tally(&[
            (200, "jwt-1"),
            (200, "jwt-2"),
            (401, ""),
            (503, ""),
            (0, ""),
        ]);
        assert_eq!(
            (t.attempts, t.accepted, t.refused(), t.unrelated()),
            (5, 2, 1, 2)
        );
        assert_eq!(t.first_accepted_s, Some(0.0));
        assert_eq!(t.last_accepted_s, Some(1.0));
        assert_eq!(t.first_refused_s, Some(2.0));
        assert_eq!(t.statuses_text(), "no answer×1, 200×2, 401×1, 503×1");
        assert_eq!(t.nodes_text(), "jwt-1, jwt-2");
        assert!(!t.all_refused() && !t.all_accepted());
        assert!(refused(2).all_refused());
        assert!(!Tally::default().all_refused());
    }

    #[test]
    fn the_summary_reads_back_from_results_json() {
        let summary = crate::summaries::Summary::Stolen(Box::new(healthy()));
        let json = serde_json::to_string(&summary).unwrap();
        let back: crate::summaries::Summary = serde_json::from_str(&json).unwrap();
        assert_eq!(back, summary);
    }

    #[test]
    fn the_bearer_replay_is_judged_against_its_own_exp() {
        let bearer = healthy().bearer.unwrap();
        // Logout at …002.2, first 401 13 s later: 0.2 s after exp.
        assert!((bearer.refused_after_exp_s().unwrap() - 0.2).abs() < 1e-6);
        assert_eq!(bearer.accepted_after_logout_s(), Some(12.0));
        assert!(!bearer.refused_while_live());
        let mut early = bearer.clone();
        early.after_logout = tally(&[(200, "jwt-1"), (401, "")]);
        assert!(early.refused_while_live());
    }

    #[test]
    fn holds_with_the_per_node_caches_leak_as_caveat() {
        let verdict = c11_verdict(&healthy());
        let Verdict::HoldsWithCaveat(note) = &verdict else {
            panic!("{verdict:?}");
        };
        assert!(
            note.starts_with("with the per-node replay cache, 1 of 6 exact copies of a captured ES256 proof and token were accepted (on jwt-2; the victim's original went to jwt-1)"),
            "{note}"
        );
        assert!(note.contains("EdDSA"), "{note}");
        assert!(
            note.ends_with("; the shared replay cache refused all 12 copies"),
            "{note}"
        );
    }

    #[test]
    fn holds_without_caveat_when_no_replay_got_through() {
        let mut s = healthy();
        for round in &mut s.dpop {
            if let Some(r) = &mut round.node_cache {
                r.replays = refused(6);
            }
        }
        assert_eq!(c11_verdict(&s), Verdict::Holds);
    }

    #[test]
    fn other_differences_are_named_in_the_caveat() {
        let mut s = healthy();
        s.session.as_mut().unwrap().after_logout = ok(5);
        let mut poll = Tally::default();
        for t in 0..18 {
            poll.record(200, t as f64, "jwt-1");
        }
        s.bearer.as_mut().unwrap().after_logout = poll;
        s.dpop[1].shared_cache.as_mut().unwrap().replays = tally(&[(200, "jwt-4"), (401, "")]);
        let Verdict::HoldsWithCaveat(note) = c11_verdict(&s) else {
            panic!()
        };
        assert!(
            note.contains("session cookie was not refused with 401 right after the logout (200×5)"),
            "{note}"
        );
        assert!(
            note.contains("still accepted when polling ended, 18 s after the logout"),
            "{note}"
        );
        assert!(
            note.contains("with the shared replay cache, 1 of 2 exact copies of a captured EdDSA"),
            "{note}"
        );
    }

    /// A broken set-up: DPoP off on the server. The "DPoP-bound" login gives
    /// a plain bearer token, the thief's Bearer replay gets in, and the
    /// victim's `Authorization: DPoP` is refused.
    #[test]
    fn dpop_off_on_the_server_does_not_hold() {
        let mut s = healthy();
        for round in &mut s.dpop {
            round.token_type = "Bearer".into();
            round.bound = false;
            round.victim = refused(3);
            round.thief_bearer = ok(3);
        }
        let verdict = c11_verdict(&s);
        assert!(
            matches!(&verdict, Verdict::DoesNotHold(m) if m.contains("ES256 as Bearer: accepted 3 of 3") && m.ends_with("gave no key-bound token")),
            "{verdict:?}"
        );
        let dpop_off = s;
        // Even one acceptance with the thief's own key is enough.
        let mut s = healthy();
        s.dpop[0].thief_own_key = tally(&[(401, ""), (200, "jwt-3")]);
        assert!(matches!(c11_verdict(&s), Verdict::DoesNotHold(_)));
        // As the run against a server without DPoP saw it: the DPoP cost
        // loops were refused by the load check too. The thief's acceptance
        // still decides.
        let mut s = dpop_off;
        s.failed
            .push("cost of DPoP: invalid load run: 500 non-2xx answers".into());
        assert!(matches!(c11_verdict(&s), Verdict::DoesNotHold(_)));
    }

    /// A broken set-up: every replay answered 503 (the nodes cannot reach
    /// their store, say). Refused, but not for the credential: inconclusive.
    #[test]
    fn replays_refused_for_an_unrelated_reason_are_inconclusive() {
        let mut s = healthy();
        let unavailable = tally(&[(503, ""); 3]);
        for round in &mut s.dpop {
            round.thief_bearer = unavailable.clone();
            round.thief_own_key = unavailable.clone();
            round.thief_no_proof = unavailable.clone();
        }
        let verdict = c11_verdict(&s);
        assert!(
            matches!(&verdict, Verdict::Inconclusive(m) if m.contains("ES256 thief as Bearer: 503×3")),
            "{verdict:?}"
        );
        let mut s = healthy();
        s.bearer.as_mut().unwrap().before_logout = tally(&[(503, ""); 5]);
        assert!(
            matches!(c11_verdict(&s), Verdict::Inconclusive(m) if m.contains("before the logout: 503×5"))
        );
    }

    #[test]
    fn a_bearer_refused_while_live_does_not_hold() {
        let mut s = healthy();
        let bearer = s.bearer.as_mut().unwrap();
        // Refused 3 s after the logout, 9.8 s before exp: a denylist, say.
        bearer.after_logout = tally(&[(200, "jwt-1"), (200, "jwt-2"), (200, "jwt-1"), (401, "")]);
        let verdict = c11_verdict(&s);
        assert!(
            matches!(&verdict, Verdict::DoesNotHold(m) if m.contains("refused 9.8 s before its exp, 3.0 s after the logout")),
            "{verdict:?}"
        );
        let mut s = healthy();
        s.bearer.as_mut().unwrap().before_logout = refused(5);
        assert!(
            matches!(c11_verdict(&s), Verdict::DoesNotHold(m) if m.contains("before the logout (401×5)"))
        );
    }

    #[test]
    fn an_unreadable_payload_does_not_hold() {
        let mut s = healthy();
        let payload = s.payload.as_mut().unwrap();
        payload.bearer_claims = None;
        payload.dpop_claims = Some(json!({"enc": "A256GCM"}));
        assert!(matches!(c11_verdict(&s), Verdict::DoesNotHold(m) if m.contains("payload")));
    }

    #[test]
    fn missing_phases_and_failed_loops_are_inconclusive() {
        let mut s = healthy();
        s.failed
            .push("cost, DPoP (shared cache) on jwt-3: 1000 non-2xx answers".into());
        assert!(matches!(c11_verdict(&s), Verdict::Inconclusive(m) if m.contains("1000 non-2xx")));
        for strip in [
            |s: &mut StolenSummary| s.session = None,
            |s: &mut StolenSummary| s.bearer = None,
            |s: &mut StolenSummary| s.payload = None,
            |s: &mut StolenSummary| s.dpop.clear(),
        ] {
            let mut s = healthy();
            strip(&mut s);
            assert!(matches!(c11_verdict(&s), Verdict::Inconclusive(_)));
        }
        let mut s = healthy();
        s.dpop[1].victim = tally(&[(200, "jwt-1"), (401, "")]);
        assert!(
            matches!(c11_verdict(&s), Verdict::Inconclusive(m) if m.contains("victim's own EdDSA"))
        );
        let mut s = healthy();
        s.dpop[1].node_cache.as_mut().unwrap().victim_status = 503;
        assert!(
            matches!(c11_verdict(&s), Verdict::HoldsWithCaveat(m) if m.contains("captured EdDSA proof (node cache) answered 503"))
        );
        let mut s = healthy();
        s.dpop[0].shared_cache = None;
        assert!(
            matches!(c11_verdict(&s), Verdict::HoldsWithCaveat(m) if m.contains("ES256 captured-proof replay did not run"))
        );
    }

    #[test]
    fn costs_are_divided_by_the_bearer_of_the_same_trial() {
        let trial = |variant: &str, trial, p50_us, cpu_us| CostTrial {
            variant: variant.into(),
            node: "jwt-1".into(),
            trial,
            requests: 1000,
            p50_us,
            p99_us: p50_us * 2.0,
            cpu_us,
        };
        let names = [
            ("bearer".to_owned(), "jwt-1".to_owned()),
            ("DPoP, node cache".to_owned(), "jwt-1".to_owned()),
            ("DPoP, shared cache".to_owned(), "jwt-3".to_owned()),
        ];
        let trials = [
            trial("bearer", 0, 400.0, 100.0),
            trial("DPoP, node cache", 0, 600.0, 250.0),
            trial("bearer", 1, 800.0, 100.0),
            trial("DPoP, node cache", 1, 1000.0, 300.0),
        ];
        let cost = cost_summary(&names, &trials);
        assert_eq!((cost.trials, cost.requests_per_trial), (2, 1000));
        assert_eq!(
            cost.variants.len(),
            2,
            "a variant with no trial is left out"
        );
        assert_eq!(cost.variants[0].p50_ratio, None);
        let dpop = &cost.variants[1];
        let p50 = dpop.p50_ratio.unwrap();
        assert_eq!((p50.min, p50.max), (1.25, 1.5));
        assert_eq!(dpop.cpu_ratio.unwrap().median, 3.0);
        assert_eq!(dpop.p50_us.median, 1000.0);
    }
}
