//! The swarm engine: every cluster a Docker Swarm stack.
//!
//! Where users outgrow one machine, authlab runs on an existing distributed
//! engine rather than something home-made: Docker Swarm reads the compose
//! format the demo already uses and has what the experiments need (overlay
//! networks across hosts, placement, rescheduling when a host is lost, an
//! API to kill, drain and inspect). This engine turns a [`ClusterSpec`]
//! into a stack ([`stack`]) on the swarm whose manager the docker CLI
//! points at (`DOCKER_HOST`, or the local engine), places it ([`placement`]),
//! and answers the [`Cluster`] interface from the stack's running tasks
//! ([`tasks`]), so every experiment that runs here runs unchanged.
//!
//! What it needs of the swarm:
//! - the `authlab:<tag>` image on every node (docs/swarm.md: `docker save |
//!   docker load`, or a registry service);
//! - the nodes' addresses reachable from this machine (HAProxy's ports and
//!   the stores' are published in host mode on the node that runs them);
//! - for faults on a task's container and cgroup CPU readings, a label
//!   `authlab.engine=<DOCKER_HOST of that node>` on each node. Without it
//!   those answer "not measured" or a clear error; the rest works.
//!
//! A Kubernetes engine would implement the same two traits; nothing in the
//! experiments names an engine.

use std::time::Duration;

use futures::future::BoxFuture;

mod cluster;
mod docker;
mod generate;
mod host_fault;
mod jobs;
mod objects;
pub mod placement;
pub mod stack;
mod start;
mod tasks;

pub use cluster::SwarmCluster;
pub use docker::Docker;

use crate::{
    cluster::{Cluster, Engine},
    host::{Host, Hosts},
    ClusterSpec, HarnessError,
};

/// Clusters as stacks on the swarm whose manager the docker CLI points at.
#[derive(Debug, Clone)]
pub struct Swarm {
    docker: Docker,
    /// `authlab:<tag>`, on every swarm node.
    image: String,
}

impl Swarm {
    /// Connects to the manager the docker CLI is pointed at and checks it
    /// is one, and that it has the image.
    pub async fn connect(image_tag: &str) -> Result<Self, HarnessError> {
        let docker = Docker::from_env();
        let state = docker
            .run(&[
                "info",
                "--format",
                "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}",
            ])
            .await?;
        if state.trim() != "active true" {
            return Err(HarnessError::Config(format!(
                "the Docker engine the CLI points at ({}) is not a swarm manager \
                 (state: {}); run `docker swarm init` there, or set DOCKER_HOST to a manager \
                 (docs/swarm.md)",
                std::env::var("DOCKER_HOST").unwrap_or_else(|_| "the local engine".into()),
                state.trim()
            )));
        }
        let image = format!("authlab:{image_tag}");
        docker
            .run(&["image", "inspect", "--format", "{{.Id}}", &image])
            .await
            .map_err(|_| {
                HarnessError::Config(format!(
                    "the swarm manager has no image {image}: build it (docker/offline/build-authlab.sh) \
                     and bring it to every node (docs/swarm.md)"
                ))
            })?;
        Ok(Self { docker, image })
    }
}

impl Engine for Swarm {
    fn name(&self) -> &'static str {
        "swarm"
    }

    fn start(
        &self,
        spec: ClusterSpec,
    ) -> BoxFuture<'static, Result<Box<dyn Cluster>, HarnessError>> {
        let (docker, image) = (self.docker.clone(), self.image.clone());
        Box::pin(async move {
            let cluster = start::start(docker, image, spec).await?;
            Ok(Box::new(cluster) as Box<dyn Cluster>)
        })
    }

    fn hosts(&self) -> BoxFuture<'static, Result<Hosts, HarnessError>> {
        let (docker, image) = (self.docker.clone(), self.image.clone());
        Box::pin(async move { read_hosts(&docker, &image).await })
    }
}

/// Each ready node's cores and boot id, read on the node itself by a
/// global job (one task per node): the manager's API alone reaches every
/// node this way, and the boot id says which of them share a kernel.
async fn read_hosts(docker: &Docker, image: &str) -> Result<Hosts, HarnessError> {
    let nodes = tasks::swarm_nodes(docker).await?;
    let name = format!("authlab-hosts-{}", jobs::suffix());
    let label = format!("authlab.cluster={name}");
    let mut args = jobs::create_args(&name, "global-job", &label);
    args.extend(
        [
            "--env",
            "AUTHLAB_HOST={{.Node.Hostname}}",
            image,
            "sh",
            "-c",
            "echo \"authlab-host $AUTHLAB_HOST $(nproc) $(cat /proc/sys/kernel/random/boot_id)\"",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    docker.run(&args).await?;
    let logs = jobs::wait_job(docker, &name, Duration::from_secs(90)).await;
    docker.run(&["service", "rm", &name]).await.ok();
    // The job's stopped containers stay on their nodes unless removed there.
    let engines = objects::reachable_engines(&nodes);
    let filter = format!("label={label}");
    tokio::task::spawn_blocking(move || cluster::prune(&engines, &filter))
        .await
        .ok();
    let logs = logs?;
    let mut hosts: Vec<Host> = logs
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace().skip_while(|w| *w != "authlab-host");
            words.next()?;
            let name = words.next()?.to_owned();
            let cores = words.next()?.parse().ok()?;
            let boot_id = words.next()?.to_owned();
            let role = nodes
                .iter()
                .find(|n| n.description.hostname == name)
                .map(|n| n.spec.role.clone())
                .unwrap_or_default();
            Some(Host {
                name,
                cores,
                boot_id,
                role,
            })
        })
        .collect();
    hosts.sort_by(|a, b| (a.role != "manager", &a.name).cmp(&(b.role != "manager", &b.name)));
    hosts.dedup_by(|a, b| a.name == b.name);
    Ok(Hosts { hosts })
}
