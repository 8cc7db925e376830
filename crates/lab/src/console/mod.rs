//! The authlab console: a web page that shows both stacks live and breaks
//! them on a click.
//!
//! A demo is watched, not read. The console turns each claim into something
//! that happens on screen: stop the store and the session side turns red
//! while the JWT side stays green; log alice out and watch her JWT go on
//! working on every node; demote carol and see which stack still lets her in.
//!
//! # How it is made
//!
//! ```text
//!   browser ──GET /──────────────▶ page (server-rendered HTML, console.js, console.css)
//!           ◀─/api/events (SSE)── snapshot, once a second ◀── sampler ─┬─ HAProxy runtime API (node states, req/s)
//!           ──POST /api/control──▶ action ─┐                           ├─ session store (INFO: keys, memory)
//!                                          │                           ├─ built-in load's windows (success, p50, p99)
//!                                          ├─▶ load, inspector         └─ inspector (each node, each credential)
//!                                          └─▶ Controller ──▶ the cluster's owner (stop store, kill node, …)
//! ```
//!
//! * **One snapshot, many viewers.** A sampler task builds a [`Snapshot`]
//!   once a second and publishes it on a watch channel; every open page
//!   gets it over Server-Sent Events. Ten browsers cost what one does.
//! * **Traffic of its own.** The figures need requests behind them: the
//!   console's [`load`] runs a few simulated users per stack, started and
//!   sized from the page within hard caps.
//! * **Controls say what they teach.** Every button names its claim and
//!   links to that claim's section of the latest report, when there is one
//!   (see [`controls::CONTROLS`]).
//! * **Safe by default.** It binds 127.0.0.1 unless told otherwise, it
//!   answers only to its own names ([`hosts`]: loopback, the bind address,
//!   `--console-host`), so a DNS-rebinding page gets nothing, it can
//!   only touch the cluster it was started with, and every control is a
//!   `POST` with a JSON body and the page's CSRF token in a header: a form on
//!   another site can neither set the header nor send JSON without a CORS
//!   preflight, which the console never grants. The page makes no request
//!   to anywhere but the console (a Content-Security-Policy says so).

mod act;
pub mod compose;
pub mod controls;
pub mod hosts;
pub mod inspector;
pub mod load;
mod page;
mod routes;
pub mod snapshot;
pub mod store;
pub mod window;

use std::{
    collections::VecDeque,
    net::{IpAddr, SocketAddr, TcpListener},
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use actix_web::dev::ServerHandle;
use jwt_server::RevocationMode;
use rand::RngCore;
use tokio::{sync::watch, task::JoinHandle};

pub use controls::{carry_out, Action, ClusterAction, Controller, Request};
pub use snapshot::Snapshot;

use crate::{runtime_api::RuntimeApi, Cluster, LabError, Stack};

/// Seconds since the console started: the time axis of its windows.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: Instant,
}

impl Clock {
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }

    pub fn second(&self) -> u64 {
        self.origin.elapsed().as_secs()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

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

/// Where and how to serve the console.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    pub bind: IpAddr,
    /// 0 for any free port.
    pub port: u16,
    /// A run directory (usually `reports/latest`) whose report the controls
    /// link to; links are left out when it holds no report.
    pub report_dir: PathBuf,
    /// Names the console answers to besides loopback and the bind address
    /// (`--console-host`, `AUTHLAB_CONSOLE_HOSTS`; see [`hosts`]).
    pub hosts: Vec<String>,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            bind: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            report_dir: PathBuf::from("reports/latest"),
            hosts: Vec::new(),
        }
    }
}

/// What the console has set on the cluster, as opposed to what it measures.
#[derive(Debug, Clone, Copy)]
pub struct Dials {
    pub store: StoreControl,
    pub store_latency: Duration,
    pub revocation: RevocationMode,
}

/// What the console did to the store, as opposed to what it measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreControl {
    Running,
    Paused,
    Stopped,
}

/// One line of the page's action log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LogEntry {
    pub at_s: u64,
    pub action: String,
    pub ok: bool,
    pub message: String,
    pub claim: Option<String>,
}

/// Lines the action log keeps.
const LOG_LINES: usize = 8;

