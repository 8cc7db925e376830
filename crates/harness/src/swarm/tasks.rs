//! What runs where right now: the stack's tasks, read from the manager.
//!
//! The interface's answers (a node's URL, which host ran HAProxy, which
//! container to kill) all come from one snapshot of the stack's running
//! tasks and the swarm's nodes, refreshed after anything that moves them.

use std::collections::BTreeMap;

use super::{
    docker::Docker,
    objects::{SwarmNode, Task},
};
use crate::HarnessError;

/// One running task, with what the engine needs to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskView {
    /// The service's name inside the stack (`session`, `store`, …).
    pub service: String,
    pub slot: usize,
    /// The swarm node's hostname and the address the host reaches it at.
    pub host: String,
    pub host_address: String,
    /// Its address on the stack's backend network (HAProxy's servers).
    pub overlay_address: Option<String>,
    pub container: Option<String>,
    /// The node's own engine, from its `authlab.engine` label.
    pub engine: Option<String>,
    /// (port inside, port published on the node).
    pub ports: Vec<(u16, u16)>,
}

impl TaskView {
    pub fn published(&self, target: u16) -> Option<u16> {
        self.ports
            .iter()
            .find(|(inside, _)| *inside == target)
            .map(|(_, published)| *published)
    }

    /// The node's own engine, or why there is none.
    pub fn engine(&self) -> Result<Docker, HarnessError> {
        self.engine.as_deref().map(Docker::at).ok_or_else(|| {
            HarnessError::Config(format!(
                "swarm node {} has no `{}` label naming its engine: a fault or CPU reading \
                 on it needs one (docs/swarm.md)",
                self.host,
                super::objects::ENGINE_LABEL
            ))
        })
    }
}

/// Every node of the swarm (`docker node ls` then `inspect`).
pub async fn swarm_nodes(docker: &Docker) -> Result<Vec<SwarmNode>, HarnessError> {
    let ids = docker.lines(&["node", "ls", "-q"]).await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = vec!["node", "inspect"];
    args.extend(ids.iter().map(String::as_str));
    docker.inspect(&args).await
}

/// One line per service of stack `name`, as `format` prints it.
pub async fn stack_services(
    docker: &Docker,
    name: &str,
    format: &str,
) -> Result<Vec<String>, HarnessError> {
    let namespace = format!("label=com.docker.stack.namespace={name}");
    docker
        .lines(&["service", "ls", "--filter", &namespace, "--format", format])
        .await
}

/// The running tasks of stack `name`.
pub async fn running(
    docker: &Docker,
    name: &str,
    nodes: &[SwarmNode],
) -> Result<Vec<TaskView>, HarnessError> {
    let services: BTreeMap<String, String> = stack_services(docker, name, "{{.ID}} {{.Name}}")
        .await?
        .iter()
        .filter_map(|line| {
            let (id, full) = line.split_once(' ')?;
            let short = full.strip_prefix(&format!("{name}_")).unwrap_or(full);
            Some((id.to_owned(), short.to_owned()))
        })
        .collect();
    let mut ids = Vec::new();
    for service in services.keys() {
        ids.extend(
            docker
                .lines(&[
                    "service",
                    "ps",
                    "-q",
                    "--no-trunc",
                    "--filter",
                    "desired-state=running",
                    service,
                ])
                .await?,
        );
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = vec!["inspect", "--type", "task"];
    args.extend(ids.iter().map(String::as_str));
    let tasks: Vec<Task> = docker.inspect(&args).await?;
    Ok(tasks
        .iter()
        .filter(|task| task.running())
        .filter_map(|task| view(task, &services, nodes))
        .collect())
}

fn view(task: &Task, services: &BTreeMap<String, String>, nodes: &[SwarmNode]) -> Option<TaskView> {
    let node = nodes.iter().find(|n| n.id == task.node_id)?;
    Some(TaskView {
        // `service ls` prints IDs shortened; a task names its service in full.
        service: services
            .iter()
            .find(|(id, _)| task.service_id.starts_with(id.as_str()))?
            .1
            .clone(),
        slot: task.slot,
        host: node.description.hostname.clone(),
        host_address: node.address(),
        overlay_address: task
            .networks_attachments
            .iter()
            .flat_map(|a| a.addresses.iter())
            .next()
            .map(|cidr| cidr.split('/').next().unwrap_or(cidr).to_owned()),
        container: task.container().map(str::to_owned),
        engine: node.engine().map(str::to_owned),
        ports: task
            .status
            .port_status
            .iter()
            .flat_map(|p| p.ports.iter())
            .map(|p| (p.target_port, p.published_port))
            .collect(),
    })
}
