//! A whole cluster on loopback: two Redis, N nodes per stack, HAProxy in front.
//!
//! ```text
//!                     ┌── session-1 ─┐
//!  :session_front ──▶ ├── session-2 ─┼──▶ latency proxy ──▶ redis (session store; db 0 sessions, db 1 tokens)
//!                     └── session-3 ─┘          ▲
//!  :jwt_front ──────▶ ┌── jwt-1 … ───┬──────────┘
//!  (HAProxy)          └──────────────┴──────────────▶ redis (user directory)
//!
//!  :orders_<variant>_front ──▶ orders-<variant> ──▶ :session_front/introspect
//!                                               or  :jwt_front/.well-known/jwks.json
//! ```
//!
//! The orders services ([`crate::orders`]) are optional: one node per
//! [`OrdersVariant`] in [`ClusterSpec::orders`], each behind its own
//! frontend. They reach the auth stacks through HAProxy, as any other
//! service would, never a node directly.
//!
//! Every port is picked free at start; nothing is assumed to be running.
//! Processes are owned: dropping the [`Cluster`] stops them all and removes
//! its temp dir, and each child is also set to die with the thread that
//! started it, so even a killed `authlab` leaves no orphan. Start and change
//! a cluster from one long-lived thread (the main thread, a test's thread).

use futures::future::BoxFuture;
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use jwt_server::{
    keys::{KeyError, KeySetFile},
    tokens::TokenSettings,
    RevocationMode,
};
use supervise::RedisServer;
use tempfile::TempDir;

mod engine;
mod start;

pub use engine::Local;

use crate::{
    cluster::{Cluster, Node},
    cpu::process_cpu_time,
    haproxy::{Haproxy, HaproxyConfig, JwtGateway, ServerStats},
    host::{this_machine, Part, Placement},
    latency::{Latency, LatencyProxy},
    load::{self, GeneratorRun, LoadJob},
    orders::{self, OrdersVariant},
    process::{NodeProcess, Stack},
    spec::{flag_value, ClusterSpec, JwtOptions},
    HarnessError,
};

/// The parts of a running local cluster; [`LocalCluster::start`] (in
/// `start.rs`) puts them together.
pub struct LocalCluster {
    spec: ClusterSpec,
    session_nodes: Vec<NodeProcess>,
    jwt_nodes: Vec<NodeProcess>,
    orders_nodes: Vec<(OrdersVariant, NodeProcess)>,
    haproxy: Haproxy,
    /// What HAProxy runs on, kept to re-render it (new gateway keys).
    haproxy_config: HaproxyConfig,
    proxy: Option<LatencyProxy>,
    store: RedisServer,
    /// Frozen by [`Cluster::pause_store`].
    store_paused: bool,
    directory: RedisServer,
    frontends: Vec<(Stack, u16)>,
    orders_frontends: Vec<(OrdersVariant, u16)>,
    stats_port: u16,
    keyset: Option<PathBuf>,
    /// The CA clients must trust when the frontends speak TLS.
    ca_pem: Option<String>,
    introspection_secret: String,
    // Last, so it is removed after every process that wrote into it stopped.
    dir: TempDir,
}

/// How the interface shows a node of this machine.
fn described(node: &NodeProcess) -> Node {
    Node {
        name: node.name.clone(),
        base_url: node.url(""),
        pid: node.pid(),
    }
}

fn url_for(address: SocketAddr, db: u8) -> String {
    format!("redis://{address}/{db}")
}

/// The `jwt_verify` frontend for the gateway variant, if the spec has it:
/// one public-key file per usable `kid` of the key set at `keyset`, written
/// under the cluster's directory.
fn gateway_for(
    spec: &ClusterSpec,
    keyset: Option<&Path>,
    dir: &Path,
) -> Result<Option<JwtGateway>, HarnessError> {
    if !spec.orders.contains(&OrdersVariant::Gateway) {
        return Ok(None);
    }
    let path = keyset.ok_or_else(|| {
        HarnessError::Config("the gateway orders variant needs the jwt stack".into())
    })?;
    let file = KeySetFile::read(path, false).map_err(|e| HarnessError::Config(e.to_string()))?;
    let key_dir = dir.join("gateway-keys");
    let files = orders::write_gateway_keys(&file, &key_dir, &key_dir.display().to_string())?;
    let tokens = TokenSettings::default();
    orders::gateway(
        &OrdersVariant::Gateway.haproxy_name(),
        &file,
        files,
        &tokens.issuer,
        &tokens.audience,
    )
    .map(Some)
}

