//! c12's figures and rule: what the real server refused, what the naive
//! verifier without checks accepted, and which checks stop which tokens on
//! their own.

use serde::Serialize;

use super::measure::Raw;
use crate::{
    naive::Checks,
    results::{ClaimVerdict, Verdict},
    summaries::AttackSummary,
};

/// C12's rule, from the corpus size, how many of its tokens the real
/// server refused (401), how many the naive verifier (no checks) accepted,
/// whether the server contacted the jku/x5u lure, whether it refused to
/// start with a weak HS256 secret, and the checks that stopped no token on
/// their own.
pub fn c12_verdict(
    corpus: usize,
    server_refused: usize,
    naive_accepted: usize,
    lure_contacted: bool,
    weak_secret_refused: bool,
    useless_checks: &[&str],
) -> Verdict {
    if corpus == 0 {
        Verdict::NotMeasured("the corpus was empty".into())
    } else if server_refused < corpus || lure_contacted || !weak_secret_refused {
        let mut holes = Vec::new();
        if server_refused < corpus {
            holes.push(format!(
                "accepted {} of {corpus} forged or invalid tokens",
                corpus - server_refused
            ));
        }
        if lure_contacted {
            holes.push("fetched a key from a URL in a token".into());
        }
        if !weak_secret_refused {
            holes.push("started with a 6-byte HS256 secret".into());
        }
        Verdict::DoesNotHold(format!("the real server {}", holes.join(", ")))
    } else if naive_accepted == 0 {
        Verdict::DoesNotHold("even the verifier without checks refused every forged token: this corpus shows no mistake's cost".into())
    } else if !useless_checks.is_empty() {
        Verdict::HoldsWithCaveat(format!(
            "these checks stopped no token of this corpus on their own: {}",
            useless_checks.join(", ")
        ))
    } else {
        Verdict::Holds
    }
}

/// The first screen's figure: what the server refused beside what no
/// checks let through.
fn c12_headline(total: usize, refused: usize, naive_accepted: usize) -> String {
    format!(
        "server refused {refused} of {total} forged tokens; a verifier without checks accepted {naive_accepted}"
    )
}

/// What the verdict and the report read.
#[derive(Serialize)]
pub struct Summary {
    pub corpus: usize,
    /// Tokens the real server answered 401.
    pub server_refused: usize,
    /// Tokens the naive verifier accepted with no checks.
    pub naive_accepted: usize,
    /// Of those, the ones forged with no key at all (alg none, key
    /// confusion, an embedded key).
    pub minted_without_key: usize,
    pub lure_contacted: bool,
    pub weak_secret_refusal: Option<String>,
    /// Per check of [`Checks::each`], in its order.
    pub checks: Vec<CheckCount>,
    /// The checks that stopped no token on their own.
    pub useless: Vec<&'static str>,
}

/// How many tokens one check stopped on its own.
#[derive(Serialize)]
pub struct CheckCount {
    pub name: &'static str,
    /// Per algorithm, in the run's order.
    pub per_algorithm: Vec<usize>,
    /// Over every algorithm.
    pub total: usize,
}

impl Summary {
    /// As c15 and the first screen read it.
    pub fn shared(&self) -> AttackSummary {
        AttackSummary {
            corpus: self.corpus,
            server_refused: self.server_refused,
            naive_accepted: self.naive_accepted,
            lure_contacted: self.lure_contacted,
            weak_secret_refused: self.weak_secret_refusal.is_some(),
        }
    }

