//! c3 — the shared session store stops during load.
//!
//! goose users browse both stacks while the store is stopped and restarted:
//! every session request needs the store, a JWT request (revocation `none`)
//! does not. Two variants of the store: without persistence (killed, back
//! empty: every session is gone), and with an append-only file fsynced every
//! second (a clean shutdown, back from the file: no session may be lost).

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use loadtests::LoadReport;
use serde::Serialize;
use serde_json::json;

use super::{
    behaviour::{cell, finished, plan, point, trials, USERS},
    err, median, schedule, Experiment, Outcome, RunContext,
};
use crate::{
    results::{Chart, ChartKind, ClaimVerdict, ExperimentResult, Series, Table, Verdict},
    Cluster, ClusterSpec, LabError, Stack,
};

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

/// How the store keeps its data across the restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Persistence {
    /// No persistence; stopped with SIGKILL, back empty (a cache that lost power).
    None,
    /// `appendonly yes`, `appendfsync everysec`; stopped with SIGTERM, which
    /// is Redis's SHUTDOWN: the append-only file is fsynced before it exits.
    AofEverysec,
}

impl Persistence {
    const ALL: [Persistence; 2] = [Persistence::None, Persistence::AofEverysec];

    fn label(self) -> &'static str {
        match self {
            Persistence::None => "no persistence",
            Persistence::AofEverysec => "AOF, appendfsync everysec",
        }
    }
}

/// One c3 trial: a full outage timeline on a fresh cluster.
#[derive(Serialize)]
struct OutageRun {
    trial: usize,
    persistence: Persistence,
    session: LoadReport,
    jwt: LoadReport,
    /// Seconds from the start of the load until the store was stopped.
    stop_s: f64,
    /// Seconds from the start of the load until the store was back.
    restart_s: f64,
    /// Sessions (`authlab:session:*` keys) in the store just before the stop.
    sessions_before: u64,
    /// How many of those exist right after the restart.
    sessions_kept: u64,
}

/// Picks one stack's report out of a trial.
type ReportOf = fn(&OutageRun) -> &LoadReport;

impl OutageRun {
    /// % of a stack's requests that failed in the whole seconds between `from` and `to`.
    fn error_rate(report: &LoadReport, from: f64, to: f64) -> f64 {
        let (requests, errors) = report
            .per_second
            .iter()
            .filter(|b| (b.second as f64) >= from.ceil() && (b.second as f64) < to.floor())
            .fold((0, 0), |(q, e), b| (q + b.requests, e + b.errors));
        errors as f64 / requests.max(1) as f64 * 100.0
    }

    /// (before the stop, store down, after the restart), in %.
    fn phases(&self, report: &LoadReport) -> (f64, f64, f64) {
        (
            Self::error_rate(report, 0.0, self.stop_s),
            Self::error_rate(report, self.stop_s, self.restart_s),
            Self::error_rate(report, self.restart_s, f64::MAX),
        )
    }

    /// Seconds from the restart to the end of the first second with traffic
    /// and no errors; `None` when the run ended first.
    fn recovered_after(&self, report: &LoadReport) -> Option<f64> {
        report
            .per_second
            .iter()
            .find(|b| b.second as f64 >= self.restart_s.floor() && b.requests > 0 && b.errors == 0)
            .map(|b| (b.second as f64 + 1.0 - self.restart_s).max(0.0))
    }

    fn lost(&self) -> u64 {
        self.sessions_before.saturating_sub(self.sessions_kept)
    }
}

const SESSION_KEYS: &str = "authlab:session:*";

/// The session keys in the store. KEYS blocks Redis while it walks the
/// keyspace; this store holds a few dozen keys, so that is microseconds.
async fn session_keys(
    conn: &mut redis::aio::MultiplexedConnection,
) -> Result<Vec<String>, LabError> {
    redis::cmd("KEYS")
        .arg(SESSION_KEYS)
        .query_async(conn)
        .await
        .map_err(err)
}

