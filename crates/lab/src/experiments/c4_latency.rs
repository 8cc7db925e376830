//! c4 — the store's distance, paid by every session request.
//!
//! A session request cannot be answered before the store has answered, so
//! whatever the round trip to the store costs is added to it; a JWT request
//! (revocation `none`) never asks. To see that, one node per stack reaches
//! the store through the lab's latency proxy set to 0, 0.5 and 2 ms, and
//! each setting is measured two ways:
//!
//! * **latency at a fixed offered load**, with goose: 16 users browsing with
//!   40–60 ms of think time, about 300 requests/s in all, far below both the
//!   servers' and goose's ceilings, so a request's time is its service time
//!   plus the store's distance and not a queue. Coordinated-omission
//!   mitigation is on (a throttle well above the users' own pace enables it
//!   without ever holding a request back), and the percentiles up to p99.9
//!   come from goose's histograms;
//! * **throughput at saturation**, with wrk (64 connections), where the delay
//!   no longer shows as latency (the queue in front of the busy node hides
//!   it) but as requests a fixed number of connections can no longer send.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use authlab_client::ApiClient as TestClient;
use authlab_core::redis_client::RedisStore;
use loadtests::{Credentials, LoadPlan, LoadReport, Percentiles, ScenarioKind};
use serde_json::json;

use super::{
    capacity::{
        cluster, credentials, probe_store, stat, Figure, OfVariant, Probe, CAPACITY_ALG, USERS,
    },
    err, median, Experiment, Outcome, RunContext,
};
use crate::{
    results::{Chart, ChartKind, ClaimVerdict, ExperimentResult, Point, Series, Table, Verdict},
    LabError, Latency, Stack,
};

const GOOSE_USERS: usize = 16;
/// Per user, between two requests: 16 users at ~50 ms ≈ 300 requests/s.
const THINK_TIME: (Duration, Duration) = (Duration::from_millis(40), Duration::from_millis(60));
/// A ceiling, not a pace: about three times what the users offer, so it
/// never binds (a binding throttle would read its own queue as server
/// stalls and backfill them) and only switches on goose's
/// coordinated-omission mitigation.
const THROTTLE_CAP_RPS: usize = 1_000;

/// Sequential PINGs through the proxy per setting: the store round trip a
/// node actually paid, which the table shows beside the setting.
const PINGS: usize = 100;

const DELAYS: [(&str, u64); 3] = [("loopback", 0), ("+0.5 ms", 500), ("+2 ms", 2_000)];
const STACKS: [(&str, Stack); 2] = [("session /me", Stack::Session), ("JWT /me", Stack::Jwt)];

/// C4's rule, from what +2 ms on the store added to each stack's median
/// `/me` latency at the fixed offered load (ms).
pub fn c4_verdict(session_added: f64, jwt_added: f64) -> Verdict {
    if session_added >= 1.6 && jwt_added.abs() < 0.5 {
        Verdict::Holds
    } else if session_added >= 1.6 {
        Verdict::HoldsWithCaveat(format!(
            "JWT /me also moved by {jwt_added:.2} ms (machine noise or shared cores)"
        ))
    } else {
        Verdict::DoesNotHold(format!(
            "+2 ms on the store added only {session_added:.2} ms to session /me p50"
        ))
    }
}

/// One goose run at the fixed offered load.
#[derive(Debug, Clone, serde::Serialize)]
struct LatencySample {
    variant: String,
    trial: usize,
    /// Median of `PINGS` sequential PINGs through the latency proxy, taken
    /// just before the run (ms).
    store_rtt_ms: f64,
    /// `GET /me` only (the scenario also reads `/orders` and `/admin/stats`).
    me: Percentiles,
    offered_rps: f64,
    co_backfilled: u64,
    failures: u64,
    requests: u64,
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

impl OfVariant for LatencySample {
    fn variant(&self) -> &str {
        &self.variant
    }
}

pub struct StoreLatency;

impl Experiment for StoreLatency {
    fn id(&self) -> &'static str {
        "c4"
    }

