//! `authlab soak`: ordinary traffic for a long time, to show nothing wears out.
//!
//! A benchmark answers "how fast"; a soak answers "does it stay that way".
//! What goes wrong in a server like these goes wrong slowly: an index that
//! only ever grows, a denylist whose entries never expire, a pool that loses
//! a connection now and then, a cache keyed by something unbounded. None of
//! that shows in a ten-second run, all of it shows as resident memory that
//! keeps climbing, a tail latency that drifts up, or errors that start late.
//!
//! So a soak:
//!
//! 1. starts a cluster: nodes of both stacks behind HAProxy, a session and
//!    token store, the JWT stack with a short access lifetime (so tokens are
//!    refreshed) and the denylist on (so logouts write to the store);
//! 2. measures what the two stacks serve *together* on this machine, with
//!    goose's lifecycle users (log in, browse, refresh, log out, log in
//!    again) and no pause: that is the capacity the load is a share of;
//! 3. offers each stack `load` (70% by default) of its measured capacity,
//!    throttled, in one-minute windows, and after every window reads each
//!    process's resident memory;
//! 4. judges the record ([`judge`]): not one failed request, every minute
//!    served what it was offered, and every server process's memory flat
//!    within 10% from the end of the warm-up (the first tenth of the
//!    minutes, at least one) to the end;
//! 5. writes `soak.json`, `soak.md` and two charts ([`render`]).
//!
//! Latency is goose's raw figure (responses as measured). goose's
//! coordinated-omission correction is left out because under a throttle it
//! also counts the wait for the throttle's next slot as server time (see
//! `loadtests::LoadReport::latency_ms`).

pub mod judge;
mod measure;
mod render;

use std::{
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use jwt_server::RevocationMode;
use serde::{Deserialize, Serialize};

use crate::{ClusterSpec, LabError, Stack};

pub use judge::{Check, Status};

/// What to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoakPlan {
    /// One-minute windows of load after the capacity run.
    pub minutes: u32,
    /// Share of the measured capacity offered to each stack.
    pub load: f64,
    pub nodes: usize,
    /// goose users per stack (each a seeded load user).
    pub users: usize,
    /// Length of the capacity run.
    pub capacity_run: Duration,
    pub window: Duration,
    /// The JWT stack's access-token lifetime: short, so visits refresh.
    pub access_ttl: Duration,
}

impl SoakPlan {
    pub fn new(minutes: u32) -> Self {
        Self {
            minutes,
            load: 0.7,
            nodes: 2,
            users: 16,
            capacity_run: Duration::from_secs(20),
            window: Duration::from_secs(60),
            access_ttl: Duration::from_secs(15),
        }
    }

    /// Minutes whose memory growth is not judged: a tenth of the soak, at
    /// least one. Allocator arenas, connection pools and goose's histograms
    /// fill during the first minutes; a leak keeps growing after them.
    pub fn warmup_minutes(&self) -> usize {
        (self.minutes as usize / 10).max(1)
    }

    pub fn validate(&self) -> Result<(), LabError> {
        let invalid = |why: String| Err(LabError::Config(why));
        if self.minutes == 0 {
            return invalid("--minutes must be at least 1".into());
        }
        if !(self.load > 0.0 && self.load <= 1.0) {
            return invalid(format!("--load must be in (0, 1], not {}", self.load));
        }
        if self.nodes == 0 || self.users == 0 {
            return invalid("--nodes and --users must be at least 1".into());
        }
        Ok(())
    }
}

/// One stack's figures in one run (the capacity run or a window).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StackWindow {
    pub stack: String,
    /// 1-based minute of the soak; 0 for the capacity run.
    pub minute: usize,
    /// The throttle goose ran with; 0 when unthrottled (the capacity run).
    pub offered_rps: f64,
    /// Requests per second in goose's steady state.
    pub served_rps: f64,
    /// Every request of the run, ramp-up included.
    pub requests: u64,
    /// Failed requests of the run, ramp-up included: transport errors and
    /// unexpected statuses, on every route (logins and logouts too).
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub logins: u64,
    pub logouts: u64,
    pub refreshes: u64,
}

