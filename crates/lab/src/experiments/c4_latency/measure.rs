//! The runs: one cluster whose nodes reach the store through the latency
//! proxy; per setting, the store round trip through the proxy, then each
//! stack at a fixed offered load (goose) and at saturation (wrk).

use std::time::{Duration, Instant};

use authlab_client::ApiClient;
use authlab_core::redis_client::RedisStore;
use loadtests::{Credentials, LoadPlan, LoadReport, Percentiles, ScenarioKind};
use serde::Serialize;

use crate::{
    experiment::RunContext,
    kit::{
        err, load_check,
        schedule::{self, Measured, Trials},
        stats::median,
        wrk_probe::{cluster, credentials, probe_store, Probe, Sample, CAPACITY_ALG, USERS},
    },
    Cluster, LabError, Latency, Stack,
};

const TRIALS: Trials = Trials::new(1, 3);

pub const GOOSE_USERS: usize = 16;
/// Per user, between two requests: 16 users at ~50 ms ≈ 300 requests/s.
const THINK_TIME: (Duration, Duration) = (Duration::from_millis(40), Duration::from_millis(60));
/// A ceiling, not a pace: about three times what the users offer, so it
/// never binds (a binding throttle would read its own queue as server
/// stalls and backfill them) and only switches on goose's
/// coordinated-omission mitigation.
const THROTTLE_CAP_RPS: usize = 1_000;

/// Sequential PINGs through the proxy per setting: the store round trip a
/// node actually paid, which the table shows beside the setting.
pub const PINGS: usize = 100;

/// The latency proxy's settings: a label and the delay added (µs).
pub const DELAYS: [(&str, u64); 3] = [("loopback", 0), ("+0.5 ms", 500), ("+2 ms", 2_000)];
pub const STACKS: [(&str, Stack); 2] = [("session /me", Stack::Session), ("JWT /me", Stack::Jwt)];
pub const SESSION: usize = 0;
pub const JWT: usize = 1;

/// One goose run at the fixed offered load.
#[derive(Debug, Clone, Serialize)]
pub struct LatencySample {
    /// Median of `PINGS` sequential PINGs through the latency proxy, taken
    /// just before the run (ms).
    pub store_rtt_ms: f64,
    /// `GET /me` only (the scenario also reads `/orders` and `/admin/stats`).
    pub me: Percentiles,
    pub offered_rps: f64,
    pub co_backfilled: u64,
    pub failures: u64,
    pub requests: u64,
}

/// One stack at one setting in one trial: goose, then wrk.
#[derive(Debug, Serialize)]
pub struct Run {
    pub latency: LatencySample,
    pub saturated: Sample,
}

/// Every run, and what the later stages need to read them.
#[derive(Debug, Serialize)]
pub struct Raw {
    /// Seconds per goose run and per wrk run.
    pub goose_s: u64,
    pub wrk_s: u64,
    pub trials: usize,
    /// Stack `s` at setting `d` is variant `schedule::part(d, s, 2)`.
    pub runs: Vec<Measured<Run>>,
}

impl Raw {
    /// The figure of stack `stack` (into [`STACKS`]) at setting `delay`
    /// (into [`DELAYS`]), over the trials.
    pub fn figure(&self, delay: usize, stack: usize, f: impl Fn(&Run) -> f64) -> Vec<f64> {
        schedule::figure(&self.runs, schedule::part(delay, stack, STACKS.len()), f)
    }
}

fn goose_plan(host: String, stack: Stack, run_time: Duration) -> LoadPlan {
    let stack = match stack {
        Stack::Session => loadtests::Stack::Session,
        Stack::Jwt => loadtests::Stack::Jwt,
    };
    let mut plan = LoadPlan::new(host, stack, ScenarioKind::Browse);
    plan.users = GOOSE_USERS;
    plan.hatch_rate = GOOSE_USERS as f64;
    plan.run_time = run_time;
    plan.think_time = Some(THINK_TIME);
    plan.throttle_rps = Some(THROTTLE_CAP_RPS);
    plan.credentials = Credentials::LoadUsers {
        offset: 0,
        count: USERS,
    };
    plan
}