/// Everything the routes and the sampler share.
pub(crate) struct Shared {
    facts: ClusterFacts,
    /// The nodes now: `facts.nodes`, or what HAProxy named last (compose).
    nodes: std::sync::RwLock<Vec<NodeFacts>>,
    clock: Clock,
    csrf: String,
    controller: Controller,
    load: Mutex<load::Load>,
    inspector: tokio::sync::Mutex<inspector::Inspector>,
    dials: Mutex<Dials>,
    log: Mutex<VecDeque<LogEntry>>,
    /// The latest snapshot, as JSON.
    latest: watch::Sender<Arc<str>>,
    /// Wakes the sampler at once after a control, so its effect is on the
    /// page without waiting for the next tick.
    resample: tokio::sync::Notify,
    report: page::ReportLinks,
    /// The names the console answers to (`Host`), and whose pages may send controls.
    hosts: hosts::AllowedHosts,
}

impl Shared {
    fn nodes(&self) -> Vec<NodeFacts> {
        self.nodes.read().map(|n| n.clone()).unwrap_or_default()
    }

    /// The node called `name`, with its place in its stack.
    fn node(&self, name: &str) -> Option<controls::NodeRef> {
        let nodes = self.nodes();
        let node = nodes.iter().find(|n| n.name == name)?;
        let index = nodes
            .iter()
            .filter(|n| n.stack == node.stack)
            .position(|n| n.name == name)?;
        Some(controls::NodeRef {
            stack: node.stack,
            index,
            name: node.name.clone(),
        })
    }

    fn log(&self, entry: LogEntry) {
        if let Ok(mut log) = self.log.lock() {
            log.push_front(entry);
            log.truncate(LOG_LINES);
        }
    }
}

/// A running console.
pub struct Console {
    address: SocketAddr,
    server: ServerHandle,
    tasks: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl Console {
    /// Binds, logs alice and carol in, starts the sampler and serves.
    pub async fn start(
        config: ConsoleConfig,
        facts: ClusterFacts,
        controller: Controller,
    ) -> Result<Self, LabError> {
        let listener = TcpListener::bind((config.bind, config.port)).map_err(|e| {
            LabError::Config(format!(
                "the console cannot listen on {}:{}: {e}",
                config.bind, config.port
            ))
        })?;
        let address = listener
            .local_addr()
            .map_err(|e| LabError::Io(e.to_string()))?;
        let clock = Clock::new();
        let mut inspector = inspector::Inspector::new(
            facts.client.clone(),
            facts.frontends.clone(),
            facts.nodes.clone(),
        );
        for person in [inspector::Person::Alice, inspector::Person::Carol] {
            inspector.log_in(person).await;
        }
        let load = load::Load::new(
            facts.client.clone(),
            clock,
            &facts.frontends,
            facts.seeded_users,
        );
        let mut token = [0u8; 32];
        rand::rng().fill_bytes(&mut token);
        let empty = serde_json::to_string(&Snapshot::empty())
            .map_err(|e| LabError::Io(format!("the console's first snapshot: {e}")))?;
        let (latest, _) = watch::channel(Arc::from(empty));
        let shared = Arc::new(Shared {
            report: page::ReportLinks::read(&config.report_dir),
            nodes: std::sync::RwLock::new(facts.nodes.clone()),
            dials: Mutex::new(Dials {
                store: StoreControl::Running,
                store_latency: facts.store_latency,
                revocation: facts.revocation,
            }),
            facts,
            clock,
            csrf: base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, token),
            controller,
            load: Mutex::new(load),
            inspector: tokio::sync::Mutex::new(inspector),
            log: Mutex::new(VecDeque::new()),
            latest,
            resample: tokio::sync::Notify::new(),
            hosts: hosts::AllowedHosts::new(config.bind, Some(&config.hosts.join(","))),
        });
        let sampler = tokio::spawn(snapshot::run(shared.clone()));
        let server = routes::serve(listener, shared.clone())?;
        let handle = server.handle();
        let serving = tokio::spawn(async move {
            if let Err(error) = server.await {
                tracing::warn!(%error, "the console stopped serving");
            }
        });
        Ok(Self {
            address,
            server: handle,
            tasks: vec![sampler, serving],
            shared,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    /// Stops serving, the sampler and the load.
    pub async fn stop(self) {
        self.server.stop(false).await;
        for task in &self.tasks {
            task.abort();
        }
        if let Ok(mut load) = self.shared.load.lock() {
            load.stop();
        }
    }
}
