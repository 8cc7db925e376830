//! Where each experiment's clusters ran, as the run goes.
//!
//! A figure means something only beside where it was measured: three nodes
//! on three machines are not three nodes sharing one machine's two cores.
//! So every cluster a [`RunContext`](super::RunContext) starts leaves its
//! placement here, under the experiment running, and the run writes the log
//! into `results.json`'s environment. An experiment may start dozens of
//! clusters placed alike, so identical placements are counted once and only
//! the first few distinct ones kept.

use crate::results::{ExperimentPlacements, PlacementRecord};

/// Distinct placements kept per experiment.
pub const KEPT_PLACEMENTS: usize = 3;

/// The placements of the clusters started so far, per experiment.
#[derive(Debug, Default)]
pub(crate) struct PlacementLog {
    /// Every distinct placement is kept here; only the record is cut short.
    experiments: Vec<ExperimentPlacements>,
}

impl PlacementLog {
    /// From now on clusters belong to `experiment`.
    pub(crate) fn begin(&mut self, experiment: &str) {
        self.experiments.push(ExperimentPlacements {
            experiment: experiment.to_owned(),
            ..ExperimentPlacements::default()
        });
    }

    /// A cluster of the current experiment started, its parts placed so.
    pub(crate) fn record(&mut self, placement: &[harness::Placement]) {
        let Some(current) = self.experiments.last_mut() else {
            return;
        };
        let placement: Vec<PlacementRecord> = placement.iter().map(PlacementRecord::from).collect();
        current.clusters += 1;
        for part in &placement {
            if !current.hosts.contains(&part.host) {
                current.hosts.push(part.host.clone());
            }
        }
        if !current.placements.contains(&placement) {
            current.placements.push(placement);
            current.distinct = current.placements.len();
        }
    }

    /// The hosts that ran a part of the current experiment's clusters.
    pub(crate) fn current_hosts(&self) -> &[String] {
        self.experiments
            .last()
            .map_or(&[], |current| current.hosts.as_slice())
    }

    /// What was recorded, for the experiments that started a cluster, with
    /// the first [`KEPT_PLACEMENTS`] distinct placements each.
    pub(crate) fn into_records(self) -> Vec<ExperimentPlacements> {
        self.experiments
            .into_iter()
            .filter(|e| e.clusters > 0)
            .map(|mut e| {
                e.placements.truncate(KEPT_PLACEMENTS);
                e
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placed(pairs: &[(&str, &str)]) -> Vec<harness::Placement> {
        pairs
            .iter()
            .map(|(part, host)| harness::Placement {
                part: (*part).into(),
                host: (*host).into(),
            })
            .collect()
    }

    #[test]
    fn identical_placements_count_once_and_only_the_first_few_are_kept() {
        let mut log = PlacementLog::default();
        log.begin("c1");
        log.begin("c5");
        let a = placed(&[("session-1", "swarm-2"), ("haproxy", "swarm-1")]);
        for _ in 0..5 {
            log.record(&a);
        }
        for host in ["swarm-3", "swarm-4", "swarm-5"] {
            log.record(&placed(&[("session-1", host), ("haproxy", "swarm-1")]));
        }
        assert_eq!(
            log.current_hosts(),
            ["swarm-2", "swarm-1", "swarm-3", "swarm-4", "swarm-5"]
        );
        let records = log.into_records();
        assert_eq!(records.len(), 1, "c1 started no cluster: {records:?}");
        let c5 = &records[0];
        assert_eq!(
            (c5.experiment.as_str(), c5.clusters, c5.distinct),
            ("c5", 8, 4)
        );
        assert_eq!(c5.placements.len(), KEPT_PLACEMENTS);
        assert_eq!(c5.placements[0][0].host, "swarm-2");
    }

    #[test]
    fn a_cluster_before_any_experiment_is_not_recorded() {
        let mut log = PlacementLog::default();
        log.record(&placed(&[("jwt-1", "here")]));
        assert!(log.current_hosts().is_empty());
        assert!(log.into_records().is_empty());
    }
}
