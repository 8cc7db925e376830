//! Load generators as swarm jobs.
//!
//! Each generator is a one-task job (`replicated-job`) pinned to its host,
//! on the edge network, loading HAProxy by its service name: the path a
//! client in another machine's rack takes. The script (which may hold live
//! credentials) is a Swarm secret, removed with the jobs. The jobs start
//! when the engine schedules them, which is not at the same instant, so
//! each waits for one wall-clock start time first (the hosts' clocks agree
//! within what NTP keeps; on one machine exactly).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{cluster::SwarmCluster, start::suffix};
use crate::{
    load::{GeneratorRun, LoadJob},
    HarnessError,
};

/// Time for every job to be scheduled and started before the common start.
const START_SLACK: Duration = Duration::from_secs(6);

/// Waits until `$AUTHLAB_START_AT` (epoch seconds), then runs wrk with the
/// arguments after the script.
const BARRIER: &str = "now=$(date +%s); if [ \"$AUTHLAB_START_AT\" -gt \"$now\" ]; then sleep $((AUTHLAB_START_AT - now)); fi; exec wrk \"$@\"";

pub async fn run(cluster: &SwarmCluster, job: LoadJob) -> Result<Vec<GeneratorRun>, HarnessError> {
    let plan = cluster.generator_plan(&job);
    let shares = job.split(plan.hosts.len());
    let id = suffix();
    let secret = format!("{}-wrk-{id}", cluster.stack_name());
    let script_path = match &job.script {
        Some(text) => {
            cluster
                .docker()
                .run_with_input(&["secret", "create", &secret, "-"], Some(text.as_bytes()))
                .await?;
            Some("/run/secrets/wrk.lua")
        }
        None => None,
    };
    let start_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| (d + START_SLACK).as_secs())
        .unwrap_or(0);
    let mut names = Vec::new();
    let mut outcome = Ok(());
    for (k, (host, connections)) in plan.hosts.iter().zip(&shares).enumerate() {
        let name = format!("{}-gen-{id}-{}", cluster.stack_name(), k + 1);
        let created = create(
            cluster,
            &job,
            &plan.edge_network,
            &plan.url,
            host,
            *connections,
            &name,
            script_path.map(|_| secret.as_str()),
            start_at,
        )
        .await;
        names.push(name);
        if let Err(e) = created {
            outcome = Err(e);
            break;
        }
    }
    let timeout = START_SLACK + job.duration + Duration::from_secs(60);
    let mut runs = Vec::new();
    if outcome.is_ok() {
        for (k, name) in names.iter().enumerate() {
            match cluster.job_output(name, timeout).await {
                Ok(stdout) => runs.push(GeneratorRun {
                    name: format!("generator-{}", k + 1),
                    host: plan.hosts[k].clone(),
                    connections: shares[k],
                    stdout,
                    stderr: String::new(),
                }),
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
    }
    for name in &names {
        cluster.docker().run(&["service", "rm", name]).await.ok();
    }
    if script_path.is_some() {
        cluster.docker().run(&["secret", "rm", &secret]).await.ok();
    }
    outcome.map(|_| runs)
}

#[allow(clippy::too_many_arguments)]
async fn create(
    cluster: &SwarmCluster,
    job: &LoadJob,
    network: &str,
    url: &str,
    host: &str,
    connections: u32,
    name: &str,
    secret: Option<&str>,
    start_at: u64,
) -> Result<(), HarnessError> {
    let constraint = format!("node.hostname=={host}");
    let start = format!("AUTHLAB_START_AT={start_at}");
    // Its stopped container is removed with the cluster's (teardown).
    let cluster_label = format!("authlab.cluster={}", cluster.stack_name());
    let secret_arg = secret.map(|s| format!("source={s},target=wrk.lua,mode=0444"));
    let mut args: Vec<String> = [
        "service",
        "create",
        "--detach",
        "--quiet",
        "--no-resolve-image",
        "--name",
        name,
        "--mode",
        "replicated-job",
        "--restart-condition",
        "none",
        "--network",
        network,
        "--constraint",
        &constraint,
        "--env",
        &start,
        "--container-label",
        &cluster_label,
    ]
    .map(String::from)
    .to_vec();
    if let Some(secret) = &secret_arg {
        args.extend(["--secret".into(), secret.clone()]);
    }
    args.extend([
        cluster.image().to_owned(),
        "sh".into(),
        "-c".into(),
        BARRIER.into(),
        "sh".into(),
    ]);
    args.extend(job.wrk_args(connections, secret.map(|_| "/run/secrets/wrk.lua"), url));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cluster.docker().run(&args).await.map(|_| ())
}
