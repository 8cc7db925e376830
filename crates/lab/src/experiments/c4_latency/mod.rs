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

use std::time::{Duration, Instant};

use authlab_client::ApiClient;
use authlab_core::redis_client::RedisStore;
use loadtests::{Credentials, LoadPlan, LoadReport, Percentiles, ScenarioKind};
use serde_json::json;

use super::capacity::{
    cluster, credentials, probe_store, stat, Figure, OfVariant, Probe, Sample, CAPACITY_ALG, USERS,
};
use crate::experiment::Outcome;
use crate::experiment::RunContext;
use crate::experiment::Runnable;
use crate::kit::err;
use crate::kit::load_check;
use crate::kit::schedule::{self, Trials};
use crate::kit::stats::median;
use crate::{
    results::{Chart, ChartKind, ClaimVerdict, ExperimentResult, Point, Series, Table, Verdict},
    summaries::{Added, DelaySetting, LatencySummary, Summary},
    LabError, Latency, Stack,
};

const TRIALS: Trials = Trials::new(1, 3);

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

/// C4's rule, from what the largest store delay added over loopback
/// (`None`: fewer than two settings were measured). The store round trip is
/// the one measured through the proxy, not the setting.
pub fn c4_verdict(added: Option<Added>) -> Verdict {
    let Some(a) = added else {
        return Verdict::NotMeasured("needs loopback and at least one added delay".into());
    };
    if a.store_rtt_ms < 0.5 * a.setting_ms {
        return Verdict::Inconclusive(format!(
            "the latency proxy added only {:.2} ms of round trip for a {:.1} ms setting",
            a.store_rtt_ms, a.setting_ms
        ));
    }
    let passed_on = a.session_p50_ms >= 0.8 * a.store_rtt_ms;
    if passed_on && a.jwt_p50_ms.abs() < 0.5 {
        Verdict::Holds
    } else if passed_on {
        Verdict::HoldsWithCaveat(format!(
            "JWT /me, which never asks the store, also moved by {:+.2} ms (machine noise or shared cores)",
            a.jwt_p50_ms
        ))
    } else {
        Verdict::DoesNotHold(format!(
            "a store round trip {:.2} ms longer added only {:+.2} ms to session /me's median",
            a.store_rtt_ms, a.session_p50_ms
        ))
    }
}

/// The one figure of the run for the first screen: what the largest delay
/// added to each stack's median.
pub fn c4_headline(added: Option<Added>) -> String {
    added.map_or_else(String::new, |a| {
        format!(
            "store round trip +{:.2} ms: session /me p50 {:+.2} ms, JWT {:+.2} ms",
            a.store_rtt_ms, a.session_p50_ms, a.jwt_p50_ms
        )
    })
}

const C4_RULE: &str = "judged on the largest delay against loopback, with the store round trip as measured through \
    the proxy (PINGs), not the setting. Inconclusive when the proxy delivered less than half its setting. Holds when \
    session GET /me's median at the fixed offered load rose by at least 80% of the added round trip and JWT GET \
    /me's moved by less than 0.5 ms; holds with a caveat when the session rose that much but JWT moved by 0.5 ms or \
    more; does not hold when the session rose by less.";

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

