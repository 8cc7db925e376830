//! The figures experiments hand to each other, typed.
//!
//! An experiment's tables and prose are for people; its [`Summary`] is for
//! the rest of authlab: the c15 overview, the console, a later experiment.
//! Each summary holds medians over the experiment's trials (the spread stays
//! in the experiment's own tables), under names that say their unit. Because
//! they are Rust types, a figure that is renamed or changes shape breaks the
//! build instead of silently turning into "not measured" or, worse, into
//! another number.
//!
//! Each experiment's summary lives in a file of its own (with the types it
//! holds and their reading helpers); this module holds the [`Summary`] enum
//! and re-exports them all, so a reader writes `crate::summaries::X` without
//! knowing which file `X` is in. A summary never imports an experiment: the
//! experiments depend on their summaries, not the other way round.

use serde::{Deserialize, Serialize};

pub use crate::kit::stats::Spread;

mod attacks;
mod capacity;
mod downstream;
mod latency;
mod memory;
mod revocation;
mod size;
mod stolen;

pub use attacks::AttackSummary;
pub use capacity::{CapacityPoint, CapacitySummary};
pub use downstream::{
    AuthProbe, DownstreamRoute, DownstreamSummary, OrdersRoute, OutageRoute, RotationFigures,
};
pub use latency::{Added, DelaySetting, LatencySummary};
pub use memory::MemorySummary;
pub use revocation::{setups, Outcome, RevocationSetup, RevocationSummary};
pub use size::{SizeSummary, WireFacts};
pub use stolen::{
    BearerReplay, CapturedReplay, CookieReplay, CostSummary, CostVariant, DpopRound,
    PayloadReading, StolenSummary, Tally, EXPIRY_SLACK_S,
};

/// One experiment's summary, tagged by what it measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Summary {
    /// c4.
    Latency(LatencySummary),
    /// c5.
    Capacity(CapacitySummary),
    /// c7 (after logout) and c8 (after a demotion).
    Revocation(RevocationSummary),
    /// c9.
    Size(SizeSummary),
    /// c11.
    Stolen(Box<StolenSummary>),
    /// c12.
    Attacks(AttackSummary),
    /// c13.
    Memory(MemorySummary),
    /// c14.
    Downstream(DownstreamSummary),
}
