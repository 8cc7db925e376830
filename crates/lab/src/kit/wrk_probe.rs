//! What a request costs the cluster, measured at saturation: c4 and c5's
//! wrk probe.
//!
//! wrk drives a stack through HAProxy with the credentials of many logged-in
//! users: the cluster's engine runs it as one generator or several
//! ([`Cluster::generate`]), and [`wrk::checked`] refuses the run if any
//! generator's errors exceed [`load_check`](super::load_check)'s share
//! before it merges them into one figure. A throughput figure alone depends
//! on the load generator and on whatever else shares the machine, so each
//! run is bracketed by two readings that do not: the CPU time the stack's
//! nodes, the session store and HAProxy spent ([`Cluster::cpu_time`]:
//! /proc for a process here, a cgroup for a container), charged per
//! request, and the store commands executed (Redis
//! `total_commands_processed` delta, per request).

use std::{collections::BTreeMap, time::Duration};

use authlab_client::ApiClient;
use authlab_core::{
    metrics::Metrics,
    redis_client::{RedisClientArgs, RedisStore},
};
use harness::{LoadJob, Part};
use jwt_server::SigningAlgorithm;
use serde::Serialize;

use crate::{
    experiment::RunContext,
    kit::{
        err,
        logins::{log_in_load_users, LoadCredential},
    },
    wrk::{self, WrkResult},
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
    /// CPU µs per request of each part whose CPU time the engine could read
    /// before and after the run: `nodes` (all the stack's nodes together),
    /// `redis` (the session store), `haproxy`. A part it could not read is
    /// absent, never 0: a missing reading is "not measured", and a 0 would
    /// read as a part that cost nothing.
    pub cpu_us: BTreeMap<&'static str, f64>,
    pub store_ops_per_request: f64,
}

impl Sample {
    /// CPU µs per request of `part`, NaN when it was not measured: a median
    /// over trials then stays NaN rather than passing for a cost of 0.
    pub fn cpu(&self, part: &str) -> f64 {
        self.cpu_us.get(part).copied().unwrap_or(f64::NAN)
    }
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

/// CPU time of each measured part (by its key in [`Sample::cpu_us`]) and
/// the store's command count.
struct Reading {
    cpu: BTreeMap<&'static str, Duration>,
    commands: u64,
}

/// CPU µs per request of each part read both times.
fn cpu_per_request(
    before: &Reading,
    after: &Reading,
    requests: u64,
) -> BTreeMap<&'static str, f64> {
    after
        .cpu
        .iter()
        .filter_map(|(part, after)| {
            let spent = after.saturating_sub(*before.cpu.get(part)?);
            Some((*part, spent.as_secs_f64() * 1e6 / requests.max(1) as f64))
        })
        .collect()
}

/// wrk against one cluster, with its store for the command counts.
pub struct Probe<'a> {
    pub cluster: &'a dyn Cluster,
    pub store: RedisStore,
    pub duration: Duration,
}

impl Probe<'_> {
    /// One wrk run of `connections` connections (in all generators) against
    /// `path` on `stack`; `label` names the run in a refusal.
    pub async fn measure(
        &self,
        label: &str,
        stack: Stack,
        path: &str,
        creds: &[String],
        connections: u32,
    ) -> Result<Sample, LabError> {
        let job = LoadJob {
            stack,
            path: path.to_owned(),
            script: Some(wrk::script(creds)),
            threads: 2,
            connections,
            duration: self.duration,
        };
        let before = self.read(stack).await;
        let runs = self.cluster.generate(job).await?;
        let result = wrk::checked(&format!("{label} (wrk, {stack} {path})"), &runs)?;
        let after = self.read(stack).await;
        // Our own INFO calls are two of the counted commands.
        let store_ops = after
            .commands
            .saturating_sub(before.commands)
            .saturating_sub(2) as f64
            / result.requests.max(1) as f64;
        Ok(Sample {
            cpu_us: cpu_per_request(&before, &after, result.requests),
            store_ops_per_request: store_ops,
            wrk: result,
        })
    }

    /// The parts' CPU times now; the nodes only when every one of them
    /// could be read, as a sum over some would pass for all of them.
    async fn read(&self, stack: Stack) -> Reading {
        let mut cpu = BTreeMap::new();
        let mut nodes = Some(Duration::ZERO);
        for index in 0..self.cluster.nodes(stack).len() {
            let node = self.cluster.cpu_time(Part::Node(stack, index)).await;
            nodes = nodes.zip(node).map(|(sum, node)| sum + node);
        }
        let parts = [
            ("nodes", nodes),
            ("redis", self.cluster.cpu_time(Part::Store).await),
            ("haproxy", self.cluster.cpu_time(Part::Haproxy).await),
        ];
        for (name, time) in parts {
            if let Some(time) = time {
                cpu.insert(name, time);
            }
        }
        Reading {
            cpu,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(parts: &[(&'static str, u64)]) -> Reading {
        Reading {
            cpu: parts
                .iter()
                .map(|&(name, ms)| (name, Duration::from_millis(ms)))
                .collect(),
            commands: 0,
        }
    }

    #[test]
    fn a_part_not_read_both_times_is_left_out_not_zero() {
        let before = reading(&[("nodes", 1_000), ("redis", 200), ("haproxy", 50)]);
        // HAProxy's reading failed after the run; the store's was never there.
        let after = reading(&[("nodes", 3_000), ("redis", 700)]);
        let before_no_store = reading(&[("nodes", 1_000), ("haproxy", 50)]);
        let cpu = cpu_per_request(&before, &after, 1_000);
        assert_eq!(cpu, BTreeMap::from([("nodes", 2_000.0), ("redis", 500.0)]));
        let cpu = cpu_per_request(&before_no_store, &after, 1_000);
        assert_eq!(cpu, BTreeMap::from([("nodes", 2_000.0)]));
    }
}
