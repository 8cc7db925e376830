//! c6 — is checking a signature faster than asking the session store?
//!
//! Two questions, two measurements, both inside one process so nothing but
//! the operation is timed:
//!
//! * **in isolation**: one operation at a time, wall time per operation:
//!   `TokenService::verify` (the server's full check) per algorithm, against
//!   one `GETEX` on a loopback Redis through the server's own client;
//! * **under load**: the machine kept busy for a few seconds: verification on
//!   one thread per core, lookups 64 at a time over the multiplexed
//!   connection; cost as CPU time per operation (this process, plus the
//!   redis-server process for lookups), read from /proc.
//!
//! Trials of all variants are interleaved, so a noisy moment hurts them alike.

use std::time::{Duration, Instant};

use authlab_core::{
    directory::User,
    metrics::Metrics,
    redis_client::{RedisClientArgs, RedisStore},
};
use jwt_server::{
    keys::{KeySet, KeySetFile},
    tokens::{TokenService, TokenSettings},
    SigningAlgorithm,
};
use serde_json::json;
use supervise::RedisServer;

use super::{err, median, spread, Experiment, Outcome, RunContext};
use crate::results::{
    Chart, ChartKind, ClaimVerdict, ExperimentResult, Point, Series, Table, Verdict,
};

pub struct VerifyCost;

/// CPU time (user + system) of a process, from /proc/<pid>/stat.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as u64;
    Duration::from_micros(ticks * 1_000_000 / hz.max(1))
}

struct Variant {
    name: String,
    service: Option<TokenService>,
    token: String,
}

/// The algorithms whose verification took at least as long as one lookup.
fn slower_than_lookup<'n>(verify_us: &[(&'n str, f64)], lookup_us: f64) -> Vec<&'n str> {
    verify_us
        .iter()
        .filter(|(_, us)| *us >= lookup_us)
        .map(|(alg, _)| *alg)
        .collect()
}

/// C6's rule, from each algorithm's median isolated verification time (µs),
/// in the order the report lists them, and the median isolated store lookup (µs).
pub fn c6_verdict(verify_us: &[(&str, f64)], lookup_us: f64) -> Verdict {
    let slower = slower_than_lookup(verify_us, lookup_us);
    let faster: Vec<&str> = verify_us
        .iter()
        .map(|(alg, _)| *alg)
        .filter(|alg| !slower.contains(alg))
        .collect();
    if slower.is_empty() {
        Verdict::Holds
    } else if faster.is_empty() {
        Verdict::DoesNotHold(format!(
            "every algorithm took longer than a loopback lookup ({lookup_us:.1} µs)"
        ))
    } else {
        Verdict::HoldsWithCaveat(format!(
            "only for {}: {} took as long as or longer than one loopback lookup ({lookup_us:.1} µs)",
            faster.join(", "),
            slower.join(", ")
        ))
    }
}