/// How long a key stays verify-only after it stopped signing: the JWT
/// nodes' access-token lifetime ([`JwtOptions::access_ttl`], else the
/// server's default) plus a minute, so every token it signed runs out first.
fn key_grace(jwt: &JwtOptions) -> Duration {
    let ttl = jwt
        .access_ttl
        .unwrap_or_else(|| TokenSettings::default().access_ttl);
    ttl + Duration::from_secs(60)
}

impl LocalCluster {
    /// Every part this cluster runs.
    fn parts(&self) -> Vec<Part> {
        let mut parts = vec![Part::Directory, Part::Store, Part::Haproxy];
        for stack in [Stack::Session, Stack::Jwt] {
            parts.extend((0..self.processes(stack).len()).map(|i| Part::Node(stack, i)));
        }
        parts.extend(self.orders_nodes.iter().map(|(v, _)| Part::Orders(*v)));
        parts
    }

    fn processes(&self, stack: Stack) -> &[NodeProcess] {
        match stack {
            Stack::Session => &self.session_nodes,
            Stack::Jwt => &self.jwt_nodes,
        }
    }

    fn node(&self, stack: Stack, index: usize) -> Result<&NodeProcess, HarnessError> {
        self.processes(stack)
            .get(index)
            .ok_or_else(|| HarnessError::Config(format!("no {stack} node #{}", index + 1)))
    }

    fn node_mut(&mut self, stack: Stack, index: usize) -> Result<&mut NodeProcess, HarnessError> {
        let nodes = match stack {
            Stack::Session => &mut self.session_nodes,
            Stack::Jwt => &mut self.jwt_nodes,
        };
        nodes
            .get_mut(index)
            .ok_or_else(|| HarnessError::Config(format!("no {stack} node #{}", index + 1)))
    }

    fn signal_store(&self, signal: nix::sys::signal::Signal) -> Result<(), HarnessError> {
        let pid = self
            .store
            .pid()
            .ok_or_else(|| HarnessError::Config("the session store is not running".into()))?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal)
            .map_err(|e| HarnessError::Io(format!("signalling the session store: {e}")))
    }

    /// Rewrites the key-set file, then makes everyone read it: the gateway
    /// first (it must accept a `kid` before any node signs with it), then
    /// the JWT nodes one at a time, each drained and back up before the
    /// next, so HAProxy always has nodes to serve from. A node that is down
    /// on purpose stays down; it reads the new file when it is restarted.
    async fn rotate(
        &mut self,
        step: impl FnOnce(&mut KeySetFile) -> Result<String, KeyError>,
    ) -> Result<String, HarnessError> {
        let path = self
            .keyset
            .clone()
            .ok_or_else(|| HarnessError::Config("the cluster has no jwt stack".into()))?;
        let mut file =
            KeySetFile::read(&path, false).map_err(|e| HarnessError::Config(e.to_string()))?;
        let kid = step(&mut file).map_err(|e| HarnessError::Config(e.to_string()))?;
        file.write(&path)
            .map_err(|e| HarnessError::Io(e.to_string()))?;
        self.reload_gateway()?;
        self.restart_jwt_nodes_in_turn().await?;
        Ok(kid)
    }

    /// Restarts every running JWT node, one at a time, each drained and back
    /// up before the next, so HAProxy always has nodes to serve from. A node
    /// that is down on purpose stays down.
    async fn restart_jwt_nodes_in_turn(&mut self) -> Result<(), HarnessError> {
        let client = reqwest::Client::new();
        for index in 0..self.jwt_nodes.len() {
            if !self.jwt_nodes[index].is_running() {
                continue;
            }
            self.set_maintenance(Stack::Jwt, index, true)?;
            let node = &mut self.jwt_nodes[index];
            node.terminate(Duration::from_secs(3));
            node.spawn()?;
            node.wait_ready(&client, Duration::from_secs(30)).await?;
            self.set_maintenance(Stack::Jwt, index, false)?;
            self.wait_node_health(Stack::Jwt, index, true, Duration::from_secs(10))
                .await?;
        }
        Ok(())
    }

    /// Re-renders the gateway's key files from the key set and reloads
    /// HAProxy, which reads key files only when it starts. The reload
    /// resets HAProxy's counters and maintenance states.
    fn reload_gateway(&mut self) -> Result<(), HarnessError> {
        if self.haproxy_config.gateway.is_none() {
            return Ok(());
        }
        self.haproxy_config.gateway =
            gateway_for(&self.spec, self.keyset.as_deref(), self.dir.path())?;
        self.haproxy.reload(&self.haproxy_config, self.dir.path())
    }
}

