//! The outage runs: a fresh cluster per trial, goose browsing both stacks,
//! two clients logging in and rotating refresh tokens on the JWT stack, and
//! the store stopped and started again under them.
//!
//! The faults run on the cluster's own task, the load beside it, so the
//! stop and the restart land at the same second of every run; the sessions
//! are counted with writes paused just before the stop and again right
//! after the restart.

use harness::spec::JwtOptions;
use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use serde_json::json;

use super::analysis::{bucketed, OutageRun, Persistence};
use crate::{
    experiment::RunContext,
    kit::{
        behaviour::{finished, plan, USERS},
        err,
    },
    Cluster, LabError, Stack,
};

/// Clients logging in and rotating refresh tokens on the JWT stack beside
/// the browsing: few and paced, so they stay far from the stack's capacity.
pub const STORE_CALLERS: usize = 2;
pub const STORE_CALL_PAUSE: Duration = Duration::from_millis(250);
/// A call that takes longer failed (a store that stopped answering can hold
/// a request until the node's own store timeout).
pub const STORE_CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// Each client's bound on calls, whatever the clock says.
const STORE_CALLS_MAX: usize = 1_000;

/// One client's JWT logins and refresh rotations until `until` after
/// `started`: each round logs in, then rotates the refresh token it holds
/// (the one from its last successful login or rotation). A refused refresh
/// token (lost with the store's data) is dropped; the next login replaces
/// it. Returns (second, login?, ok) per call.
async fn store_caller(
    http: reqwest::Client,
    base: String,
    user: String,
    started: Instant,
    until: Duration,
) -> Vec<(u64, bool, bool)> {
    let mut calls = Vec::new();
    let mut held: Option<String> = None;
    let second = || started.elapsed().as_secs();
    let refresh_token = |body: Option<serde_json::Value>| {
        body.and_then(|b| b["refresh_token"].as_str().map(str::to_owned))
    };
    while started.elapsed() < until && calls.len() < STORE_CALLS_MAX {
        let login = http
            .post(format!("{base}/login"))
            .json(&json!({ "username": user, "password": authlab_core::directory::LOAD_PASSWORD }))
            .send()
            .await;
        let token = match login {
            Ok(r) if r.status().is_success() => refresh_token(r.json().await.ok()),
            _ => None,
        };
        calls.push((second(), true, token.is_some()));
        if held.is_none() {
            held = token;
        }
        if let Some(current) = held.take() {
            let refreshed = http
                .post(format!("{base}/token/refresh"))
                .json(&json!({ "refresh_token": current }))
                .send()
                .await;
            let (ok, next) = match refreshed {
                Ok(r) if r.status().is_success() => {
                    let next = refresh_token(r.json().await.ok());
                    (next.is_some(), next)
                }
                // Refused: the token is spent or gone; a later login replaces it.
                Ok(r) if r.status().is_client_error() => (false, None),
                // No answer or a 5xx: the token may still be good.
                _ => (false, Some(current)),
            };
            calls.push((second(), false, ok));
            held = next;
        }
        tokio::time::sleep(STORE_CALL_PAUSE).await;
    }
    calls
}

/// The access-token lifetime the cluster's JWT nodes run with, read as the
/// nodes read their flags and environment.
fn access_ttl(jwt: &JwtOptions) -> Result<Duration, LabError> {
    jwt.node_config()
        .map(|config| config.access_ttl)
        .map_err(|e| err(format!("reading the JWT nodes' flags: {e}")))
}

const SESSION_KEYS: &str = "authlab:session:*";

/// The session keys in the store. KEYS blocks Redis while it walks the
/// keyspace; this store holds a few dozen keys, so that is microseconds.
async fn session_keys(
    conn: &mut redis::aio::MultiplexedConnection,
) -> Result<Vec<String>, LabError> {
    redis::cmd("KEYS")
        .arg(SESSION_KEYS)
        .query_async(conn)
        .await
        .map_err(err)
}

/// When the store went down and came back, and its sessions across that.
struct Outage {
    stopped_at: Instant,
    restarted_at: Instant,
    sessions_before: u64,
    sessions_kept: u64,
}

