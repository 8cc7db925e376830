//! What the routes, the sampler and the actions share while the console
//! runs: the facts it started with, the dials the page has turned, the
//! action log, and the latest snapshot. One [`Shared`] is made by
//! [`Console::start`](super::Console::start) and handed to every task and
//! handler behind an `Arc`; each part that changes has a lock of its own so
//! a slow control never holds up the sampler.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use jwt_server::RevocationMode;
use tokio::sync::watch;

use super::{
    clock::Clock,
    controller::Controller,
    controls,
    facts::{ClusterFacts, NodeFacts},
    hosts, inspector, load, report_links,
};

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
    pub(super) facts: ClusterFacts,
    /// The nodes now: `facts.nodes`, or what HAProxy named last (compose).
    pub(super) nodes: std::sync::RwLock<Vec<NodeFacts>>,
    pub(super) clock: Clock,
    pub(super) csrf: String,
    pub(super) controller: Controller,
    pub(super) load: Mutex<load::Load>,
    pub(super) inspector: tokio::sync::Mutex<inspector::Inspector>,
    pub(super) dials: Mutex<Dials>,
    pub(super) log: Mutex<VecDeque<LogEntry>>,
    /// The latest snapshot, as JSON.
    pub(super) latest: watch::Sender<Arc<str>>,
    /// Wakes the sampler at once after a control, so its effect is on the
    /// page without waiting for the next tick.
    pub(super) resample: tokio::sync::Notify,
    pub(super) report: report_links::ReportLinks,
    /// The names the console answers to (`Host`), and whose pages may send controls.
    pub(super) hosts: hosts::AllowedHosts,
}

impl Shared {
    pub(super) fn nodes(&self) -> Vec<NodeFacts> {
        self.nodes.read().map(|n| n.clone()).unwrap_or_default()
    }

    /// The node called `name`, with its place in its stack.
    pub(super) fn node(&self, name: &str) -> Option<controls::NodeRef> {
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

    pub(super) fn log(&self, entry: LogEntry) {
        if let Ok(mut log) = self.log.lock() {
            log.push_front(entry);
            log.truncate(LOG_LINES);
        }
    }
}
