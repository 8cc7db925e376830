//! c12's set-up, tables, chart and lesson.

use jwt_server::SigningAlgorithm;

use super::{
    analysis::Summary,
    measure::{Raw, Row},
};
use crate::{
    experiment::Presentation,
    results::{Chart, ChartKind, Point, Series, Table},
};

pub fn present(raw: &Raw, summary: &Summary) -> Presentation {
    Presentation {
        setup: setup(raw),
        tables: vec![per_check(raw, summary), per_attack(raw)],
        chart: Some(chart(raw, summary)),
        lesson: lesson(summary),
    }
}

/// How many tokens of the corpus each algorithm got, as the set-up states
/// it: the corpus is not the same size for every algorithm (an attack that
/// needs a public key has no HS256 form), so no average stands in for it.
fn corpus_per_algorithm(rows: &[Row], algorithms: &[SigningAlgorithm]) -> String {
    let counts: Vec<usize> = algorithms
        .iter()
        .map(|a| rows.iter().filter(|r| r.alg == *a).count())
        .collect();
    match counts.first() {
        Some(first) if counts.iter().all(|c| c == first) => {
            format!("{first} tokens per algorithm")
        }
        _ => {
            algorithms
                .iter()
                .zip(&counts)
                .map(|(a, c)| format!("{c} {a}"))
                .collect::<Vec<_>>()
                .join(", ")
                + " tokens"
        }
    }
}

fn setup(raw: &Raw) -> String {
    let algorithms = &raw.algorithms;
    format!(
        "For {} a fresh key set and a real JWT node (a one-node cluster: the node is a child process as in \
         `authlab up`; real HTTP, real Redis). The corpus ({}: expired, not yet valid, wrong iss/aud, missing claims, alg none in four spellings, HS256 \
         signed with the public key, tampered payloads and signatures, unknown and injected kids, embedded jwk, \
         jku/x5u to a local listener that must never be contacted, oversized and malformed tokens) goes to \
         GET /admin/stats, and to a deliberately naive verifier (teaching code in crates/lab/src/naive.rs, never \
         served) with no checks, then with each check alone. Finally the server is started with a 6-byte HS256 secret.",
        algorithms.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", "),
        corpus_per_algorithm(&raw.rows, algorithms)
    )
}

fn per_attack(raw: &Raw) -> Table {
    Table {
        title:
            "Each attack: the server's answer, the naive verifier, and which single check stops it"
                .into(),
        columns: [
            "alg",
            "attack",
            "class",
            "server",
            "naive, no checks",
            "stopped by (each alone)",
        ]
        .map(String::from)
        .to_vec(),
        rows: raw
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.alg.to_string(),
                    r.attack.clone(),
                    r.class.clone(),
                    r.server_status.to_string(),
                    if r.naive_accepts {
                        "ACCEPTED".into()
                    } else {
                        "refused".into()
                    },
                    if !r.naive_accepts {
                        "— (refused by parsing, no check needed)".into()
                    } else if r.stopped_by.is_empty() {
                        "NOTHING".into()
                    } else {
                        r.stopped_by.join(", ")
                    },
                ]
            })
            .collect(),
    }
}

fn per_check(raw: &Raw, summary: &Summary) -> Table {
    let mut columns = vec!["check".to_string()];
    columns.extend(raw.algorithms.iter().map(|a| a.to_string()));
    Table {
        title: "What each check prevents: attacks of the corpus it refuses on its own".into(),
        columns,
        rows: summary
            .checks
            .iter()
            .map(|check| {
                std::iter::once(check.name.to_string())
                    .chain(check.per_algorithm.iter().map(|n| n.to_string()))
                    .collect()
            })
            .collect(),
    }
}

fn chart(raw: &Raw, summary: &Summary) -> Chart {
    let series = raw
        .algorithms
        .iter()
        .enumerate()
        .map(|(i, a)| Series {
            name: a.to_string(),
            points: summary
                .checks
                .iter()
                .map(|check| Point {
                    x: check.name.to_string(),
                    y: check.per_algorithm[i] as f64,
                    low: None,
                    high: None,
                })
                .collect(),
        })
        .collect();
    Chart {
        title: "Forged tokens each check refuses on its own".into(),
        kind: ChartKind::Bars,
        x_label: "check".into(),
        y_label: "attacks stopped".into(),
        series,
    }
}

fn lesson(s: &Summary) -> String {
    let (refused, total) = (s.server_refused, s.corpus);
    format!(
        "With no checks, {} of {} hostile tokens passed, {} of them minted without any key (alg none, key \
         confusion or an embedded key). The real server refused {refused} of {total}. Alone, the checks that \
         stopped the most were {}; {}.",
        s.naive_accepted,
        total,
        s.minted_without_key,
        s.ranked()
            .iter()
            .take(3)
            .map(|(c, n)| format!("{c} ({n})"))
            .collect::<Vec<_>>()
            .join(", "),
        if s.useless.is_empty() {
            "every check stopped at least one token that the others would have let through alone".to_owned()
        } else {
            format!("{} stopped none here", s.useless.join(", "))
        }
    )
}

#[cfg(test)]
mod tests {
    use super::{super::analysis, *};
    use crate::results::ClaimVerdict;

    fn row(alg: SigningAlgorithm, naive_accepts: bool) -> Row {
        Row {
            alg,
            attack: "a".into(),
            class: "validity".into(),
            server_status: 401,
            naive_accepts,
            stopped_by: vec!["exp/nbf"],
        }
    }

    /// What the report shows of a run: its set-up and verdicts.
    struct Shown {
        setup: String,
        verdicts: Vec<ClaimVerdict>,
    }

    fn summarize(
        rows: Vec<Row>,
        lure_contacted: bool,
        weak_secret_refusal: Option<String>,
        algorithms: &[SigningAlgorithm],
    ) -> Shown {
        let raw = Raw {
            algorithms: algorithms.to_vec(),
            rows,
            lure_contacted,
            weak_secret_refusal,
        };
        let summary = analysis::summarize(&raw);
        Shown {
            setup: present(&raw, &summary).setup,
            verdicts: vec![analysis::judge(&summary)],
        }
    }

    #[test]
    fn the_setup_states_each_algorithms_own_corpus() {
        use SigningAlgorithm::*;
        let algorithms = [Hs256, Rs256, Es256, EdDsa];
        // As in the sample: HS256 has no key-confusion form, so 34/35/35/35.
        let mut rows: Vec<Row> = algorithms
            .iter()
            .flat_map(|a| (0..35).map(move |i| row(*a, i % 5 != 0)))
            .collect();
        rows.remove(0);
        assert_eq!(
            corpus_per_algorithm(&rows, &algorithms),
            "34 HS256, 35 RS256, 35 ES256, 35 EdDSA tokens"
        );
        let result = summarize(rows, false, Some("too short".into()), &algorithms);
        // 139 / 4 would have said 34 for every algorithm.
        assert!(
            result
                .setup
                .contains("The corpus (34 HS256, 35 RS256, 35 ES256, 35 EdDSA tokens:"),
            "{}",
            result.setup
        );
        assert_eq!(
            result.verdicts[0].headline,
            "server refused 139 of 139 forged tokens; a verifier without checks accepted 112"
        );
        let even: Vec<Row> = [Hs256, Rs256]
            .iter()
            .flat_map(|a| (0..3).map(move |_| row(*a, true)))
            .collect();
        assert_eq!(
            corpus_per_algorithm(&even, &[Hs256, Rs256]),
            "3 tokens per algorithm"
        );
    }
}