    fn title(&self) -> &'static str {
        "Store round trip: loopback, +0.5 ms, +2 ms"
    }

    fn claims(&self) -> &'static [&'static str] {
        &["C4"]
    }

    fn estimate(&self, quick: bool) -> Duration {
        Duration::from_secs(if quick { 40 } else { 150 })
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> Outcome<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let (trials, goose_time, wrk_time) = if ctx.quick {
                (1, Duration::from_secs(3), Duration::from_secs(2))
            } else {
                (3, Duration::from_secs(10), Duration::from_secs(6))
            };
            ctx.variant("starting a cluster with the latency proxy in front of the store");
            let (cluster, store) =
                cluster(ctx, 1, Some(Latency::default()), Some(CAPACITY_ALG)).await?;
            let client = TestClient::new();
            let session = credentials(&client, &cluster, Stack::Session).await?;
            let jwt = credentials(&client, &cluster, Stack::Jwt).await?;
            let probe = Probe {
                cluster: &cluster,
                store,
                duration: wrk_time,
            };
            let via_proxy = probe_store("store via the latency proxy", &cluster.node_store_url(0))?;
            let mut latency = Vec::new();
            let mut saturated = Vec::new();
            for trial in 0..trials {
                // Interleaved: the order of the settings and of the stacks
                // rotates from trial to trial, so a slow minute of the
                // machine does not land on one variant every time.
                let mut delays = DELAYS.to_vec();
                delays.rotate_left(trial % DELAYS.len());
                for (label, micros) in delays {
                    cluster.set_store_latency(Latency {
                        delay: Duration::from_micros(micros),
                        jitter: Duration::ZERO,
                    })?;
                    let store_rtt_ms = store_round_trip(&via_proxy).await?;
                    let mut stacks = STACKS.to_vec();
                    stacks.rotate_left(trial % STACKS.len());
                    for (name, stack) in stacks {
                        let variant = format!("{label}|{name}");
                        ctx.variant(format!(
                            "trial {}/{trials}: {name}, store {label}, goose at a fixed load",
                            trial + 1
                        ));
                        let report =
                            loadtests::run(&goose_plan(cluster.url(stack, "")?, stack, goose_time))
                                .await
                                .map_err(err)?;
                        if report.interrupted {
                            return Err(LabError::Interrupted);
                        }
                        latency.push(LatencySample {
                            variant: variant.clone(),
                            trial,
                            store_rtt_ms,
                            me: me_latency(&report)?,
                            offered_rps: report.requests_per_second,
                            co_backfilled: report.co_backfilled,
                            failures: report.failures,
                            requests: report.requests,
                        });
                        ctx.variant(format!(
                            "trial {}/{trials}: {name}, store {label}, wrk at saturation",
                            trial + 1
                        ));
                        let creds = match stack {
                            Stack::Session => &session,
                            Stack::Jwt => &jwt,
                        };
                        let mut sample =
                            probe.measure(name, trial, stack, "/me", creds, 64).await?;
                        sample.variant = variant;
                        saturated.push(sample);
                    }
                }
            }
            cluster.shutdown();

            let mut table = Table {
                title: format!(
                    "/me through HAProxy, {trials} interleaved trial(s). Latency: goose, {GOOSE_USERS} users with \
                     40–60 ms think time ({} s per run, coordinated-omission mitigation on), GET /me percentiles. \
                     Throughput: wrk -t2 -c64 ({} s per run). Medians (min–max).",
                    goose_time.as_secs(),
                    wrk_time.as_secs()
                ),
                columns: [
                    "added store delay (setting)", "store RTT ms (measured)", "variant", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "offered req/s",
                    "CO backfilled", "failed", "req/s (saturated)", "store ops/req",
                ]
                .map(String::from)
                .to_vec(),
                rows: Vec::new(),
            };
            let mut series: Vec<Series> = [
                "session /me p50",
                "JWT /me p50",
                "session /me p99",
                "JWT /me p99",
            ]
            .iter()
            .map(|name| Series {
                name: name.to_string(),
                points: Vec::new(),
            })
            .collect();
            let mut p50 = BTreeMap::new();
            for (label, _) in DELAYS {
                for (i, (name, _)) in STACKS.iter().enumerate() {
                    let key = format!("{label}|{name}");
                    let l = |figure: Figure<'_, LatencySample>| stat(&latency, &key, figure);
                    let s = |figure: Figure<'_>| stat(&saturated, &key, figure);
                    let (median_p50, median_p99) = (l(&|x| x.me.p50), l(&|x| x.me.p99));
                    let rps = s(&|x| x.wrk.rps);
                    p50.insert((label, *name), median_p50.0);
                    table.rows.push(vec![
                        label.into(),
                        format!("{:.2}", l(&|x| x.store_rtt_ms).0),
                        name.to_string(),
                        format!(
                            "{:.2} ({:.2}–{:.2})",
                            median_p50.0, median_p50.1, median_p50.2
                        ),
                        format!("{:.2}", l(&|x| x.me.p90).0),
                        format!(
                            "{:.2} ({:.2}–{:.2})",
                            median_p99.0, median_p99.1, median_p99.2
                        ),
                        format!("{:.2}", l(&|x| x.me.p999).0),
                        format!("{:.0}", l(&|x| x.offered_rps).0),
                        format!("{:.0}", l(&|x| x.co_backfilled as f64).0),
                        format!("{:.0}", l(&|x| x.failures as f64).0),
                        format!("{:.0} ({:.0}–{:.0})", rps.0, rps.1, rps.2),
                        format!("{:.2}", s(&|x| x.store_ops_per_request).0),
                    ]);
                    for (series_index, figure) in [(i, median_p50), (i + 2, median_p99)] {
                        series[series_index].points.push(Point {
                            x: label.into(),
                            y: figure.0,
                            low: Some(figure.1),
                            high: Some(figure.2),
                        });
                    }
                }
            }
            let added = |name: &str| p50[&("+2 ms", name)] - p50[&("loopback", name)];
            let (session_added, jwt_added) = (added("session /me"), added("JWT /me"));
            let verdict = c4_verdict(session_added, jwt_added);
            let rtt = |label: &str| {
                stat(
                    &latency,
                    &format!("{label}|session /me"),
                    &|x: &LatencySample| x.store_rtt_ms,
                )
                .0
            };
            Ok(ExperimentResult {
                id: "c4".into(),
                title: self.title().into(),
                claims: vec!["C4".into()],
                question: "Does a shared session store add its network latency to every API call?".into(),
                setup: format!(
                    "One node per stack behind HAProxy (the JWT stack signs with {}, as in c5); the nodes reach the store through the lab's latency proxy, which \
                     adds 0, 0.5 or 2 ms to every store round trip (\"loopback\" includes the proxy's own hop; its timer \
                     rounds up to whole milliseconds, so a setting acts as up to 1 ms more: the \"store RTT\" column is \
                     the median of {PINGS} PINGs through the proxy before each run, what a lookup really paid). \
                     Settings and stacks interleaved, order rotating per trial. Latency at a fixed offered load: goose, \
                     {GOOSE_USERS} logged-in users browsing (/me, /orders, now and then /admin/stats) with 40–60 ms think \
                     time, about 300 requests/s per stack, coordinated-omission mitigation on (\"CO backfilled\" counts \
                     the times goose made up for stalls), GET /me percentiles from goose's histograms. Throughput: wrk \
                     -t2 -c64 with {USERS} users' credentials, where the queue hides the delay as latency and shows it \
                     as lost requests/s.",
                    CAPACITY_ALG.name()
                ),
                verdicts: vec![ClaimVerdict {
                    claim: "C4".into(),
                    verdict,
                    rule: "holds when, at the fixed offered load, +2 ms on the store adds at least 1.6 ms to session \
                           GET /me's median latency and less than 0.5 ms to JWT GET /me's."
                        .into(),
                    evidence: format!(
                        "+2 ms store (measured round trip {:.2} ms, loopback {:.2} ms): session p50 \
                         {session_added:+.2} ms, JWT p50 {jwt_added:+.2} ms",
                        rtt("+2 ms"),
                        rtt("loopback")
                    ),
                }],
                tables: vec![table],
                chart: Some(Chart {
                    title: "GET /me latency at a fixed offered load, by added store latency".into(),
                    kind: ChartKind::Bars,
                    x_label: "store round trip".into(),
                    y_label: "latency (ms)".into(),
                    series,
                }),
                lesson: format!(
                    "Every session request waits for the store: +2 ms on the store became {session_added:+.2} ms on the \
                     median session request, and throughput at a fixed number of connections fell with it. The JWT \
                     request never asks the store ({jwt_added:+.2} ms). Put the store close to the nodes, or the \
                     store's distance is everyone's latency."
                ),
                raw: json!({ "latency": latency, "saturated": saturated }),
                seconds: started.elapsed().as_secs_f64(),
                error: None,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c4_rule() {
        assert_eq!(c4_verdict(2.1, 0.1), Verdict::Holds);
        assert!(matches!(c4_verdict(2.1, 0.9), Verdict::HoldsWithCaveat(_)));
        assert!(matches!(c4_verdict(0.4, 0.0), Verdict::DoesNotHold(_)));
        assert!(matches!(c4_verdict(1.59, 0.0), Verdict::DoesNotHold(_)));
    }
}
