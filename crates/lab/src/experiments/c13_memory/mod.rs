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

use crate::experiment::Outcome;
use crate::experiment::RunContext;
use crate::experiment::Runnable;
use crate::kit::err;
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

/// The key patterns of the JWT stack's refresh-token state (see
/// `jwt_server::refresh`): everything a JWT login writes to the store.
const REFRESH_PATTERNS: [&str; 4] = [
    "authlab:refresh:*",
    "authlab:refresh-family:*",
    "authlab:user-families:*",
    "authlab:refresh-dpop:*",
];

/// Deletes every key matching `pattern` in the store `store` points at;
/// returns how many it deleted.
async fn delete_matching(store: &RedisStore, pattern: &str) -> Result<u64, LabError> {
    let mut cursor = 0u64;
    let mut deleted = 0;
    // A SCAN ends when the cursor comes back to 0; the bound only guards
    // against a store that never says so.
    for _ in 0..100_000 {
        let (next, keys): (u64, Vec<String>) = store
            .run(
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(1000),
            )
            .await
            .map_err(err)?;
        if !keys.is_empty() {
            deleted += store
                .run::<u64>(redis::cmd("DEL").arg(&keys))
                .await
                .map_err(err)?;
        }
        if next == 0 {
            return Ok(deleted);
        }
        cursor = next;
    }
    Err(err(format!("SCAN {pattern} did not finish")))
}

/// `used_memory` once it has stopped moving for a second: after a mass
/// delete Redis shrinks its key tables in its cron (10 times a second), and
/// frees the query buffer the DELs grew only once their client has been
/// idle for 2 s, so a read right after the DELs would count memory that no
/// login keeps. Bounded at 8.5 s: a store that never settles gives its last
/// reading.
async fn settled_used_memory(store: &RedisStore) -> Result<u64, LabError> {
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let mut last = used_memory(store).await?;
    let mut unchanged = 0;
    for _ in 0..24 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = used_memory(store).await?;
        unchanged = if now == last { unchanged + 1 } else { 0 };
        last = now;
        if unchanged == 4 {
            break;
        }
    }
    Ok(last)
}

/// What c13 measured, per stack: the figures its rule and headline read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryFigures {
    pub session_logins: usize,
    pub jwt_logins: usize,
    /// Store bytes per session login.
    pub session_bytes_per_login: f64,
    /// Store bytes per JWT login, the stack as built (with its refresh token).
    pub jwt_bytes_per_login: f64,
    /// Store bytes the same JWT logins left once their refresh-token keys
    /// were deleted: what an access token alone costs the store.
    pub access_only_bytes_per_login: f64,
}

/// Below this share of a session's store bytes a JWT login counts as costing
/// none: `used_memory` moves by a few bytes per login whenever Redis resizes
/// a key table, whoever wrote the keys.
const NONE_SHARE: f64 = 0.1;

/// C13's rule. The claim is judged on the JWT stack as built, refresh
/// tokens included (C10: staying logged in needs them); the access-token-only
/// figure is shown beside it and counts only where it also grew the store.
pub fn c13_verdict(f: &MemoryFigures) -> Verdict {
    let none = NONE_SHARE * f.session_bytes_per_login;
    if f.session_logins == 0 || f.jwt_logins == 0 {
        Verdict::Inconclusive("logins failed".into())
    } else if f.session_bytes_per_login <= 0.0 {
        Verdict::DoesNotHold("sessions did not grow the store".into())
    } else if f.access_only_bytes_per_login > none {
        Verdict::DoesNotHold(format!(
            "even with their refresh-token keys deleted, JWT logins left {:.0} B each in the store (a session: {:.0} B)",
            f.access_only_bytes_per_login, f.session_bytes_per_login
        ))
    } else if f.jwt_bytes_per_login > none {
        Verdict::DoesNotHold(format!(
            "the JWT stack as built costs {:.0} B of store memory per login against {:.0} B per session: its refresh \
             tokens, which staying logged in needs (C10), are server state; its access tokens alone cost {:.0} B per \
             login",
            f.jwt_bytes_per_login, f.session_bytes_per_login, f.access_only_bytes_per_login
        ))
    } else {
        Verdict::Holds
    }
}

