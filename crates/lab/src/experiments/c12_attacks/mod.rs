//! c12 — an attack corpus against the real JWT server and a naive verifier.
//!
//! Every forged or invalid token of [`attack_corpus`] is sent to a real JWT
//! node (it must answer 401 to each), then handed to the
//! [naive verifier](crate::naive) with no checks at all, and with each check
//! turned on alone. The "stopped by" column is measured, not asserted: it
//! lists the checks that, on their own, reject that token.

use std::{net::TcpListener, time::Duration, time::Instant};

use attack_corpus::{self as attacks, Attack};
use authlab_client::{ApiClient, Credential};
use jwt_server::{keys::KeySetFile, JwtServerConfig, SigningAlgorithm};
use serde_json::json;

use crate::experiment::Outcome;
use crate::experiment::RunContext;
use crate::experiment::Runnable;
use crate::kit::err;
use crate::{
    naive::{Checks, NaiveVerifier},
    results::{Chart, ChartKind, ClaimVerdict, ExperimentResult, Point, Series, Table, Verdict},
    summaries::{AttackSummary, Summary},
    Cluster, ClusterSpec, LabError, Stack,
};

#[derive(Default)]
pub struct Attacks {
    /// The JWT node's clock leeway, when not the server's default: a test
    /// widens it to let an expired token through and see the verdict turn.
    pub leeway: Option<Duration>,
}

#[derive(serde::Serialize)]
struct Row {
    alg: SigningAlgorithm,
    attack: String,
    class: String,
    server_status: u16,
    naive_accepts: bool,
    stopped_by: Vec<&'static str>,
}

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

/// A one-node JWT cluster signing with a fresh `alg` key set (the node is a
/// child process, as in `authlab up`), and that key set: the corpus is
/// forged with its private keys.
async fn jwt_node(
    ctx: &RunContext,
    alg: SigningAlgorithm,
    leeway: Option<Duration>,
) -> Result<(Cluster, KeySetFile), LabError> {
    let mut spec = ClusterSpec::new(ctx.launcher.clone());
    spec.nodes = 1;
    spec.stacks = vec![Stack::Jwt];
    spec.seed_users = 0;
    spec.alg = alg;
    if let Some(leeway) = leeway {
        spec.jwt_args = vec!["--leeway".into(), format!("{}s", leeway.as_secs())];
    }
    let cluster = Cluster::start(spec).await?;
    let path = cluster
        .keyset_path()
        .ok_or_else(|| err("the cluster wrote no key set"))?;
    let keys = KeySetFile::read(path, false).map_err(err)?;
    Ok((cluster, keys))
}

