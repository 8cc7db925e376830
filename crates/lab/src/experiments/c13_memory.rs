//! c13 — what a logged-in user costs in memory, on each side.
//!
//! Logs N load users in on each stack of a real cluster and reads what grew:
//! the session store's `used_memory` (Redis `INFO memory`), `MEMORY USAGE` of
//! one session and its index entry, and the resident memory of each node.
//! The JWT stack's access tokens live only on the client; its refresh tokens,
//! however, are server state too, and are measured the same way.

use std::time::{Duration, Instant};

use authlab_client::ApiClient;
use authlab_core::{
    directory::LOAD_PASSWORD,
    metrics::Metrics,
    redis_client::{RedisClientArgs, RedisStore},
};
use futures::{stream, StreamExt};
use serde_json::json;

use super::{err, Experiment, Outcome, RunContext};
use crate::{
    process,
    results::{Chart, ChartKind, ClaimVerdict, ExperimentResult, Point, Series, Table, Verdict},
    summaries::{MemorySummary, Summary},
    Cluster, ClusterSpec, LabError, Stack,
};

pub struct MemoryPerUser;

/// A node's RSS, 0 when it cannot be read (the table then shows no growth).
fn rss_of(pid: Option<u32>) -> u64 {
    pid.and_then(process::rss_bytes).unwrap_or(0)
}

async fn used_memory(store: &RedisStore) -> Result<u64, LabError> {
    let info: String = store
        .run(redis::cmd("INFO").arg("memory"))
        .await
        .map_err(err)?;
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| err("INFO memory has no used_memory"))
}

/// Logs users `user0..user{n-1}` in on `base`, 16 at a time; returns how many succeeded.
async fn log_in_all(client: &ApiClient, base: &str, n: usize) -> usize {
    stream::iter(0..n)
        .map(|i| async move {
            client
                .login_response(base, &format!("user{i}"), LOAD_PASSWORD)
                .await
                .status()
                .is_success()
        })
        .buffer_unordered(16)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await
}

/// C13's rule, from the successful logins on each stack and the store bytes
/// each stack's logins added, per login.
pub fn c13_verdict(
    session_logins: usize,
    jwt_logins: usize,
    session_bytes_per_login: f64,
    jwt_bytes_per_login: f64,
) -> Verdict {
    if session_logins == 0 || jwt_logins == 0 {
        Verdict::Inconclusive("logins failed".into())
    } else if session_bytes_per_login <= 0.0 {
        Verdict::DoesNotHold("sessions did not grow the store".into())
    } else if jwt_bytes_per_login > 0.0 {
        Verdict::HoldsWithCaveat(format!(
            "sessions cost {session_bytes_per_login:.0} B each in the store; JWT access tokens cost nothing there, but refresh \
             tokens do ({jwt_bytes_per_login:.0} B per login): \"none\" holds only for a stack without refresh tokens"
        ))
    } else {
        Verdict::Holds
    }
}