/// The one figure of the run for the first screen.
pub fn c13_headline(f: &MemoryFigures) -> String {
    if f.session_logins == 0 || f.jwt_logins == 0 {
        return format!(
            "{} session and {} JWT logins succeeded",
            f.session_logins, f.jwt_logins
        );
    }
    format!(
        "store per login: session {:.0} B, JWT as built {:.0} B (access token alone {:.0} B)",
        f.session_bytes_per_login, f.jwt_bytes_per_login, f.access_only_bytes_per_login
    )
}

const C13_RULE: &str = "judged on the JWT stack as built (refresh tokens included). Inconclusive when every login of \
    either stack failed; does not hold when session logins did not grow the store, or when JWT logins grew it by more \
    than 10% of a session's bytes, as built or with their refresh-token keys deleted; holds otherwise. Node RSS is \
    reported, not judged.";

/// What the design decides in c13, not the run.
const C13_BY_DESIGN: &str = "The JWT server never writes an access token to the store, and it always issues a refresh \
    token with one: there is no configuration without refresh tokens to measure. The access-token-only figure is \
    therefore the same JWT logins measured again after deleting their refresh-token keys (refresh, family, user index, \
    DPoP binding), which shows what else a login left; running the stack without refresh tokens would take a server \
    mode that skips them at login and refuses /token/refresh.";

impl Runnable for MemoryPerUser {
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
        Duration::from_secs(if quick { 8 } else { 20 })
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

            let token_store = RedisStore::new(
                "token store",
                &cluster.store_url(1),
                &RedisClientArgs::default(),
                metrics.store("c13"),
            )
            .map_err(err)?;
            let tokens_before: u64 = token_store.run(&redis::cmd("DBSIZE")).await.map_err(err)?;

