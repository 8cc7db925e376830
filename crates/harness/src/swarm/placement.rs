//! Which swarm node runs what.
//!
//! The rule follows what a scaling figure needs: auth nodes one per swarm
//! node where there are enough (the spread preference), and the parts every
//! request passes through besides them (HAProxy, the session store, the
//! user directory) on a node of their own when the swarm has one to spare,
//! so a node's cores are its own. Load generators go where no node of the
//! stack they load runs ([`generator_hosts`]).

/// Where a cluster's services may run, as placement constraints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The host of HAProxy and both Redis (`None`: anywhere).
    pub infra: Option<String>,
    /// Whether the auth nodes keep off the infra host.
    pub auth_apart: bool,
}

/// Plans a cluster of `nodes` per stack on `hosts` (ready swarm nodes, the
/// manager first).
pub fn plan(hosts: &[String], nodes: usize) -> Plan {
    match hosts {
        [] | [_] => Plan {
            infra: hosts.first().cloned(),
            auth_apart: false,
        },
        [first, rest @ ..] => Plan {
            infra: Some(first.clone()),
            // With fewer hosts left than nodes, keeping off the infra host
            // would put two nodes on one host: one per host matters more.
            auth_apart: nodes <= rest.len(),
        },
    }
}

impl Plan {
    pub fn infra_constraints(&self) -> Vec<String> {
        self.infra
            .iter()
            .map(|host| format!("node.hostname == {host}"))
            .collect()
    }

    pub fn auth_constraints(&self) -> Vec<String> {
        match (&self.infra, self.auth_apart) {
            (Some(host), true) => vec![format!("node.hostname != {host}")],
            _ => Vec::new(),
        }
    }
}

/// Most generators one load job runs on: each is a wrk with its own
/// threads, and past three they crowd the hosts more than they relieve them.
pub const MAX_GENERATORS: usize = 3;

/// The hosts a load job's generators run on: those running no node of the
/// stack under load; when every host runs one, the host with the fewest.
pub fn generator_hosts(hosts: &[String], node_hosts: &[String]) -> Vec<String> {
    let apart: Vec<String> = hosts
        .iter()
        .filter(|h| !node_hosts.contains(h))
        .take(MAX_GENERATORS)
        .cloned()
        .collect();
    if !apart.is_empty() {
        return apart;
    }
    hosts
        .iter()
        .min_by_key(|h| node_hosts.iter().filter(|n| n == h).count())
        .cloned()
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("swarm-{i}")).collect()
    }

    #[test]
    fn nodes_keep_off_the_infra_host_while_the_others_hold_one_each() {
        let three = hosts(3);
        let p = plan(&three, 2);
        assert_eq!(p.infra.as_deref(), Some("swarm-1"));
        assert_eq!(p.auth_constraints(), ["node.hostname != swarm-1"]);
        assert_eq!(p.infra_constraints(), ["node.hostname == swarm-1"]);
        // Three nodes on three hosts: one per host beats keeping apart.
        assert!(plan(&three, 3).auth_constraints().is_empty());
        // One host: everything on it.
        let one = plan(&hosts(1), 3);
        assert!(one.auth_constraints().is_empty());
        assert_eq!(one.infra_constraints(), ["node.hostname == swarm-1"]);
    }

    #[test]
    fn generators_go_where_the_stack_does_not_run() {
        let three = hosts(3);
        assert_eq!(
            generator_hosts(&three, &["swarm-2".into()]),
            ["swarm-1", "swarm-3"]
        );
        // Every host runs a node: the least loaded one takes the generator.
        let busy: Vec<String> = ["swarm-1", "swarm-2", "swarm-2", "swarm-3"]
            .map(String::from)
            .to_vec();
        assert_eq!(generator_hosts(&three, &busy), ["swarm-1"]);
        assert_eq!(generator_hosts(&hosts(5), &[]).len(), MAX_GENERATORS);
    }
}
