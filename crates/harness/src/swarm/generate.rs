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

use super::{
    docker::Docker,
    jobs::{create_args, suffix, wait_job},
};
use crate::{
    load::{GeneratorRun, LoadJob},
    HarnessError,
};

/// Time for every job to be scheduled and started before the common start.
const START_SLACK: Duration = Duration::from_secs(6);

/// Waits until `$AUTHLAB_START_AT` (epoch seconds), then runs wrk with the
/// arguments after the script.
const BARRIER: &str = "now=$(date +%s); if [ \"$AUTHLAB_START_AT\" -gt \"$now\" ]; then sleep $((AUTHLAB_START_AT - now)); fi; exec wrk \"$@\"";

/// Where a load job's generators run and what they load, as the cluster
/// planned it.
pub struct Generators<'a> {
    /// The swarm's manager.
    pub docker: &'a Docker,
    pub image: &'a str,
    /// The cluster's stack: the generators' names and labels start with it.
    pub stack: &'a str,
    /// One generator per host.
    pub hosts: Vec<String>,
    /// HAProxy's frontend as the generators reach it (`http://haproxy:8080/me`).
    pub url: String,
    pub edge_network: String,
}

pub async fn run(plan: Generators<'_>, job: LoadJob) -> Result<Vec<GeneratorRun>, HarnessError> {
    let shares = job.split(plan.hosts.len());
    let id = suffix();
    let secret = format!("{}-wrk-{id}", plan.stack);
    if let Some(text) = &job.script {
        plan.docker
            .run_with_input(&["secret", "create", &secret, "-"], Some(text.as_bytes()))
            .await?;
    }
    let start_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| (d + START_SLACK).as_secs())
        .unwrap_or(0);
    let generators: Vec<Generator> = plan
        .hosts
        .iter()
        .zip(&shares)
        .enumerate()
        .map(|(k, (host, connections))| Generator {
            service: format!("{}-gen-{id}-{}", plan.stack, k + 1),
            name: format!("generator-{}", k + 1),
            host: host.clone(),
            connections: *connections,
            secret: job.script.as_ref().map(|_| secret.clone()),
            start_at,
        })
        .collect();
    let outcome = run_all(&plan, &job, &generators).await;
    for generator in &generators {
        plan.docker
            .run(&["service", "rm", &generator.service])
            .await
            .ok();
    }
    if job.script.is_some() {
        plan.docker.run(&["secret", "rm", &secret]).await.ok();
    }
    outcome
}

/// One generator: a one-task job on its host.
struct Generator {
    /// The swarm service running it.
    service: String,
    /// `generator-N`, as the report names it.
    name: String,
    host: String,
    connections: u32,
    /// The Swarm secret holding the script, if there is one.
    secret: Option<String>,
    /// When every generator starts (epoch seconds).
    start_at: u64,
}

/// Creates every generator's job, then collects what each printed.
async fn run_all(
    plan: &Generators<'_>,
    job: &LoadJob,
    generators: &[Generator],
) -> Result<Vec<GeneratorRun>, HarnessError> {
    for generator in generators {
        create(plan, job, generator).await?;
    }
    let timeout = START_SLACK + job.duration + Duration::from_secs(60);
    let mut runs = Vec::new();
    for generator in generators {
        runs.push(GeneratorRun {
            name: generator.name.clone(),
            host: generator.host.clone(),
            connections: generator.connections,
            stdout: wait_job(plan.docker, &generator.service, timeout).await?,
            stderr: String::new(),
        });
    }
    Ok(runs)
}

async fn create(
    plan: &Generators<'_>,
    job: &LoadJob,
    generator: &Generator,
) -> Result<(), HarnessError> {
    let constraint = format!("node.hostname=={}", generator.host);
    let start = format!("AUTHLAB_START_AT={}", generator.start_at);
    // Its stopped container is removed with the cluster's (teardown).
    let cluster_label = format!("authlab.cluster={}", plan.stack);
    let mut args = create_args(&generator.service, "replicated-job", &cluster_label);
    args.extend(
        [
            "--network",
            &plan.edge_network,
            "--constraint",
            &constraint,
            "--env",
            &start,
        ]
        .map(String::from),
    );
    if let Some(secret) = &generator.secret {
        args.extend([
            "--secret".into(),
            format!("source={secret},target=wrk.lua,mode=0444"),
        ]);
    }
    args.extend([
        plan.image.to_owned(),
        "sh".into(),
        "-c".into(),
        BARRIER.into(),
        "sh".into(),
    ]);
    let script = generator.secret.as_ref().map(|_| "/run/secrets/wrk.lua");
    args.extend(job.wrk_args(generator.connections, script, &plan.url));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    plan.docker.run(&args).await.map(|_| ())
}
