//! A running cluster on the swarm, behind the [`Cluster`] interface.
//!
//! Faults go through the engine, as an operator would cause them: the
//! store's task is stopped by scaling its service to zero (and back), a
//! node's container is killed or the store's paused on the node's own
//! engine, and the swarm replaces a killed task (its restart policy), as
//! production would. HAProxy's servers are DNS slots, not nodes; the
//! interface maps them back to nodes by address, so `stats()` and the
//! maintenance switches speak of `session-1` here as they do locally.

use std::{path::PathBuf, sync::RwLock, time::Duration};

use futures::future::BoxFuture;
use jwt_server::RevocationMode;
use tempfile::TempDir;

use super::{
    docker::Docker,
    generate::{self, Generators},
    host_fault::{self, Cut, HostTarget},
    objects::{reachable_engines, ready_hosts, SwarmNode},
    placement::{generator_hosts, Plan},
    stack::{HostPorts, FRONTEND_PORTS, NODE_PORT},
    tasks::{self, TaskView},
};
use crate::{
    cluster::{Cluster, Node},
    haproxy::ServerStats,
    host::{Part, Placement},
    latency::Latency,
    load::{GeneratorRun, LoadJob},
    orders::OrdersVariant,
    process::Stack,
    runtime_api::{AdminSocket, RuntimeApi, ServerState},
    ClusterSpec, HarnessError,
};

pub struct SwarmCluster {
    pub(super) docker: Docker,
    /// `authlab:<tag>`: nodes, stores, HAProxy and generators all run it.
    image: String,
    /// The stack's name (`authlab-x1y2z3`), prefix of its networks.
    pub(super) name: String,
    pub(super) spec: ClusterSpec,
    pub(super) plan: Plan,
    pub(super) ports: HostPorts,
    /// The swarm's nodes as last read.
    nodes: RwLock<Vec<SwarmNode>>,
    /// The stack's running tasks as last read.
    tasks: RwLock<Vec<TaskView>>,
    pub(super) keyset: Option<PathBuf>,
    pub(super) deployed: bool,
    networks: Vec<String>,
    store_paused: bool,
    introspection_secret: String,
    /// For the engines' stats API.
    http: reqwest::Client,
    /// Containers cut off a network by a host fault, to connect again.
    cuts: Vec<Cut>,
    // Last: removed after the stack that read its files.
    pub(super) dir: TempDir,
}

impl SwarmCluster {
    pub(super) fn new(
        docker: Docker,
        image: String,
        name: String,
        spec: ClusterSpec,
        plan: Plan,
        dir: TempDir,
        nodes: Vec<SwarmNode>,
    ) -> Self {
        Self {
            docker,
            image,
            name,
            spec,
            plan,
            ports: HostPorts::random(),
            nodes: RwLock::new(nodes),
            tasks: RwLock::new(Vec::new()),
            keyset: None,
            deployed: false,
            networks: Vec::new(),
            store_paused: false,
            introspection_secret: crate::spec::random_secret(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            cuts: Vec::new(),
            dir,
        }
    }

    pub(super) fn network(&self, role: &str) -> String {
        format!("{}-{role}", self.name)
    }

    /// The backend and edge overlays; returns the backend's subnet, the one
    /// range the nodes believe forwarded headers from.
    pub(super) async fn create_networks(&mut self) -> Result<String, HarnessError> {
        for role in ["backend", "edge"] {
            let network = self.network(role);
            self.docker
                .run(&[
                    "network",
                    "create",
                    "--driver",
                    "overlay",
                    "--attachable",
                    "--label",
                    "authlab.cluster=1",
                    &network,
                ])
                .await?;
            self.networks.push(network);
        }
        let subnet = self
            .docker
            .run(&[
                "network",
                "inspect",
                "--format",
                "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
                &self.network("backend"),
            ])
            .await?;
        subnet
            .split_whitespace()
            .next()
            .map(str::to_owned)
            .ok_or_else(|| HarnessError::Io("the backend network has no subnet".into()))
    }

    /// Reads the stack's tasks (and the swarm's nodes) again.
    pub async fn refresh(&self) -> Result<(), HarnessError> {
        let nodes = tasks::swarm_nodes(&self.docker).await?;
        let running = tasks::running(&self.docker, &self.name, &nodes).await?;
        *self.tasks.write().unwrap_or_else(|e| e.into_inner()) = running;
        *self.nodes.write().unwrap_or_else(|e| e.into_inner()) = nodes;
        Ok(())
    }

    fn tasks_of(&self, service: &str) -> Vec<TaskView> {
        let mut tasks: Vec<TaskView> = self
            .tasks
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|t| t.service == service)
            .cloned()
            .collect();
        tasks.sort_by_key(|t| t.slot);
        tasks
    }