impl Runnable for Attacks {
    fn id(&self) -> &'static str {
        "c12"
    }

    fn title(&self) -> &'static str {
        "Forged tokens against a strict and a naive verifier"
    }

    fn claims(&self) -> &'static [&'static str] {
        &["C12"]
    }

    fn estimate(&self, quick: bool) -> Duration {
        Duration::from_secs(if quick { 1 } else { 2 })
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> Outcome<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let algorithms: &[SigningAlgorithm] = if ctx.quick {
                &[SigningAlgorithm::EdDsa, SigningAlgorithm::Rs256]
            } else {
                &SigningAlgorithm::ALL
            };
            let mut cluster = None;
            let client = ApiClient::new();
            let lure = TcpListener::bind("127.0.0.1:0").map_err(err)?;
            lure.set_nonblocking(true).map_err(err)?;
            let lure_url = format!("http://{}/jwks.json", lure.local_addr().map_err(err)?);

            let mut rows = Vec::new();
            for &alg in algorithms {
                ctx.variant(format!(
                    "{alg}: corpus against the server and the naive verifier"
                ));
                // One cluster at a time: the previous algorithm's stops first.
                drop(cluster.take());
                let (one_node, keys) = jwt_node(ctx, alg, self.leeway).await?;
                let node = cluster
                    .insert(one_node)
                    .nodes(Stack::Jwt)
                    .first()
                    .ok_or_else(|| err("the cluster has no JWT node"))?;
                let (_, tokens) = client.jwt_login(&node.url(""), "alice").await;
                let control = attacks::genuine(&keys)?;
                let status = client
                    .get(&node.url("/me"), Some(&Credential::Bearer(control)))
                    .await
                    .status();
                if status != 200 {
                    return Err(LabError::Config(format!(
                        "{alg}: a genuine token was refused ({status})"
                    )));
                }
                let naive = NaiveVerifier::new(&keys, Checks::NONE).map_err(err)?;
                let singles: Vec<(&'static str, NaiveVerifier)> = Checks::each()
                    .into_iter()
                    .map(|(name, checks)| NaiveVerifier::new(&keys, checks).map(|v| (name, v)))
                    .collect::<Result<_, _>>()
                    .map_err(err)?;
                for Attack { name, class, token } in
                    attacks::corpus(&keys, &tokens.access_token, &lure_url)?
                {
                    let response = client
                        .get(
                            &node.url("/admin/stats"),
                            Some(&Credential::Bearer(token.clone())),
                        )
                        .await;
                    let naive_accepts = naive.verify(&token).is_ok();
                    // Only a token the bare verifier accepts can be "stopped" by a check;
                    // malformed ones fail parsing whatever the checks.
                    let stopped_by = if naive_accepts {
                        singles
                            .iter()
                            .filter(|(_, v)| v.verify(&token).is_err())
                            .map(|(n, _)| *n)
                            .collect()
                    } else {
                        Vec::new()
                    };
                    rows.push(Row {
                        alg,
                        naive_accepts,
                        stopped_by,
                        server_status: response.status().as_u16(),
                        attack: name,
                        class,
                    });
                }
            }
            let lure_contacted = lure.accept().is_ok();

            ctx.variant("start-up with a weak HS256 secret");
            let cluster = cluster.ok_or_else(|| err("no algorithm was run"))?;
            let mut weak = JwtServerConfig::local(&cluster.directory_url(), &cluster.store_url(1));
            weak.hs256_secret = Some("secret".into());
            let weak_refusal = match jwt_server::Application::build(weak).await {
                Ok(_) => None,
                Err(error) => Some(error.to_string()),
            };

            Ok(summarize(
                rows,
                lure_contacted,
                weak_refusal,
                algorithms,
                started,
            ))
        })
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

/// The first screen's figure: what the server refused beside what no
/// checks let through.
fn c12_headline(total: usize, refused: usize, naive_accepted: usize) -> String {
    format!(
        "server refused {refused} of {total} forged tokens; a verifier without checks accepted {naive_accepted}"
    )
}

