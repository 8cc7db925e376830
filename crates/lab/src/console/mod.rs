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
mod clock;
pub mod compose;
mod controller;
pub mod controls;
mod facts;
pub mod hosts;
pub mod inspector;
pub mod load;
mod page;
mod report_links;
mod routes;
pub mod snapshot;
mod state;
pub mod store;
pub mod window;

use std::{
    collections::VecDeque,
    net::{IpAddr, SocketAddr, TcpListener},
    path::PathBuf,
    sync::{Arc, Mutex},
};

use actix_web::dev::ServerHandle;
use rand::RngCore;
use tokio::{sync::watch, task::JoinHandle};

pub use clock::Clock;
pub use controller::{Controller, Request};
pub use controls::{carry_out, Action, ClusterAction};
pub use facts::{ClusterFacts, NodeFacts};
pub use snapshot::Snapshot;
pub use state::{Dials, LogEntry, StoreControl};

use crate::LabError;
use state::Shared;

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
            report: report_links::ReportLinks::read(&config.report_dir),
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
