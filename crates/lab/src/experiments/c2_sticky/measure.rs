//! c2's runs: a fresh 3-node session cluster per variant and trial, two
//! heavy and ten light goose users, and in the last variant session-1
//! killed halfway.

use std::{collections::BTreeMap, time::Duration};

use loadtests::{Credentials, LoadPlan, LoadReport};
use serde::Serialize;
use session_server::StoreMode;

use crate::{
    experiment::RunContext,
    kit::{
        behaviour::{finished, plan, trials, USERS},
        err, schedule,
    },
    Balance, Cluster, LabError, Stack,
};

/// c2's variants: label, balancing, session store, and whether session-1 is
/// killed halfway. The verdict reads them by position.
pub const STICKY_VARIANTS: [(&str, Balance, StoreMode, bool); 3] = [
    (
        "round-robin, shared store",
        Balance::Roundrobin,
        StoreMode::Redis,
        false,
    ),
    (
        "sticky cookie, memory sessions",
        Balance::Sticky,
        StoreMode::Memory,
        false,
    ),
    (
        "sticky cookie, memory sessions, session-1 killed halfway",
        Balance::Sticky,
        StoreMode::Memory,
        true,
    ),
];

/// Every run, by trial and variant.
#[derive(Serialize)]
pub struct Raw {
    pub run_s: u64,
    pub trials: usize,
    pub runs: Vec<StickyRun>,
}

/// One c2 run on a fresh cluster.
#[derive(Serialize)]
pub struct StickyRun {
    pub trial: usize,
    pub variant: &'static str,
    /// Responses per node from the `x-node` header the users saw, every node
    /// listed (a node nobody reached with 0).
    pub per_node: Vec<(String, u64)>,
    /// HAProxy's per-server responses (`hrsp_*`).
    pub haproxy_responses: Vec<(String, u64)>,
    pub heavy: LoadReport,
    pub light: LoadReport,
    pub killed: Option<String>,
}

/// Two users who never pause, ten who browse like people: the skew that
/// makes a sticky node's load its users' habits.
fn skewed_plans(
    cluster: &dyn Cluster,
    run_time: Duration,
) -> Result<(LoadPlan, LoadPlan), LabError> {
    let mut heavy = plan(cluster, Stack::Session, run_time)?;
    heavy.users = 2;
    heavy.hatch_rate = 2.0;
    heavy.think_time = None;
    heavy.credentials = Credentials::LoadUsers {
        offset: 0,
        count: 2,
    };
    let mut light = plan(cluster, Stack::Session, run_time)?;
    light.users = 10;
    light.hatch_rate = 10.0;
    light.think_time = Some((Duration::from_millis(200), Duration::from_millis(400)));
    light.credentials = Credentials::LoadUsers {
        offset: 2,
        count: 10,
    };
    Ok((heavy, light))
}

async fn sticky_run(
    ctx: &RunContext,
    trial: usize,
    (variant, balance, store, kill): (&'static str, Balance, StoreMode, bool),
    run_time: Duration,
) -> Result<StickyRun, LabError> {
    let mut spec = ctx.spec();
    spec.stacks = vec![Stack::Session];
    spec.nodes = 3;
    spec.seed_users = USERS;
    spec.balance = balance;
    spec.session_store = store;
    let mut cluster = ctx.cluster(spec).await?;
    let (heavy, light) = skewed_plans(&*cluster, run_time)?;
    let killer = async {
        if !kill {
            return Ok::<_, LabError>(None);
        }
        tokio::time::sleep(run_time / 2 + Duration::from_millis(500)).await;
        // session-1: the first logins land there, so it holds at least one heavy user.
        let index = 0;
        let busiest = cluster.nodes(Stack::Session)[index].name.clone();
        cluster.kill_node(Stack::Session, index)?;
        Ok(Some(busiest))
    };
    let (heavy_report, light_report, killed) =
        tokio::join!(loadtests::run(&heavy), loadtests::run(&light), killer);
    let (heavy_report, light_report, killed) = (
        finished(heavy_report.map_err(err)?)?,
        finished(light_report.map_err(err)?)?,
        killed?,
    );
    // HAProxy's own view, as a cross-check of the users' one: the
    // HTTP responses each server returned (`hrsp_*`). Its `lbtot`
    // would not do: it counts load-balancing decisions, and a
    // request its sticky cookie routes is not one.
    let haproxy_responses: Vec<(String, u64)> = cluster
        .stats()?
        .into_iter()
        .filter(|s| s.backend == "session_nodes")
        .map(|s| (s.server, s.responses))
        .collect();
    cluster.shutdown();
    // Per node from the `x-node` header of every response the users got.
    let mut per_node: BTreeMap<String, u64> = BTreeMap::new();
    for report in [&heavy_report, &light_report] {
        for (node, count) in &report.per_node {
            *per_node.entry(node.clone()).or_default() += *count;
        }
    }
    for i in 1..=3 {
        per_node.entry(format!("session-{i}")).or_default();
    }
    Ok(StickyRun {
        trial,
        variant,
        per_node: per_node.into_iter().collect(),
        haproxy_responses,
        heavy: heavy_report,
        light: light_report,
        killed,
    })
}

pub async fn run(ctx: &RunContext) -> Result<Raw, LabError> {
    let run_time = Duration::from_secs(if ctx.quick { 4 } else { 15 });
    let trials = trials(ctx);
    let runs = schedule::run(
        ctx,
        &STICKY_VARIANTS,
        trials,
        |variant| format!("{}: 2 heavy + 10 light users", variant.0),
        async |&variant, trial| sticky_run(ctx, trial, variant, run_time).await,
    )
    .await?
    .into_iter()
    .map(|m| m.value)
    .collect();
    Ok(Raw {
        run_s: run_time.as_secs(),
        trials,
        runs,
    })
}
