//! Where a cluster runs: the hosts an engine puts its parts on, and which
//! part ran on which.
//!
//! A figure such as "three nodes serve 2.7x what one does" means something
//! only beside where those nodes ran. Locally that is one host and every
//! part on it; on a swarm it is several hosts, which may still share one
//! physical machine (engines in containers, virtual machines on one box).
//! So every run records the hosts, their cores, and an identity of the
//! kernel they run on (the boot id): hosts with the same boot id share a
//! machine, and their cores are the same cores.

use serde::Serialize;

use crate::{orders::OrdersVariant, process::Stack};

/// A host an engine runs parts of a cluster on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Host {
    /// The host's name as the engine knows it (a swarm node's hostname).
    pub name: String,
    /// Cores its kernel offers.
    pub cores: usize,
    /// `/proc/sys/kernel/random/boot_id` as read on the host: the same value
    /// on two hosts means one kernel, so one machine.
    pub boot_id: String,
    /// `manager`/`worker` on a swarm, `local` here.
    pub role: String,
}

/// The hosts of a run, with what a reader needs to weigh a scaling figure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Hosts {
    pub hosts: Vec<Host>,
}

impl Hosts {
    /// Distinct machines among the hosts (by boot id).
    pub fn machines(&self) -> usize {
        let mut ids: Vec<&str> = self.hosts.iter().map(|h| h.boot_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    /// Whether every host runs on one machine: then more hosts add no cores.
    pub fn share_one_machine(&self) -> bool {
        self.machines() <= 1
    }

    /// Cores the run really had: each machine's cores counted once.
    pub fn physical_cores(&self) -> usize {
        let mut seen: Vec<&str> = Vec::new();
        let mut cores = 0;
        for host in &self.hosts {
            if !seen.contains(&host.boot_id.as_str()) {
                seen.push(&host.boot_id);
                cores += host.cores;
            }
        }
        cores
    }
}

/// A part of a cluster, as the interface names it for placement and CPU time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Part {
    /// Node `index` (0-based) of a stack.
    Node(Stack, usize),
    Store,
    Directory,
    Haproxy,
    Orders(OrdersVariant),
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Part::Node(stack, index) => write!(f, "{stack}-{}", index + 1),
            Part::Store => f.write_str("session store"),
            Part::Directory => f.write_str("user directory"),
            Part::Haproxy => f.write_str("haproxy"),
            Part::Orders(variant) => write!(f, "orders-{variant}"),
        }
    }
}

/// Which host ran a part (a load generator's too, named `generator-N`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placement {
    pub part: String,
    pub host: String,
}

/// This machine as a [`Host`]: the local engine's only one.
pub fn this_machine() -> Host {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    };
    Host {
        name: nix::unistd::gethostname()
            .ok()
            .and_then(|name| name.into_string().ok())
            .unwrap_or_else(|| "localhost".into()),
        cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        boot_id: read("/proc/sys/kernel/random/boot_id"),
        role: "local".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str, cores: usize, boot: &str) -> Host {
        Host {
            name: name.into(),
            cores,
            boot_id: boot.into(),
            role: "worker".into(),
        }
    }

    #[test]
    fn hosts_on_one_kernel_are_one_machine_and_their_cores_count_once() {
        let shared = Hosts {
            hosts: vec![host("a", 2, "x"), host("b", 2, "x"), host("c", 2, "x")],
        };
        assert!(shared.share_one_machine());
        assert_eq!((shared.machines(), shared.physical_cores()), (1, 2));
        let apart = Hosts {
            hosts: vec![host("a", 2, "x"), host("b", 4, "y")],
        };
        assert!(!apart.share_one_machine());
        assert_eq!((apart.machines(), apart.physical_cores()), (2, 6));
    }

    #[test]
    fn this_machine_reads_its_kernel() {
        let me = this_machine();
        assert!(me.cores >= 1);
        assert!(!me.boot_id.is_empty());
    }
}