    /// The checks in the order of how many attacks each stops alone.
    pub fn ranked(&self) -> Vec<(&'static str, usize)> {
        let mut ranked: Vec<(&'static str, usize)> =
            self.checks.iter().map(|c| (c.name, c.total)).collect();
        ranked.sort_by_key(|c| std::cmp::Reverse(c.1));
        ranked
    }
}

pub fn summarize(raw: &Raw) -> Summary {
    let rows = &raw.rows;
    let stopped = |check: &'static str| rows.iter().filter(move |r| r.stopped_by.contains(&check));
    let checks: Vec<CheckCount> = Checks::each()
        .into_iter()
        .map(|(name, _)| CheckCount {
            name,
            per_algorithm: raw
                .algorithms
                .iter()
                .map(|alg| stopped(name).filter(|r| r.alg == *alg).count())
                .collect(),
            total: stopped(name).count(),
        })
        .collect();
    let naive_accepted = rows.iter().filter(|r| r.naive_accepts);
    Summary {
        corpus: rows.len(),
        server_refused: rows.iter().filter(|r| r.server_status == 401).count(),
        naive_accepted: naive_accepted.clone().count(),
        minted_without_key: naive_accepted
            .filter(|r| {
                r.class == "alg none" || r.class == "key confusion" || r.class == "embedded key"
            })
            .count(),
        lure_contacted: raw.lure_contacted,
        weak_secret_refusal: raw.weak_secret_refusal.clone(),
        useless: checks
            .iter()
            .filter(|c| c.total == 0)
            .map(|c| c.name)
            .collect(),
        checks,
    }
}

const RULE: &str = "not measured with an empty corpus. Does not hold when the real server answers anything but 401 to \
                any token of the corpus, contacts the jku/x5u URL or starts with a weak HS256 secret, or when the \
                naive verifier without checks accepts no token (no mistake shown). Otherwise holds with a caveat \
                when some check stops no token on its own, and holds when every check stops at least one.";

pub fn judge(s: &Summary) -> ClaimVerdict {
    let (total, refused, lure_contacted) = (s.corpus, s.server_refused, s.lure_contacted);
    let admin_for_free = s.minted_without_key;
    let evidence = format!(
        "server refused {refused} of {total}; naive verifier accepted {} of {total} ({admin_for_free} of them forged \
         with no key at all: alg none, key confusion or an embedded key); jku/x5u URL contacted: {lure_contacted}; \
         weak HS256 secret at start-up: {}",
        s.naive_accepted,
        s.weak_secret_refusal.as_deref().map(|e| format!("refused ({e})")).unwrap_or_else(|| "ACCEPTED".into())
    );
    ClaimVerdict {
        headline: c12_headline(total, refused, s.naive_accepted),
        by_design: None,
        claim: "C12".into(),
        verdict: c12_verdict(
            total,
            refused,
            s.naive_accepted,
            lure_contacted,
            s.weak_secret_refusal.is_some(),
            &s.useless,
        ),
        rule: RULE.into(),
        evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c12_rule() {
        // (corpus, server refused, naive accepted, lure, weak secret refused, useless)
        assert_eq!(c12_verdict(140, 140, 48, false, true, &[]), Verdict::Holds);
        assert!(matches!(
            c12_verdict(140, 140, 48, false, true, &["iss", "aud"]),
            Verdict::HoldsWithCaveat(m) if m.ends_with("iss, aud")
        ));
        assert!(matches!(
            c12_verdict(140, 140, 0, false, true, &[]),
            Verdict::DoesNotHold(m) if m.starts_with("even the verifier without checks")
        ));
        assert!(matches!(
            c12_verdict(0, 0, 0, false, true, &[]),
            Verdict::NotMeasured(_)
        ));
        // A broken server: one forged token let through. This once earned
        // only a caveat.
        assert_eq!(
            c12_verdict(140, 139, 48, false, true, &[]),
            Verdict::DoesNotHold(
                "the real server accepted 1 of 140 forged or invalid tokens".into()
            )
        );
        assert!(matches!(
            c12_verdict(140, 140, 48, true, true, &[]),
            Verdict::DoesNotHold(m) if m.contains("fetched a key")
        ));
        assert!(matches!(
            c12_verdict(140, 140, 48, false, false, &[]),
            Verdict::DoesNotHold(m) if m.contains("6-byte")
        ));
        // A hole in the server outranks a check that happened to stop nothing.
        assert!(matches!(
            c12_verdict(140, 139, 48, false, true, &["iss"]),
            Verdict::DoesNotHold(m) if m.starts_with("the real server")
        ));
    }
}
