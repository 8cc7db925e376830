//! c1 and c3 — what real users see: goose users logging in and browsing.
//!
//! These two claims are about user behaviour, not capacity, so they are
//! measured with goose (loadtests/): every simulated user logs in once,
//! browses with a little think time, and logs in again when a request
//! answers 401. goose stays far below its own ceiling here.

use std::time::{Duration, Instant};

use loadtests::{Credentials, LoadPlan, LoadReport, ScenarioKind};
use serde_json::json;
use session_server::StoreMode;

use super::{err, Experiment, Outcome, RunContext};
use crate::{
    results::{Chart, ChartKind, ClaimVerdict, ExperimentResult, Point, Series, Table, Verdict},
    Cluster, ClusterSpec, LabError, Stack,
};

const USERS: usize = 12;

fn plan(host: String, stack: loadtests::Stack, run_time: Duration) -> LoadPlan {
    let mut plan = LoadPlan::new(host, stack, ScenarioKind::Browse);
    plan.users = USERS;
    plan.hatch_rate = USERS as f64;
    plan.run_time = run_time;
    plan.think_time = Some((Duration::from_millis(50), Duration::from_millis(150)));
    plan.credentials = Credentials::LoadUsers {
        offset: 0,
        count: USERS,
    };
    plan
}

fn rejected(report: &LoadReport) -> u64 {
    report.status_counts.get(&401).copied().unwrap_or(0)
}

pub struct SessionAffinity;

/// C1's rule, from the share of requests answered 401 with per-node memory
/// sessions and with the shared store.
pub fn c1_verdict(memory_rejected: f64, shared_rejected: f64) -> Verdict {
    if memory_rejected > 0.3 && shared_rejected < 0.01 {
        Verdict::Holds
    } else if memory_rejected > 0.3 {
        Verdict::HoldsWithCaveat(format!(
            "the shared store also rejected {:.1}% of requests",
            shared_rejected * 100.0
        ))
    } else {
        Verdict::DoesNotHold(format!(
            "memory sessions were rejected on only {:.1}% of requests",
            memory_rejected * 100.0
        ))
    }
}

