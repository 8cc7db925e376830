//! c3 — the shared session store stops during load.
//!
//! goose users browse both stacks while the store is stopped and restarted:
//! every session request needs the store, a JWT `/me` (revocation `none`)
//! does not. The JWT stack keeps its refresh tokens in the same store, so
//! beside the browsing, two clients log in and rotate refresh tokens on the
//! JWT stack throughout: those calls need the store, and whether they fail
//! during the outage is measured, not assumed. Two variants of the store:
//! without persistence (killed, back empty: every session is gone), and
//! with an append-only file fsynced every second (a clean shutdown, back
//! from the file: no session may be lost).

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use clap::Parser;
use jwt_server::JwtServerConfig;
use loadtests::{LoadReport, SecondBucket};
use serde::Serialize;
use serde_json::json;

use crate::experiment::Outcome;
use crate::experiment::RunContext;
use crate::experiment::Runnable;
use crate::kit::behaviour::{cell, finished, plan, point, trials, USERS};
use crate::kit::err;
use crate::kit::schedule;
use crate::kit::stats::median;
use crate::{
    results::{Chart, ChartKind, ClaimVerdict, ExperimentResult, Series, Table, Verdict},
    Cluster, ClusterSpec, LabError, Stack,
};

pub struct StoreOutage;

/// C3's rule, from the percentage of requests each stack failed while the
/// store was down (0–100): the session stack's, the JWT stack's browsing
/// (`/me`, `/orders`: verified without the store), and the JWT stack's
/// logins and refresh rotations (which write to the store), `None` when
/// none was attempted during the outage.
pub fn c3_verdict(session_down: f64, jwt_down: f64, jwt_store_calls_down: Option<f64>) -> Verdict {
    if session_down < 50.0 {
        return Verdict::DoesNotHold(format!(
            "only {session_down:.0}% of session requests failed while the store was down"
        ));
    }
    let mut caveats = Vec::new();
    if jwt_down > 5.0 {
        caveats.push(format!(
            "the JWT stack's browsing also failed {jwt_down:.0}% of its requests"
        ));
    }
    match jwt_store_calls_down {
        None => caveats.push(
            "no JWT login or refresh was attempted while the store was down, so the JWT stack's own need of the \
             store was not tried"
                .into(),
        ),
        Some(share) if share > 5.0 => caveats.push(format!(
            "the JWT stack's logins and refresh rotations failed {share:.0}% of the time too: its refresh tokens \
             live in the same store, so only users already holding a live access token went on"
        )),
        Some(_) => {}
    }
    if caveats.is_empty() {
        Verdict::Holds
    } else {
        Verdict::HoldsWithCaveat(caveats.join("; "))
    }
}

/// The rule [`c3_verdict`] applies, in the report's words.
pub const RULE: &str = "does not hold when fewer than half of the session stack's requests fail while the store is \
    down; otherwise holds when the JWT stack's browsing (verified without the store) and its logins and refresh \
    rotations (which write to the store) each fail at most 5% of the time while it is down; holds with a caveat \
    naming each that fails more, or when no JWT login or refresh was attempted during the outage (medians across \
    every trial of both store variants).";

/// The first screen's figure: each kind of traffic's error share while the
/// store was down.
pub fn c3_headline(session_down: f64, jwt_down: f64, jwt_store_calls_down: Option<f64>) -> String {
    let calls = jwt_store_calls_down.map_or("not tried".into(), |v| format!("{v:.0}%"));
    format!(
        "store down: session requests {session_down:.0}% errors, JWT browsing {jwt_down:.0}%, JWT logins and \
         refreshes {calls}"
    )
}

/// What the set-up, not the run, decides: a JWT `/me` cannot need the
/// store (revocation none), and no access token issued before the outage
/// can expire during it when it lives longer than the outage. Said only
/// when the run agrees (the JWT browsing failed at most 5%).
pub fn c3_by_design(jwt_down: f64, access_ttl: Duration, outage_s: f64) -> Option<String> {
    (jwt_down <= 5.0 && access_ttl.as_secs_f64() > outage_s).then(|| {
        format!(
            "The JWT users' browsing could not fail here: with revocation none their requests (/me, /orders, \
             /admin/stats) never ask the store, and their access tokens live {} s, longer than the {outage_s:.0} s \
             outage, so none expired while the store was down. Its {jwt_down:.0}% errors follow from the set-up; the JWT logins and refresh \
             rotations, which do need the store, are what the run measured on that side.",
            access_ttl.as_secs()
        )
    })
}

