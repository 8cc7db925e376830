//! What a soak is asked to do ([`SoakPlan`]) and what it writes down
//! ([`SoakRecord`]): the plain data that measuring fills in, judging reads
//! and rendering prints. It lives apart from the entry point so that each
//! of those steps can name it without reaching back into `mod.rs`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::LabError;

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