async fn outage_run(
    ctx: &RunContext,
    phase: Duration,
    persistence: Persistence,
    trial: usize,
) -> Result<OutageRun, LabError> {
    let mut spec = ClusterSpec::new(ctx.launcher.clone());
    spec.nodes = 2;
    spec.seed_users = USERS;
    spec.store_persistence = persistence == Persistence::AofEverysec;
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
    // Faults on this task (the cluster's thread), load beside it.
    let faults = async {
        tokio::time::sleep(phase + Duration::from_millis(500)).await;
        let client = redis::Client::open(store_url.as_str()).map_err(err)?;
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .map_err(err)?;
        // Writes paused from the count to the stop, so a session created or
        // touched in between cannot pass for one the restart lost or kept.
        redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(10_000)
            .arg("WRITE")
            .query_async::<()>(&mut conn)
            .await
            .map_err(err)?;
        let before = session_keys(&mut conn).await?;
        let stopped_at = Instant::now();
        cluster.stop_store();
        tokio::time::sleep(phase).await;
        cluster.start_store()?;
        let restarted_at = Instant::now();
        // Checked at once; goose's users never delete a session (no logout in
        // the browse scenario), so a key missing now was lost by the restart.
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .map_err(err)?;
        let after: std::collections::HashSet<String> =
            session_keys(&mut conn).await?.into_iter().collect();
        let kept = before.iter().filter(|key| after.contains(*key)).count();
        Ok::<_, LabError>((stopped_at, restarted_at, before.len() as u64, kept as u64))
    };
    let load_started = Instant::now();
    let (session, jwt, times) = tokio::join!(
        loadtests::run(&session_plan),
        loadtests::run(&jwt_plan),
        faults
    );
    let (session, jwt) = (session.map_err(err)?, jwt.map_err(err)?);
    let (stopped_at, restarted_at, sessions_before, sessions_kept) = times?;
    cluster.shutdown();
    Ok(OutageRun {
        trial,
        persistence,
        session: finished(session)?,
        jwt: finished(jwt)?,
        stop_s: stopped_at.duration_since(load_started).as_secs_f64(),
        restart_s: restarted_at.duration_since(load_started).as_secs_f64(),
        sessions_before,
        sessions_kept,
    })
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
        Duration::from_secs(if quick { 32 } else { 180 })
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> Outcome<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let phase = Duration::from_secs(if ctx.quick { 3 } else { 8 });
            let trials = trials(ctx);
            // Both stacks share each outage; each variant on a fresh cluster per trial.
            let runs: Vec<OutageRun> = schedule::run(
                ctx,
                &Persistence::ALL,
                trials,
                |persistence| {
                    format!(
                        "both stacks under load, store {}: stopped after {} s, back {} s later",
                        persistence.label(),
                        phase.as_secs(),
                        phase.as_secs()
                    )
                },
                async |persistence, trial| outage_run(ctx, phase, *persistence, trial).await,
            )
            .await?
            .into_iter()
            .map(|m| m.value)
            .collect();
            let of = |persistence: Persistence| -> Vec<&OutageRun> {
                runs.iter()
                    .filter(|r| r.persistence == persistence)
                    .collect()
            };

            let stop_s = median(&runs.iter().map(|r| r.stop_s).collect::<Vec<_>>());
            let restart_s = median(&runs.iter().map(|r| r.restart_s).collect::<Vec<_>>());
            let mut table = Table {
                title: format!(
                    "Error rate by phase, median (min–max) over {trials} trial(s) per store variant (store stopped at \
                     {stop_s:.1} s, back at {restart_s:.1} s, medians)"
                ),
                columns: ["stack", "store", "before", "store down", "after restart", "first error-free second after restart", "re-logins"]
                    .map(String::from)
                    .to_vec(),
                rows: Vec::new(),
            };
            let mut series = Vec::new();
            // "Store down" error rate per stack over every run of both variants, for the verdict.
            let mut down = Vec::new();
            let stacks: [(&str, ReportOf); 2] = [
                ("session", |r| &r.session),
                ("JWT (revocation none)", |r| &r.jwt),
            ];
            for (name, report_of) in stacks {
                let during_all: Vec<f64> = runs.iter().map(|r| r.phases(report_of(r)).1).collect();
                down.push(median(&during_all));
                for persistence in Persistence::ALL {
                    let runs = of(persistence);
                    let phases: Vec<(f64, f64, f64)> =
                        runs.iter().map(|r| r.phases(report_of(r))).collect();
                    let before: Vec<f64> = phases.iter().map(|p| p.0).collect();
                    let during: Vec<f64> = phases.iter().map(|p| p.1).collect();
                    let after: Vec<f64> = phases.iter().map(|p| p.2).collect();
                    let recovered: Vec<f64> = runs
                        .iter()
                        .filter_map(|r| r.recovered_after(report_of(r)))
                        .collect();
                    let not_recovered = runs.len() - recovered.len();
                    let relogins: Vec<f64> =
                        runs.iter().map(|r| report_of(r).relogins as f64).collect();
                    table.rows.push(vec![
                        name.into(),
                        persistence.label().into(),
                        cell(&before, 1, "%"),
                        cell(&during, 1, "%"),
                        cell(&after, 1, "%"),
                        match (recovered.is_empty(), not_recovered) {
                            (true, _) => "not within the run".into(),
                            (false, 0) => cell(&recovered, 0, " s"),
                            (false, n) => format!(
                                "{}; not within the run in {n} of {trials}",
                                cell(&recovered, 0, " s")
                            ),
                        },
                        cell(&relogins, 0, ""),
                    ]);
                    // Per second of the run, the median across trials; a trial
                    // whose run ended earlier has no value for the last seconds.
                    let mut per_second: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
                    for run in &runs {
                        for b in &report_of(run).per_second {
                            per_second
                                .entry(b.second)
                                .or_default()
                                .push(b.errors as f64 / b.requests.max(1) as f64 * 100.0);
                        }
                    }
                    series.push(Series {
                        name: format!("{name}, {}", persistence.label()),
                        points: per_second
                            .iter()
                            .map(|(second, rates)| point(second.to_string(), rates))
                            .collect(),
                    });
                }
            }
            let (session_down, jwt_down) = (down[0], down[1]);
            let verdict = c3_verdict(session_down, jwt_down);

            // Sessions across the restart, per variant: (before, kept, lost, re-logins).
            let kept_rows: Vec<(Persistence, [Vec<f64>; 4])> = Persistence::ALL
                .into_iter()
                .map(|persistence| {
                    let runs = of(persistence);
                    let figure =
                        |f: fn(&OutageRun) -> f64| runs.iter().map(|r| f(r)).collect::<Vec<_>>();
                    (
                        persistence,
                        [
                            figure(|r| r.sessions_before as f64),
                            figure(|r| r.sessions_kept as f64),
                            figure(|r| r.lost() as f64),
                            figure(|r| r.session.relogins as f64),
                        ],
                    )
                })
                .collect();
            let sessions_table = Table {
                title: format!(
                    "Sessions across the store's restart, median (min–max) over {trials} trial(s) per store variant"
                ),
                columns: [
                    "store",
                    "sessions in the store before the stop",
                    "of those, still there after the restart",
                    "sessions lost",
                    "session users forced to log in again",
                ]
                .map(String::from)
                .to_vec(),
                rows: kept_rows
                    .iter()
                    .map(|(persistence, [before, kept, lost, relogins])| {
                        vec![
                            persistence.label().into(),
                            cell(before, 0, ""),
                            cell(kept, 0, ""),
                            cell(lost, 0, ""),
                            cell(relogins, 0, ""),
                        ]
                    })
                    .collect(),
            };
            // "lost L of B sessions and R session users logged in again".
            let restart_said = |[before, _, lost, relogins]: &[Vec<f64>; 4]| {
                format!(
                    "lost {:.0} of {:.0} sessions, and {:.0} session users had to log in again",
                    median(lost),
                    median(before),
                    median(relogins)
                )
            };
            // kept_rows follows Persistence::ALL: no persistence, then the append-only file.
            let (volatile, durable) =
                (restart_said(&kept_rows[0].1), restart_said(&kept_rows[1].1));
            Ok(ExperimentResult {
                id: "c3".into(),
                title: self.title().into(),
                claims: vec!["C3".into()],
                question: "Does a shared session store become a single point of failure, and what does its restart lose?".into(),
                setup: format!(
                    "2 nodes per stack behind HAProxy, one redis-server as session store (and the JWT stack's refresh-token \
                     store). {USERS} goose users browse each stack with 50–150 ms think time for {} s; after {} s the store \
                     is stopped, {} s later started again on the same port. Two store variants: no persistence (stopped with \
                     SIGKILL, back empty) and an append-only file with appendfsync everysec (stopped with SIGTERM, Redis's \
                     clean SHUTDOWN, back from the file). Writes are paused (CLIENT PAUSE WRITE) while the sessions are \
                     counted just before the stop. {trials} trial(s) per variant, interleaved, each on a fresh cluster; the \
                     verdict uses the medians across every trial of both variants.",
                    (phase * 3).as_secs(),
                    phase.as_secs(),
                    phase.as_secs()
                ),
                verdicts: vec![ClaimVerdict {
                    headline: String::new(),
                    by_design: None,
                    claim: "C3".into(),
                    verdict,
                    rule: "holds when at least half of the session stack's requests fail while the store is down and the JWT \
                           stack's requests (verified without the store) fail at most 5% of the time; with a caveat when the \
                           JWT stack fails more; does not hold when fewer than half of the session requests fail (medians \
                           across every trial of both store variants)."
                        .into(),
                    evidence: format!(
                        "medians of {} run(s): store down: session {session_down:.1}% errors, JWT {jwt_down:.1}%; the \
                         restart without persistence {volatile}; with the append-only file it {durable}",
                        runs.len()
                    ),
                }],
                tables: vec![table, sessions_table],
                chart: Some(Chart {
                    title: format!(
                        "Error rate per second while the store stops and returns (per-second median, min–max over {trials} trial(s))"
                    ),
                    kind: ChartKind::Lines,
                    x_label: "second of the run".into(),
                    y_label: "% of requests failed".into(),
                    series,
                }),
                lesson: format!(
                    "While the store was down {session_down:.0}% of session requests failed (median), with or without \
                     persistence: every node needs the one store, so it is a single point of failure. The JWT users saw \
                     {jwt_down:.0}% errors: their tokens verify without the store, while logins and refreshes need it. \
                     Persistence decides what the restart costs: without it the store {volatile}; with an append-only \
                     file and a clean shutdown it {durable}."
                ),
                summary: None,
                raw: json!(runs),
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
}
