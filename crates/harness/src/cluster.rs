//! The cluster interface: what experiments, the console and `authlab up`
//! program against, whatever runs the cluster.
//!
//! A claim is measured on a cluster: a user directory and a session store,
//! N nodes per stack, optional orders services, HAProxy in front. What runs
//! those parts is an [`Engine`]'s business: today [`Local`](crate::local::Local), processes on
//! this machine's loopback; a second engine (Docker Swarm, across several
//! hosts) implements the same two traits and every experiment runs on it
//! unchanged. So the interface speaks of the parts (a node of a stack, the
//! store, HAProxy's view of a server) and never of how they are run, except
//! where a measurement needs it: [`Cluster::pids`] and friends answer only
//! for processes this machine can see, and an engine that has none answers
//! with nothing, which the experiments report as "not measured".
//!
//! A cluster is stopped with [`Cluster::shutdown`]; dropping it stops it too.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use futures::future::BoxFuture;
use jwt_server::RevocationMode;

use crate::{
    haproxy::ServerStats,
    host::{Hosts, Part, Placement},
    latency::Latency,
    load::{GeneratorRun, LoadJob},
    orders::OrdersVariant,
    process::Stack,
    runtime_api::{RuntimeApi, ServerState},
    ClusterSpec, HarnessError,
};

/// Starts clusters: the one place that knows what runs them.
pub trait Engine: Send + Sync {
    /// `local`, as `--engine` names it.
    fn name(&self) -> &'static str;

    /// Starts everything `spec` asks for and returns once HAProxy reports
    /// every server up.
    fn start(
        &self,
        spec: ClusterSpec,
    ) -> BoxFuture<'static, Result<Box<dyn Cluster>, HarnessError>>;

    /// The hosts it runs clusters on, with their cores and kernels: what a
    /// report needs to say whether more nodes could have had more cores.
    fn hosts(&self) -> BoxFuture<'static, Result<Hosts, HarnessError>>;
}

/// A fault on a whole host of an engine that has several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostFault {
    /// The engine moves the host's tasks elsewhere and schedules none there
    /// (an operator's drain before maintenance).
    Drain,
    /// The host takes tasks again (those already moved stay where they are).
    Activate,
    /// The host's containers of this cluster lose its networks: they run
    /// on, unreachable, as behind a failed switch port.
    Cut,
    /// They are back on the networks.
    Reconnect,
}

/// One server of a cluster (an auth node or an orders node), as a client
/// reaches it directly, past HAProxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// `session-1`, `jwt-2`, `orders-jwks`: HAProxy's server name too.
    pub name: String,
    /// `http://127.0.0.1:port`, no trailing slash.
    pub base_url: String,
    /// The process id, when it runs on this machine and is running.
    pub pid: Option<u32>,
}

impl Node {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn pid(&self) -> Option<u32> {
        self.pid
    }
}

/// A running cluster.
pub trait Cluster: Send + Sync {
    /// What it was started with (with the changes made since, such as a
    /// new revocation mode).
    fn spec(&self) -> &ClusterSpec;

    // ----- where things are -----

    /// `path` on `stack`'s HAProxy frontend: `https://` when it speaks TLS.
    fn url(&self, stack: Stack, path: &str) -> Result<String, HarnessError>;
    /// The port of `stack`'s HAProxy frontend.
    fn frontend_port(&self, stack: Stack) -> Result<u16, HarnessError>;
    /// `path` on the orders service `variant`, through its HAProxy frontend.
    fn orders_url(&self, variant: OrdersVariant, path: &str) -> Result<String, HarnessError>;
    /// HAProxy's stats page.
    fn stats_url(&self) -> String;
    fn directory_url(&self) -> String;
    /// The session store (`db` 0: sessions, 1: the JWT stack's tokens).
    fn store_url(&self, db: u8) -> String;
    /// The session store as the nodes reach it (through the latency proxy
    /// when there is one, so a probe on it pays what a node's lookup pays).
    fn node_store_url(&self, db: u8) -> String;
    /// A client for the frontends: it trusts the cluster's CA (and no
    /// other) when they speak TLS.
    fn client_builder(&self) -> Result<reqwest::ClientBuilder, HarnessError>;
    /// The generated CA (PEM) when the frontends speak TLS.
    fn ca_pem(&self) -> Option<&str>;
    /// The generated CA's file (for `curl --cacert`).
    fn ca_file(&self) -> Option<PathBuf>;
    /// The client id and secret `/introspect` accepts on both stacks.
    fn introspection_client(&self) -> (&str, &str);
    /// The JWT stack's key-set file.
    fn keyset_path(&self) -> Option<&PathBuf>;
    /// A directory of this machine holding the cluster's files (HAProxy's
    /// configuration, node logs).
    fn dir(&self) -> &Path;