impl Experiment for MemoryPerUser {
    fn id(&self) -> &'static str {
        "c13"
    }

    fn title(&self) -> &'static str {
        "Server-side memory per logged-in user"
    }

    fn claims(&self) -> &'static [&'static str] {
        &["C13"]
    }

    fn estimate(&self, quick: bool) -> Duration {
        Duration::from_secs(if quick { 10 } else { 60 })
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> Outcome<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let users = if ctx.quick { 2_000 } else { 20_000 };
            ctx.variant(format!("starting a cluster with {users} load users"));
            let mut spec = ClusterSpec::new(ctx.launcher.clone());
            spec.nodes = 1;
            spec.seed_users = users;
            let cluster = Cluster::start(spec).await?;
            let metrics = Metrics::new("c13").map_err(err)?;
            let store = RedisStore::new(
                "session store",
                &cluster.store_url(0),
                &RedisClientArgs::default(),
                metrics.store("c13"),
            )
            .map_err(err)?;
            let client = ApiClient::new();
            let session_pid = cluster.nodes(Stack::Session)[0].pid();
            let jwt_pid = cluster.nodes(Stack::Jwt)[0].pid();

            let mut measured = Vec::new();
            for stack in [Stack::Session, Stack::Jwt] {
                ctx.variant(format!("{stack}: logging {users} users in"));
                let pid = if stack == Stack::Session {
                    session_pid
                } else {
                    jwt_pid
                };
                let (memory_before, rss_before) = (used_memory(&store).await?, rss_of(pid));
                let logged_in = log_in_all(&client, &cluster.url(stack, "")?, users).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
                let (memory_after, rss_after) = (used_memory(&store).await?, rss_of(pid));
                measured.push((
                    stack,
                    logged_in,
                    memory_after.saturating_sub(memory_before),
                    rss_after as i64 - rss_before as i64,
                    rss_after,
                ));
            }
            let key_usage = |key: String| {
                let store = &store;
                async move {
                    store
                        .run::<Option<u64>>(redis::cmd("MEMORY").arg("USAGE").arg(&key))
                        .await
                        .ok()
                        .flatten()
                        .unwrap_or(0)
                }
            };
            let (_, sessions): (String, Vec<String>) = store
                .run(
                    redis::cmd("SCAN")
                        .arg(0)
                        .arg("MATCH")
                        .arg("authlab:session:*")
                        .arg("COUNT")
                        .arg(1000),
                )
                .await
                .map_err(err)?;
            let session_key = sessions.into_iter().next();
            let session_key_bytes = match session_key {
                Some(key) => key_usage(key).await,
                None => 0,
            };
            let index_key_bytes = key_usage("authlab:user-sessions:user0".into()).await;
            cluster.shutdown();

            let per = |bytes: u64, n: usize| if n == 0 { 0.0 } else { bytes as f64 / n as f64 };
            let (_, session_n, session_store, session_rss_delta, session_rss) = measured[0];
            let (_, jwt_n, jwt_store, jwt_rss_delta, jwt_rss) = measured[1];
            let session_per = per(session_store, session_n);
            let jwt_per = per(jwt_store, jwt_n);
            let mib = |b: f64| b / 1_048_576.0;
            let table = Table {
                title: format!("Memory after logging {users} users in on each stack (store: Redis used_memory delta; node: VmRSS)"),
                columns: ["", "users logged in", "store bytes per login", "store MiB per 100k (projection)", "store MiB per 1M (projection)", "node RSS change", "node RSS after"]
                    .map(String::from)
                    .to_vec(),
                rows: vec![
                    vec![
                        "session (Redis store)".into(),
                        session_n.to_string(),
                        format!("{session_per:.0}"),
                        format!("{:.1}", mib(session_per * 100_000.0)),
                        format!("{:.0}", mib(session_per * 1_000_000.0)),
                        format!("{:+.1} MiB", session_rss_delta as f64 / 1_048_576.0),
                        format!("{:.1} MiB", mib(session_rss as f64)),
                    ],
                    vec![
                        "JWT (refresh-token state)".into(),
                        jwt_n.to_string(),
                        format!("{jwt_per:.0}"),
                        format!("{:.1}", mib(jwt_per * 100_000.0)),
                        format!("{:.0}", mib(jwt_per * 1_000_000.0)),
                        format!("{:+.1} MiB", jwt_rss_delta as f64 / 1_048_576.0),
                        format!("{:.1} MiB", mib(jwt_rss as f64)),
                    ],
                ],
            };
            let keys = Table {
                title: "MEMORY USAGE of one session's keys".into(),
                columns: vec!["key".into(), "bytes".into()],
                rows: vec![
                    vec![
                        "authlab:session:<id> (the session)".into(),
                        session_key_bytes.to_string(),
                    ],
                    vec![
                        "authlab:user-sessions:<user> (index, one member)".into(),
                        index_key_bytes.to_string(),
                    ],
                ],
            };
            let point = |x: &str, y: f64| Point {
                x: x.into(),
                y,
                low: None,
                high: None,
            };
            let chart = Chart {
                title: "Store memory per logged-in user".into(),
                kind: ChartKind::Bars,
                x_label: "stack".into(),
                y_label: "bytes per login in the session store".into(),
                series: vec![
                    Series {
                        name: "session: the session itself".into(),
                        points: vec![point("session", session_per)],
                    },
                    Series {
                        name: "JWT: refresh-token state only".into(),
                        points: vec![point("JWT", jwt_per)],
                    },
                ],
            };
            let verdict = c13_verdict(session_n, jwt_n, session_per, jwt_per);
            Ok(ExperimentResult {
                id: "c13".into(),
                title: self.title().into(),
                claims: vec!["C13".into()],
                question: "Do sessions cost server-side memory per logged-in user while JWTs cost none?".into(),
                setup: format!(
                    "A cluster with one node per stack, {users} load users seeded. Each of them logs in on the session \
                     stack, then on the JWT stack (16 at a time, through HAProxy). Before and after each batch: the session \
                     store's used_memory (Redis INFO memory; sessions live in db 0, refresh tokens in db 1 of the same \
                     server) and the node's VmRSS. Per-100k and per-1M figures are linear projections of the measured \
                     per-login cost, not measurements. A node's RSS grows during the logins for a reason that is not \
                     session state: each concurrent login runs Argon2 (1 MiB at the load-test cost) on a blocking thread, and \
                     the allocator keeps that memory; compare the two nodes, not the absolute growth."
                ),
                verdicts: vec![ClaimVerdict {
                    headline: String::new(),
                    by_design: None,
                    claim: "C13".into(),
                    verdict,
                    rule: "holds when session logins grow the store and JWT logins do not; with a caveat when JWT logins \
                           also grow it (refresh tokens); does not hold when session logins do not grow it; inconclusive \
                           when every login of either stack failed. Node RSS is reported, not judged."
                        .into(),
                    evidence: format!(
                        "session: {session_per:.0} B per login ({session_n} logins); JWT: {jwt_per:.0} B per login ({jwt_n} logins); \
                         one session key {session_key_bytes} B + index {index_key_bytes} B"
                    ),
                }],
                tables: vec![table, keys],
                chart: Some(chart),
                lesson: format!(
                    "A session cost about {session_per:.0} bytes of store memory here, about {:.0} MiB per million logged-in \
                     users (a projection). {}",
                    mib(session_per * 1_000_000.0),
                    if jwt_per > 0.0 {
                        format!(
                            "A JWT login cost {jwt_per:.0} B: not the access token, which the server does not keep, but \
                             the refresh token that lets the login last, which is server state again."
                        )
                    } else {
                        "A JWT login left nothing in the store.".to_owned()
                    }
                ),
                summary: Some(Summary::Memory(MemorySummary {
                    session_bytes_per_login: session_per,
                    jwt_bytes_per_login: jwt_per,
                })),
                raw: json!({
                    "users": users,
                    "session": {"logins": session_n, "store_bytes": session_store, "rss_delta": session_rss_delta, "rss_after": session_rss},
                    "jwt": {"logins": jwt_n, "store_bytes": jwt_store, "rss_delta": jwt_rss_delta, "rss_after": jwt_rss},
                    "memory_usage": {"session_key": session_key_bytes, "index_key": index_key_bytes}
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
    fn c13_rule() {
        assert_eq!(c13_verdict(2_000, 2_000, 250.0, 0.0), Verdict::Holds);
        assert_eq!(c13_verdict(1, 1, 0.1, 0.0), Verdict::Holds);
        assert_eq!(
            c13_verdict(2_000, 2_000, 250.0, 120.0),
            Verdict::HoldsWithCaveat(
                "sessions cost 250 B each in the store; JWT access tokens cost nothing there, but refresh tokens do \
                 (120 B per login): \"none\" holds only for a stack without refresh tokens"
                    .into()
            )
        );
        assert!(matches!(
            c13_verdict(2_000, 2_000, 250.0, 0.1),
            Verdict::HoldsWithCaveat(_)
        ));
        assert_eq!(
            c13_verdict(2_000, 2_000, 0.0, 0.0),
            Verdict::DoesNotHold("sessions did not grow the store".into())
        );
        assert!(matches!(
            c13_verdict(2_000, 2_000, -5.0, 0.0),
            Verdict::DoesNotHold(_)
        ));
        assert_eq!(
            c13_verdict(0, 2_000, 250.0, 0.0),
            Verdict::Inconclusive("logins failed".into())
        );
        assert!(matches!(
            c13_verdict(2_000, 0, 0.0, 0.0),
            Verdict::Inconclusive(_)
        ));
    }
}