            let mut measured = Vec::new();
            let mut jwt_memory_before = 0;
            for stack in [Stack::Session, Stack::Jwt] {
                ctx.variant(format!("{stack}: logging {users} users in"));
                let pid = if stack == Stack::Session {
                    session_pid
                } else {
                    jwt_pid
                };
                let (memory_before, rss_before) = (used_memory(&store).await?, rss_of(pid));
                jwt_memory_before = memory_before;
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
            // The access-token-only variant: the JWT server cannot run
            // without refresh tokens, so the same logins are measured again
            // with their refresh-token state gone; whatever else a login
            // wrote stays and shows.
            ctx.variant("JWT: deleting the logins' refresh-token keys");
            let tokens_after: u64 = token_store.run(&redis::cmd("DBSIZE")).await.map_err(err)?;
            let mut refresh_keys = Vec::new();
            for pattern in REFRESH_PATTERNS {
                refresh_keys.push((pattern, delete_matching(&token_store, pattern).await?));
            }
            let tokens_left: u64 = token_store.run(&redis::cmd("DBSIZE")).await.map_err(err)?;
            let access_only_store =
                settled_used_memory(&store).await? as i64 - jwt_memory_before as i64;
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

            let per = |bytes: i64, n: usize| if n == 0 { 0.0 } else { bytes as f64 / n as f64 };
            let (_, session_n, session_store, session_rss_delta, session_rss) = measured[0];
            let (_, jwt_n, jwt_store, jwt_rss_delta, jwt_rss) = measured[1];
            let session_per = per(session_store as i64, session_n);
            let jwt_per = per(jwt_store as i64, jwt_n);
            let access_per = per(access_only_store, jwt_n);
            let figures = MemoryFigures {
                session_logins: session_n,
                jwt_logins: jwt_n,
                session_bytes_per_login: session_per,
                jwt_bytes_per_login: jwt_per,
                access_only_bytes_per_login: access_per,
            };
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
                        "JWT as built (access + refresh token)".into(),
                        jwt_n.to_string(),
                        format!("{jwt_per:.0}"),
                        format!("{:.1}", mib(jwt_per * 100_000.0)),
                        format!("{:.0}", mib(jwt_per * 1_000_000.0)),
                        format!("{:+.1} MiB", jwt_rss_delta as f64 / 1_048_576.0),
                        format!("{:.1} MiB", mib(jwt_rss as f64)),
                    ],
                    vec![
                        "JWT, access token only (the same logins, refresh-token keys deleted)".into(),
                        jwt_n.to_string(),
                        format!("{access_per:.0}"),
                        format!("{:.1}", mib(access_per * 100_000.0)),
                        format!("{:.0}", mib(access_per * 1_000_000.0)),
                        "—".into(),
                        "—".into(),
                    ],
                ],
            };
            let token_keys = Table {
                title: "The JWT logins' keys in the token store (db 1)".into(),
                columns: vec!["keys".into(), "count".into()],
                rows: [
                    vec!["before the JWT logins".into(), tokens_before.to_string()],
                    vec!["after the JWT logins".into(), tokens_after.to_string()],
                ]
                .into_iter()
                .chain(
                    refresh_keys
                        .iter()
                        .map(|(pattern, n)| vec![format!("deleted: {pattern}"), n.to_string()]),
                )
                .chain([vec![
                    "left after the deletion (not refresh-token state)".into(),
                    tokens_left.to_string(),
                ]])
                .collect(),
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
                        name: "JWT as built: refresh-token state".into(),
                        points: vec![point("JWT as built", jwt_per)],
                    },
                    Series {
                        name: "JWT, access token only".into(),
                        points: vec![point("JWT, access token only", access_per)],
                    },
                ],
            };
            let verdict = c13_verdict(&figures);
            Ok(ExperimentResult {
                id: "c13".into(),
                title: self.title().into(),
                claims: vec!["C13".into()],
                question: "Do sessions cost server-side memory per logged-in user while JWTs cost none?".into(),
                setup: format!(
                    "A cluster with one node per stack, {users} load users seeded. Each of them logs in on the session \
                     stack, then on the JWT stack (16 at a time, through HAProxy). Before and after each batch: the session \
                     store's used_memory (Redis INFO memory; sessions live in db 0, refresh tokens in db 1 of the same \
                     server) and the node's VmRSS. Then the JWT logins' refresh-token keys are deleted and used_memory is \
                     read again once Redis has shrunk its key tables: the access-token-only row. Per-100k and per-1M figures are linear projections of the measured \
                     per-login cost, not measurements. A node's RSS includes Argon2's working memory: each concurrent \
                     login hashes (1 MiB at the load-test cost) on a thread of the node's blocking pool, which keeps \
                     one such block per thread for the thread's life (docs/performance.md, \"Where a login's memory \
                     goes\")."
                ),
                verdicts: vec![ClaimVerdict {
                    headline: c13_headline(&figures),
                    by_design: Some(C13_BY_DESIGN.into()),
                    claim: "C13".into(),
                    verdict,
                    rule: C13_RULE.into(),
                    evidence: format!(
                        "session: {session_per:.0} B per login ({session_n} logins); JWT as built: {jwt_per:.0} B per \
                         login ({jwt_n} logins); JWT with the refresh-token keys deleted: {access_per:.0} B per login \
                         ({tokens_left} keys left in the token store); one session key {session_key_bytes} B + index \
                         {index_key_bytes} B"
                    ),
                }],
                tables: vec![table, token_keys, keys],
                chart: Some(chart),
                lesson: format!(
                    "A session cost about {session_per:.0} bytes of store memory here, about {:.0} MiB per million logged-in \
                     users (a projection). A login on the JWT stack as built cost {jwt_per:.0} B; with its refresh-token \
                     keys deleted, {access_per:.0} B{} The nodes' RSS changed by {:+.1} MiB (session) and {:+.1} MiB \
                     (JWT) over these logins.",
                    mib(session_per * 1_000_000.0),
                    if access_per <= NONE_SHARE * session_per {
                        ": what costs is not the access token but the refresh token that lets the login last, which \
                         is server state."
                    } else {
                        ", so something besides the refresh token stays in the store per login."
                    },
                    session_rss_delta as f64 / 1_048_576.0,
                    jwt_rss_delta as f64 / 1_048_576.0
                ),
                summary: Some(Summary::Memory(MemorySummary {
                    session_bytes_per_login: session_per,
                    jwt_bytes_per_login: jwt_per,
                })),
                raw: json!({
                    "users": users,
                    "session": {"logins": session_n, "store_bytes": session_store, "rss_delta": session_rss_delta, "rss_after": session_rss},
                    "jwt": {"logins": jwt_n, "store_bytes": jwt_store, "rss_delta": jwt_rss_delta, "rss_after": jwt_rss,
                            "access_only_store_bytes": access_only_store,
                            "token_keys": {"before": tokens_before, "after": tokens_after, "left": tokens_left,
                                           "deleted": refresh_keys.iter().map(|(p, n)| json!({"pattern": p, "keys": n})).collect::<Vec<_>>()}},
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

    fn figures(session: f64, jwt: f64, access: f64) -> MemoryFigures {
        MemoryFigures {
            session_logins: 2_000,
            jwt_logins: 2_000,
            session_bytes_per_login: session,
            jwt_bytes_per_login: jwt,
            access_only_bytes_per_login: access,
        }
    }

    #[test]
    fn c13_rule() {
        // A JWT stack that keeps nothing per login (none today: see
        // C13_BY_DESIGN); a few bytes of table resizing are "none".
        assert_eq!(c13_verdict(&figures(676.0, 0.0, 0.0)), Verdict::Holds);
        assert_eq!(c13_verdict(&figures(676.0, 60.0, -3.0)), Verdict::Holds);
        // The sample run: the stack as built costs as much as sessions.
        assert_eq!(
            c13_verdict(&figures(676.0, 670.0, 1.0)),
            Verdict::DoesNotHold(
                "the JWT stack as built costs 670 B of store memory per login against 676 B per session: its refresh \
                 tokens, which staying logged in needs (C10), are server state; its access tokens alone cost 1 B per \
                 login"
                    .into()
            )
        );
        assert!(matches!(
            c13_verdict(&figures(676.0, 68.0, 0.0)),
            Verdict::DoesNotHold(m) if m.starts_with("the JWT stack as built")
        ));
        assert_eq!(
            c13_verdict(&figures(0.0, 0.0, 0.0)),
            Verdict::DoesNotHold("sessions did not grow the store".into())
        );
        assert!(matches!(
            c13_verdict(&figures(-5.0, 0.0, 0.0)),
            Verdict::DoesNotHold(_)
        ));
        let failed = MemoryFigures {
            session_logins: 0,
            ..figures(676.0, 0.0, 0.0)
        };
        assert_eq!(
            c13_verdict(&failed),
            Verdict::Inconclusive("logins failed".into())
        );
        assert!(matches!(
            c13_verdict(&MemoryFigures {
                jwt_logins: 0,
                ..figures(0.0, 0.0, 0.0)
            }),
            Verdict::Inconclusive(_)
        ));
        assert_eq!(
            c13_headline(&figures(676.2, 669.6, 0.4)),
            "store per login: session 676 B, JWT as built 670 B (access token alone 0 B)"
        );
        assert_eq!(
            c13_headline(&failed),
            "0 session and 2000 JWT logins succeeded"
        );
    }

    /// A broken set-up: a JWT stack that writes something per login besides
    /// its refresh token (say, every access token's id) must not pass as
    /// "access tokens cost none".
    #[test]
    fn state_left_beside_the_refresh_token_turns_the_verdict() {
        assert!(matches!(
            c13_verdict(&figures(676.0, 900.0, 230.0)),
            Verdict::DoesNotHold(m) if m.starts_with("even with their refresh-token keys deleted, JWT logins left 230 B")
        ));
        assert!(matches!(
            c13_verdict(&figures(676.0, 60.0, 200.0)),
            Verdict::DoesNotHold(m) if m.contains("left 200 B each")
        ));
    }
}
