//! The swarm's objects as `docker node inspect` and `docker inspect <task>`
//! print them: only the fields the engine reads.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::docker::Docker;

/// A swarm node (`docker node inspect`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SwarmNode {
    #[serde(rename = "ID")]
    pub id: String,
    pub spec: NodeSpec,
    pub description: NodeDescription,
    pub status: NodeStatus,
    #[serde(default)]
    pub manager_status: Option<ManagerStatus>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeSpec {
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub role: String,
    pub availability: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeDescription {
    pub hostname: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeStatus {
    pub state: String,
    #[serde(default)]
    pub addr: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManagerStatus {
    #[serde(default)]
    pub addr: String,
}

/// The label naming a node's own engine (`tcp://10.0.0.7:2375`): how the
/// engine reaches a task's container on another node, to kill or pause
/// it or read its cgroup. A manager's API alone can do neither.
pub const ENGINE_LABEL: &str = "authlab.engine";

impl SwarmNode {
    /// The address other machines reach it at. A manager may report
    /// `0.0.0.0` as its status address; its advertised address then says.
    pub fn address(&self) -> String {
        let status = self.status.addr.as_str();
        if !status.is_empty() && status != "0.0.0.0" {
            return status.to_owned();
        }
        self.manager_status
            .as_ref()
            .and_then(|m| m.addr.rsplit_once(':').map(|(host, _)| host.to_owned()))
            .unwrap_or_default()
    }

    pub fn ready(&self) -> bool {
        self.status.state == "ready" && self.spec.availability == "active"
    }

    pub fn engine(&self) -> Option<&str> {
        self.spec.labels.get(ENGINE_LABEL).map(String::as_str)
    }
}

/// The hostnames of the nodes that can take tasks, the managers first:
/// the order placement hands out roles in.
pub fn ready_hosts(nodes: &[SwarmNode]) -> Vec<String> {
    let mut ready: Vec<(bool, String)> = nodes
        .iter()
        .filter(|n| n.ready())
        .map(|n| (n.spec.role != "manager", n.description.hostname.clone()))
        .collect();
    ready.sort();
    ready.into_iter().map(|(_, host)| host).collect()
}

/// The own engines of the nodes that are up and name one: a node that is
/// down cannot answer, and asking it costs a connect timeout.
pub fn reachable_engines(nodes: &[SwarmNode]) -> Vec<Docker> {
    nodes
        .iter()
        .filter(|n| n.status.state == "ready")
        .filter_map(|n| n.engine().map(Docker::at))
        .collect()
}

/// A task (`docker inspect <task id>`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Task {
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    #[serde(default)]
    pub slot: usize,
    #[serde(rename = "NodeID", default)]
    pub node_id: String,
    pub status: TaskStatus,
    pub desired_state: String,
    #[serde(default)]
    pub networks_attachments: Vec<NetworkAttachment>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskStatus {
    pub state: String,
    #[serde(default)]
    pub container_status: Option<ContainerStatus>,
    #[serde(default)]
    pub port_status: Option<PortStatus>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerStatus {
    #[serde(rename = "ContainerID", default)]
    pub container_id: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortStatus {
    #[serde(default)]
    pub ports: Vec<PortConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortConfig {
    pub target_port: u16,
    #[serde(default)]
    pub published_port: u16,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkAttachment {
    #[serde(default)]
    pub addresses: Vec<String>,
}

impl Task {
    pub fn running(&self) -> bool {
        self.status.state == "running" && self.desired_state == "running"
    }

    pub fn container(&self) -> Option<&str> {
        self.status
            .container_status
            .as_ref()
            .map(|c| c.container_id.as_str())
            .filter(|id| !id.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_as_docker_prints_it_gives_its_port_and_container() {
        let text = r#"[{"ID":"t1","ServiceID":"s1","Slot":2,"NodeID":"n1","DesiredState":"running",
          "Status":{"State":"running","ContainerStatus":{"ContainerID":"c1","PID":7},
          "PortStatus":{"Ports":[{"Protocol":"tcp","TargetPort":8080,"PublishedPort":30001,"PublishMode":"host"}]}},
          "NetworksAttachments":[{"Addresses":["10.0.1.5/24"]}]}]"#;
        let tasks: Vec<Task> = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        let task = &tasks[0];
        assert!(task.running());
        let ports = task.status.port_status.as_ref().map(|p| p.ports.len());
        assert_eq!(ports, Some(1));
        assert_eq!((task.slot, task.container()), (2, Some("c1")));
    }

    #[test]
    fn a_manager_reporting_no_address_is_found_at_its_advertised_one() {
        let text = r#"[{"ID":"n1","Spec":{"Role":"manager","Availability":"active","Labels":{"authlab.engine":"tcp://10.1.0.2:2375"}},
          "Description":{"Hostname":"swarm-1","Resources":{"NanoCPUs":2000000000}},
          "Status":{"State":"ready","Addr":"0.0.0.0"},"ManagerStatus":{"Addr":"10.1.0.2:2377"}}]"#;
        let nodes: Vec<SwarmNode> = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        let node = &nodes[0];
        assert_eq!(node.address(), "10.1.0.2");
        assert!(node.ready());
        assert_eq!(node.engine(), Some("tcp://10.1.0.2:2375"));
    }
}