impl Runnable for StoreLatency {
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
        Duration::from_secs(if quick { 40 } else { 315 })
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> Outcome<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let (goose_time, wrk_time) = if ctx.quick {
                (Duration::from_secs(3), Duration::from_secs(2))
            } else {
                (Duration::from_secs(10), Duration::from_secs(6))
            };
            let trials = TRIALS.count(ctx.quick);
            ctx.variant("starting a cluster with the latency proxy in front of the store");
            let (cluster, store) =
                cluster(ctx, 1, Some(Latency::default()), Some(CAPACITY_ALG)).await?;
            let client = ApiClient::new();
            let probe = Probe {
                cluster: &cluster,
                store,
                duration: wrk_time,
            };
            let via_proxy = probe_store("store via the latency proxy", &cluster.node_store_url(0))?;
            // One cluster for all settings (the delay changes live); the
            // settings and, inside each, the stacks rotate per trial.
            let measured = schedule::run(
                ctx,
                &DELAYS,
                trials,
                |(label, _)| format!("store {label}: goose at a fixed load, then wrk"),
                async |&(label, micros), trial| {
                    cluster.set_store_latency(Latency {
                        delay: Duration::from_micros(micros),
                        jitter: Duration::ZERO,
                    })?;
                    let store_rtt_ms = store_round_trip(&via_proxy).await?;
                    let mut runs = Vec::new();
                    for index in schedule::order(STACKS.len(), trial) {
                        let (name, stack) = STACKS[index];
                        let variant = format!("{label}|{name}");
                        let report =
                            loadtests::run(&goose_plan(cluster.url(stack, "")?, stack, goose_time))
                                .await
                                .map_err(err)?;
                        if report.interrupted {
                            return Err(LabError::Interrupted);
                        }
                        load_check::check(
                            &format!("{variant} (goose)"),
                            load_check::Answers {
                                requests: report.requests,
                                non_2xx: report.failures,
                                socket_errors: 0,
                            },
                        )?;
                        let latency = LatencySample {
                            variant: variant.clone(),
                            trial,
                            store_rtt_ms,
                            me: me_latency(&report)?,
                            offered_rps: report.requests_per_second,
                            co_backfilled: report.co_backfilled,
                            failures: report.failures,
                            requests: report.requests,
                        };
                        // Fresh logins for every wrk run: the access lifetime
                        // never ends inside a run, however long the experiment.
                        let creds = credentials(&client, &cluster, stack).await?;
                        let mut saturated =
                            probe.measure(name, trial, stack, "/me", &creds, 64).await?;
                        saturated.variant = variant;
                        runs.push((latency, saturated));
                    }
                    Ok(runs)
                },
            )
            .await?;
            cluster.shutdown();
            let (latency, saturated): (Vec<LatencySample>, Vec<Sample>) =
                measured.into_iter().flat_map(|m| m.value).unzip();

