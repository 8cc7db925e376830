//! What c15 reads: the typed summaries of the experiments that ran, each
//! `None` when its experiment did not run or failed, so every cell built
//! from them can say "not measured" instead of a number.

use crate::{
    results::ExperimentResult,
    summaries::{
        AttackSummary, CapacitySummary, DownstreamSummary, LatencySummary, MemorySummary, Outcome,
        RevocationSummary, SizeSummary, StolenSummary, Summary,
    },
};

/// The typed summaries c15 reads, each `None` when its experiment did not
/// run or failed.
#[derive(Default, Clone, Copy)]
pub struct Sources<'a> {
    pub latency: Option<&'a LatencySummary>,
    pub capacity: Option<&'a CapacitySummary>,
    pub logout: Option<&'a RevocationSummary>,
    pub demotion: Option<&'a RevocationSummary>,
    pub size: Option<&'a SizeSummary>,
    pub attacks: Option<&'a AttackSummary>,
    pub memory: Option<&'a MemorySummary>,
    pub stolen: Option<&'a StolenSummary>,
    pub downstream: Option<&'a DownstreamSummary>,
}

impl<'a> Sources<'a> {
    pub fn from_results(results: &'a [ExperimentResult]) -> Self {
        let mut sources = Sources::default();
        for result in results.iter().filter(|r| r.error.is_none()) {
            match (result.id.as_str(), &result.summary) {
                ("c4", Some(Summary::Latency(s))) => sources.latency = Some(s),
                ("c5", Some(Summary::Capacity(s))) => sources.capacity = Some(s),
                ("c7", Some(Summary::Revocation(s))) => sources.logout = Some(s),
                ("c8", Some(Summary::Revocation(s))) => sources.demotion = Some(s),
                ("c9", Some(Summary::Size(s))) => sources.size = Some(s),
                ("c12", Some(Summary::Attacks(s))) => sources.attacks = Some(s),
                ("c13", Some(Summary::Memory(s))) => sources.memory = Some(s),
                ("c11", Some(Summary::Stolen(s))) => sources.stolen = Some(s),
                ("c14", Some(Summary::Downstream(s))) => sources.downstream = Some(s),
                _ => {}
            }
        }
        sources
    }

    /// How many of the source experiments gave a summary.
    pub fn count(&self) -> usize {
        [
            self.latency.is_some(),
            self.capacity.is_some(),
            self.logout.is_some(),
            self.demotion.is_some(),
            self.size.is_some(),
            self.attacks.is_some(),
            self.memory.is_some(),
            self.stolen.is_some(),
            self.downstream.is_some(),
        ]
        .iter()
        .filter(|present| **present)
        .count()
    }
}

/// A cell whose experiment did not run (or failed).
pub fn not_measured(id: &str) -> String {
    format!("not measured (run {id})")
}

/// How a revocation set-up's trials ended, when its experiment ran.
pub fn outcome(summary: Option<&RevocationSummary>, setup: &str) -> Option<Outcome> {
    summary.and_then(|s| s.outcome(setup))
}
