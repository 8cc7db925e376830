//! What a login flood is asked to do ([`FloodSpec`], its four [`Variant`]s)
//! and what it measured ([`Run`], gathered in a [`FloodReport`]): the data
//! the measuring side fills in and the report side prints, kept apart from
//! both so that neither reaches into the other.

use std::{path::PathBuf, time::Duration};

use crate::process::Stack;

/// What to run.
#[derive(Debug, Clone)]
pub struct FloodSpec {
    pub stacks: Vec<Stack>,
    pub trials: usize,
    /// Per wrk run (and flood).
    pub duration: Duration,
    /// Login attempts offered per second.
    pub rate: u32,
    /// Most attempts outstanding at once.
    pub in_flight: usize,
    /// wrk's `-c` and `-t` on `/me`.
    pub connections: u32,
    pub threads: u32,
    /// HTTP workers per node.
    pub workers: usize,
    /// The `authlab` binary that runs `authlab node …`.
    pub launcher: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Baseline,
    FloodOff,
    FloodOn,
    DistributedOn,
}

impl Variant {
    pub const ALL: [Variant; 4] = [
        Variant::Baseline,
        Variant::FloodOff,
        Variant::FloodOn,
        Variant::DistributedOn,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Variant::Baseline => "baseline (no flood)",
            Variant::FloodOff => "flood, throttle off",
            Variant::FloodOn => "flood, throttle on",
            Variant::DistributedOn => "distributed flood, throttle on",
        }
    }

    pub(super) fn throttled_node(self) -> bool {
        matches!(self, Variant::FloodOn | Variant::DistributedOn)
    }

    pub(super) fn flood(self) -> Option<bool> {
        match self {
            Variant::Baseline => None,
            Variant::FloodOff | Variant::FloodOn => Some(false),
            Variant::DistributedOn => Some(true),
        }
    }
}

/// Answers the flood got in one run.
#[derive(Debug, Clone, Copy, Default)]
pub struct FloodCounts {
    pub sent: u64,
    pub ok: u64,
    pub unauthorized: u64,
    pub too_many: u64,
    /// `503 login_busy`: no verification slot within the queue timeout.
    pub busy: u64,
    /// `503 store_unavailable`: the user lookup timed out (a starved node).
    pub store: u64,
    pub other: u64,
    pub errors: u64,
    pub not_sent: u64,
}

/// One wrk run on `/me` and what went with it.
#[derive(Debug, Clone)]
pub struct Run {
    pub stack: Stack,
    pub variant: Variant,
    pub trial: usize,
    /// `/me` requests per second; `None` when the run failed its error check.
    pub rps: Option<f64>,
    pub invalid: Option<String>,
    /// CPU the node used during the run, in cores.
    pub node_cores: f64,
    /// CPU this process (the flood generator) used during the run, in cores:
    /// it shares the machine with the node, so it is reported, not hidden.
    pub generator_cores: f64,
    /// CPU used by processes that are not part of the measurement (not the
    /// node, the generator, wrk or the two Redis): a build running beside
    /// the measurement shows here.
    pub other_cores: f64,
    pub flood: FloodCounts,
}

pub struct FloodReport {
    pub spec: FloodSpec,
    pub concurrency: Option<usize>,
    pub runs: Vec<Run>,
}