impl Cluster for LocalCluster {
    fn spec(&self) -> &ClusterSpec {
        &self.spec
    }

    /// Waits until HAProxy's health checks report every server of every backend up.
    fn wait_all_up(&self, timeout: Duration) -> BoxFuture<'_, Result<(), HarnessError>> {
        Box::pin(async move {
            let deadline = std::time::Instant::now() + timeout;
            loop {
                let servers = self.haproxy.servers()?;
                if !servers.is_empty() && servers.iter().all(ServerStats::is_up) {
                    return Ok(());
                }
                if std::time::Instant::now() > deadline {
                    return Err(HarnessError::Timeout(format!(
                        "HAProxy backends not all up: {servers:?}"
                    )));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    }

    /// Waits until HAProxy sees `node` in the given state (`up` true/false).
    fn wait_node_health(
        &self,
        stack: Stack,
        index: usize,
        up: bool,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<(), HarnessError>> {
        Box::pin(async move {
            let name = self.node(stack, index)?.name.clone();
            let deadline = std::time::Instant::now() + timeout;
            loop {
                let servers = self.haproxy.servers()?;
                if servers.iter().any(|s| s.server == name && s.is_up() == up) {
                    return Ok(());
                }
                if std::time::Instant::now() > deadline {
                    return Err(HarnessError::Timeout(format!(
                        "{name} never became {}",
                        if up { "up" } else { "down" }
                    )));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    }

    fn url(&self, stack: Stack, path: &str) -> Result<String, HarnessError> {
        let port = self.frontend_port(stack)?;
        Ok(format!(
            "{}://127.0.0.1:{port}{path}",
            self.spec.frontend.scheme()
        ))
    }

    fn frontend_port(&self, stack: Stack) -> Result<u16, HarnessError> {
        self.frontends
            .iter()
            .find(|(s, _)| *s == stack)
            .map(|(_, port)| *port)
            .ok_or_else(|| HarnessError::Config(format!("the cluster has no {stack} stack")))
    }

    fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The generated CA's file (for `curl --cacert`) when the frontends speak TLS.
    fn ca_file(&self) -> Option<PathBuf> {
        self.ca_pem
            .as_ref()
            .map(|_| self.dir.path().join("tls").join(crate::tls::CA_FILE))
    }

    /// A client for this cluster's frontends: it trusts the cluster's CA
    /// (and no other) when they speak TLS.
    fn client_builder(&self) -> Result<reqwest::ClientBuilder, HarnessError> {
        match &self.ca_pem {
            Some(ca) => crate::tls::client_trusting(ca),
            None => Ok(reqwest::Client::builder()),
        }
    }

    fn orders_url(&self, variant: OrdersVariant, path: &str) -> Result<String, HarnessError> {
        self.orders_frontends
            .iter()
            .find(|(v, _)| *v == variant)
            .map(|(_, port)| format!("{}://127.0.0.1:{port}{path}", self.spec.frontend.scheme()))
            .ok_or_else(|| {
                HarnessError::Config(format!("the cluster has no {variant} orders service"))
            })
    }

    /// The orders node of `variant` (its direct URL, pid, `/metrics`).
    fn orders_node(&self, variant: OrdersVariant) -> Option<Node> {
        self.orders_nodes
            .iter()
            .find(|(v, _)| *v == variant)
            .map(|(_, node)| described(node))
    }

    fn introspection_client(&self) -> (&str, &str) {
        (orders::INTROSPECTION_CLIENT_ID, &self.introspection_secret)
    }

    fn stats_url(&self) -> String {
        format!("http://127.0.0.1:{}/stats", self.stats_port)
    }

    fn nodes(&self, stack: Stack) -> Vec<Node> {
        self.processes(stack).iter().map(described).collect()
    }

    fn directory_url(&self) -> String {
        self.directory.url(0)
    }

    fn store_url(&self, db: u8) -> String {
        self.store.url(db)
    }

    /// The session store as the nodes reach it: through the latency proxy
    /// when there is one, so a probe on it pays what a node's lookup pays.
    fn node_store_url(&self, db: u8) -> String {
        match &self.proxy {
            Some(proxy) => url_for(proxy.address(), db),
            None => self.store.url(db),
        }
    }

    fn store_pid(&self) -> Option<u32> {
        self.store.pid()
    }

    fn directory_pid(&self) -> Option<u32> {
        self.directory.pid()
    }

    fn haproxy_pid(&self) -> Option<u32> {
        self.haproxy.pid()
    }

    fn keyset_path(&self) -> Option<&PathBuf> {
        self.keyset.as_ref()
    }

    fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    fn stats(&self) -> Result<Vec<ServerStats>, HarnessError> {
        self.haproxy.servers()
    }

    /// PIDs of every process this cluster started.
    fn pids(&self) -> Vec<u32> {
        self.session_nodes
            .iter()
            .chain(&self.jwt_nodes)
            .chain(self.orders_nodes.iter().map(|(_, node)| node))
            .filter_map(NodeProcess::pid)
            .chain(self.haproxy.pid())
            .chain(self.store.pid())
            .chain(self.directory.pid())
            .collect()
    }

    fn placement(&self) -> Vec<Placement> {
        let host = this_machine().name;
        self.parts()
            .into_iter()
            .map(|part| Placement {
                part: part.to_string(),
                host: host.clone(),
            })
            .collect()
    }

    fn cpu_time(&self, part: Part) -> BoxFuture<'_, Option<Duration>> {
        let pid = match part {
            Part::Node(stack, index) => self.node(stack, index).ok().and_then(NodeProcess::pid),
            Part::Store => self.store.pid(),
            Part::Directory => self.directory.pid(),
            Part::Haproxy => self.haproxy.pid(),
            Part::Orders(variant) => self
                .orders_nodes
                .iter()
                .find(|(v, _)| *v == variant)
                .and_then(|(_, node)| node.pid()),
        };
        Box::pin(async move { pid.map(process_cpu_time) })
    }

    fn generate(&self, job: LoadJob) -> BoxFuture<'_, Result<Vec<GeneratorRun>, HarnessError>> {
        Box::pin(async move {
            let url = self.url(job.stack, &job.path)?;
            let host = this_machine().name;
            let run = tokio::task::spawn_blocking(move || load::run_here(&job, &url, &host))
                .await
                .map_err(|e| HarnessError::Io(e.to_string()))??;
            Ok(vec![run])
        })
    }

    /// The first process that died without being asked to, if any.
    fn crashed(&mut self) -> Option<String> {
        if let Some(status) = self.haproxy.exited() {
            return Some(format!("haproxy exited with {status}"));
        }
        self.session_nodes
            .iter_mut()
            .chain(self.jwt_nodes.iter_mut())
            .chain(self.orders_nodes.iter_mut().map(|(_, node)| node))
            .find_map(NodeProcess::crashed)
    }

    // ----- faults -----

    fn stop_store(&mut self) {
        // A frozen process would not see the signal that stops it.
        if self.store_paused {
            let _ = self.resume_store();
        }
        self.store.stop();
    }

    /// Starts the stopped session store again, on the same port.
    fn start_store(&mut self) -> Result<(), HarnessError> {
        if !self.store.is_running() {
            self.store.restart()?;
        }
        Ok(())
    }

    /// Freezes the session store (SIGSTOP): it still accepts connections
    /// but answers nothing, as a store stuck in a long pause or on a dead
    /// network path would. [`resume_store`](Self::resume_store) thaws it with
    /// every key intact.
    fn pause_store(&mut self) -> Result<(), HarnessError> {
        self.signal_store(nix::sys::signal::Signal::SIGSTOP)?;
        self.store_paused = true;
        Ok(())
    }

    fn resume_store(&mut self) -> Result<(), HarnessError> {
        self.signal_store(nix::sys::signal::Signal::SIGCONT)?;
        self.store_paused = false;
        Ok(())
    }

    fn store_paused(&self) -> bool {
        self.store_paused
    }

    fn restart_store(&mut self) -> Result<(), HarnessError> {
        Ok(self.store.restart()?)
    }

    fn kill_node(&mut self, stack: Stack, index: usize) -> Result<(), HarnessError> {
        self.node_mut(stack, index)?.kill();
        Ok(())
    }

    fn restart_node(
        &mut self,
        stack: Stack,
        index: usize,
    ) -> BoxFuture<'_, Result<(), HarnessError>> {
        Box::pin(async move {
            let node = self.node_mut(stack, index)?;
            node.kill();
            node.spawn()?;
            node.wait_ready(&reqwest::Client::new(), Duration::from_secs(30))
                .await
        })
    }

    fn set_maintenance(&self, stack: Stack, index: usize, on: bool) -> Result<(), HarnessError> {
        let name = self.node(stack, index)?.name.clone();
        self.haproxy.set_maintenance(&stack.backend(), &name, on)
    }

    /// Sets a node's administrative state in HAProxy (`ready`, `drain`, `maint`).
    fn set_node_state(
        &self,
        stack: Stack,
        index: usize,
        state: crate::runtime_api::ServerState,
    ) -> Result<(), HarnessError> {
        let name = self.node(stack, index)?.name.clone();
        self.haproxy.api().set_state(&stack.backend(), &name, state)
    }

    /// The runtime API of this cluster's HAProxy, for a reader on another task.
    fn runtime_api(&self) -> crate::runtime_api::RuntimeApi {
        self.haproxy.api().clone()
    }

    /// Changes the injected store latency (needs a cluster started with `store_latency`).
    fn set_store_latency(&self, latency: Latency) -> Result<(), HarnessError> {
        let proxy = self.proxy.as_ref().ok_or_else(|| {
            HarnessError::Config(
                "this cluster was started without the latency proxy (set store_latency)".into(),
            )
        })?;
        proxy.set(latency);
        Ok(())
    }

    fn store_latency(&self) -> Option<Latency> {
        self.proxy.as_ref().map(LatencyProxy::get)
    }

    // ----- key rotation -----

    /// Rotation step 1: adds a new key to the key set that every JWT node
    /// (and the gateway) accepts but none signs with yet. Returns its `kid`.
    fn stage_key(&mut self) -> BoxFuture<'_, Result<String, HarnessError>> {
        Box::pin(async move { self.rotate(KeySetFile::stage).await })
    }

    fn activate_staged_key(&mut self) -> BoxFuture<'_, Result<String, HarnessError>> {
        Box::pin(async move {
            let grace = key_grace(&self.spec.jwt);
            self.rotate(|file| file.activate_staged(grace)).await
        })
    }

    /// Switches the JWT nodes between no revocation and the denylist: each
    /// node is restarted in turn with the new `--revocation`, as a key
    /// rotation restarts them.
    fn set_revocation(&mut self, mode: RevocationMode) -> BoxFuture<'_, Result<(), HarnessError>> {
        Box::pin(async move {
            if self.jwt_nodes.is_empty() {
                return Err(HarnessError::Config("the cluster has no jwt stack".into()));
            }
            let value = flag_value(&mode);
            for node in &mut self.jwt_nodes {
                node.set_flag("--revocation", &value);
            }
            self.spec.revocation = mode;
            self.restart_jwt_nodes_in_turn().await
        })
    }

    /// Stops everything: nodes drain (SIGTERM), then HAProxy and Redis.
    fn shutdown(self: Box<Self>) {
        let mut this = *self;
        // The orders nodes first: they call the auth stacks, not the other way round.
        for (_, node) in &mut this.orders_nodes {
            node.terminate(Duration::from_secs(3));
        }
        for node in this
            .session_nodes
            .iter_mut()
            .chain(this.jwt_nodes.iter_mut())
        {
            node.terminate(Duration::from_secs(3));
        }
        this.haproxy.stop();
        // Redis servers and the temp dir go with the rest of `this`.
    }
}