    // ----- who is there -----

    fn nodes(&self, stack: Stack) -> Vec<Node>;
    fn orders_node(&self, variant: OrdersVariant) -> Option<Node>;
    /// Per-server HAProxy counters: how traffic was really spread.
    fn stats(&self) -> Result<Vec<ServerStats>, HarnessError>;
    /// The runtime API of the cluster's HAProxy, for a reader on another task.
    fn runtime_api(&self) -> RuntimeApi;
    /// Every process of the cluster this machine can see (for CPU time).
    fn pids(&self) -> Vec<u32>;
    fn store_pid(&self) -> Option<u32>;
    fn directory_pid(&self) -> Option<u32>;
    fn haproxy_pid(&self) -> Option<u32>;
    /// Which host runs each part (nodes, stores, HAProxy, orders).
    fn placement(&self) -> Vec<Placement>;
    /// CPU time a part has used so far (user + system): from /proc for a
    /// process here, from its container's cgroup on an engine of
    /// containers. `None` when the part is not running or cannot be read.
    fn cpu_time(&self, part: Part) -> BoxFuture<'_, Option<Duration>>;
    /// Runs a load job from the engine's generators (one here; several on
    /// hosts apart from the nodes where an engine has them) and returns
    /// what each printed, for the caller to parse, check and merge.
    fn generate(&self, job: LoadJob) -> BoxFuture<'_, Result<Vec<GeneratorRun>, HarnessError>>;
    /// The first part that died without being asked to, if any.
    fn crashed(&mut self) -> Option<String>;
    /// Waits until HAProxy's health checks report every server up.
    fn wait_all_up(&self, timeout: Duration) -> BoxFuture<'_, Result<(), HarnessError>>;
    /// Waits until HAProxy sees node `index` of `stack` up (or down).
    fn wait_node_health(
        &self,
        stack: Stack,
        index: usize,
        up: bool,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<(), HarnessError>>;

    // ----- faults -----

    /// Stops the session store. Without persistence its data is gone.
    fn stop_store(&mut self);
    /// Starts the stopped session store again, at the same address.
    fn start_store(&mut self) -> Result<(), HarnessError>;
    fn restart_store(&mut self) -> Result<(), HarnessError>;
    /// Freezes the session store: it accepts connections and answers
    /// nothing, as a store stuck in a pause or behind a dead path would.
    fn pause_store(&mut self) -> Result<(), HarnessError>;
    fn resume_store(&mut self) -> Result<(), HarnessError>;
    fn store_paused(&self) -> bool;
    fn kill_node(&mut self, stack: Stack, index: usize) -> Result<(), HarnessError>;
    fn restart_node(
        &mut self,
        stack: Stack,
        index: usize,
    ) -> BoxFuture<'_, Result<(), HarnessError>>;
    /// Drains a node through HAProxy (`maint`), or returns it (`ready`).
    fn set_maintenance(&self, stack: Stack, index: usize, on: bool) -> Result<(), HarnessError>;
    /// Sets a node's administrative state in HAProxy.
    fn set_node_state(
        &self,
        stack: Stack,
        index: usize,
        state: ServerState,
    ) -> Result<(), HarnessError>;
    /// A fault on a whole host (`Cluster::placement` names them). The local
    /// engine has one host, which no fault of this kind can take away.
    fn host_fault(
        &mut self,
        host: &str,
        fault: HostFault,
    ) -> BoxFuture<'_, Result<(), HarnessError>> {
        let reason = format!("{fault:?} {host}: this engine runs every part on one host");
        Box::pin(async move { Err(HarnessError::Config(reason)) })
    }
    /// Changes the delay before the store (needs `store_latency` in the spec).
    fn set_store_latency(&self, latency: Latency) -> Result<(), HarnessError>;
    fn store_latency(&self) -> Option<Latency>;

    // ----- the JWT stack's keys and modes -----

    /// Rotation step 1: a new key every JWT node (and the gateway) accepts
    /// but none signs with yet. Returns its `kid`.
    fn stage_key(&mut self) -> BoxFuture<'_, Result<String, HarnessError>>;
    /// Rotation step 2: the staged key signs from now on; the previous one
    /// stays verify-only until its tokens have expired. Returns the new `kid`.
    fn activate_staged_key(&mut self) -> BoxFuture<'_, Result<String, HarnessError>>;
    /// Restarts the JWT nodes in turn with another revocation mode.
    fn set_revocation(&mut self, mode: RevocationMode) -> BoxFuture<'_, Result<(), HarnessError>>;

    /// Stops everything: nodes drain first, then HAProxy and the stores.
    fn shutdown(self: Box<Self>);
}