/// After `phase` (and half a second, so the load is under way), stops the
/// store for `phase` and starts it again on the same port.
async fn outage(
    cluster: &mut dyn Cluster,
    store_url: &str,
    phase: Duration,
) -> Result<Outage, LabError> {
    tokio::time::sleep(phase + Duration::from_millis(500)).await;
    let client = redis::Client::open(store_url).map_err(err)?;
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .map_err(err)?;
    // Writes paused from the count to the stop, so a session created or
    // touched in between cannot pass for one the restart lost or kept.
    redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(10_000)
        .arg("WRITE")
        .query_async::<()>(&mut conn)
        .await
        .map_err(err)?;
    let before = session_keys(&mut conn).await?;
    cluster.stop_store();
    // When it is down, not when it was asked to go: an engine of containers
    // takes a few seconds to stop a task.
    let stopped_at = Instant::now();
    tokio::time::sleep(phase).await;
    cluster.start_store()?;
    let restarted_at = Instant::now();
    // Checked at once; goose's users never delete a session (no logout in
    // the browse scenario), so a key missing now was lost by the restart.
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .map_err(err)?;
    let after: HashSet<String> = session_keys(&mut conn).await?.into_iter().collect();
    let kept = before.iter().filter(|key| after.contains(*key)).count();
    Ok(Outage {
        stopped_at,
        restarted_at,
        sessions_before: before.len() as u64,
        sessions_kept: kept as u64,
    })
}

/// One trial: the outage timeline on a fresh cluster.
pub async fn outage_run(
    ctx: &RunContext,
    phase: Duration,
    persistence: Persistence,
    trial: usize,
) -> Result<OutageRun, LabError> {
    let mut spec = ctx.spec();
    spec.nodes = 2;
    // The goose users, then one user per store caller.
    spec.seed_users = USERS + STORE_CALLERS;
    spec.store_persistence = persistence == Persistence::AofEverysec;
    let spec_jwt = spec.jwt.clone();
    let mut cluster = ctx.cluster(spec).await?;
    let session_plan = plan(&*cluster, Stack::Session, phase * 3)?;
    let jwt_plan = plan(&*cluster, Stack::Jwt, phase * 3)?;
    let access_ttl = access_ttl(&spec_jwt)?;
    let jwt_base = cluster.url(Stack::Jwt, "")?;
    let store_url = cluster.store_url(0);
    let http = reqwest::Client::builder()
        .timeout(STORE_CALL_TIMEOUT)
        .build()
        .map_err(err)?;
    let load_started = Instant::now();
    // Logins and refreshes on users of their own (after the goose users'),
    // for as long as the browsing runs.
    let callers = tokio::spawn(futures::future::join_all((0..STORE_CALLERS).map(|i| {
        store_caller(
            http.clone(),
            jwt_base.clone(),
            format!("user{}", USERS + i),
            load_started,
            phase * 3,
        )
    })));
    // The load on tasks of its own, the faults on this one (the cluster's
    // thread): a fault that takes the engine seconds (a swarm scaling the
    // store's service) must not hold the load up with it.
    let session = tokio::spawn(async move { loadtests::run(&session_plan).await });
    let jwt = tokio::spawn(async move { loadtests::run(&jwt_plan).await });
    let times = outage(&mut *cluster, &store_url, phase).await;
    let (session, jwt, calls) = (
        session.await.map_err(err)?,
        jwt.await.map_err(err)?,
        callers.await.map_err(err)?,
    );
    let (session, jwt) = (session.map_err(err)?, jwt.map_err(err)?);
    let times = times?;
    cluster.shutdown();
    let (jwt_logins, jwt_refreshes) = bucketed(&calls.concat());
    Ok(OutageRun {
        trial,
        persistence,
        session: finished(session)?,
        jwt: finished(jwt)?,
        stop_s: times.stopped_at.duration_since(load_started).as_secs_f64(),
        restart_s: times
            .restarted_at
            .duration_since(load_started)
            .as_secs_f64(),
        sessions_before: times.sessions_before,
        sessions_kept: times.sessions_kept,
        jwt_logins,
        jwt_refreshes,
        access_ttl_s: access_ttl.as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nodes_access_ttl_is_read_as_they_read_it() {
        assert_eq!(
            access_ttl(&JwtOptions {
                access_ttl: Some(Duration::from_secs(2)),
                ..JwtOptions::default()
            })
            .unwrap(),
            Duration::from_secs(2)
        );
    }
}
