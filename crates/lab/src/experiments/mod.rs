//! The experiments, one module (or folder, split by stage) each, and the
//! [`registry`] that lists them in report order.
//!
//! Each answers claims of `docs/claims.md` from numbers it measures: see
//! [`crate::experiment`] for the stages an experiment declares and
//! [`crate::kit`] for what they share. No experiment imports another.

mod c10_sliding;
pub mod c11;
mod c12_attacks;
mod c13_memory;
mod c14;
pub mod c15_summary;
mod c1_affinity;
mod c2_sticky;
mod c3_outage;
mod c4_latency;
mod c6_verify;
mod c7_revocation;
mod c8_demotion;
mod c9_size;
mod capacity;
mod registry;

pub use c12_attacks::Attacks;
pub use c14::Downstream;
pub use c7_revocation::Revocation;
pub use capacity::ScaleOut;
pub use registry::{all, run, run_these, select};