    fn task(&self, service: &str) -> Result<TaskView, HarnessError> {
        self.tasks_of(service).into_iter().next().ok_or_else(|| {
            HarnessError::NodeDied(format!("no running task of {service} in {}", self.name))
        })
    }

    /// Node `index` of `stack`: the task in slot `index + 1`.
    fn node_task(&self, stack: Stack, index: usize) -> Result<TaskView, HarnessError> {
        self.tasks_of(stack.name())
            .into_iter()
            .find(|t| t.slot == index + 1)
            .ok_or_else(|| HarnessError::NodeDied(format!("{stack}-{} is not running", index + 1)))
    }

    /// The host address HAProxy and the stores publish on.
    fn infra_address(&self) -> String {
        self.task("haproxy")
            .map(|t| t.host_address)
            .unwrap_or_default()
    }

    fn store_address(&self) -> String {
        self.task("store")
            .map(|t| t.host_address)
            .unwrap_or_else(|_| self.infra_address())
    }

    pub(super) fn directory_url_now(&self) -> Result<String, HarnessError> {
        let task = self.task("directory")?;
        Ok(format!(
            "redis://{}:{}/0",
            task.host_address, self.ports.directory
        ))
    }

    fn part_task(&self, part: Part) -> Result<TaskView, HarnessError> {
        match part {
            Part::Node(stack, index) => self.node_task(stack, index),
            Part::Store => self.task("store"),
            Part::Directory => self.task("directory"),
            Part::Haproxy => self.task("haproxy"),
            Part::Orders(variant) => Err(HarnessError::Config(format!(
                "orders-{variant}: the swarm engine runs no orders services"
            ))),
        }
    }

