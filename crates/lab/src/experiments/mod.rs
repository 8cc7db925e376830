//! The experiments, one module (or folder, split by stage) each, listed in
//! report order by the one macro below, and the [`registry`] functions that
//! select and run them.
//!
//! Each answers claims of `docs/claims.md` from numbers it measures: see
//! [`crate::experiment`] for the stages an experiment declares and
//! [`crate::kit`] for what they share. No experiment imports another.

use crate::experiment::Runnable;

/// Declares each experiment's module and lists its experiment (made with
/// `Default`), in report order: registering an experiment is one line here.
macro_rules! experiments {
    ($($module:ident :: $experiment:ident),+ $(,)?) => {
        $(pub mod $module;)+

        /// Every experiment, in report order.
        pub fn all() -> Vec<Box<dyn Runnable>> {
            vec![$(Box::new($module::$experiment::default())),+]
        }
    };
}

experiments! {
    c1_affinity::SessionAffinity,
    c2_sticky::Stickiness,
    c3_outage::StoreOutage,
    c4_latency::StoreLatency,
    capacity::ScaleOut,
    c6_verify::VerifyCost,
    c7_revocation::Revocation,
    c8_demotion::RoleDemotion,
    c9_size::CredentialSize,
    c10_sliding::Sliding,
    c11::StolenToken,
    c12_attacks::Attacks,
    c13_memory::MemoryPerUser,
    c14::Downstream,
}

/// C15: derived from the others' summaries, never measured on its own.
pub mod c15_summary;
mod registry;

pub use c12_attacks::Attacks;
pub use c14::Downstream;
pub use c7_revocation::Revocation;
pub use capacity::ScaleOut;
pub use registry::{engines, listing, plan, run, run_plan, run_these, select};