impl Experiment for VerifyCost {
    fn id(&self) -> &'static str {
        "c6"
    }

    fn title(&self) -> &'static str {
        "Signature check vs one session-store lookup"
    }

    fn claims(&self) -> &'static [&'static str] {
        &["C6"]
    }

    fn estimate(&self, quick: bool) -> Duration {
        Duration::from_secs(if quick { 12 } else { 45 })
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> Outcome<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let (trials, ops, load_for) = if ctx.quick {
                (3, 300, Duration::from_millis(800))
            } else {
                (5, 2_000, Duration::from_secs(3))
            };
            let redis = RedisServer::start()?;
            let metrics = Metrics::new("c6").map_err(err)?;
            let store = RedisStore::new(
                "session store",
                &redis.url(0),
                &RedisClientArgs::default(),
                metrics.store("c6"),
            )
            .map_err(err)?;
            let session = "x".repeat(180);
            store
                .run::<()>(redis::cmd("SET").arg("authlab:session:c6").arg(&session))
                .await
                .map_err(err)?;
            let lookup = redis::cmd("GETEX")
                .arg("authlab:session:c6")
                .arg("PX")
                .arg(1_800_000)
                .to_owned();

            let user = User {
                username: "alice".into(),
                name: "Alice".into(),
                roles: vec!["user".into()],
            };
            let mut variants = Vec::new();
            for alg in SigningAlgorithm::ALL {
                let keys =
                    KeySet::from_file(&KeySetFile::generate(alg).map_err(err)?).map_err(err)?;
                let service = TokenService::new(
                    keys,
                    TokenSettings {
                        access_ttl: Duration::from_secs(600),
                        ..TokenSettings::default()
                    },
                );
                let (token, _) = service.issue(&user, "c6").map_err(err)?;
                variants.push(Variant {
                    name: format!("verify {alg}"),
                    service: Some(service),
                    token,
                });
            }
            variants.push(Variant {
                name: "Redis GETEX (loopback)".into(),
                service: None,
                token: String::new(),
            });

            // In isolation: wall time per operation, one at a time.
            let mut isolated: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
            for trial in 0..trials {
                for (i, variant) in variants.iter().enumerate() {
                    ctx.variant(format!(
                        "isolated, trial {}/{trials}: {}",
                        trial + 1,
                        variant.name
                    ));
                    let t = Instant::now();
                    match &variant.service {
                        Some(service) => {
                            for _ in 0..ops {
                                service.verify(&variant.token).map_err(err)?;
                            }
                        }
                        None => {
                            for _ in 0..ops {
                                store.run::<Option<String>>(&lookup).await.map_err(err)?;
                            }
                        }
                    }
                    isolated[i].push(t.elapsed().as_secs_f64() * 1e6 / ops as f64);
                }
            }

            // Under load: CPU time per operation with the machine busy.
            let cores = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1);
            let me = std::process::id();
            let redis_pid = redis.pid().unwrap_or(0);
            let mut loaded: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
            for trial in 0..trials.min(3) {
                for (i, variant) in variants.iter().enumerate() {
                    ctx.variant(format!(
                        "under load, trial {}/{}: {}",
                        trial + 1,
                        trials.min(3),
                        variant.name
                    ));
                    let (cpu_before, redis_before) = (cpu_time(me), cpu_time(redis_pid));
                    let count = match &variant.service {
                        Some(service) => std::thread::scope(|scope| {
                            let handles: Vec<_> = (0..cores)
                                .map(|_| {
                                    scope.spawn(|| {
                                        let deadline = Instant::now() + load_for;
                                        let mut n = 0u64;
                                        while Instant::now() < deadline {
                                            if service.verify(&variant.token).is_ok() {
                                                n += 1;
                                            }
                                        }
                                        n
                                    })
                                })
                                .collect();
                            handles
                                .into_iter()
                                .map(|h| h.join().unwrap_or(0))
                                .sum::<u64>()
                        }),
                        None => {
                            let deadline = Instant::now() + load_for;
                            let tasks = (0..64).map(|_| {
                                let (store, lookup) = (&store, &lookup);
                                async move {
                                    let mut n = 0u64;
                                    while Instant::now() < deadline {
                                        if store.run::<Option<String>>(lookup).await.is_ok() {
                                            n += 1;
                                        }
                                    }
                                    n
                                }
                            });
                            futures::future::join_all(tasks).await.into_iter().sum()
                        }
                    };
                    let cpu = (cpu_time(me) - cpu_before)
                        + if variant.service.is_none() {
                            cpu_time(redis_pid) - redis_before
                        } else {
                            Duration::ZERO
                        };
                    loaded[i].push(cpu.as_secs_f64() * 1e6 / count.max(1) as f64);
                }
            }
            drop(redis);

            let lookup_isolated = median(&isolated[variants.len() - 1]);
            let lookup_loaded = median(&loaded[variants.len() - 1]);
            let mut table = Table {
                title: format!(
                    "Cost per operation: {trials} interleaved trials of {ops} sequential operations (isolated); CPU per operation with the machine busy for {:.1} s (under load)",
                    load_for.as_secs_f64()
                ),
                columns: ["operation", "isolated µs (median)", "isolated min–max", "vs one lookup", "under load CPU µs (median)", "under load min–max", "vs one lookup"]
                    .map(String::from)
                    .to_vec(),
                rows: Vec::new(),
            };
            let mut isolated_series = Series {
                name: "isolated: wall µs per operation".into(),
                points: Vec::new(),
            };
            let mut loaded_series = Series {
                name: "under load: CPU µs per operation".into(),
                points: Vec::new(),
            };
            let mut verify_us = Vec::new();
            for (i, variant) in variants.iter().enumerate() {
                let (m, (lo, hi)) = (median(&isolated[i]), spread(&isolated[i]));
                let (lm, (llo, lhi)) = (median(&loaded[i]), spread(&loaded[i]));
                if variant.service.is_some() {
                    verify_us.push((variant.name.trim_start_matches("verify "), m));
                }
                table.rows.push(vec![
                    variant.name.clone(),
                    format!("{m:.1}"),
                    format!("{lo:.1}–{hi:.1}"),
                    format!("{:.2}x", m / lookup_isolated.max(1e-9)),
                    format!("{lm:.1}"),
                    format!("{llo:.1}–{lhi:.1}"),
                    format!("{:.2}x", lm / lookup_loaded.max(1e-9)),
                ]);
                isolated_series.points.push(Point {
                    x: variant.name.clone(),
                    y: m,
                    low: Some(lo),
                    high: Some(hi),
                });
                loaded_series.points.push(Point {
                    x: variant.name.clone(),
                    y: lm,
                    low: Some(llo),
                    high: Some(lhi),
                });
            }
            let slower = slower_than_lookup(&verify_us, lookup_isolated);
            let verdict = c6_verdict(&verify_us, lookup_isolated);
            let build = if cfg!(debug_assertions) {
                "debug (unoptimized) build: run a release build for real figures"
            } else {
                "release build"
            };
            Ok(ExperimentResult {
                id: "c6".into(),
                title: self.title().into(),
                claims: vec!["C6".into()],
                question: "Is checking a token's signature faster than looking a session up in a store?".into(),
                setup: format!(
                    "In one process ({build}): the JWT server's full verification (TokenService::verify: header, kid, \
                     signature, claims) for a fresh key of each algorithm, against one GETEX of a 180-byte session on a \
                     loopback redis-server through the servers' own multiplexed client. Isolated: {ops} operations one \
                     at a time, {trials} interleaved trials. Under load: {cores} threads verifying, or 64 concurrent \
                     lookups, for {:.1} s; CPU time of this process (and of redis-server for lookups) divided by operations.",
                    load_for.as_secs_f64()
                ),
                verdicts: vec![ClaimVerdict {
                    claim: "C6".into(),
                    verdict,
                    rule: "holds when every algorithm's median isolated verification is faster than the median isolated \
                           lookup; with a caveat naming the algorithms that are not; does not hold when none is."
                        .into(),
                    evidence: table.rows.iter().map(|r| format!("{} {} µs ({})", r[0], r[1], r[3])).collect::<Vec<_>>().join("; "),
                }],
                tables: vec![table],
                chart: Some(Chart {
                    title: "Microseconds per operation".into(),
                    kind: ChartKind::Bars,
                    x_label: "operation".into(),
                    y_label: "µs per operation".into(),
                    series: vec![isolated_series, loaded_series],
                }),
                lesson: format!(
                    "A loopback store lookup costs about {lookup_isolated:.0} µs of waiting but only about {lookup_loaded:.0} µs \
                     of CPU when pipelined; an HMAC check is a few microseconds of CPU, while the public-key algorithms \
                     ({}) cost more. \"Signatures are faster than a lookup\" depends on the algorithm and on what you \
                     count: waiting time or CPU.",
                    slower.join(", ")
                ),
                raw: json!({
                    "variants": variants.iter().map(|v| v.name.clone()).collect::<Vec<_>>(),
                    "isolated_us": isolated, "loaded_cpu_us": loaded, "ops": ops, "trials": trials,
                    "load_seconds": load_for.as_secs_f64(), "cores": cores, "build": build
                }),
                seconds: started.elapsed().as_secs_f64(),
                error: None,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c6_rule() {
        let lookup = 30.0;
        assert_eq!(
            c6_verdict(&[("HS256", 2.0), ("EdDSA", 29.9)], lookup),
            Verdict::Holds
        );
        // As long as the lookup counts as slower: the claim says "faster".
        assert_eq!(
            c6_verdict(&[("HS256", 2.0), ("RS256", 30.0), ("ES256", 45.0)], lookup),
            Verdict::HoldsWithCaveat(
                "only for HS256: RS256, ES256 took as long as or longer than one loopback lookup (30.0 µs)"
                    .into()
            )
        );
        assert_eq!(
            c6_verdict(&[("RS256", 30.0), ("ES256", 45.0)], lookup),
            Verdict::DoesNotHold(
                "every algorithm took longer than a loopback lookup (30.0 µs)".into()
            )
        );
    }
}