impl Experiment for SessionAffinity {
    fn id(&self) -> &'static str {
        "c1"
    }

    fn title(&self) -> &'static str {
        "Per-node memory sessions behind a round-robin load balancer"
    }

    fn claims(&self) -> &'static [&'static str] {
        &["C1"]
    }

    fn estimate(&self, quick: bool) -> Duration {
        Duration::from_secs(if quick { 14 } else { 40 })
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> Outcome<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let run_time = Duration::from_secs(if ctx.quick { 4 } else { 15 });
            let mut rows = Vec::new();
            let mut raw = Vec::new();
            let mut shares = Vec::new();
            for mode in [StoreMode::Memory, StoreMode::Redis] {
                let label = if mode == StoreMode::Memory {
                    "memory (per node)"
                } else {
                    "Redis (shared)"
                };
                ctx.variant(format!(
                    "{label}: {USERS} goose users for {} s through round-robin",
                    run_time.as_secs()
                ));
                let mut spec = ClusterSpec::new(ctx.launcher.clone());
                spec.stacks = vec![Stack::Session];
                spec.nodes = 3;
                spec.seed_users = USERS;
                spec.session_store = mode;
                let cluster = Cluster::start(spec).await?;
                let report = loadtests::run(&plan(
                    cluster.url(Stack::Session, "")?,
                    loadtests::Stack::Session,
                    run_time,
                ))
                .await
                .map_err(err)?;
                cluster.shutdown();
                let share = rejected(&report) as f64 / report.requests.max(1) as f64;
                let per_minute =
                    report.relogins as f64 / USERS as f64 * 60.0 / report.duration_s.max(0.001);
                shares.push((label, share, per_minute));
                rows.push(vec![
                    label.into(),
                    report.requests.to_string(),
                    format!("{:.1}%", share * 100.0),
                    report.relogins.to_string(),
                    format!("{per_minute:.0}"),
                    report
                        .per_node
                        .iter()
                        .map(|(n, c)| format!("{n}: {c}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                ]);
                raw.push(json!({"mode": label, "report": report}));
            }
            let (memory, redis) = (shares[0], shares[1]);
            let verdict = c1_verdict(memory.1, redis.1);
            let series = shares
                .iter()
                .map(|(label, share, _)| Series {
                    name: label.to_string(),
                    points: vec![Point {
                        x: "authenticated requests rejected (%)".into(),
                        y: share * 100.0,
                        low: None,
                        high: None,
                    }],
                })
                .collect();
            Ok(ExperimentResult {
                id: "c1".into(),
                title: self.title().into(),
                claims: vec!["C1".into()],
                question: "Do sessions kept in one server's memory break behind a load balancer, forcing users to log in again?".into(),
                setup: format!(
                    "3 session nodes behind HAProxy round-robin, sessions either in each node's memory or in a shared Redis. \
                     {USERS} goose users log in once, then browse (/me, /orders, now and then /admin/stats) with 50–150 ms \
                     think time for {} s; a 401 sends the user back to the login, counted as a forced re-login.",
                    run_time.as_secs()
                ),
                verdicts: vec![ClaimVerdict {
                    claim: "C1".into(),
                    verdict,
                    rule: "holds when more than 30% of requests are rejected with per-node memory sessions and less than 1% with the shared store."
                        .into(),
                    evidence: format!(
                        "memory: {:.1}% rejected, {:.0} re-logins per user per minute; Redis: {:.1}% rejected",
                        memory.1 * 100.0,
                        memory.2,
                        redis.1 * 100.0
                    ),
                }],
                tables: vec![Table {
                    title: "What the users experienced".into(),
                    columns: ["session store", "requests", "rejected (401)", "forced re-logins", "re-logins per user per minute", "responses per node"]
                        .map(String::from)
                        .to_vec(),
                    rows,
                }],
                chart: Some(Chart {
                    title: "Share of authenticated requests rejected".into(),
                    kind: ChartKind::Bars,
                    x_label: "".into(),
                    y_label: "% of requests answered 401".into(),
                    series,
                }),
                lesson: format!(
                    "Round-robin sends each request to the next node, and a node that did not see the login does not know the \
                     session: {:.0}% of requests bounced and every user logged in again about {:.0} times a minute. Put sessions \
                     in a store every node shares (or pin users to a node, claim C2) and the problem is gone.",
                    memory.1 * 100.0,
                    memory.2
                ),
                raw: json!(raw),
                seconds: started.elapsed().as_secs_f64(),
                error: None,
            })
        })
    }
}

pub struct StoreOutage;

/// C3's rule, from the percentage of requests each stack failed while the
/// store was down (0–100).
pub fn c3_verdict(session_down: f64, jwt_down: f64) -> Verdict {
    if session_down < 50.0 {
        Verdict::DoesNotHold(format!(
            "only {session_down:.0}% of session requests failed while the store was down"
        ))
    } else if jwt_down > 5.0 {
        Verdict::HoldsWithCaveat(format!("the JWT stack also failed {jwt_down:.0}% of requests (its logins and refreshes need the store)"))
    } else {
        Verdict::Holds
    }
}

impl Experiment for StoreOutage {
    fn id(&self) -> &'static str {
        "c3"
    }

    fn title(&self) -> &'static str {
        "The shared session store stops during load"
    }

    fn claims(&self) -> &'static [&'static str] {
        &["C3"]
    }

    fn estimate(&self, quick: bool) -> Duration {
        Duration::from_secs(if quick { 16 } else { 40 })
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> Outcome<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let phase = Duration::from_secs(if ctx.quick { 3 } else { 8 });
            ctx.variant("cluster with both stacks; store stop and restart during the run");
            let mut spec = ClusterSpec::new(ctx.launcher.clone());
            spec.nodes = 2;
            spec.seed_users = USERS;
            let mut cluster = Cluster::start(spec).await?;
            let session_plan = plan(
                cluster.url(Stack::Session, "")?,
                loadtests::Stack::Session,
                phase * 3,
            );
            let jwt_plan = plan(
                cluster.url(Stack::Jwt, "")?,
                loadtests::Stack::Jwt,
                phase * 3,
            );
            let store_url = cluster.store_url(0);
            let sessions_before = std::cell::Cell::new(0u64);
            // Faults on this task (the cluster's thread), load beside it.
            let faults = async {
                tokio::time::sleep(phase + Duration::from_millis(500)).await;
                let client = redis::Client::open(store_url.as_str()).map_err(err)?;
                let mut conn = client
                    .get_multiplexed_async_connection()
                    .await
                    .map_err(err)?;
                sessions_before.set(
                    redis::cmd("DBSIZE")
                        .query_async(&mut conn)
                        .await
                        .unwrap_or(0),
                );
                let stopped_at = Instant::now();
                cluster.stop_store();
                tokio::time::sleep(phase).await;
                cluster.start_store();
                let restarted_at = Instant::now();
                // Count at once, before the users' next requests log them in again.
                let mut conn = client
                    .get_multiplexed_async_connection()
                    .await
                    .map_err(err)?;
                let survived: u64 = redis::cmd("DBSIZE")
                    .query_async(&mut conn)
                    .await
                    .unwrap_or(0);
                Ok::<_, LabError>((stopped_at, restarted_at, survived))
            };
            let load_started = Instant::now();
            let (session, jwt, times) = tokio::join!(
                loadtests::run(&session_plan),
                loadtests::run(&jwt_plan),
                faults
            );
            let (session, jwt) = (session.map_err(err)?, jwt.map_err(err)?);
            let (stopped_at, restarted_at, sessions_after) = times?;
            cluster.shutdown();

            let stop_s = stopped_at.duration_since(load_started).as_secs_f64();
            let restart_s = restarted_at.duration_since(load_started).as_secs_f64();
            let during = |r: &LoadReport, from: f64, to: f64| {
                let (req, errs) = r
                    .per_second
                    .iter()
                    .filter(|b| (b.second as f64) >= from.ceil() && (b.second as f64) < to.floor())
                    .fold((0, 0), |(q, e), b| (q + b.requests, e + b.errors));
                errs as f64 / req.max(1) as f64 * 100.0
            };
            let recovered_after = |r: &LoadReport| {
                r.per_second
                    .iter()
                    .find(|b| {
                        b.second as f64 >= restart_s.floor() && b.requests > 0 && b.errors == 0
                    })
                    .map(|b| (b.second as f64 + 1.0 - restart_s).max(0.0))
            };
            let mut series = Vec::new();
            let mut table = Table {
                title: format!("Error rate by phase (store stopped at {stop_s:.1} s, restarted at {restart_s:.1} s, no persistence)"),
                columns: ["stack", "before", "store down", "after restart", "first error-free second after restart", "re-logins"].map(String::from).to_vec(),
                rows: Vec::new(),
            };
            for (name, report) in [("session", &session), ("JWT (revocation none)", &jwt)] {
                table.rows.push(vec![
                    name.into(),
                    format!("{:.1}%", during(report, 0.0, stop_s)),
                    format!("{:.1}%", during(report, stop_s, restart_s)),
                    format!("{:.1}%", during(report, restart_s, f64::MAX)),
                    recovered_after(report)
                        .map(|s| format!("{s:.0} s"))
                        .unwrap_or_else(|| "not within the run".into()),
                    report.relogins.to_string(),
                ]);
                series.push(Series {
                    name: name.into(),
                    points: report
                        .per_second
                        .iter()
                        .map(|b| Point {
                            x: b.second.to_string(),
                            y: b.errors as f64 / b.requests.max(1) as f64 * 100.0,
                            low: None,
                            high: None,
                        })
                        .collect(),
                });
            }
            let session_down = during(&session, stop_s, restart_s);
            let jwt_down = during(&jwt, stop_s, restart_s);
            let lost = sessions_before.get().saturating_sub(sessions_after);
            let verdict = c3_verdict(session_down, jwt_down);
            Ok(ExperimentResult {
                id: "c3".into(),
                title: self.title().into(),
                claims: vec!["C3".into()],
                question: "Does a shared session store become a single point of failure?".into(),
                setup: format!(
                    "2 nodes per stack behind HAProxy, one redis-server as session store (and the JWT stack's refresh-token \
                     store), no persistence. {USERS} goose users browse each stack with 50–150 ms think time for {} s; \
                     after {} s the store is stopped (SIGKILL), {} s later started again, empty.",
                    (phase * 3).as_secs(),
                    phase.as_secs(),
                    phase.as_secs()
                ),
                verdicts: vec![ClaimVerdict {
                    claim: "C3".into(),
                    verdict,
                    rule: "holds when at least half of the session stack's requests fail while the store is down and the JWT \
                           stack's requests (verified without the store) fail at most 5% of the time; with a caveat when the \
                           JWT stack fails more; does not hold when fewer than half of the session requests fail."
                        .into(),
                    evidence: format!(
                        "store down: session {session_down:.1}% errors, JWT {jwt_down:.1}%; sessions in the store before the \
                         stop: {}, after the restart: {sessions_after} ({lost} lost)",
                        sessions_before.get()
                    ),
                }],
                tables: vec![
                    table,
                    Table {
                        title: "Sessions lost with the store (restarted without persistence)".into(),
                        columns: ["keys in the session store before the stop (sessions + user index)", "right after the restart", "session users forced to log in again"]
                            .map(String::from)
                            .to_vec(),
                        rows: vec![vec![sessions_before.get().to_string(), sessions_after.to_string(), session.relogins.to_string()]],
                    },
                ],
                chart: Some(Chart {
                    title: "Error rate per second while the store stops and returns".into(),
                    kind: ChartKind::Lines,
                    x_label: "second of the run".into(),
                    y_label: "% of requests failed".into(),
                    series,
                }),
                lesson: format!(
                    "While the store was down every session request that needed it failed ({session_down:.0}%), on every node \
                     at once: the store is a single point of failure, and without persistence every session died with it \
                     ({lost} keys). The JWT users browsed on ({jwt_down:.0}% errors): their tokens verify without the store, \
                     but nobody could log in or refresh until it came back. Make the store highly available, or accept that \
                     its outage is everyone's logout."
                ),
                raw: json!({ "session": session, "jwt": jwt, "stop_s": stop_s, "restart_s": restart_s,
                             "sessions_before": sessions_before.get(), "sessions_after": sessions_after }),
                seconds: started.elapsed().as_secs_f64(),
                error: None,
            })
        })
    }
}

