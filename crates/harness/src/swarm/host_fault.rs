//! Faults on a whole swarm node: an operator's drain, and a node cut off
//! the cluster's networks.
//!
//! A drain is the manager's (`docker node update --availability drain`):
//! the swarm stops the node's tasks and starts them elsewhere. A cut is
//! done on the node's own engine: its containers of this cluster are
//! disconnected from the stack's overlays and keep running, unreachable,
//! the way a node behind a failed link goes on believing it serves. HAProxy's
//! checks then mark its nodes down; the swarm, which sees them running,
//! moves nothing.

use std::time::Duration;

use futures::future::BoxFuture;

use super::{docker::Docker, tasks::TaskView};
use crate::{cluster::HostFault, HarnessError};

/// What a host fault needs of a cluster on the swarm.
pub trait HostTarget {
    /// The swarm's manager.
    fn manager(&self) -> &Docker;
    fn stack_name(&self) -> &str;
    /// Containers cut off so far, to connect again.
    fn cuts(&mut self) -> &mut Vec<Cut>;
    /// Reads the stack's tasks again.
    fn refresh(&self) -> BoxFuture<'_, Result<(), HarnessError>>;
    /// Whether any of the stack's tasks runs on `host`.
    fn runs_on(&self, host: &str) -> bool;
    /// Whether every service runs as many tasks as the spec asks.
    fn replicas_running(&self) -> bool;
    /// The stack's tasks on `host`, each with every network of the stack it is on.
    fn attachments_on(&self, host: &str) -> Vec<(TaskView, String)>;
}

/// A container cut off a network, to connect it again.
#[derive(Debug, Clone)]
pub struct Cut {
    pub engine: Docker,
    pub network: String,
    pub container: String,
    pub host: String,
}

pub async fn apply(
    cluster: &mut impl HostTarget,
    host: &str,
    fault: HostFault,
) -> Result<(), HarnessError> {
    match fault {
        HostFault::Drain | HostFault::Activate => {
            let availability = if fault == HostFault::Drain {
                "drain"
            } else {
                "active"
            };
            cluster
                .manager()
                .run(&["node", "update", "--availability", availability, host])
                .await?;
            if fault == HostFault::Drain {
                wait_moved(cluster, host).await?;
            }
        }
        HostFault::Cut => cut(cluster, host).await?,
        HostFault::Reconnect => reconnect(cluster, host).await?,
    }
    cluster.refresh().await
}

/// Waits until none of the stack's tasks runs on `host` and every service
/// runs its replicas again.
async fn wait_moved(cluster: &impl HostTarget, host: &str) -> Result<(), HarnessError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        cluster.refresh().await?;
        if !cluster.runs_on(host) && cluster.replicas_running() {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(HarnessError::Timeout(format!(
                "the swarm did not move {}'s tasks off {host}",
                cluster.stack_name()
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn cut(cluster: &mut impl HostTarget, host: &str) -> Result<(), HarnessError> {
    let mut cuts = Vec::new();
    for (task, network) in cluster.attachments_on(host) {
        let engine = task.engine()?;
        let container = task
            .container
            .clone()
            .ok_or_else(|| HarnessError::NodeDied(format!("a task on {host} has no container")))?;
        engine
            .run(&["network", "disconnect", "--force", &network, &container])
            .await?;
        cuts.push(Cut {
            engine,
            network,
            container,
            host: host.to_owned(),
        });
    }
    if cuts.is_empty() {
        return Err(HarnessError::Config(format!(
            "no part of {} runs on {host}",
            cluster.stack_name()
        )));
    }
    cluster.cuts().extend(cuts);
    Ok(())
}

async fn reconnect(cluster: &mut impl HostTarget, host: &str) -> Result<(), HarnessError> {
    let (on_host, others): (Vec<Cut>, Vec<Cut>) = std::mem::take(cluster.cuts())
        .into_iter()
        .partition(|c| c.host == host);
    *cluster.cuts() = others;
    for cut in on_host {
        cut.engine
            .run(&["network", "connect", &cut.network, &cut.container])
            .await?;
    }
    Ok(())
}
