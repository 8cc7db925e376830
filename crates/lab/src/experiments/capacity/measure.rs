//! The runs: a fresh cluster per node count and trial, and on it the three
//! wrk probes of [`PROBES`] in an order that rotates with the trial.

use std::time::Duration;

use authlab_client::ApiClient;
use jwt_server::RevocationMode;
use serde::Serialize;

use crate::{
    experiment::RunContext,
    kit::{
        schedule::{self, Measured, Trials},
        wrk_probe::{credentials, probe_store, Probe, Sample, CAPACITY_ALG, USERS},
    },
    Cluster, LabError, Stack,
};

/// The three runs c5 makes on each cluster: the `/health` ceiling first,
/// then each stack's `/me`.
pub const PROBES: [(&str, Stack, &str); 3] = [
    ("ceiling /health", Stack::Session, "/health"),
    ("session /me", Stack::Session, "/me"),
    ("JWT /me", Stack::Jwt, "/me"),
];
pub const CEILING: usize = 0;
pub const SESSION: usize = 1;
pub const JWT: usize = 2;

const SCALE_TRIALS: Trials = Trials::new(1, 3);

/// Every wrk run, and what the later stages need to read them.
#[derive(Debug, Serialize)]
pub struct Raw {
    /// Nodes per stack, in the order they are numbered as variants.
    pub node_counts: Vec<usize>,
    /// Seconds per wrk run.
    pub run_s: u64,
    pub trials: usize,
    /// The cores of the hosts that ran the clusters, each machine's counted
    /// once (locally: this machine's), shared by wrk, HAProxy, Redis and
    /// every node placed on them.
    pub cores: usize,
    /// Hosts that ran the clusters (1 locally; 0: the engine did not list them).
    pub hosts: usize,
    /// Distinct machines among those hosts (by boot id).
    pub machines: usize,
    /// Probe `p` on node count `i` is variant `schedule::part(i, p, 3)`.
    pub samples: Vec<Measured<Sample>>,
}

impl Raw {
    /// The figure of probe `probe` (an index into [`PROBES`]) on the
    /// `index`-th node count, over the trials.
    pub fn figure(&self, index: usize, probe: usize, f: impl Fn(&Sample) -> f64) -> Vec<f64> {
        schedule::figure(&self.samples, schedule::part(index, probe, PROBES.len()), f)
    }
}

pub async fn measure(ctx: &RunContext, jwt_revocation: RevocationMode) -> Result<Raw, LabError> {
    let (node_counts, duration): (&[usize], Duration) = if ctx.quick {
        (&[1, 2], Duration::from_secs(2))
    } else {
        (&[1, 2, 3], Duration::from_secs(8))
    };
    let trials = SCALE_TRIALS.count(ctx.quick);
    let client = ApiClient::new();
    let measured = schedule::run(
        ctx,
        node_counts,
        trials,
        |n| format!("{n} node(s) per stack: cluster, {USERS} logins, three wrk runs"),
        async |&n, trial| {
            let cluster = start(ctx, n, jwt_revocation).await?;
            let samples = probes(&*cluster, &client, duration, trial).await;
            cluster.shutdown();
            samples
        },
    )
    .await?;
    let hosts = ctx.hosts_used();
    Ok(Raw {
        node_counts: node_counts.to_vec(),
        run_s: duration.as_secs(),
        trials,
        cores: hosts.physical_cores(),
        hosts: hosts.hosts.len(),
        machines: hosts.machines(),
        samples: schedule::flatten(measured, PROBES.len()),
    })
}

/// A fresh cluster of `nodes` per stack, the JWT stack with c5's algorithm
/// and `jwt_revocation`.
async fn start(
    ctx: &RunContext,
    nodes: usize,
    jwt_revocation: RevocationMode,
) -> Result<Box<dyn Cluster>, LabError> {
    let mut spec = ctx.spec();
    spec.nodes = nodes;
    spec.alg = CAPACITY_ALG;
    spec.revocation = jwt_revocation;
    spec.seed_users = USERS;
    ctx.cluster(spec).await
}

/// The three probes on one cluster, in the order of `trial`, each with its
/// index into [`PROBES`].
async fn probes(
    cluster: &dyn Cluster,
    client: &ApiClient,
    duration: Duration,
    trial: usize,
) -> Result<Vec<(usize, Sample)>, LabError> {
    let store = probe_store("session store", &cluster.store_url(0))?;
    let probe = Probe {
        cluster,
        store,
        duration,
    };
    let mut samples = Vec::new();
    for index in schedule::order(PROBES.len(), trial) {
        let (name, stack, path) = PROBES[index];
        // Logged in just before its run: a credential never expires inside
        // a run.
        let creds = match path {
            "/health" => Vec::new(),
            _ => credentials(client, cluster, stack).await?,
        };
        samples.push((index, probe.measure(name, stack, path, &creds, 64).await?));
    }
    Ok(samples)
}