pub struct Stickiness;

/// max/mean and coefficient of variation of per-node counts.
fn imbalance(counts: &[f64]) -> (f64, f64) {
    let n = counts.len().max(1) as f64;
    let mean = counts.iter().sum::<f64>() / n;
    let max = counts.iter().copied().fold(0.0, f64::max);
    let variance = counts.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / n;
    if mean > 0.0 {
        (max / mean, variance.sqrt() / mean)
    } else {
        (0.0, 0.0)
    }
}

/// C2's rule, from the per-node coefficient of variation with sticky cookies
/// and with round-robin, and the forced re-logins in the run where a sticky
/// node was killed.
pub fn c2_verdict(sticky_cv: f64, round_robin_cv: f64, relogins_after_kill: u64) -> Verdict {
    if sticky_cv > round_robin_cv && relogins_after_kill > 0 {
        Verdict::Holds
    } else if sticky_cv > round_robin_cv {
        Verdict::HoldsWithCaveat("no user lost a session when the node died".into())
    } else {
        Verdict::DoesNotHold(format!(
            "sticky spread as evenly as round-robin (CV {sticky_cv:.2} vs {round_robin_cv:.2})"
        ))
    }
}

impl Experiment for Stickiness {
    fn id(&self) -> &'static str {
        "c2"
    }

    fn title(&self) -> &'static str {
        "Sticky sessions: balance with skewed users, and a node's death"
    }

    fn claims(&self) -> &'static [&'static str] {
        &["C2"]
    }

    fn estimate(&self, quick: bool) -> Duration {
        Duration::from_secs(if quick { 20 } else { 60 })
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> Outcome<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let run_time = Duration::from_secs(if ctx.quick { 4 } else { 15 });
            let mut rows = Vec::new();
            let mut raw = Vec::new();
            let mut series = Vec::new();
            let mut measured = Vec::new();
            for (label, balance, store, kill) in [
                (
                    "round-robin, shared store",
                    crate::Balance::Roundrobin,
                    StoreMode::Redis,
                    false,
                ),
                (
                    "sticky cookie, memory sessions",
                    crate::Balance::Sticky,
                    StoreMode::Memory,
                    false,
                ),
                (
                    "sticky cookie, memory sessions, session-1 killed halfway",
                    crate::Balance::Sticky,
                    StoreMode::Memory,
                    true,
                ),
            ] {
                ctx.variant(format!("{label}: 2 heavy + 10 light users"));
                let mut spec = ClusterSpec::new(ctx.launcher.clone());
                spec.stacks = vec![Stack::Session];
                spec.nodes = 3;
                spec.seed_users = USERS;
                spec.balance = balance;
                spec.session_store = store;
                let mut cluster = Cluster::start(spec).await?;
                let host = cluster.url(Stack::Session, "")?;
                // Skew: two users who never pause, ten who browse like people.
                let mut heavy = plan(host.clone(), loadtests::Stack::Session, run_time);
                heavy.users = 2;
                heavy.hatch_rate = 2.0;
                heavy.think_time = None;
                heavy.credentials = Credentials::LoadUsers {
                    offset: 0,
                    count: 2,
                };
                let mut light = plan(host, loadtests::Stack::Session, run_time);
                light.users = 10;
                light.hatch_rate = 10.0;
                light.think_time = Some((Duration::from_millis(200), Duration::from_millis(400)));
                light.credentials = Credentials::LoadUsers {
                    offset: 2,
                    count: 10,
                };
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
                    heavy_report.map_err(err)?,
                    light_report.map_err(err)?,
                    killed?,
                );
                // HAProxy's own view, as a cross-check of the users' one: the
                // HTTP responses each server returned (`hrsp_*`). Its `lbtot`
                // would not do: it counts load-balancing decisions, and a
                // request its sticky cookie routes is not one.
                let haproxy_counts: Vec<(String, u64)> = cluster
                    .stats()?
                    .into_iter()
                    .filter(|s| s.backend == "session_nodes")
                    .map(|s| (s.server, s.responses))
                    .collect();
                cluster.shutdown();
                // Per node from the `x-node` header of every response the users got.
                let mut per_node: std::collections::BTreeMap<String, f64> =
                    std::collections::BTreeMap::new();
                for report in [&heavy_report, &light_report] {
                    for (node, count) in &report.per_node {
                        *per_node.entry(node.clone()).or_default() += *count as f64;
                    }
                }
                for i in 1..=3 {
                    per_node.entry(format!("session-{i}")).or_default();
                }
                let counts: Vec<(String, f64)> = per_node.into_iter().collect();
                let values: Vec<f64> = counts.iter().map(|(_, c)| *c).collect();
                let (max_over_mean, cv) = imbalance(&values);
                let relogins = heavy_report.relogins + light_report.relogins;
                rows.push(vec![
                    label.into(),
                    counts
                        .iter()
                        .map(|(n, c)| format!("{n}: {c:.0}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    haproxy_counts
                        .iter()
                        .map(|(n, c)| format!("{n}: {c}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    format!("{max_over_mean:.2}"),
                    format!("{cv:.2}"),
                    relogins.to_string(),
                    killed.clone().unwrap_or_else(|| "—".into()),
                ]);
                series.push(Series {
                    name: label.into(),
                    points: counts
                        .iter()
                        .map(|(n, c)| Point {
                            x: n.clone(),
                            y: *c,
                            low: None,
                            high: None,
                        })
                        .collect(),
                });
                measured.push((label, max_over_mean, cv, relogins, killed.is_some()));
                raw.push(json!({"variant": label, "per_node": counts, "haproxy_responses": haproxy_counts, "heavy": heavy_report, "light": light_report, "killed": killed}));
            }
            let rr = measured[0];
            let sticky = measured[1];
            let killed = measured[2];
            let verdict = c2_verdict(sticky.2, rr.2, killed.3);
            Ok(ExperimentResult {
                id: "c2".into(),
                title: self.title().into(),
                claims: vec!["C2".into()],
                question: "Do sticky sessions fix C1 at the price of uneven load, and what happens to a node's users when it dies?".into(),
                setup: format!(
                    "3 session nodes behind HAProxy. Skewed users, as real traffic is: 2 heavy users with no think time and \
                     10 light users pausing 200–400 ms, for {} s. Per-node request counts come from the x-node header of every response the users got; HAProxy's per-server response counters (hrsp_*, logins and requests that failed on a dead node included) are shown beside them as a cross-check. \
                     Round-robin with the shared store, against HAProxy's cookie stickiness with per-node memory sessions \
                     (what stickiness is usually for); in the last run session-1, where the first users landed, is killed halfway.",
                    run_time.as_secs()
                ),
                verdicts: vec![ClaimVerdict {
                    claim: "C2".into(),
                    verdict,
                    rule: "holds when the per-node coefficient of variation is higher with stickiness than with round-robin, \
                           and killing a sticky node forces its users to log in again; with a caveat when the CV is higher \
                           but nobody had to log in again; does not hold when the CV is not higher."
                        .into(),
                    evidence: measured
                        .iter()
                        .map(|(l, m, c, r, _)| format!("{l}: max/mean {m:.2}, CV {c:.2}, re-logins {r}"))
                        .collect::<Vec<_>>()
                        .join("; "),
                }],
                tables: vec![Table {
                    title: "Requests per node (from x-node) and what the users felt".into(),
                    columns: ["balancing", "requests per node (x-node)", "responses per server (HAProxy)", "max / mean", "coefficient of variation", "forced re-logins", "node killed"]
                        .map(String::from)
                        .to_vec(),
                    rows,
                }],
                chart: Some(Chart {
                    title: "Requests per node".into(),
                    kind: ChartKind::Bars,
                    x_label: "node".into(),
                    y_label: "requests".into(),
                    series,
                }),
                lesson: format!(
                    "Stickiness pins each user to a node, so a node's load is the sum of its users' habits: with two heavy \
                     users the busiest node took {:.2}x the mean (round-robin: {:.2}x). And a user's session lives and dies with \
                     the node: {} forced re-logins when one node died. A shared store fixes C1 without either problem.",
                    sticky.1, rr.1, killed.3
                ),
                raw: json!(raw),
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
    fn c1_rule() {
        assert_eq!(c1_verdict(0.6, 0.0), Verdict::Holds);
        assert!(matches!(c1_verdict(0.6, 0.05), Verdict::HoldsWithCaveat(_)));
        assert!(matches!(c1_verdict(0.1, 0.0), Verdict::DoesNotHold(_)));
        // Boundaries: more than 30% rejected, less than 1% with the store.
        assert!(matches!(c1_verdict(0.3, 0.0), Verdict::DoesNotHold(_)));
        assert_eq!(c1_verdict(0.31, 0.0099), Verdict::Holds);
        assert!(matches!(
            c1_verdict(0.31, 0.01),
            Verdict::HoldsWithCaveat(_)
        ));
    }

    #[test]
    fn c2_rule() {
        assert_eq!(c2_verdict(0.9, 0.1, 5), Verdict::Holds);
        assert_eq!(c2_verdict(0.9, 0.1, 1), Verdict::Holds);
        assert_eq!(
            c2_verdict(0.9, 0.1, 0),
            Verdict::HoldsWithCaveat("no user lost a session when the node died".into())
        );
        assert!(matches!(c2_verdict(0.1, 0.9, 5), Verdict::DoesNotHold(_)));
        // An equal spread is not "uneven": stickiness must be strictly worse.
        assert_eq!(
            c2_verdict(0.3, 0.3, 5),
            Verdict::DoesNotHold("sticky spread as evenly as round-robin (CV 0.30 vs 0.30)".into())
        );
    }

    #[test]
    fn c3_rule() {
        assert_eq!(c3_verdict(100.0, 0.0), Verdict::Holds);
        assert_eq!(c3_verdict(50.0, 5.0), Verdict::Holds);
        assert!(matches!(c3_verdict(49.9, 0.0), Verdict::DoesNotHold(_)));
        assert!(matches!(
            c3_verdict(100.0, 5.1),
            Verdict::HoldsWithCaveat(_)
        ));
        // The session failure rate is checked first: a JWT outage does not rescue it.
        assert!(matches!(c3_verdict(10.0, 80.0), Verdict::DoesNotHold(_)));
    }

    #[test]
    fn imbalance_is_max_over_mean_and_coefficient_of_variation() {
        assert_eq!(imbalance(&[10.0, 10.0, 10.0]), (1.0, 0.0));
        let (max_over_mean, cv) = imbalance(&[30.0, 0.0, 0.0]);
        assert!((max_over_mean - 3.0).abs() < 1e-9 && (cv - 2f64.sqrt()).abs() < 1e-9);
    }
}
