//! What the console knows about the cluster it belongs to, gathered once at
//! start: where each stack and node answers, how to reach the store and the
//! user directory, and what the cluster was started with. The sampler, the
//! inspector and the controls read these facts; none of them asks the
//! cluster's owner again.

use std::time::Duration;

use jwt_server::RevocationMode;

use crate::{runtime_api::RuntimeApi, Cluster, LabError, Stack};

/// A node as the console addresses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFacts {
    pub stack: Stack,
    /// Its name, which is also its server name in HAProxy.
    pub name: String,
    /// Its own address, bypassing HAProxy.
    pub url: String,
}

/// What the console knows about the cluster it belongs to.
#[derive(Clone)]
pub struct ClusterFacts {
    /// Each stack and its load balancer's URL.
    pub frontends: Vec<(Stack, String)>,
    /// The nodes when the console starts.
    pub nodes: Vec<NodeFacts>,
    /// The docker-compose demo: nodes are found again in HAProxy's stats
    /// every second (replicas come and go), and the controls go through
    /// HAProxy and the store's protocol. `authlab up`'s nodes are fixed.
    pub compose: bool,
    pub runtime_api: RuntimeApi,
    /// The session store, asked directly (not through the latency proxy).
    pub store_url: String,
    /// The user directory: where a demoted admin is promoted again (no
    /// admin is left to do it through the API).
    pub directory_url: String,
    /// A client that trusts the cluster's CA when its frontends speak TLS.
    pub client: reqwest::Client,
    /// How many load users (`user0` …) the directory holds.
    pub seeded_users: usize,
    pub revocation: RevocationMode,
    /// The store latency the cluster started with.
    pub store_latency: Duration,
    /// Whether the JWT stack can rotate keys (it has a key-set file).
    pub can_rotate: bool,
}

impl ClusterFacts {
    /// The facts of a cluster `authlab up` started.
    pub fn of(cluster: &dyn Cluster) -> Result<Self, LabError> {
        let mut frontends = Vec::new();
        let mut nodes = Vec::new();
        for stack in [Stack::Session, Stack::Jwt] {
            if let Ok(url) = cluster.url(stack, "") {
                frontends.push((stack, url));
            }
            nodes.extend(cluster.nodes(stack).iter().map(|n| NodeFacts {
                stack,
                name: n.name.clone(),
                url: n.url(""),
            }));
        }
        Ok(Self {
            frontends,
            nodes,
            compose: false,
            runtime_api: cluster.runtime_api(),
            store_url: cluster.store_url(0),
            directory_url: cluster.directory_url(),
            client: cluster
                .client_builder()?
                .build()
                .map_err(|e| LabError::Config(format!("building the console's client: {e}")))?,
            seeded_users: cluster.spec().seed_users,
            revocation: cluster.spec().revocation,
            store_latency: cluster.store_latency().map_or(Duration::ZERO, |l| l.delay),
            can_rotate: cluster.keyset_path().is_some(),
        })
    }

    pub fn has(&self, stack: Stack) -> bool {
        self.frontends.iter().any(|(s, _)| *s == stack)
    }
}