/// The lesson's sentence on the JWT side; every figure from the run.
pub fn jwt_side(jwt_down: f64, calls: Option<(f64, Option<f64>)>) -> String {
    let browsing = format!(
        "The JWT users' browsing saw {jwt_down:.0}% errors: their tokens verify without the store."
    );
    match calls {
        None => format!(
            "{browsing} No JWT login or refresh was attempted while the store was down, so this run cannot say \
             what the store's outage did to them."
        ),
        Some((share, recovered)) => format!(
            "{browsing} Their logins and refresh rotations, which write the refresh token to the same store, failed \
             {share:.0}% of the time while it was down (median){}.",
            match recovered {
                Some(s) => format!(", and were error-free again {s:.0} s after the restart"),
                None => ", and were not error-free again within the run".into(),
            }
        ),
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
    /// JWT logins beside the browsing, second by second from the start of the load.
    jwt_logins: Vec<SecondBucket>,
    /// JWT refresh rotations, the same way.
    jwt_refreshes: Vec<SecondBucket>,
    /// The JWT nodes' access-token lifetime, in seconds.
    access_ttl_s: f64,
}

/// % of `buckets`' requests that failed in the whole seconds between `from`
/// and `to`; `None` when there were none.
fn share(buckets: &[SecondBucket], from: f64, to: f64) -> Option<f64> {
    let (requests, errors) = buckets
        .iter()
        .filter(|b| (b.second as f64) >= from.ceil() && (b.second as f64) < to.floor())
        .fold((0, 0), |(q, e), b| (q + b.requests, e + b.errors));
    (requests > 0).then(|| errors as f64 / requests as f64 * 100.0)
}

/// Seconds from `restart_s` to the end of the first second with traffic and
/// no errors; `None` when the run ended first.
fn recovered(buckets: &[SecondBucket], restart_s: f64) -> Option<f64> {
    buckets
        .iter()
        .find(|b| b.second as f64 >= restart_s.floor() && b.requests > 0 && b.errors == 0)
        .map(|b| (b.second as f64 + 1.0 - restart_s).max(0.0))
}

/// Two buckets' series added second by second.
fn merged(a: &[SecondBucket], b: &[SecondBucket]) -> Vec<SecondBucket> {
    let mut by_second: BTreeMap<u64, SecondBucket> = BTreeMap::new();
    for bucket in a.iter().chain(b) {
        let sum = by_second.entry(bucket.second).or_insert(SecondBucket {
            second: bucket.second,
            ..SecondBucket::default()
        });
        sum.requests += bucket.requests;
        sum.errors += bucket.errors;
    }
    by_second.into_values().collect()
}

/// Picks one kind of traffic's seconds out of a trial.
type SecondsOf = fn(&OutageRun) -> Vec<SecondBucket>;

/// Clients logging in and rotating refresh tokens on the JWT stack beside
/// the browsing: few and paced, so they stay far from the stack's capacity.
const STORE_CALLERS: usize = 2;
const STORE_CALL_PAUSE: Duration = Duration::from_millis(250);
/// A call that takes longer failed (a store that stopped answering can hold
/// a request until the node's own store timeout).
const STORE_CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// Each client's bound on calls, whatever the clock says.
const STORE_CALLS_MAX: usize = 1_000;

/// One client's JWT logins and refresh rotations until `until` after
/// `started`: each round logs in, then rotates the refresh token it holds
/// (the one from its last successful login or rotation). A refused refresh
/// token (lost with the store's data) is dropped; the next login replaces
/// it. Returns (second, login?, ok) per call.
async fn store_caller(
    http: reqwest::Client,
    base: String,
    user: String,
    started: Instant,
    until: Duration,
) -> Vec<(u64, bool, bool)> {
    let mut calls = Vec::new();
    let mut held: Option<String> = None;
    let second = || started.elapsed().as_secs();
    let refresh_token = |body: Option<serde_json::Value>| {
        body.and_then(|b| b["refresh_token"].as_str().map(str::to_owned))
    };
    while started.elapsed() < until && calls.len() < STORE_CALLS_MAX {
        let login = http
            .post(format!("{base}/login"))
            .json(&json!({ "username": user, "password": authlab_core::directory::LOAD_PASSWORD }))
            .send()
            .await;
        let token = match login {
            Ok(r) if r.status().is_success() => refresh_token(r.json().await.ok()),
            _ => None,
        };
        calls.push((second(), true, token.is_some()));
        if held.is_none() {
            held = token;
        }
        if let Some(current) = held.take() {
            let refreshed = http
                .post(format!("{base}/token/refresh"))
                .json(&json!({ "refresh_token": current }))
                .send()
                .await;
            let (ok, next) = match refreshed {
                Ok(r) if r.status().is_success() => {
                    let next = refresh_token(r.json().await.ok());
                    (next.is_some(), next)
                }
                // Refused: the token is spent or gone; a later login replaces it.
                Ok(r) if r.status().is_client_error() => (false, None),
                // No answer or a 5xx: the token may still be good.
                _ => (false, Some(current)),
            };
            calls.push((second(), false, ok));
            held = next;
        }
        tokio::time::sleep(STORE_CALL_PAUSE).await;
    }
    calls
}

/// Every caller's calls as per-second buckets: (logins, refreshes).
fn bucketed(calls: &[(u64, bool, bool)]) -> (Vec<SecondBucket>, Vec<SecondBucket>) {
    let mut logins: BTreeMap<u64, SecondBucket> = BTreeMap::new();
    let mut refreshes: BTreeMap<u64, SecondBucket> = BTreeMap::new();
    for &(second, login, ok) in calls {
        let map = if login { &mut logins } else { &mut refreshes };
        let bucket = map.entry(second).or_insert(SecondBucket {
            second,
            ..SecondBucket::default()
        });
        bucket.requests += 1;
        bucket.errors += u64::from(!ok);
    }
    (
        logins.into_values().collect(),
        refreshes.into_values().collect(),
    )
}

#[derive(Parser)]
#[command(no_binary_name = true)]
struct JwtNodeFlags {
    #[command(flatten)]
    config: JwtServerConfig,
}

/// The access-token lifetime the cluster's JWT nodes run with, read as the
/// nodes read their flags and environment.
fn access_ttl(jwt_args: &[String]) -> Result<Duration, LabError> {
    JwtNodeFlags::try_parse_from(jwt_args)
        .map(|flags| flags.config.access_ttl)
        .map_err(|e| err(format!("reading the JWT nodes' flags: {e}")))
}

impl OutageRun {
    /// (before the stop, store down, after the restart), in %; a phase
    /// without traffic counts as 0%.
    fn phases(&self, buckets: &[SecondBucket]) -> (f64, f64, f64) {
        let at = |from, to| share(buckets, from, to).unwrap_or(0.0);
        (
            at(0.0, self.stop_s),
            at(self.stop_s, self.restart_s),
            at(self.restart_s, f64::MAX),
        )
    }

    fn recovered_after(&self, buckets: &[SecondBucket]) -> Option<f64> {
        recovered(buckets, self.restart_s)
    }

    /// The JWT logins and refreshes together.
    fn store_calls(&self) -> Vec<SecondBucket> {
        merged(&self.jwt_logins, &self.jwt_refreshes)
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
    // The goose users, then one user per store caller.
    spec.seed_users = USERS + STORE_CALLERS;
    spec.store_persistence = persistence == Persistence::AofEverysec;
    let spec_jwt_args = spec.jwt_args.clone();
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
    let access_ttl = access_ttl(&spec_jwt_args)?;
    let jwt_base = cluster.url(Stack::Jwt, "")?;
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
    let http = reqwest::Client::builder()
        .timeout(STORE_CALL_TIMEOUT)
        .build()
        .map_err(err)?;
    let load_started = Instant::now();
    // Logins and refreshes on users of their own (after the goose users'),
    // for as long as the browsing runs.
    let callers = futures::future::join_all((0..STORE_CALLERS).map(|i| {
        store_caller(
            http.clone(),
            jwt_base.clone(),
            format!("user{}", USERS + i),
            load_started,
            phase * 3,
        )
    }));
    let (session, jwt, times, calls) = tokio::join!(
        loadtests::run(&session_plan),
        loadtests::run(&jwt_plan),
        faults,
        callers
    );
    let (session, jwt) = (session.map_err(err)?, jwt.map_err(err)?);
    let (stopped_at, restarted_at, sessions_before, sessions_kept) = times?;
    cluster.shutdown();
    let (jwt_logins, jwt_refreshes) = bucketed(&calls.concat());
    Ok(OutageRun {
        trial,
        persistence,
        session: finished(session)?,
        jwt: finished(jwt)?,
        stop_s: stopped_at.duration_since(load_started).as_secs_f64(),
        restart_s: restarted_at.duration_since(load_started).as_secs_f64(),
        sessions_before,
        sessions_kept,
        jwt_logins,
        jwt_refreshes,
        access_ttl_s: access_ttl.as_secs_f64(),
    })
}

impl Runnable for StoreOutage {
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
        Duration::from_secs(if quick { 25 } else { 160 })
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
                     {stop_s:.1} s, back at {restart_s:.1} s, medians; requests: the whole run's)"
                ),
                columns: ["traffic", "store", "requests", "before", "store down", "after restart", "first error-free second after restart", "re-logins"]
                    .map(String::from)
                    .to_vec(),
                rows: Vec::new(),
            };
            let mut series = Vec::new();
            // "Store down" error rate per kind of traffic over every run of
            // both variants, for the verdict.
            let mut down = Vec::new();
            let kinds: [(&str, SecondsOf); 4] = [
                ("session", |r| r.session.per_second.clone()),
                ("JWT browsing (revocation none)", |r| {
                    r.jwt.per_second.clone()
                }),
                ("JWT logins (write the refresh token)", |r| {
                    r.jwt_logins.clone()
                }),
                ("JWT refresh rotations", |r| r.jwt_refreshes.clone()),
            ];
            for (name, seconds_of) in kinds {
                let during_all: Vec<f64> =
                    runs.iter().map(|r| r.phases(&seconds_of(r)).1).collect();
                down.push(median(&during_all));
                for persistence in Persistence::ALL {
                    let runs = of(persistence);
                    let phases: Vec<(f64, f64, f64)> =
                        runs.iter().map(|r| r.phases(&seconds_of(r))).collect();
                    let before: Vec<f64> = phases.iter().map(|p| p.0).collect();
                    let during: Vec<f64> = phases.iter().map(|p| p.1).collect();
                    let after: Vec<f64> = phases.iter().map(|p| p.2).collect();
                    let recovered: Vec<f64> = runs
                        .iter()
                        .filter_map(|r| r.recovered_after(&seconds_of(r)))
                        .collect();
                    let not_recovered = runs.len() - recovered.len();
                    let attempts: Vec<f64> = runs
                        .iter()
                        .map(|r| seconds_of(r).iter().map(|b| b.requests).sum::<u64>() as f64)
                        .collect();
                    let relogins: Vec<f64> = runs
                        .iter()
                        .map(|r| match name {
                            "session" => r.session.relogins as f64,
                            _ if name.starts_with("JWT browsing") => r.jwt.relogins as f64,
                            _ => f64::NAN,
                        })
                        .collect();
                    table.rows.push(vec![
                        name.into(),
                        persistence.label().into(),
                        cell(&attempts, 0, ""),
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
                        if relogins.iter().any(|v| v.is_nan()) {
                            "—".into()
                        } else {
                            cell(&relogins, 0, "")
                        },
                    ]);
                    // Per second of the run, the median across trials; a trial
                    // whose run ended earlier has no value for the last seconds.
                    let mut per_second: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
                    for run in &runs {
                        for b in &seconds_of(run) {
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
            // The logins and refreshes together, over every run: None when
            // no call was made while the store was down.
            let calls_down: Vec<f64> = runs
                .iter()
                .filter_map(|r| share(&r.store_calls(), r.stop_s, r.restart_s))
                .collect();
            let calls_recovered: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.recovered_after(&r.store_calls()))
                .collect();
            let jwt_calls_down = (!calls_down.is_empty()).then(|| median(&calls_down));
            let calls_said = jwt_calls_down.map(|share| {
                (
                    share,
                    (calls_recovered.len() == runs.len()).then(|| median(&calls_recovered)),
                )
            });
            let verdict = c3_verdict(session_down, jwt_down, jwt_calls_down);
            let outage_s = runs
                .iter()
                .map(|r| r.restart_s - r.stop_s)
                .fold(0.0, f64::max);
            let access_ttl_s = runs
                .iter()
                .map(|r| r.access_ttl_s)
                .fold(f64::INFINITY, f64::min);
            let by_design = c3_by_design(
                jwt_down,
                Duration::from_secs_f64(access_ttl_s.max(0.0)),
                outage_s,
            );

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
                     is stopped, {} s later started again on the same port. Beside them, {STORE_CALLERS} clients of their \
                     own log in to the JWT stack and rotate the refresh token they hold every {} ms for the whole run \
                     (each call times out after {} s): those calls write to the store. Two store variants: no persistence (stopped with \
                     SIGKILL, back empty) and an append-only file with appendfsync everysec (stopped with SIGTERM, Redis's \
                     clean SHUTDOWN, back from the file). Writes are paused (CLIENT PAUSE WRITE) while the sessions are \
                     counted just before the stop. {trials} trial(s) per variant, interleaved, each on a fresh cluster; the \
                     verdict uses the medians across every trial of both variants.",
                    (phase * 3).as_secs(),
                    phase.as_secs(),
                    phase.as_secs(),
                    STORE_CALL_PAUSE.as_millis(),
                    STORE_CALL_TIMEOUT.as_secs()
                ),
                verdicts: vec![ClaimVerdict {
                    headline: c3_headline(session_down, jwt_down, jwt_calls_down),
                    by_design,
                    claim: "C3".into(),
                    verdict,
                    rule: RULE.into(),
                    evidence: format!(
                        "medians of {} run(s): store down: session {session_down:.1}% errors, JWT browsing \
                         {jwt_down:.1}%, JWT logins {:.1}%, JWT refresh rotations {:.1}%, logins and refreshes \
                         together {}; the restart without persistence {volatile}; with the append-only file it \
                         {durable}",
                        runs.len(),
                        down[2],
                        down[3],
                        jwt_calls_down.map_or("not tried".into(), |v| format!("{v:.1}%"))
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
                     persistence: every node needs the one store, so it is a single point of failure. {} \
                     Persistence decides what the restart costs: without it the store {volatile}; with an append-only \
                     file and a clean shutdown it {durable}.",
                    jwt_side(jwt_down, calls_said)
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
        // As a run with the JWT logins and refreshes exercised measures it.
        assert!(matches!(
            c3_verdict(100.0, 0.0, Some(100.0)),
            Verdict::HoldsWithCaveat(m) if m.starts_with("the JWT stack's logins and refresh rotations failed 100%")
        ));
        assert_eq!(c3_verdict(100.0, 0.0, Some(0.0)), Verdict::Holds);
        assert_eq!(c3_verdict(50.0, 5.0, Some(5.0)), Verdict::Holds);
        assert!(matches!(
            c3_verdict(49.9, 0.0, Some(100.0)),
            Verdict::DoesNotHold(_)
        ));
        assert!(matches!(
            c3_verdict(100.0, 5.1, Some(0.0)),
            Verdict::HoldsWithCaveat(m) if m == "the JWT stack's browsing also failed 5% of its requests"
        ));
        // Both JWT findings are named.
        assert!(matches!(
            c3_verdict(100.0, 80.0, Some(100.0)),
            Verdict::HoldsWithCaveat(m) if m.contains("browsing also failed 80%") && m.contains("logins and refresh")
        ));
        // Not tried is not a pass.
        assert!(matches!(
            c3_verdict(100.0, 0.0, None),
            Verdict::HoldsWithCaveat(m) if m.starts_with("no JWT login or refresh was attempted")
        ));
        // The session failure rate is checked first: a JWT outage does not rescue it.
        assert!(matches!(
            c3_verdict(10.0, 80.0, Some(100.0)),
            Verdict::DoesNotHold(_)
        ));
    }

    #[test]
    fn logins_that_never_reached_the_store_turn_the_verdict() {
        // A broken set-up: the JWT stack's logins and refreshes kept working
        // while the store was down (say, its refresh tokens went to another
        // store, or the calls were made before the stop). The run's figures
        // then no longer show the JWT stack's need of the store, and the
        // verdict turns from the caveat to a plain hold.
        let measured = c3_verdict(100.0, 0.0, Some(100.0));
        let broken = c3_verdict(100.0, 0.0, Some(0.0));
        assert!(matches!(measured, Verdict::HoldsWithCaveat(_)));
        assert_ne!(measured, broken);
        assert_eq!(broken, Verdict::Holds);
    }

    fn bucket(second: u64, requests: u64, errors: u64) -> SecondBucket {
        SecondBucket {
            second,
            requests,
            errors,
        }
    }

    #[test]
    fn store_calls_are_counted_per_second_and_phase() {
        // (second, login?, ok): a login and a refresh per second, the store
        // down from 2 s to 4 s.
        let calls = [
            (0, true, true),
            (0, false, true),
            (1, true, true),
            (2, true, false),
            (2, false, false),
            (3, true, false),
            (3, false, false),
            (4, true, true),
            (5, true, true),
            (5, false, true),
        ];
        let (logins, refreshes) = bucketed(&calls);
        assert_eq!(logins.len(), 6);
        assert_eq!(refreshes[1], bucket(2, 1, 1));
        let both = merged(&logins, &refreshes);
        assert_eq!(both[2], bucket(2, 2, 2));
        assert_eq!(share(&both, 2.0, 4.0), Some(100.0));
        assert_eq!(share(&both, 0.0, 2.0), Some(0.0));
        // No call in the window: not 0%, nothing.
        assert_eq!(share(&both, 6.0, 9.0), None);
        // Error-free again in the second that starts at 4 s: 1 s after a 3.9 s restart.
        assert!((recovered(&both, 3.9).unwrap() - 1.1).abs() < 1e-9);
        assert_eq!(recovered(&both[..4], 3.9), None);
    }

    #[test]
    fn the_prose_says_what_was_exercised_and_what_the_set_up_decides() {
        let text = jwt_side(0.0, Some((100.0, Some(1.0))));
        assert!(
            text.contains(
                "Their logins and refresh rotations, which write the refresh token to the same store, failed 100% \
                 of the time while it was down (median), and were error-free again 1 s after the restart."
            ),
            "{text}"
        );
        // The sample's old sentence claimed what was not exercised.
        assert!(!jwt_side(0.0, None).contains("logins and refreshes need it"));
        assert!(jwt_side(0.0, None).contains("No JWT login or refresh was attempted"));
        let said = c3_by_design(0.0, Duration::from_secs(300), 8.1).unwrap();
        assert!(
            said.contains("their access tokens live 300 s, longer than the 8 s outage"),
            "{said}"
        );
        // Tokens that expire within the outage, or a browsing that failed:
        // the outcome is the run's, not the design's.
        assert_eq!(c3_by_design(0.0, Duration::from_secs(5), 8.1), None);
        assert_eq!(c3_by_design(40.0, Duration::from_secs(300), 8.1), None);
        assert_eq!(
            c3_headline(100.0, 0.0, Some(100.0)),
            "store down: session requests 100% errors, JWT browsing 0%, JWT logins and refreshes 100%"
        );
    }

    #[test]
    fn the_nodes_access_ttl_is_read_as_they_read_it() {
        assert_eq!(
            access_ttl(&["--access-ttl".into(), "2s".into()]).unwrap(),
            Duration::from_secs(2)
        );
    }
}