/// The `/me` row of goose's per-request table (goose names it `GET /me`).
fn me_latency(report: &LoadReport) -> Result<Percentiles, LabError> {
    report
        .per_request
        .iter()
        .find(|(name, _)| name.ends_with(" /me") || name.as_str() == "/me")
        .map(|(_, p)| *p)
        .ok_or_else(|| err("goose recorded no GET /me"))
}

/// The median round trip of `PINGS` sequential PINGs (ms).
async fn store_round_trip(store: &RedisStore) -> Result<f64, LabError> {
    let mut times = Vec::with_capacity(PINGS);
    for _ in 0..PINGS {
        let started = Instant::now();
        store
            .run::<String>(&mut redis::cmd("PING"))
            .await
            .map_err(err)?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    Ok(median(&times))
}

/// What a setting's runs share: the cluster, its probes and run lengths.
struct Bench<'a> {
    cluster: &'a dyn Cluster,
    client: ApiClient,
    probe: Probe<'a>,
    via_proxy: RedisStore,
    goose_time: Duration,
}

pub async fn measure(ctx: &RunContext) -> Result<Raw, LabError> {
    let (goose_time, wrk_time) = if ctx.quick {
        (Duration::from_secs(3), Duration::from_secs(2))
    } else {
        (Duration::from_secs(10), Duration::from_secs(6))
    };
    let trials = TRIALS.count(ctx.quick);
    ctx.variant("starting a cluster with the latency proxy in front of the store");
    let (cluster, store) = cluster(ctx, 1, Some(Latency::default()), Some(CAPACITY_ALG)).await?;
    let bench = Bench {
        cluster: &*cluster,
        client: ApiClient::new(),
        probe: Probe {
            cluster: &*cluster,
            store,
            duration: wrk_time,
        },
        via_proxy: probe_store("store via the latency proxy", &cluster.node_store_url(0))?,
        goose_time,
    };
    // One cluster for all settings (the delay changes live); the settings
    // and, inside each, the stacks rotate per trial.
    let measured = schedule::run(
        ctx,
        &DELAYS,
        trials,
        |(label, _)| format!("store {label}: goose at a fixed load, then wrk"),
        async |&(label, micros), trial| bench.setting(label, micros, trial).await,
    )
    .await?;
    drop(bench);
    cluster.shutdown();
    Ok(Raw {
        goose_s: goose_time.as_secs(),
        wrk_s: wrk_time.as_secs(),
        trials,
        runs: schedule::flatten(measured, STACKS.len()),
    })
}

impl Bench<'_> {
    /// Both stacks at one setting, in the order of `trial`, each with its
    /// index into [`STACKS`].
    async fn setting(
        &self,
        label: &str,
        micros: u64,
        trial: usize,
    ) -> Result<Vec<(usize, Run)>, LabError> {
        self.cluster.set_store_latency(Latency {
            delay: Duration::from_micros(micros),
            jitter: Duration::ZERO,
        })?;
        let store_rtt_ms = store_round_trip(&self.via_proxy).await?;
        let mut runs = Vec::new();
        for index in schedule::order(STACKS.len(), trial) {
            let (name, stack) = STACKS[index];
            let latency = self.goose(label, name, stack, store_rtt_ms).await?;
            // Fresh logins for every wrk run: the access lifetime never ends
            // inside a run, however long the experiment.
            let creds = credentials(&self.client, self.cluster, stack).await?;
            let saturated = self.probe.measure(name, stack, "/me", &creds, 64).await?;
            runs.push((index, Run { latency, saturated }));
        }
        Ok(runs)
    }

    /// The stack at the fixed offered load.
    async fn goose(
        &self,
        label: &str,
        name: &str,
        stack: Stack,
        store_rtt_ms: f64,
    ) -> Result<LatencySample, LabError> {
        let report = loadtests::run(&goose_plan(
            self.cluster.url(stack, "")?,
            stack,
            self.goose_time,
        ))
        .await
        .map_err(err)?;
        if report.interrupted {
            return Err(LabError::Interrupted);
        }
        load_check::check(
            &format!("{label}|{name} (goose)"),
            load_check::Answers {
                requests: report.requests,
                non_2xx: report.failures,
                socket_errors: 0,
            },
        )?;
        Ok(LatencySample {
            store_rtt_ms,
            me: me_latency(&report)?,
            offered_rps: report.requests_per_second,
            co_backfilled: report.co_backfilled,
            failures: report.failures,
            requests: report.requests,
        })
    }
}
