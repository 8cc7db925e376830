//! What the soak measures: goose runs of both stacks at once, and memory.

use loadtests::{Credentials, LoadPlan, LoadReport, ScenarioKind};

use super::{ProcessMemory, SoakPlan, StackWindow, Window};
use crate::{
    kit::load_check::{self, Answers},
    process::rss_bytes,
    Cluster, LabError, Stack,
};

const STACKS: [(Stack, loadtests::Stack); 2] = [
    (Stack::Session, loadtests::Stack::Session),
    (Stack::Jwt, loadtests::Stack::Jwt),
];

fn lifecycle(
    cluster: &dyn Cluster,
    plan: &SoakPlan,
    stack: Stack,
    as_goose: loadtests::Stack,
    run_time: std::time::Duration,
    throttle: Option<usize>,
) -> Result<LoadPlan, LabError> {
    let mut load = LoadPlan::new(cluster.url(stack, "")?, as_goose, ScenarioKind::Lifecycle);
    load.users = plan.users;
    load.hatch_rate = plan.users as f64;
    load.run_time = run_time;
    load.throttle_rps = throttle;
    load.credentials = Credentials::LoadUsers {
        offset: 0,
        count: plan.users,
    };
    Ok(load)
}

/// Both stacks at once, so each figure is what that stack gets while the
/// other one runs too: the soak's conditions.
async fn both(
    cluster: &dyn Cluster,
    plan: &SoakPlan,
    run_time: std::time::Duration,
    throttles: [Option<usize>; 2],
) -> Result<[LoadReport; 2], LabError> {
    let session = lifecycle(
        cluster,
        plan,
        STACKS[0].0,
        STACKS[0].1,
        run_time,
        throttles[0],
    )?;
    let jwt = lifecycle(
        cluster,
        plan,
        STACKS[1].0,
        STACKS[1].1,
        run_time,
        throttles[1],
    )?;
    let (session, jwt) = tokio::join!(loadtests::run(&session), loadtests::run(&jwt));
    let to_lab = |e: loadtests::LoadError| LabError::Config(e.to_string());
    let reports = [session.map_err(to_lab)?, jwt.map_err(to_lab)?];
    if reports.iter().any(|r| r.interrupted) && loadtests::interrupt_requested() {
        return Err(LabError::Interrupted);
    }
    Ok(reports)
}

fn figures(
    stack: Stack,
    minute: usize,
    offered: Option<usize>,
    report: &LoadReport,
) -> StackWindow {
    StackWindow {
        stack: stack.to_string(),
        minute,
        offered_rps: offered.map_or(0.0, |o| o as f64),
        served_rps: report.requests_per_second,
        requests: report.per_second.iter().map(|b| b.requests).sum(),
        errors: report.per_second.iter().map(|b| b.errors).sum(),
        p50_ms: report.latency_raw_ms.p50,
        p99_ms: report.latency_raw_ms.p99,
        max_ms: report.latency_raw_ms.max,
        logins: report.logins,
        logouts: report.logouts,
        refreshes: report.refreshes,
    }
}

/// The closed-loop run the soak's load is a share of. A capacity run with
/// errors would make "70% of capacity" a share of failures, so it is
/// checked like every other load run before its rate is used.
pub(super) async fn capacity(
    cluster: &dyn Cluster,
    plan: &SoakPlan,
) -> Result<Vec<StackWindow>, LabError> {
    let reports = both(cluster, plan, plan.capacity_run, [None, None]).await?;
    let mut out = Vec::new();
    for ((stack, _), report) in STACKS.iter().zip(&reports) {
        let figures = figures(*stack, 0, None, report);
        load_check::check(
            &format!("{stack} capacity run"),
            Answers {
                requests: figures.requests,
                non_2xx: figures.errors,
                socket_errors: 0,
            },
        )?;
        out.push(figures);
    }
    Ok(out)
}

/// One minute of the soak at the offered rates, then the memory reading.
pub(super) async fn window(
    cluster: &dyn Cluster,
    plan: &SoakPlan,
    minute: usize,
    offered: &[usize],
) -> Result<Window, LabError> {
    let throttles = [offered.first().copied(), offered.get(1).copied()];
    let reports = both(cluster, plan, plan.window, throttles).await?;
    let stacks = STACKS
        .iter()
        .zip(&reports)
        .zip(throttles)
        .map(|(((stack, _), report), offered)| figures(*stack, minute, offered, report))
        .collect();
    Ok(Window {
        minute,
        stacks,
        memory: memory(cluster),
    })
}

/// Every process of the cluster, and this one (the load generator, shown
/// but not judged).
pub(super) fn memory(cluster: &dyn Cluster) -> Vec<ProcessMemory> {
    let read = |name: String, pid: Option<u32>, judged: bool| ProcessMemory {
        name,
        pid,
        rss: pid.and_then(rss_bytes),
        judged,
    };
    let mut processes = Vec::new();
    for (stack, _) in STACKS {
        for node in cluster.nodes(stack) {
            processes.push(read(node.name.clone(), node.pid(), true));
        }
    }
    processes.push(read("haproxy".into(), cluster.haproxy_pid(), true));
    processes.push(read(
        "redis (sessions, tokens)".into(),
        cluster.store_pid(),
        true,
    ));
    processes.push(read(
        "redis (user directory)".into(),
        cluster.directory_pid(),
        true,
    ));
    processes.push(read(
        "authlab (goose, load generator)".into(),
        Some(std::process::id()),
        false,
    ));
    processes
}
