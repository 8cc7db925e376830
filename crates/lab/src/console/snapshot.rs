//! The picture the page draws, rebuilt once a second.
//!
//! The sampler asks each source in turn (HAProxy's runtime API, the store,
//! the inspector's probes, the load's windows) and publishes one
//! [`Snapshot`]. A source that does not answer becomes a visible fact in the
//! snapshot ("HAProxy's runtime API did not answer"), never a stale figure.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use serde::Serialize;

use super::{
    controls::revocation_name,
    inspector::PersonView,
    load::LoadStatus,
    state::{LogEntry, Shared, StoreControl},
    store::{self, Reachability, StoreReading},
    window::{Point, Summary, RECENT, SPAN},
};
use crate::{runtime_api::ServerStats, Stack};

/// How often the sampler publishes.
pub const PERIOD: Duration = Duration::from_secs(1);

/// How a stack is doing, in a word the page shows beside its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// No requests in the last few seconds: nothing to judge.
    Idle,
    /// Every recent request succeeded.
    Serving,
    /// Some recent requests failed, most did not.
    Degraded,
    /// Half or more of the recent requests failed.
    Failing,
}

/// The stack's health from its last [`RECENT`] seconds.
pub fn health(recent: &Summary) -> Health {
    if recent.requests == 0 {
        Health::Idle
    } else if recent.failed == 0 {
        Health::Serving
    } else if recent.failed * 2 >= recent.requests {
        Health::Failing
    } else {
        Health::Degraded
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeRow {
    pub name: String,
    /// HAProxy's word for it: `UP`, `DOWN`, `MAINT`, `DRAIN`, `UP 1/3`, …
    pub state: String,
    /// Responses per second HAProxy got from it since the last snapshot.
    pub rps: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StackView {
    pub stack: Stack,
    pub health: Health,
    /// The last few seconds: what `health` reads.
    pub recent: Summary,
    /// The whole window the charts show.
    pub window: Summary,
    pub series: Vec<Point>,
    pub nodes: Vec<NodeRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoreView {
    /// What the console measured.
    pub reading: StoreReading,
    /// What the console did to it.
    pub control: StoreControl,
    pub latency_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// Counts snapshots since the console started.
    pub seq: u64,
    pub uptime_s: u64,
    pub stacks: Vec<StackView>,
    pub store: Option<StoreView>,
    pub load: Option<LoadStatus>,
    pub people: Vec<PersonView>,
    pub log: Vec<LogEntry>,
    /// The JWT stack's revocation: `none` or `denylist`.
    pub revocation: Option<String>,
    /// Why node states are missing, when HAProxy did not answer.
    pub haproxy_error: Option<String>,
}

impl Snapshot {
    /// What the page gets before the first sample.
    pub fn empty() -> Self {
        Self {
            seq: 0,
            uptime_s: 0,
            stacks: Vec::new(),
            store: None,
            load: None,
            people: Vec::new(),
            log: Vec::new(),
            revocation: None,
            haproxy_error: None,
        }
    }
}

/// Responses per second of each server, from HAProxy's running totals.
#[derive(Default)]
struct Rates {
    last: HashMap<(String, String), (u64, Instant)>,
}

impl Rates {
    fn update(&mut self, rows: &[ServerStats], now: Instant) -> HashMap<(String, String), f64> {
        let mut rates = HashMap::new();
        for row in rows {
            let key = (row.backend.clone(), row.server.clone());
            if let Some(rate) = self
                .last
                .get(&key)
                .and_then(|before| per_second(*before, (row.responses, now)))
            {
                rates.insert(key.clone(), rate);
            }
            self.last.insert(key, (row.responses, now));
        }
        rates
    }
}

/// The rate between two readings of a running total; `None` when the total
/// went down (HAProxy reloaded and started counting again) or no time passed.
fn per_second(before: (u64, Instant), now: (u64, Instant)) -> Option<f64> {
    let seconds = now.1.checked_duration_since(before.1)?.as_secs_f64();
    (now.0 >= before.0 && seconds > 0.0).then(|| (now.0 - before.0) as f64 / seconds)
}

/// Publishes a snapshot every [`PERIOD`], and at once after a control,
/// until aborted.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut rates = Rates::default();
    let mut tick = tokio::time::interval(PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seq = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shared.resample.notified() => tick.reset(),
        }
        seq += 1;
        let snapshot = sample(&shared, &mut rates, seq).await;
        // Serialized once here, not once per page, feed and state request.
        match serde_json::to_string(&snapshot) {
            Ok(json) => {
                shared.latest.send_replace(json.into());
            }
            Err(error) => tracing::warn!(%error, "the console could not serialize a snapshot"),
        }
    }
}

async fn sample(shared: &Shared, rates: &mut Rates, seq: u64) -> Snapshot {
    let api = shared.facts.runtime_api.clone();
    let servers = tokio::task::spawn_blocking(move || api.servers())
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    let reading = store::read(&shared.facts.store_url).await;
    let people = {
        let mut inspector = shared.inspector.lock().await;
        inspector.probe().await;
        inspector.view()
    };
    let now = shared.clock.second();
    let (load, windows) = match shared.load.lock() {
        Ok(mut load) => {
            if load.enforce_limit() {
                shared.log(LogEntry {
                    at_s: now,
                    action: "load-stop".into(),
                    ok: true,
                    message: "the built-in load stopped by itself after its longest run".into(),
                    claim: None,
                });
            }
            let windows: Vec<_> = shared
                .facts
                .frontends
                .iter()
                .filter_map(|(stack, _)| load.window(*stack).map(|w| (*stack, w)))
                .collect();
            (Some(load.status()), windows)
        }
        Err(_) => (None, Vec::new()),
    };
    let (rows, haproxy_error) = match servers {
        Ok(rows) => (rows, None),
        Err(error) => (Vec::new(), Some(error)),
    };
    let rate_of = rates.update(&rows, Instant::now());
    if shared.facts.compose && haproxy_error.is_none() {
        rediscover(shared, &rows).await;
    }
    let stacks = windows
        .into_iter()
        .map(|(stack, window)| {
            let (recent, whole, series) = match window.lock() {
                Ok(w) => (w.summary(now, RECENT), w.summary(now, SPAN), w.series(now)),
                Err(_) => (Summary::empty(RECENT), Summary::empty(SPAN), Vec::new()),
            };
            StackView {
                stack,
                health: health(&recent),
                recent,
                window: whole,
                series,
                nodes: node_rows(shared, stack, &rows, &rate_of),
            }
        })
        .collect();
    let dials = shared.dials.lock().ok().map(|mut dials| {
        // A store that answers again is running, whatever the console last
        // did to it: compose restarts a crashed store, a pause runs out.
        if reading.reachability == Reachability::Up {
            dials.store = StoreControl::Running;
        }
        *dials
    });
    Snapshot {
        seq,
        uptime_s: now,
        stacks,
        store: Some(StoreView {
            reading,
            control: dials.map_or(StoreControl::Running, |d| d.store),
            latency_ms: dials.map_or(0.0, |d| d.store_latency.as_secs_f64() * 1000.0),
        }),
        revocation: dials.map(|d| revocation_name(d.revocation)),
        load,
        people,
        log: shared
            .log
            .lock()
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default(),
        haproxy_error,
    }
}

/// Takes up the nodes HAProxy names now, when they changed.
async fn rediscover(shared: &Shared, rows: &[ServerStats]) {
    let stacks: Vec<Stack> = shared.facts.frontends.iter().map(|(s, _)| *s).collect();
    let found = super::compose::discovered(rows, &stacks);
    if found == shared.nodes() {
        return;
    }
    if let Ok(mut nodes) = shared.nodes.write() {
        nodes.clone_from(&found);
    }
    shared.inspector.lock().await.set_nodes(found);
}

fn node_rows(
    shared: &Shared,
    stack: Stack,
    rows: &[ServerStats],
    rates: &HashMap<(String, String), f64>,
) -> Vec<NodeRow> {
    let backend = stack.backend();
    shared
        .nodes()
        .iter()
        .filter(|n| n.stack == stack)
        .map(|node| {
            let row = rows
                .iter()
                .find(|r| r.backend == backend && r.server == node.name);
            NodeRow {
                name: node.name.clone(),
                state: row.map_or_else(|| "unknown".to_owned(), |r| r.status.clone()),
                rps: rates.get(&(backend.clone(), node.name.clone())).copied(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recent(requests: u32, failed: u32) -> Summary {
        Summary {
            requests,
            failed,
            ..Summary::empty(RECENT)
        }
    }

    #[test]
    fn health_follows_the_share_of_recent_failures() {
        assert_eq!(health(&recent(0, 0)), Health::Idle);
        assert_eq!(health(&recent(60, 0)), Health::Serving);
        assert_eq!(health(&recent(60, 1)), Health::Degraded);
        assert_eq!(health(&recent(60, 30)), Health::Failing);
        assert_eq!(health(&recent(60, 60)), Health::Failing);
    }

    #[test]
    fn a_stack_whose_store_is_down_reads_as_failing_not_idle() {
        // A broken set-up: every request refused. Refusals are requests.
        assert_eq!(health(&recent(45, 45)), Health::Failing);
    }

    #[test]
    fn rates_come_from_the_difference_of_running_totals() {
        let start = Instant::now();
        let later = start + Duration::from_secs(2);
        assert_eq!(per_second((100, start), (160, later)), Some(30.0));
        // A reload resets HAProxy's counters: no rate rather than a negative one.
        assert_eq!(per_second((100, start), (5, later)), None);
        assert_eq!(per_second((100, start), (100, start)), None);
    }

    #[test]
    fn the_first_reading_of_a_server_has_no_rate() {
        let mut rates = Rates::default();
        let row = ServerStats {
            backend: "session_nodes".into(),
            server: "session-1".into(),
            address: String::new(),
            status: "UP".into(),
            selected: 0,
            responses: 10,
            responses_5xx: 0,
        };
        let start = Instant::now();
        assert!(rates.update(std::slice::from_ref(&row), start).is_empty());
        let mut later = row;
        later.responses = 20;
        let second = rates.update(&[later], start + Duration::from_secs(1));
        assert_eq!(
            second.get(&("session_nodes".into(), "session-1".into())),
            Some(&10.0)
        );
    }
}
