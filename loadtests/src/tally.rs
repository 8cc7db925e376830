//! What goose does not count for us: which node answered, how the error
//! rate moved second by second, and how often users had to log in again.
//!
//! One [`Tally`] belongs to one run. The transactions reach it through an
//! `Arc` their closures capture (goose transactions get only `&mut
//! GooseUser`), so two runs in one process never mix their counts, and
//! nothing global has to be reset between runs.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex, PoisonError,
    },
    time::Instant,
};

use authlab_core::http::NODE_HEADER;
use goose::goose::GooseResponse;
use serde::{Deserialize, Serialize};

/// Requests that got their answer (or their transport error) in one second
/// of the run, counted from the start of the run (ramp-up included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SecondBucket {
    pub second: u64,
    pub requests: u64,
    /// Requests goose counts as failed: a transport error or an unexpected
    /// status (any non-2xx, except the 403 a non-admin expects from
    /// `/admin/stats`).
    pub errors: u64,
}

#[derive(Default)]
struct Traffic {
    per_node: HashMap<String, u64>,
    /// `(requests, errors)` per second of the run.
    seconds: Vec<(u64, u64)>,
}

/// Counters for one run, shared by all its users.
pub struct Tally {
    started: Instant,
    logins: AtomicU64,
    login_failures: AtomicU64,
    relogins: AtomicU64,
    refreshes: AtomicU64,
    refresh_failures: AtomicU64,
    logouts: AtomicU64,
    logout_failures: AtomicU64,
    // One lock per request: cheap next to an HTTP round trip, and it keeps
    // the node map and the time series consistent with each other.
    traffic: Mutex<Traffic>,
}

impl Default for Tally {
    fn default() -> Self {
        Self::new()
    }
}

/// A copy of a [`Tally`]'s counts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TallySnapshot {
    pub per_node: BTreeMap<String, u64>,
    pub per_second: Vec<SecondBucket>,
    pub logins: u64,
    pub login_failures: u64,
    pub relogins: u64,
    pub refreshes: u64,
    pub refresh_failures: u64,
    pub logouts: u64,
    pub logout_failures: u64,
}

impl Tally {
    /// Starts the clock the per-second buckets count from.
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            logins: AtomicU64::new(0),
            login_failures: AtomicU64::new(0),
            relogins: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
            refresh_failures: AtomicU64::new(0),
            logouts: AtomicU64::new(0),
            logout_failures: AtomicU64::new(0),
            traffic: Mutex::new(Traffic::default()),
        }
    }

    /// Counts one response: its node (from `x-node`) and its second.
    pub(crate) fn record(&self, response: &GooseResponse) {
        let second = usize::try_from(self.started.elapsed().as_secs()).unwrap_or(usize::MAX);
        let node = response
            .response
            .as_ref()
            .ok()
            .and_then(|r| r.headers().get(NODE_HEADER))
            .and_then(|value| value.to_str().ok());
        let failed = !response.request.success;
        let mut traffic = self.traffic.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(node) = node {
            // Look up by &str first: no allocation on the hot path.
            match traffic.per_node.get_mut(node) {
                Some(count) => *count += 1,
                None => {
                    traffic.per_node.insert(node.to_owned(), 1);
                }
            }
        }
        if traffic.seconds.len() <= second {
            traffic.seconds.resize(second.saturating_add(1), (0, 0));
        }
        if let Some(bucket) = traffic.seconds.get_mut(second) {
            bucket.0 += 1;
            bucket.1 += u64::from(failed);
        }
    }

    pub(crate) fn login(&self, ok: bool) {
        let counter = if ok {
            &self.logins
        } else {
            &self.login_failures
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn relogin(&self) {
        self.relogins.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn refresh(&self, ok: bool) {
        let counter = if ok {
            &self.refreshes
        } else {
            &self.refresh_failures
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn logout(&self, ok: bool) {
        let counter = if ok {
            &self.logouts
        } else {
            &self.logout_failures
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> TallySnapshot {
        let traffic = self.traffic.lock().unwrap_or_else(PoisonError::into_inner);
        TallySnapshot {
            per_node: traffic
                .per_node
                .iter()
                .map(|(node, count)| (node.clone(), *count))
                .collect(),
            per_second: traffic
                .seconds
                .iter()
                .enumerate()
                .map(|(second, &(requests, errors))| SecondBucket {
                    second: second as u64,
                    requests,
                    errors,
                })
                .collect(),
            logins: self.logins.load(Ordering::Relaxed),
            login_failures: self.login_failures.load(Ordering::Relaxed),
            relogins: self.relogins.load(Ordering::Relaxed),
            refreshes: self.refreshes.load(Ordering::Relaxed),
            refresh_failures: self.refresh_failures.load(Ordering::Relaxed),
            logouts: self.logouts.load(Ordering::Relaxed),
            logout_failures: self.logout_failures.load(Ordering::Relaxed),
        }
    }
}
