//! c13's one stage that talks to processes: log the users in on each stack,
//! read what the store and the nodes grew by, then delete the JWT logins'
//! refresh-token state and read the store again.

use std::time::Duration;

use authlab_client::ApiClient;
use authlab_core::{
    directory::LOAD_PASSWORD,
    metrics::Metrics,
    redis_client::{RedisClientArgs, RedisStore},
};
use futures::{stream, StreamExt};
use serde::Serialize;

use crate::{experiment::RunContext, kit::err, process, Cluster, LabError, Stack};

/// Every figure c13 read, as it read it.
#[derive(Serialize)]
pub struct Raw {
    pub users: usize,
    pub session: StackMemory,
    pub jwt: StackMemory,
    /// Store bytes the JWT logins left once their refresh-token keys were
    /// deleted (the settled `used_memory` minus `jwt.store_before`).
    pub access_only_store_bytes: i64,
    pub token_keys: TokenKeys,
    pub memory_usage: KeyUsage,
}

/// One stack's logins and what they grew.
#[derive(Serialize)]
pub struct StackMemory {
    pub logins: usize,
    /// `used_memory` before this stack's logins.
    pub store_before: u64,
    pub store_bytes: u64,
    pub rss_delta: i64,
    pub rss_after: u64,
}

/// The token store's key counts around the JWT logins and the deletion.
#[derive(Serialize)]
pub struct TokenKeys {
    pub before: u64,
    pub after: u64,
    pub left: u64,
    pub deleted: Vec<Deleted>,
}

#[derive(Serialize)]
pub struct Deleted {
    pub pattern: &'static str,
    pub keys: u64,
}

/// `MEMORY USAGE` of one session's keys.
#[derive(Serialize)]
pub struct KeyUsage {
    pub session_key: u64,
    pub index_key: u64,
}

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

async fn key_count(store: &RedisStore) -> Result<u64, LabError> {
    store.run(&redis::cmd("DBSIZE")).await.map_err(err)
}

/// The run: one cluster, the session logins, the JWT logins, then the JWT
/// logins' refresh-token state deleted and the store read once it settles.
pub async fn measure(ctx: &RunContext, users: usize) -> Result<Raw, LabError> {
    ctx.variant(format!("starting a cluster with {users} load users"));
    let mut spec = ctx.spec();
    spec.nodes = 1;
    spec.seed_users = users;
    let cluster = ctx.cluster(spec).await?;
    let metrics = Metrics::new("c13").map_err(err)?;
    let open = |name: &'static str, db: u8| {
        RedisStore::new(
            name,
            &cluster.store_url(db),
            &RedisClientArgs::default(),
            metrics.store("c13"),
        )
        .map_err(err)
    };
    let store = open("session store", 0)?;
    let client = ApiClient::new();
    let token_store = open("token store", 1)?;
    let before = key_count(&token_store).await?;

    let session = log_in_stack(ctx, &client, &*cluster, &store, Stack::Session, users).await?;
    let jwt = log_in_stack(ctx, &client, &*cluster, &store, Stack::Jwt, users).await?;
    // The access-token-only variant: the JWT server cannot run without
    // refresh tokens, so the same logins are measured again with their
    // refresh-token state gone; whatever else a login wrote stays and shows.
    ctx.variant("JWT: deleting the logins' refresh-token keys");
    let after = key_count(&token_store).await?;
    let mut deleted = Vec::new();
    for pattern in REFRESH_PATTERNS {
        let keys = delete_matching(&token_store, pattern).await?;
        deleted.push(Deleted { pattern, keys });
    }
    let left = key_count(&token_store).await?;
    let access_only_store_bytes =
        settled_used_memory(&store).await? as i64 - jwt.store_before as i64;
    let memory_usage = key_usage(&store).await?;
    cluster.shutdown();
    Ok(Raw {
        users,
        session,
        jwt,
        access_only_store_bytes,
        token_keys: TokenKeys {
            before,
            after,
            left,
            deleted,
        },
        memory_usage,
    })
}

/// Logs every user in on `stack` and reads the store and the node around it.
async fn log_in_stack(
    ctx: &RunContext,
    client: &ApiClient,
    cluster: &dyn Cluster,
    store: &RedisStore,
    stack: Stack,
    users: usize,
) -> Result<StackMemory, LabError> {
    ctx.variant(format!("{stack}: logging {users} users in"));
    let pid = cluster.nodes(stack)[0].pid();
    let (memory_before, rss_before) = (used_memory(store).await?, rss_of(pid));
    let logins = log_in_all(client, &cluster.url(stack, "")?, users).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (memory_after, rss_after) = (used_memory(store).await?, rss_of(pid));
    Ok(StackMemory {
        logins,
        store_before: memory_before,
        store_bytes: memory_after.saturating_sub(memory_before),
        rss_delta: rss_after as i64 - rss_before as i64,
        rss_after,
    })
}

/// `MEMORY USAGE` of the first session key SCAN finds and of user0's index.
async fn key_usage(store: &RedisStore) -> Result<KeyUsage, LabError> {
    let usage = |key: String| async move {
        store
            .run::<Option<u64>>(redis::cmd("MEMORY").arg("USAGE").arg(&key))
            .await
            .ok()
            .flatten()
            .unwrap_or(0)
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
    let session_key = match sessions.into_iter().next() {
        Some(key) => usage(key).await,
        None => 0,
    };
    let index_key = usage("authlab:user-sessions:user0".into()).await;
    Ok(KeyUsage {
        session_key,
        index_key,
    })
}