/// One process's resident memory at a moment of the soak.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessMemory {
    pub name: String,
    pub pid: Option<u32>,
    /// VmRSS in bytes; `None` when the process could not be read (gone).
    pub rss: Option<u64>,
    /// Judged by the RSS rule. The load generator (this process) is shown
    /// but not judged: goose keeps a histogram per request name.
    pub judged: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub minute: usize,
    pub stacks: Vec<StackWindow>,
    /// Read right after the window's load stopped.
    pub memory: Vec<ProcessMemory>,
}

/// Everything a soak measured, as `soak.json` holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoakRecord {
    pub started: String,
    pub plan: SoakPlan,
    pub stacks: Vec<String>,
    pub capacity: Vec<StackWindow>,
    /// Memory just after the cluster started, before any load.
    pub memory_at_start: Vec<ProcessMemory>,
    pub windows: Vec<Window>,
    pub seconds: f64,
}

impl SoakRecord {
    /// The processes the RSS rule applies to, in the order first sampled.
    pub fn judged_processes(&self) -> Vec<String> {
        self.memory_at_start
            .iter()
            .filter(|p| p.judged)
            .map(|p| p.name.clone())
            .collect()
    }

    /// A process's RSS after each minute; `None` where it could not be read.
    pub fn rss_samples(&self, name: &str) -> Vec<Option<u64>> {
        self.windows
            .iter()
            .map(|w| w.memory.iter().find(|p| p.name == name).and_then(|p| p.rss))
            .collect()
    }
}

/// Runs a soak and writes `<root>/soak-<run-id>/`. The checks come back
/// with the directory; the caller decides what a failure means for it.
pub async fn run(
    plan: SoakPlan,
    launcher: PathBuf,
    root: &Path,
) -> Result<(PathBuf, Vec<Check>), LabError> {
    plan.validate()?;
    let started_at = std::time::Instant::now();
    let (id, started) = crate::experiment::run_id(SystemTime::now());
    let mut spec = ClusterSpec::new(launcher);
    spec.nodes = plan.nodes;
    spec.seed_users = plan.users;
    spec.revocation = RevocationMode::Denylist;
    spec.jwt.access_ttl = Some(plan.access_ttl);
    let cluster = crate::Engine::start(&crate::Local, spec).await?;
    let stacks = [Stack::Session, Stack::Jwt];
    let memory_at_start = measure::memory(&*cluster);

    let announce = |line: String| eprintln!("{line}");
    announce(format!(
        "capacity: both stacks, {} lifecycle users each, no pause, {} s",
        plan.users,
        plan.capacity_run.as_secs()
    ));
    let capacity = measure::capacity(&*cluster, &plan).await?;
    for c in &capacity {
        announce(format!(
            "  {}: {:.0} req/s, {} errors",
            c.stack, c.served_rps, c.errors
        ));
    }
    let offered: Vec<usize> = capacity
        .iter()
        .map(|c| ((c.served_rps * plan.load).round() as usize).max(1))
        .collect();

    let mut windows = Vec::new();
    for minute in 1..=plan.minutes as usize {
        let window = measure::window(&*cluster, &plan, minute, &offered).await?;
        announce(render::progress_line(&window, plan.minutes));
        windows.push(window);
        if loadtests::interrupt_requested() {
            announce("interrupted: judging the minutes run so far".into());
            break;
        }
    }
    cluster.shutdown();

    let record = SoakRecord {
        started,
        plan,
        stacks: stacks.iter().map(|s| s.to_string()).collect(),
        capacity,
        memory_at_start,
        windows,
        seconds: started_at.elapsed().as_secs_f64(),
    };
    let checks = judge::judge(&record);
    let dir = root.join(format!("soak-{id}"));
    render::write(&record, &checks, &dir)?;
    Ok((dir, checks))
}

/// Judges a recorded soak again with the current rules and rewrites its
/// files: the record (every reading) is kept, checks and charts are redone.
pub fn rerender(dir: &Path) -> Result<Vec<Check>, LabError> {
    #[derive(Deserialize)]
    struct Saved {
        record: SoakRecord,
    }
    let path = dir.join("soak.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| LabError::Io(format!("{}: {e}", path.display())))?;
    let saved: Saved = serde_json::from_str(&text)
        .map_err(|e| LabError::Io(format!("{}: {e}", path.display())))?;
    let checks = judge::judge(&saved.record);
    render::write(&saved.record, &checks, dir)?;
    Ok(checks)
}