fn summarize(
    rows: Vec<Row>,
    lure_contacted: bool,
    weak_refusal: Option<String>,
    algorithms: &[SigningAlgorithm],
    started: Instant,
) -> ExperimentResult {
    let total = rows.len();
    let refused = rows.iter().filter(|r| r.server_status == 401).count();
    let naive_accepted: Vec<&Row> = rows.iter().filter(|r| r.naive_accepts).collect();
    let check_names: Vec<&'static str> = Checks::each().into_iter().map(|(n, _)| n).collect();

    let mut per_attack = Table {
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
        rows: Vec::new(),
    };
    for r in &rows {
        per_attack.rows.push(vec![
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
        ]);
    }
    let mut per_check = Table {
        title: "What each check prevents: attacks of the corpus it refuses on its own".into(),
        columns: vec!["check".into()],
        rows: Vec::new(),
    };
    per_check
        .columns
        .extend(algorithms.iter().map(|a| a.to_string()));
    let mut series: Vec<Series> = algorithms
        .iter()
        .map(|a| Series {
            name: a.to_string(),
            points: Vec::new(),
        })
        .collect();
    for check in &check_names {
        let mut row = vec![check.to_string()];
        for (i, alg) in algorithms.iter().enumerate() {
            let count = rows
                .iter()
                .filter(|r| r.alg == *alg && r.stopped_by.contains(check))
                .count();
            row.push(count.to_string());
            series[i].points.push(Point {
                x: check.to_string(),
                y: count as f64,
                low: None,
                high: None,
            });
        }
        per_check.rows.push(row);
    }
    let useless: Vec<&str> = check_names
        .iter()
        .copied()
        .filter(|c| !rows.iter().any(|r| r.stopped_by.contains(c)))
        .collect();
    let admin_for_free = naive_accepted
        .iter()
        .filter(|r| {
            r.class == "alg none" || r.class == "key confusion" || r.class == "embedded key"
        })
        .count();

    let rule = "not measured with an empty corpus. Does not hold when the real server answers anything but 401 to \
                any token of the corpus, contacts the jku/x5u URL or starts with a weak HS256 secret, or when the \
                naive verifier without checks accepts no token (no mistake shown). Otherwise holds with a caveat \
                when some check stops no token on its own, and holds when every check stops at least one."
        .to_owned();
    let evidence = format!(
        "server refused {refused} of {total}; naive verifier accepted {} of {total} ({admin_for_free} of them forged \
         with no key at all: alg none, key confusion or an embedded key); jku/x5u URL contacted: {lure_contacted}; \
         weak HS256 secret at start-up: {}",
        naive_accepted.len(),
        weak_refusal.as_deref().map(|e| format!("refused ({e})")).unwrap_or_else(|| "ACCEPTED".into())
    );
    let verdict = c12_verdict(
        total,
        refused,
        naive_accepted.len(),
        lure_contacted,
        weak_refusal.is_some(),
        &useless,
    );
    let summary = AttackSummary {
        corpus: total,
        server_refused: refused,
        naive_accepted: naive_accepted.len(),
        lure_contacted,
        weak_secret_refused: weak_refusal.is_some(),
    };
    // The checks in the order of how many attacks each stops alone.
    let mut ranked: Vec<(&str, usize)> = check_names
        .iter()
        .map(|c| (*c, rows.iter().filter(|r| r.stopped_by.contains(c)).count()))
        .collect();
    ranked.sort_by_key(|c| std::cmp::Reverse(c.1));
    ExperimentResult {
        id: "c12".into(),
        title: "Forged tokens against a strict and a naive verifier".into(),
        claims: vec!["C12".into()],
        question: "Do the classic JWT implementation mistakes (no signature check, alg none, weak or confused keys, \
                   unchecked exp/iss/aud) really open holes, and does each check of a careful verifier close one?"
            .into(),
        setup: format!(
            "For {} a fresh key set and a real JWT node (a one-node cluster: the node is a child process as in \
             `authlab up`; real HTTP, real Redis). The corpus ({}: expired, not yet valid, wrong iss/aud, missing claims, alg none in four spellings, HS256 \
             signed with the public key, tampered payloads and signatures, unknown and injected kids, embedded jwk, \
             jku/x5u to a local listener that must never be contacted, oversized and malformed tokens) goes to \
             GET /admin/stats, and to a deliberately naive verifier (teaching code in crates/lab/src/naive.rs, never \
             served) with no checks, then with each check alone. Finally the server is started with a 6-byte HS256 secret.",
            algorithms.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", "),
            corpus_per_algorithm(&rows, algorithms)
        ),
        verdicts: vec![ClaimVerdict {
            headline: c12_headline(total, refused, naive_accepted.len()),
            by_design: None,
            claim: "C12".into(),
            verdict,
            rule,
            evidence,
        }],
        tables: vec![per_check, per_attack],
        chart: Some(Chart {
            title: "Forged tokens each check refuses on its own".into(),
            kind: ChartKind::Bars,
            x_label: "check".into(),
            y_label: "attacks stopped".into(),
            series,
        }),
        lesson: format!(
            "With no checks, {} of {} hostile tokens passed, {} of them minted without any key (alg none, key \
             confusion or an embedded key). The real server refused {refused} of {total}. Alone, the checks that \
             stopped the most were {}; {}.",
            naive_accepted.len(),
            total,
            admin_for_free,
            ranked
                .iter()
                .take(3)
                .map(|(c, n)| format!("{c} ({n})"))
                .collect::<Vec<_>>()
                .join(", "),
            if useless.is_empty() {
                "every check stopped at least one token that the others would have let through alone".to_owned()
            } else {
                format!("{} stopped none here", useless.join(", "))
            }
        ),
        summary: Some(Summary::Attacks(summary)),
        raw: json!({ "rows": rows, "lure_contacted": lure_contacted, "weak_secret_refusal": weak_refusal }),
        seconds: started.elapsed().as_secs_f64(),
        error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let result = summarize(
            rows,
            false,
            Some("too short".into()),
            &algorithms,
            Instant::now(),
        );
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
