//! Starting a cluster on the swarm, step by step: plan where things run,
//! make the networks (so the backend's subnet is known to the nodes), write
//! the secrets and HAProxy's configuration, deploy the stack, wait for its
//! tasks, seed the user directory from here, and wait until HAProxy sees
//! every node up. Anything that fails on the way takes the stack down.

use std::time::Duration;

use authlab_core::directory::{SeedArgs, SeedCommand};

use super::{
    cluster::SwarmCluster,
    docker::Docker,
    jobs,
    objects::ready_hosts,
    placement::plan,
    stack::{self, StackFile, NODE_PORT, RUNTIME_API_PORT, STATS_PORT},
    tasks,
};
use crate::{
    haproxy::{HaproxyConfig, StackEntry},
    spec::{random_secret, ClusterSpec},
    HarnessError,
};

/// How long a stack may take to have every task running: the image is on
/// every node already, so this is scheduling and start-up alone.
const DEPLOY_TIMEOUT: Duration = Duration::from_secs(150);

/// Server slots per backend: replicas beyond the spec's (a `docker service
/// scale`) fill free slots without a reload.
const SLOTS: usize = 10;

pub async fn start(
    docker: Docker,
    image: String,
    spec: ClusterSpec,
) -> Result<SwarmCluster, HarnessError> {
    if spec.nodes == 0 || spec.stacks.is_empty() {
        return Err(HarnessError::Config(
            "a cluster needs at least one node and one stack".into(),
        ));
    }
    if let Some(reason) = stack::unsupported(&spec) {
        return Err(HarnessError::Config(reason));
    }
    let nodes = tasks::swarm_nodes(&docker).await?;
    let plan = plan(&ready_hosts(&nodes), spec.nodes);
    let name = format!("authlab-{}", jobs::suffix());
    let dir = tempfile::Builder::new()
        .prefix("authlab-swarm-")
        .tempdir()
        .map_err(|e| HarnessError::Io(e.to_string()))?;
    let mut cluster = SwarmCluster::new(docker, image.clone(), name, spec, plan, dir, nodes);
    // From here on a failure drops `cluster`, which removes what exists.
    deploy(&mut cluster, &image).await?;
    cluster.refresh().await?;
    seed(&cluster).await?;
    cluster.wait_up(Duration::from_secs(60)).await?;
    Ok(cluster)
}

async fn deploy(cluster: &mut SwarmCluster, image: &str) -> Result<(), HarnessError> {
    let subnet = cluster.create_networks().await?;
    let dir = cluster.dir.path().to_owned();
    let keyset = cluster.spec.write_key_set(&dir)?;
    let cookie = dir.join("cookie-secret");
    write_private(&cookie, random_secret().as_bytes())?;
    let haproxy_cfg = dir.join("haproxy.cfg");
    std::fs::write(&haproxy_cfg, haproxy_config(&cluster.spec)?)
        .map_err(|e| HarnessError::Io(e.to_string()))?;
    let file = StackFile {
        spec: &cluster.spec,
        image,
        plan: &cluster.plan,
        ports: cluster.ports,
        backend_network: &cluster.network("backend"),
        backend_subnet: &subnet,
        edge_network: &cluster.network("edge"),
        haproxy_cfg: &haproxy_cfg,
        cookie_secret_file: &cookie,
        keyset_file: keyset.as_deref(),
    }
    .render()?;
    let stack_file = dir.join("stack.yml");
    std::fs::write(&stack_file, file.to_string()).map_err(|e| HarnessError::Io(e.to_string()))?;
    cluster.keyset = keyset;
    cluster.deployed = true;
    cluster
        .docker
        .run(&[
            "stack",
            "deploy",
            "--detach=true",
            "--prune",
            // The image is on every node already; there may be no registry
            // to ask for its digest.
            "--resolve-image",
            "never",
            "-c",
            &stack_file.display().to_string(),
            &cluster.name,
        ])
        .await?;
    wait_replicas(cluster).await
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<(), HarnessError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| HarnessError::Io(format!("{}: {e}", path.display())))
}

/// HAProxy in its container: each stack's replicas found through Docker's
/// DNS by service name (dnsrr gives every task's address).
fn haproxy_config(spec: &ClusterSpec) -> Result<String, HarnessError> {
    let stacks = spec
        .stacks
        .iter()
        .filter_map(|stack| {
            let (_, port) = stack::FRONTEND_PORTS.iter().find(|(s, _)| s == stack)?;
            Some(StackEntry::templated(
                stack.name(),
                *port,
                stack.name(),
                NODE_PORT,
                SLOTS.max(spec.nodes),
            ))
        })
        .collect();
    HaproxyConfig::compose(spec.balance, STATS_PORT, RUNTIME_API_PORT, stacks).render()
}

/// Waits until every service of the stack runs all its replicas; on a
/// timeout the error carries why the tasks that did not start did not.
async fn wait_replicas(cluster: &SwarmCluster) -> Result<(), HarnessError> {
    let deadline = tokio::time::Instant::now() + DEPLOY_TIMEOUT;
    loop {
        let replicas =
            tasks::stack_services(&cluster.docker, &cluster.name, "{{.Replicas}}").await?;
        let done = !replicas.is_empty()
            && replicas.iter().all(|r| {
                let r = r.split_whitespace().next().unwrap_or("");
                r.split_once('/').is_some_and(|(a, b)| a == b && a != "0")
            });
        if done {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            let why = cluster
                .docker
                .run(&[
                    "stack",
                    "ps",
                    "--no-trunc",
                    "--format",
                    "{{.Name}} {{.Node}} {{.CurrentState}} {{.Error}}",
                    &cluster.name,
                ])
                .await
                .unwrap_or_default();
            return Err(HarnessError::Timeout(format!(
                "stack {} not running after {DEPLOY_TIMEOUT:?}: {replicas:?}\n{why}",
                cluster.name
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Seeds the user directory from here, through its published port, once
/// it answers.
async fn seed(cluster: &SwarmCluster) -> Result<(), HarnessError> {
    let url = cluster.directory_url_now()?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let attempt = SeedCommand {
            user_directory_url: url.clone(),
            seed: SeedArgs {
                users: cluster.spec.seed_users,
                cost: cluster.spec.seed_cost,
            },
        }
        .run()
        .await;
        match attempt {
            Ok(_) => return Ok(()),
            Err(e) if tokio::time::Instant::now() > deadline => {
                return Err(HarnessError::Config(format!("seeding users at {url}: {e}")))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn haproxy_finds_each_stack_by_its_service_name() {
        let spec = ClusterSpec::new(PathBuf::from("/bin/true"));
        let config = haproxy_config(&spec).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            config.contains("server-template session 10 session:8080 check resolvers docker"),
            "{config}"
        );
        assert!(config.contains("server-template jwt 10 jwt:8080"));
        assert!(config.contains("nameserver dns 127.0.0.11:53"));
        assert!(config.contains("ipv4@0.0.0.0:9999"));
    }
}
