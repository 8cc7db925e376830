//! What experiments share: the trial scheduler, the load checks, logins,
//! goose behaviour runs, CPU time per process, the wrk probe of what a
//! request costs the cluster, the statistics (and latency histograms that
//! merge across load generators), and the watch of every node after a
//! revocation.
//!
//! An experiment may import anything here and nothing from another
//! experiment: when two experiments need the same step, it moves here. The
//! kit knows nothing of particular claims.

pub mod behaviour;
pub mod cpu;
pub mod latency_histogram;
pub mod load_check;
pub mod logins;
pub mod revocation;
pub mod schedule;
pub mod stats;
pub mod wrk_probe;

use crate::LabError;

/// An experiment step failed: the message becomes the report's error line.
pub fn err(e: impl std::fmt::Display) -> LabError {
    LabError::Config(e.to_string())
}