            // Settings as the report names them: the measured round trip.
            let rtt = |label: &str| {
                stat(
                    &latency,
                    &format!("{label}|session /me"),
                    &|x: &LatencySample| x.store_rtt_ms,
                )
                .0
            };
            let shown = |label: &str, micros: u64| {
                if micros == 0 {
                    format!("{:.2} ms (loopback)", rtt(label))
                } else {
                    format!(
                        "{:.2} ms (setting +{})",
                        rtt(label),
                        label.trim_start_matches('+')
                    )
                }
            };
            let mut table = Table {
                title: format!(
                    "/me through HAProxy, {trials} interleaved trial(s). Latency: goose, {GOOSE_USERS} users with \
                     40–60 ms think time ({} s per run, coordinated-omission mitigation on), GET /me percentiles. \
                     Throughput: wrk -t2 -c64 ({} s per run). Medians (min–max).",
                    goose_time.as_secs(),
                    wrk_time.as_secs()
                ),
                columns: [
                    "proxy setting", "store RTT ms (measured)", "variant", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "offered req/s",
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
            let mut settings = Vec::new();
            for (label, micros) in DELAYS {
                let mut p50 = [0.0; 2];
                for (i, (name, _)) in STACKS.iter().enumerate() {
                    let key = format!("{label}|{name}");
                    let l = |figure: Figure<'_, LatencySample>| stat(&latency, &key, figure);
                    let s = |figure: Figure<'_>| stat(&saturated, &key, figure);
                    let (median_p50, median_p99) = (l(&|x| x.me.p50), l(&|x| x.me.p99));
                    let rps = s(&|x| x.wrk.rps);
                    p50[i] = median_p50.0;
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
                            x: shown(label, micros),
                            y: figure.0,
                            low: Some(figure.1),
                            high: Some(figure.2),
                        });
                    }
                }
                settings.push(DelaySetting {
                    setting_ms: micros as f64 / 1e3,
                    store_rtt_ms: rtt(label),
                    session_p50_ms: p50[0],
                    jwt_p50_ms: p50[1],
                });
            }
            let summary = LatencySummary { settings };
            let added = summary.added();
            let verdict = c4_verdict(added);
            let headline = c4_headline(added);
            let (evidence, lesson) = match added {
                Some(a) => (
                    format!(
                        "store round trip measured {:.2} ms at loopback and {:.2} ms at the {:.1} ms setting ({:+.2} ms): \
                         session p50 {:+.2} ms, JWT p50 {:+.2} ms",
                        rtt(DELAYS[0].0),
                        rtt(DELAYS[DELAYS.len() - 1].0),
                        a.setting_ms,
                        a.store_rtt_ms,
                        a.session_p50_ms,
                        a.jwt_p50_ms
                    ),
                    format!(
                        "A store round trip {:.2} ms longer made the median session request {:+.2} ms slower and the \
                         median JWT request {:+.2} ms: a session request waits for the store, a JWT request (no \
                         revocation) never asks it. At saturation the same delay shows as requests/s a fixed number of \
                         connections can no longer send (table).",
                        a.store_rtt_ms, a.session_p50_ms, a.jwt_p50_ms
                    ),
                ),
                None => ("fewer than two settings measured".into(), String::new()),
            };
            Ok(ExperimentResult {
                id: "c4".into(),
                title: self.title().into(),
                claims: vec!["C4".into()],
                question: "Does a shared session store add its network latency to every API call?".into(),
                setup: format!(
                    "One node per stack behind HAProxy (the JWT stack signs with {}, as in c5); the nodes reach the store \
                     through the lab's latency proxy, set to add {} to every store round trip. The \"store RTT\" column \
                     is the median of {PINGS} PINGs through the proxy before each setting's runs: what a lookup really \
                     paid, and what the rule uses. Settings, and the stacks within them, interleaved with the order \
                     rotating per trial. Latency at a fixed offered load: goose, {GOOSE_USERS} logged-in users browsing \
                     (/me, /orders, now and then /admin/stats) with 40–60 ms think time, about 300 requests/s per \
                     stack, coordinated-omission mitigation on (\"CO backfilled\" counts the times goose made up for \
                     stalls), GET /me percentiles from goose's histograms. Throughput: wrk -t2 -c64 with {USERS} users \
                     logged in just before each run. A run with more than {:.1}% failed requests is refused.",
                    CAPACITY_ALG.name(),
                    DELAYS.iter().map(|(label, _)| *label).collect::<Vec<_>>().join(", "),
                    load_check::MAX_ERROR_SHARE * 100.0,
                ),
                verdicts: vec![ClaimVerdict {
                    headline,
                    by_design: None,
                    claim: "C4".into(),
                    verdict,
                    rule: C4_RULE.into(),
                    evidence,
                }],
                tables: vec![table],
                chart: Some(Chart {
                    title: "GET /me latency at a fixed offered load, by measured store round trip".into(),
                    kind: ChartKind::Bars,
                    x_label: "store round trip (measured through the proxy)".into(),
                    y_label: "latency (ms)".into(),
                    series,
                }),
                lesson,
                summary: Some(Summary::Latency(summary)),
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

    fn added(store_rtt_ms: f64, session_p50_ms: f64, jwt_p50_ms: f64) -> Option<Added> {
        Some(Added {
            setting_ms: 2.0,
            store_rtt_ms,
            session_p50_ms,
            jwt_p50_ms,
        })
    }

    #[test]
    fn c4_rule() {
        assert_eq!(c4_verdict(added(2.0, 2.1, 0.1)), Verdict::Holds);
        assert_eq!(c4_verdict(added(2.0, 1.6, -0.49)), Verdict::Holds);
        assert!(matches!(
            c4_verdict(added(2.0, 2.1, 0.9)),
            Verdict::HoldsWithCaveat(_)
        ));
        assert!(matches!(
            c4_verdict(added(2.0, 0.4, 0.0)),
            Verdict::DoesNotHold(_)
        ));
        assert!(matches!(
            c4_verdict(added(2.0, 1.59, 0.0)),
            Verdict::DoesNotHold(_)
        ));
        // The rule follows the measured round trip, not the setting: a
        // proxy that delivered 3.2 ms needs 2.56 ms on the session.
        assert!(matches!(
            c4_verdict(added(3.2, 2.2, 0.0)),
            Verdict::DoesNotHold(_)
        ));
        assert!(matches!(
            c4_verdict(added(0.5, 2.0, 0.0)),
            Verdict::Inconclusive(_)
        ));
        assert!(matches!(c4_verdict(None), Verdict::NotMeasured(_)));
    }

    #[test]
    fn c4_headline_is_the_added_latency() {
        assert_eq!(
            c4_headline(added(2.02, 2.22, 0.06)),
            "store round trip +2.02 ms: session /me p50 +2.22 ms, JWT +0.06 ms"
        );
        assert_eq!(c4_headline(None), "");
    }
}