    /// Waits until HAProxy's checks see `spec.nodes` servers up in every
    /// stack's backend.
    pub(super) async fn wait_up(&self, timeout: Duration) -> Result<(), HarnessError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let servers = self.runtime_api().servers().unwrap_or_default();
            let ready = self.spec.stacks.iter().all(|stack| {
                servers
                    .iter()
                    .filter(|s| s.backend == stack.backend() && s.is_up())
                    .count()
                    >= self.spec.nodes
            });
            if ready {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(HarnessError::Timeout(format!(
                    "HAProxy of {} does not see every node up: {servers:?}",
                    self.name
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// HAProxy's server (a DNS slot) holding node `index` of `stack`.
    fn server_of(&self, stack: Stack, index: usize) -> Result<String, HarnessError> {
        let task = self.node_task(stack, index)?;
        let address = task.overlay_address.unwrap_or_default();
        self.runtime_api()
            .servers()?
            .into_iter()
            .find(|s| s.backend == stack.backend() && s.address.split(':').next() == Some(&address))
            .map(|s| s.server)
            .ok_or_else(|| HarnessError::Haproxy(format!("no server holds {stack}-{}", index + 1)))
    }

    /// Scales one of the stack's services (blocking: the interface's fault
    /// methods are synchronous).
    fn scale(&self, service: &str, replicas: usize) -> Result<(), HarnessError> {
        let target = format!("{}_{service}={replicas}", self.name);
        if self
            .docker
            .run_blocking(&["service", "scale", "--detach", &target])
        {
            Ok(())
        } else {
            Err(HarnessError::Io(format!(
                "docker service scale {target} failed"
            )))
        }
    }

    /// Runs `docker <verb> <container>` on the engine of the part's node.
    fn on_container(&self, part: Part, verb: &str) -> Result<(), HarnessError> {
        let task = self.part_task(part)?;
        let container = task
            .container
            .clone()
            .ok_or_else(|| HarnessError::NodeDied(format!("{part} has no container")))?;
        let engine = task.engine()?;
        if blocking(|| engine.run_blocking(&[verb, &container])) {
            Ok(())
        } else {
            Err(HarnessError::Io(format!(
                "docker {verb} {part} on {} failed",
                task.host
            )))
        }
    }

    /// Whether the store answers PING at its published address now.
    fn store_answers(&self) -> bool {
        let url = format!("redis://{}:{}/0", self.store_address(), self.ports.store);
        redis::Client::open(url)
            .and_then(|client| client.get_connection_with_timeout(Duration::from_millis(500)))
            .and_then(|mut conn| redis::cmd("PING").query::<String>(&mut conn))
            .is_ok()
    }

    /// Waits (blocking: the fault methods are synchronous) until the store
    /// answers, or no longer does: a scaled service changes in the
    /// background, and a fault's time must be when it took effect.
    fn wait_store(&self, answering: bool) -> Result<(), HarnessError> {
        blocking(|| self.wait_store_blocking(answering))
    }

    fn wait_store_blocking(&self, answering: bool) -> Result<(), HarnessError> {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            if self.store_answers() == answering {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(HarnessError::Timeout(format!(
            "the store of {} still {} after 60 s",
            self.name,
            if answering {
                "does not answer"
            } else {
                "answers"
            }
        )))
    }

    /// Removes the stack, waits until its containers are gone everywhere,
    /// then its networks (and the store's volume, kept by `stack rm`).
    fn teardown(&mut self) {
        if self.deployed {
            self.docker.run_blocking(&["stack", "rm", &self.name]);
            self.deployed = false;
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        for network in std::mem::take(&mut self.networks) {
            // A network goes once the last container on it has; retry until then.
            let removed = retry_until(deadline, || {
                self.docker.try_blocking(&["network", "rm", &network])
            });
            if !removed {
                tracing::warn!("network {network} is still there after 60 s");
            }
        }
        // The swarm leaves a removed task's stopped container on its node;
        // each node's engine removes the stack's (and its generators').
        let engines = self.engines();
        for filter in [
            format!("label=com.docker.stack.namespace={}", self.name),
            format!("label=authlab.cluster={}", self.name),
        ] {
            prune(&engines, &filter);
        }
        if self.spec.store_persistence {
            let volume = format!("{}_store-data", self.name);
            for engine in &engines {
                if engine.lists_volume(&volume)
                    && !retry_until(deadline, || engine.try_blocking(&["volume", "rm", &volume]))
                {
                    tracing::warn!("volume {volume} is still there after 60 s");
                }
            }
        }
    }

    /// Every node's own engine, where its label names one.
    fn engines(&self) -> Vec<Docker> {
        reachable_engines(&self.nodes.read().unwrap_or_else(|e| e.into_inner()))
    }

    fn local_only(&self, what: &str) -> HarnessError {
        HarnessError::Config(format!(
            "{what}: the swarm engine does not do this; local only"
        ))
    }
}

/// Calls `attempt` every half second until it succeeds or `deadline`
/// passes; whether it succeeded.
fn retry_until(deadline: std::time::Instant, mut attempt: impl FnMut() -> bool) -> bool {
    loop {
        if attempt() {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Runs a blocking engine call from the synchronous fault methods without
/// holding up the runtime's other tasks (the load a fault runs beside):
/// on a multi-threaded runtime the worker hands them off first.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Removes the stopped containers `filter` selects on every engine
/// (blocking: teardown runs from `Drop` too).
pub(super) fn prune(engines: &[Docker], filter: &str) {
    for engine in engines {
        engine.run_blocking(&["container", "prune", "--force", "--filter", filter]);
    }
}

impl Drop for SwarmCluster {
    fn drop(&mut self) {
        self.teardown();
    }
}

impl Cluster for SwarmCluster {
    fn spec(&self) -> &ClusterSpec {
        &self.spec
    }

    fn url(&self, stack: Stack, path: &str) -> Result<String, HarnessError> {
        Ok(format!(
            "http://{}:{}{path}",
            self.infra_address(),
            self.frontend_port(stack)?
        ))
    }

    fn frontend_port(&self, stack: Stack) -> Result<u16, HarnessError> {
        if !self.spec.stacks.contains(&stack) {
            return Err(HarnessError::Config(format!(
                "no {stack} stack in this cluster"
            )));
        }
        Ok(self.ports.frontend(stack))
    }

    fn orders_url(&self, variant: OrdersVariant, _path: &str) -> Result<String, HarnessError> {
        Err(self.local_only(&format!("orders-{variant}")))
    }

    fn stats_url(&self) -> String {
        format!("http://{}:{}/stats", self.infra_address(), self.ports.stats)
    }

    fn directory_url(&self) -> String {
        self.directory_url_now().unwrap_or_default()
    }

    fn store_url(&self, db: u8) -> String {
        format!("redis://{}:{}/{db}", self.store_address(), self.ports.store)
    }

    fn node_store_url(&self, db: u8) -> String {
        self.store_url(db)
    }

    fn client_builder(&self) -> Result<reqwest::ClientBuilder, HarnessError> {
        Ok(reqwest::Client::builder())
    }

    fn ca_pem(&self) -> Option<&str> {
        None
    }

    fn ca_file(&self) -> Option<PathBuf> {
        None
    }

    fn introspection_client(&self) -> (&str, &str) {
        (
            crate::orders::INTROSPECTION_CLIENT_ID,
            &self.introspection_secret,
        )
    }

    fn keyset_path(&self) -> Option<&PathBuf> {
        self.keyset.as_ref()
    }

    fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    fn nodes(&self, stack: Stack) -> Vec<Node> {
        self.tasks_of(stack.name())
            .into_iter()
            .filter_map(|t| {
                Some(Node {
                    name: format!("{stack}-{}", t.slot),
                    base_url: format!("http://{}:{}", t.host_address, t.published(NODE_PORT)?),
                    pid: None,
                })
            })
            .collect()
    }

    fn orders_node(&self, _variant: OrdersVariant) -> Option<Node> {
        None
    }

    /// HAProxy's counters, each templated server named after the node it
    /// holds (by address), as a local cluster names them.
    fn stats(&self) -> Result<Vec<ServerStats>, HarnessError> {
        let tasks = self.tasks.read().unwrap_or_else(|e| e.into_inner()).clone();
        Ok(self
            .runtime_api()
            .servers()?
            .into_iter()
            // A slot DNS has not filled holds no node: locally it would not exist.
            .filter(|s| !s.address.is_empty())
            .map(|mut s| {
                let address = s.address.split(':').next().unwrap_or("").to_owned();
                if let Some(task) = tasks.iter().find(|t| {
                    t.overlay_address.as_deref() == Some(address.as_str())
                        && s.backend == format!("{}_nodes", t.service)
                }) {
                    s.server = format!("{}-{}", task.service, task.slot);
                }
                s
            })
            .collect())
    }

    fn runtime_api(&self) -> RuntimeApi {
        RuntimeApi::new(AdminSocket::Tcp(format!(
            "{}:{}",
            self.infra_address(),
            self.ports.runtime_api
        )))
    }

    fn placement(&self) -> Vec<Placement> {
        let tasks = self.tasks.read().unwrap_or_else(|e| e.into_inner()).clone();
        let mut placements: Vec<Placement> = tasks
            .iter()
            .map(|t| Placement {
                part: match t.service.as_str() {
                    "store" => "session store".into(),
                    "directory" => "user directory".into(),
                    "haproxy" => "haproxy".into(),
                    service => format!("{service}-{}", t.slot),
                },
                host: t.host.clone(),
            })
            .collect();
        placements.sort_by(|a, b| a.part.cmp(&b.part));
        placements
    }

    /// From the container's cgroup, as its node's engine reports it
    /// (`GET /containers/<id>/stats`): reading it costs the container
    /// nothing, where a `docker exec cat …` would charge its own start-up
    /// to the cgroup it reads.
    fn cpu_time(&self, part: Part) -> BoxFuture<'_, Option<Duration>> {
        Box::pin(async move {
            let task = self.part_task(part).ok()?;
            let container = task.container.clone()?;
            let api = task.engine.as_deref()?.strip_prefix("tcp://")?.to_owned();
            let url =
                format!("http://{api}/containers/{container}/stats?stream=false&one-shot=true");
            let stats: serde_json::Value = self
                .http
                .get(&url)
                .send()
                .await
                .ok()?
                .error_for_status()
                .ok()?
                .json()
                .await
                .ok()?;
            stats["cpu_stats"]["cpu_usage"]["total_usage"]
                .as_u64()
                .map(Duration::from_nanos)
        })
    }

    fn generate(&self, job: LoadJob) -> BoxFuture<'_, Result<Vec<GeneratorRun>, HarnessError>> {
        Box::pin(async move {
            let generators = self.generators(&job);
            generate::run(generators, job).await
        })
    }

    fn pids(&self) -> Vec<u32> {
        Vec::new()
    }

    fn store_pid(&self) -> Option<u32> {
        None
    }

    fn directory_pid(&self) -> Option<u32> {
        None
    }

    fn haproxy_pid(&self) -> Option<u32> {
        None
    }

    /// The swarm restarts what dies; a part gone for good shows as a
    /// deploy or wait that times out, not here.
    fn crashed(&mut self) -> Option<String> {
        None
    }

    fn wait_all_up(&self, timeout: Duration) -> BoxFuture<'_, Result<(), HarnessError>> {
        Box::pin(async move {
            self.refresh().await?;
            self.wait_up(timeout).await
        })
    }

    fn wait_node_health(
        &self,
        stack: Stack,
        index: usize,
        up: bool,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<(), HarnessError>> {
        Box::pin(async move {
            let deadline = tokio::time::Instant::now() + timeout;
            loop {
                let name = format!("{stack}-{}", index + 1);
                let seen = self
                    .stats()
                    .unwrap_or_default()
                    .iter()
                    .any(|s| s.server == name && s.is_up() == up);
                if seen {
                    return Ok(());
                }
                if tokio::time::Instant::now() > deadline {
                    return Err(HarnessError::Timeout(format!(
                        "{name} not {} in HAProxy",
                        if up { "up" } else { "down" }
                    )));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
                self.refresh().await.ok();
            }
        })
    }

    // ----- faults -----

    fn stop_store(&mut self) {
        if self.store_paused {
            let _ = self.resume_store();
        }
        if let Err(e) = self.scale("store", 0).and_then(|_| self.wait_store(false)) {
            tracing::warn!("stopping the store: {e}");
        }
    }

    /// Its task comes back on the infra host at the same published port.
    fn start_store(&mut self) -> Result<(), HarnessError> {
        self.scale("store", 1)?;
        self.wait_store(true)?;
        // The new task's container is needed for the next fault.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
                let _ = tokio::task::block_in_place(|| handle.block_on(self.refresh()));
            }
        }
        Ok(())
    }

    fn restart_store(&mut self) -> Result<(), HarnessError> {
        self.stop_store();
        self.start_store()
    }

    fn pause_store(&mut self) -> Result<(), HarnessError> {
        self.on_container(Part::Store, "pause")?;
        self.store_paused = true;
        Ok(())
    }

    fn resume_store(&mut self) -> Result<(), HarnessError> {
        self.on_container(Part::Store, "unpause")?;
        self.store_paused = false;
        Ok(())
    }

    fn store_paused(&self) -> bool {
        self.store_paused
    }

    fn kill_node(&mut self, stack: Stack, index: usize) -> Result<(), HarnessError> {
        self.on_container(Part::Node(stack, index), "kill")
    }

    /// The swarm replaces a killed task itself; this waits for the
    /// replacement and for HAProxy to see it.
    fn restart_node(
        &mut self,
        stack: Stack,
        index: usize,
    ) -> BoxFuture<'_, Result<(), HarnessError>> {
        Box::pin(async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while self.node_task(stack, index).is_err() {
                if tokio::time::Instant::now() > deadline {
                    return Err(HarnessError::Timeout(format!(
                        "{stack}-{} was not replaced",
                        index + 1
                    )));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                self.refresh().await?;
            }
            self.wait_node_health(stack, index, true, Duration::from_secs(30))
                .await
        })
    }

    fn set_maintenance(&self, stack: Stack, index: usize, on: bool) -> Result<(), HarnessError> {
        let state = if on {
            ServerState::Maint
        } else {
            ServerState::Ready
        };
        self.set_node_state(stack, index, state)
    }

    fn set_node_state(
        &self,
        stack: Stack,
        index: usize,
        state: ServerState,
    ) -> Result<(), HarnessError> {
        let server = self.server_of(stack, index)?;
        self.runtime_api()
            .set_state(&stack.backend(), &server, state)
    }

    fn host_fault(
        &mut self,
        host: &str,
        fault: crate::cluster::HostFault,
    ) -> BoxFuture<'_, Result<(), HarnessError>> {
        let host = host.to_owned();
        Box::pin(async move { host_fault::apply(self, &host, fault).await })
    }

    fn set_store_latency(&self, _latency: Latency) -> Result<(), HarnessError> {
        Err(self.local_only("a latency proxy before the store"))
    }

    fn store_latency(&self) -> Option<Latency> {
        None
    }

    fn stage_key(&mut self) -> BoxFuture<'_, Result<String, HarnessError>> {
        Box::pin(async move { Err(self.local_only("key rotation")) })
    }

    fn activate_staged_key(&mut self) -> BoxFuture<'_, Result<String, HarnessError>> {
        Box::pin(async move { Err(self.local_only("key rotation")) })
    }

    fn set_revocation(&mut self, _mode: RevocationMode) -> BoxFuture<'_, Result<(), HarnessError>> {
        Box::pin(
            async move { Err(self.local_only("changing the revocation mode of a running stack")) },
        )
    }

    fn shutdown(mut self: Box<Self>) {
        self.teardown();
    }
}

impl SwarmCluster {
    /// Where a load job's generators run, and what they load.
    fn generators(&self, job: &LoadJob) -> Generators<'_> {
        let node_hosts: Vec<String> = self
            .tasks_of(job.stack.name())
            .into_iter()
            .map(|t| t.host)
            .collect();
        let hosts = ready_hosts(&self.nodes.read().unwrap_or_else(|e| e.into_inner()));
        let inside = FRONTEND_PORTS
            .iter()
            .find(|(s, _)| *s == job.stack)
            .map(|(_, p)| *p)
            .unwrap_or(8080);
        Generators {
            docker: &self.docker,
            image: &self.image,
            stack: &self.name,
            hosts: generator_hosts(&hosts, &node_hosts),
            url: format!("http://haproxy:{inside}{}", job.path),
            edge_network: self.network("edge"),
        }
    }
}

