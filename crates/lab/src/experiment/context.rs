//! What every experiment gets to run with.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex, MutexGuard},
};

use harness::Hosts;
use indicatif::ProgressBar;

use super::placements::PlacementLog;
use crate::{Cluster, ClusterSpec, Engine, LabError};

pub struct RunContext {
    pub quick: bool,
    /// The `authlab` binary, for experiments that start clusters.
    pub launcher: PathBuf,
    /// This run's directory (charts go here).
    pub dir: PathBuf,
    /// What starts this run's clusters: the experiments never name it.
    pub engine: Arc<dyn Engine>,
    /// The engine's hosts, read when the run started (none when the engine
    /// could not list them).
    pub hosts: Hosts,
    pub(super) progress: ProgressBar,
    pub(super) placements: Mutex<PlacementLog>,
}

impl RunContext {
    /// Names the variant now running, for the progress display.
    pub fn variant(&self, what: impl Into<String>) {
        self.progress.set_message(what.into());
    }

    /// A spec with the defaults and this run's launcher.
    pub fn spec(&self) -> ClusterSpec {
        ClusterSpec::new(self.launcher.clone())
    }

    /// Starts a cluster on this run's engine, and records where its parts
    /// run under the experiment running.
    pub async fn cluster(&self, spec: ClusterSpec) -> Result<Box<dyn Cluster>, LabError> {
        let cluster = self.engine.start(spec).await?;
        self.log().record(&cluster.placement());
        Ok(cluster)
    }

    /// The hosts that ran a part of the clusters the running experiment
    /// started so far: what its figures had to share. All the engine's
    /// hosts when the placements name none of them.
    pub fn hosts_used(&self) -> Hosts {
        used_hosts(&self.hosts, self.log().current_hosts())
    }

    /// The log, even after a panic elsewhere held the lock: what it holds
    /// is a record, never half-written.
    pub(super) fn log(&self) -> MutexGuard<'_, PlacementLog> {
        self.placements
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// `hosts` narrowed to those named in `names` (all of them when none is).
fn used_hosts(hosts: &Hosts, names: &[String]) -> Hosts {
    let used: Vec<_> = hosts
        .hosts
        .iter()
        .filter(|h| names.contains(&h.name))
        .cloned()
        .collect();
    if used.is_empty() {
        hosts.clone()
    } else {
        Hosts { hosts: used }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness::Host;

    fn host(name: &str, boot_id: &str) -> Host {
        Host {
            name: name.into(),
            cores: 4,
            boot_id: boot_id.into(),
            role: "worker".into(),
        }
    }

    #[test]
    fn the_hosts_used_are_those_a_placement_names() {
        let hosts = Hosts {
            hosts: vec![host("a", "1"), host("b", "2"), host("c", "3")],
        };
        let used = used_hosts(&hosts, &["c".into(), "a".into()]);
        assert_eq!(
            used.hosts
                .iter()
                .map(|h| h.name.as_str())
                .collect::<Vec<_>>(),
            ["a", "c"]
        );
        assert_eq!(used.physical_cores(), 8);
        assert_eq!(used_hosts(&hosts, &["elsewhere".into()]), hosts);
        assert_eq!(used_hosts(&hosts, &[]), hosts);
    }
}
