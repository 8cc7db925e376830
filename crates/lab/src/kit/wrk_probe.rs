//! What a request costs the cluster, measured at saturation: c4 and c5's
//! wrk probe.
//!
//! wrk drives a stack through HAProxy with the credentials of many logged-in
//! users. A throughput figure alone depends on the load generator and on
//! whatever else shares the machine, so each run is bracketed by two
//! readings that do not: the CPU time every process of the cluster spent
//! (from /proc, charged per request to the stack's nodes, redis-server and
//! HAProxy) and the store commands executed (Redis `total_commands_processed`
//! delta, per request). A run with too many errors is refused by
//! [`load_check`](super::load_check) before any of it is read.

use std::{collections::BTreeMap, time::Duration};

use authlab_client::ApiClient;
use authlab_core::{
    metrics::Metrics,
    redis_client::{RedisClientArgs, RedisStore},
};
use jwt_server::SigningAlgorithm;
use serde::Serialize;

use crate::{
    experiment::RunContext,
    kit::{
        cpu::cpu_time,
        err, load_check,
        logins::{log_in_load_users, LoadCredential},
    },
    wrk::{self, WrkResult, WrkRun},
    Cluster, LabError, Latency, Stack,
};

/// Load users logged in for each wrk run; wrk rotates their credentials.
pub const USERS: usize = 64;

/// The JWT stack's algorithm in c4 and c5: HS256, the cheapest
/// verification (see c6), so the JWT side shows what having no shared state
/// is worth rather than what a signature costs; c6 puts the asymmetric
/// algorithms' price next to it.
pub const CAPACITY_ALG: SigningAlgorithm = SigningAlgorithm::Hs256;

/// Header lines of `USERS` logged-in load users on `stack`.
pub async fn credentials(
    client: &ApiClient,
    cluster: &dyn Cluster,
    stack: Stack,
) -> Result<Vec<String>, LabError> {
    Ok(log_in_load_users(client, cluster, stack, USERS)
        .await?
        .into_iter()
        .map(|credential| match credential {
            LoadCredential::Cookie(pair) => format!("Cookie: {pair}"),
            LoadCredential::Token(token) => format!("Authorization: Bearer {token}"),
        })
        .collect())
}

/// One wrk run with the cluster's CPU and store-command accounting around it.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub wrk: WrkResult,
    /// CPU µs per request: `nodes` (the stack's nodes), `redis`, `haproxy`.
    pub cpu_us: BTreeMap<&'static str, f64>,
    pub store_ops_per_request: f64,
}

async fn commands_processed(store: &RedisStore) -> u64 {
    let info: String = store
        .run(redis::cmd("INFO").arg("stats"))
        .await
        .unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// What one stack's request path runs on, for the CPU readings.
struct Pids {
    nodes: Vec<u32>,
    redis: u32,
    haproxy: u32,
}

/// CPU time of the nodes, Redis and HAProxy, and the store's command count.
struct Reading {
    nodes: Duration,
    redis: Duration,
    haproxy: Duration,
    commands: u64,
}

/// wrk against one cluster, with its store for the command counts.
pub struct Probe<'a> {
    pub cluster: &'a dyn Cluster,
    pub store: RedisStore,
    pub duration: Duration,
}

impl Probe<'_> {
    /// One wrk run of `connections` connections against `path` on `stack`;
    /// `label` names the run in a refusal.
    pub async fn measure(
        &self,
        label: &str,
        stack: Stack,
        path: &str,
        creds: &[String],
        connections: u32,
    ) -> Result<Sample, LabError> {
        let url = self.cluster.url(stack, path)?;
        let pids = Pids {
            nodes: self
                .cluster
                .nodes(stack)
                .iter()
                .filter_map(|n| n.pid())
                .collect(),
            redis: self.cluster.store_pid().unwrap_or(0),
            haproxy: self.cluster.haproxy_pid().unwrap_or(0),
        };
        let before = self.read(&pids).await;
        let (creds, duration) = (creds.to_vec(), self.duration);
        let result = tokio::task::spawn_blocking(move || {
            wrk::run(&WrkRun {
                url: &url,
                credentials: &creds,
                threads: 2,
                connections,
                duration,
            })
        })
        .await
        .map_err(err)??;
        load_check::check(
            &format!("{label} (wrk, {stack} {path})"),
            load_check::Answers {
                requests: result.requests,
                non_2xx: result.non_2xx,
                socket_errors: result.socket_errors,
            },
        )?;
        let after = self.read(&pids).await;
        let per = |d: Duration| d.as_secs_f64() * 1e6 / result.requests.max(1) as f64;
        // Our own INFO calls are two of the counted commands.
        let store_ops = after
            .commands
            .saturating_sub(before.commands)
            .saturating_sub(2) as f64
            / result.requests.max(1) as f64;
        Ok(Sample {
            cpu_us: BTreeMap::from([
                ("nodes", per(after.nodes.saturating_sub(before.nodes))),
                ("redis", per(after.redis.saturating_sub(before.redis))),
                ("haproxy", per(after.haproxy.saturating_sub(before.haproxy))),
            ]),
            store_ops_per_request: store_ops,
            wrk: result,
        })
    }

    async fn read(&self, pids: &Pids) -> Reading {
        Reading {
            nodes: pids.nodes.iter().map(|p| cpu_time(*p)).sum(),
            redis: cpu_time(pids.redis),
            haproxy: cpu_time(pids.haproxy),
            commands: commands_processed(&self.store).await,
        }
    }
}

/// A cluster of `nodes` per stack with the load users seeded, and a client
/// of its session store for the command counts. `alg` overrides the JWT
/// stack's signing algorithm.
pub async fn cluster(
    ctx: &RunContext,
    nodes: usize,
    latency: Option<Latency>,
    alg: Option<SigningAlgorithm>,
) -> Result<(Box<dyn Cluster>, RedisStore), LabError> {
    let mut spec = ctx.spec();
    spec.nodes = nodes;
    if let Some(alg) = alg {
        spec.alg = alg;
    }
    spec.seed_users = USERS;
    spec.store_latency = latency;
    let cluster = ctx.cluster(spec).await?;
    let store = probe_store("session store", &cluster.store_url(0))?;
    Ok((cluster, store))
}

/// A client of the store at `url` for the lab's own probes (INFO, PING),
/// with the server's default client settings.
pub fn probe_store(name: &'static str, url: &str) -> Result<RedisStore, LabError> {
    let metrics = Metrics::new("probe").map_err(err)?;
    RedisStore::new(
        name,
        url,
        &RedisClientArgs::default(),
        metrics.store("probe"),
    )
    .map_err(err)
}