impl HostTarget for SwarmCluster {
    fn manager(&self) -> &Docker {
        &self.docker
    }

    fn stack_name(&self) -> &str {
        &self.name
    }

    fn cuts(&mut self) -> &mut Vec<Cut> {
        &mut self.cuts
    }

    fn refresh(&self) -> BoxFuture<'_, Result<(), HarnessError>> {
        Box::pin(SwarmCluster::refresh(self))
    }

    /// Whether any of the stack's tasks runs on `host`.
    fn runs_on(&self, host: &str) -> bool {
        self.tasks
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|t| t.host == host)
    }

    /// Whether every service runs as many tasks as the spec asks.
    fn replicas_running(&self) -> bool {
        let mut wanted = vec![("store", 1), ("directory", 1), ("haproxy", 1)];
        wanted.extend(self.spec.stacks.iter().map(|s| (s.name(), self.spec.nodes)));
        wanted
            .iter()
            .all(|(service, count)| self.tasks_of(service).len() == *count)
    }

    /// The stack's tasks on `host`, each with every network of the stack it
    /// is on (HAProxy: both).
    fn attachments_on(&self, host: &str) -> Vec<(TaskView, String)> {
        let tasks = self.tasks.read().unwrap_or_else(|e| e.into_inner()).clone();
        tasks
            .into_iter()
            .filter(|t| t.host == host)
            .flat_map(|t| {
                let mut networks = vec![self.network("backend")];
                if t.service == "haproxy" {
                    networks.push(self.network("edge"));
                }
                networks.into_iter().map(move |n| (t.clone(), n))
            })
            .collect()
    }
}
