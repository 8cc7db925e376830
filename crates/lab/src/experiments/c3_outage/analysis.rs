//! What the outage runs mean: the per-second figures of each kind of
//! traffic cut into phases (before the stop, store down, after the
//! restart), the sessions the restart kept, and C3's rule.
//!
//! A trial is a timeline, so every figure is taken per trial first (the
//! share of errors between the stop and the restart of that trial) and only
//! then reduced across trials: two trials' stops never fall on the same
//! second, and pooling their seconds would blur the phases.

use std::{collections::BTreeMap, time::Duration};

use loadtests::{LoadReport, SecondBucket};
use serde::Serialize;

use crate::{
    kit::stats::median,
    results::{ClaimVerdict, Verdict},
};

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

/// How the store keeps its data across the restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Persistence {
    /// No persistence; stopped with SIGKILL, back empty (a cache that lost power).
    None,
    /// `appendonly yes`, `appendfsync everysec`; stopped with SIGTERM, which
    /// is Redis's SHUTDOWN: the append-only file is fsynced before it exits.
    AofEverysec,
}

impl Persistence {
    pub const ALL: [Persistence; 2] = [Persistence::None, Persistence::AofEverysec];

    pub fn label(self) -> &'static str {
        match self {
            Persistence::None => "no persistence",
            Persistence::AofEverysec => "AOF, appendfsync everysec",
        }
    }
}

/// One c3 trial: a full outage timeline on a fresh cluster.
#[derive(Serialize)]
pub struct OutageRun {
    pub trial: usize,
    pub persistence: Persistence,
    pub session: LoadReport,
    pub jwt: LoadReport,
    /// Seconds from the start of the load until the store was stopped.
    pub stop_s: f64,
    /// Seconds from the start of the load until the store was back.
    pub restart_s: f64,
    /// Sessions (`authlab:session:*` keys) in the store just before the stop.
    pub sessions_before: u64,
    /// How many of those exist right after the restart.
    pub sessions_kept: u64,
    /// JWT logins beside the browsing, second by second from the start of the load.
    pub jwt_logins: Vec<SecondBucket>,
    /// JWT refresh rotations, the same way.
    pub jwt_refreshes: Vec<SecondBucket>,
    /// The JWT nodes' access-token lifetime, in seconds.
    pub access_ttl_s: f64,
}

/// % of `buckets`' requests that failed in the whole seconds between `from`
/// and `to`; `None` when there were none.
pub fn share(buckets: &[SecondBucket], from: f64, to: f64) -> Option<f64> {
    let (requests, errors) = buckets
        .iter()
        .filter(|b| (b.second as f64) >= from.ceil() && (b.second as f64) < to.floor())
        .fold((0, 0), |(q, e), b| (q + b.requests, e + b.errors));
    (requests > 0).then(|| errors as f64 / requests as f64 * 100.0)
}

/// Seconds from `restart_s` to the end of the first second with traffic and
/// no errors; `None` when the run ended first.
pub fn recovered(buckets: &[SecondBucket], restart_s: f64) -> Option<f64> {
    buckets
        .iter()
        .find(|b| b.second as f64 >= restart_s.floor() && b.requests > 0 && b.errors == 0)
        .map(|b| (b.second as f64 + 1.0 - restart_s).max(0.0))
}

/// Two buckets' series added second by second.
pub fn merged(a: &[SecondBucket], b: &[SecondBucket]) -> Vec<SecondBucket> {
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

/// Picks one kind of traffic's re-logins out of a trial.
type ReloginsOf = fn(&OutageRun) -> f64;

/// The kinds of traffic, in the report's order: name, its seconds, and its
/// re-logins where goose counts them (the store callers log in on purpose).
const KINDS: [(&str, SecondsOf, Option<ReloginsOf>); 4] = [
    (
        "session",
        |r| r.session.per_second.clone(),
        Some(|r| r.session.relogins as f64),
    ),
    (
        "JWT browsing (revocation none)",
        |r| r.jwt.per_second.clone(),
        Some(|r| r.jwt.relogins as f64),
    ),
    (
        "JWT logins (write the refresh token)",
        |r| r.jwt_logins.clone(),
        None,
    ),
    ("JWT refresh rotations", |r| r.jwt_refreshes.clone(), None),
];

/// Every caller's calls as per-second buckets: (logins, refreshes).
pub fn bucketed(calls: &[(u64, bool, bool)]) -> (Vec<SecondBucket>, Vec<SecondBucket>) {
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

impl OutageRun {
    /// (before the stop, store down, after the restart), in %; a phase
    /// without traffic counts as 0%.
    pub fn phases(&self, buckets: &[SecondBucket]) -> (f64, f64, f64) {
        let at = |from, to| share(buckets, from, to).unwrap_or(0.0);
        (
            at(0.0, self.stop_s),
            at(self.stop_s, self.restart_s),
            at(self.restart_s, f64::MAX),
        )
    }

    pub fn recovered_after(&self, buckets: &[SecondBucket]) -> Option<f64> {
        recovered(buckets, self.restart_s)
    }

    /// The JWT logins and refreshes together.
    pub fn store_calls(&self) -> Vec<SecondBucket> {
        merged(&self.jwt_logins, &self.jwt_refreshes)
    }

    pub fn lost(&self) -> u64 {
        self.sessions_before.saturating_sub(self.sessions_kept)
    }
}

/// Every outage run, by trial and store variant.
#[derive(Serialize)]
pub struct Raw {
    /// Seconds of load before the stop, of the outage, and after the restart.
    pub phase_s: u64,
    /// Trials per store variant.
    pub trials: usize,
    pub runs: Vec<OutageRun>,
}

/// What c3 makes of its runs.
#[derive(Serialize)]
pub struct Summary {
    /// Runs of both store variants.
    pub runs: usize,
    /// When the store was stopped and back, medians over every run.
    pub stop_s: f64,
    pub restart_s: f64,
    /// Per kind of traffic, in the order of [`KINDS`].
    pub traffic: Vec<Traffic>,
    /// The JWT logins and refreshes together while the store was down,
    /// median over every run; `None` when no call was made then.
    pub calls_down: Option<f64>,
    /// Seconds until they were error-free again, median; `None` unless
    /// every run got there.
    pub calls_recovered: Option<f64>,
    /// The longest outage of any run.
    pub outage_s: f64,
    /// The shortest access-token lifetime of any run.
    pub access_ttl_s: f64,
    /// Sessions across the restart, per store variant in the order of
    /// [`Persistence::ALL`].
    pub restarts: Vec<Restart>,
}

/// One kind of traffic.
#[derive(Serialize)]
pub struct Traffic {
    pub name: &'static str,
    /// % failed while the store was down, median over every run of both
    /// variants: what the verdict reads.
    pub down: f64,
    /// Per store variant, in the order of [`Persistence::ALL`].
    pub variants: Vec<TrafficVariant>,
}

/// One kind of traffic with one store variant, every figure per trial.
#[derive(Serialize)]
pub struct TrafficVariant {
    pub persistence: Persistence,
    /// Requests over the whole run.
    pub attempts: Vec<f64>,
    /// % failed before the stop, while down, after the restart.
    pub before: Vec<f64>,
    pub during: Vec<f64>,
    pub after: Vec<f64>,
    /// Seconds from the restart to the first error-free second, in the
    /// trials that had one.
    pub recovered: Vec<f64>,
    /// Trials without an error-free second after the restart.
    pub not_recovered: usize,
    /// `None` for traffic goose does not count re-logins of.
    pub relogins: Option<Vec<f64>>,
    /// Per second of the run, the % failed in each trial that had traffic
    /// then (a trial whose run ended earlier has no value for the last
    /// seconds).
    pub per_second: BTreeMap<u64, Vec<f64>>,
}

/// Sessions across the store's restart with one store variant, per trial.
#[derive(Serialize)]
pub struct Restart {
    pub persistence: Persistence,
    pub before: Vec<f64>,
    pub kept: Vec<f64>,
    pub lost: Vec<f64>,
    pub relogins: Vec<f64>,
}

impl Restart {
    /// "lost L of B sessions, and R session users had to log in again".
    pub fn said(&self) -> String {
        format!(
            "lost {:.0} of {:.0} sessions, and {:.0} session users had to log in again",
            median(&self.lost),
            median(&self.before),
            median(&self.relogins)
        )
    }
}

fn of(runs: &[OutageRun], persistence: Persistence) -> Vec<&OutageRun> {
    runs.iter()
        .filter(|r| r.persistence == persistence)
        .collect()
}

fn traffic_variant(
    runs: &[&OutageRun],
    persistence: Persistence,
    seconds_of: SecondsOf,
    relogins_of: Option<ReloginsOf>,
) -> TrafficVariant {
    let phases: Vec<(f64, f64, f64)> = runs.iter().map(|r| r.phases(&seconds_of(r))).collect();
    let recovered: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.recovered_after(&seconds_of(r)))
        .collect();
    let mut per_second: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for run in runs {
        for b in &seconds_of(run) {
            per_second
                .entry(b.second)
                .or_default()
                .push(b.errors as f64 / b.requests.max(1) as f64 * 100.0);
        }
    }
    TrafficVariant {
        persistence,
        attempts: runs
            .iter()
            .map(|r| seconds_of(r).iter().map(|b| b.requests).sum::<u64>() as f64)
            .collect(),
        before: phases.iter().map(|p| p.0).collect(),
        during: phases.iter().map(|p| p.1).collect(),
        after: phases.iter().map(|p| p.2).collect(),
        not_recovered: runs.len() - recovered.len(),
        recovered,
        relogins: relogins_of.map(|f| runs.iter().map(|r| f(r)).collect()),
        per_second,
    }
}

fn traffic(
    runs: &[OutageRun],
    name: &'static str,
    seconds_of: SecondsOf,
    relogins_of: Option<ReloginsOf>,
) -> Traffic {
    let during_all: Vec<f64> = runs.iter().map(|r| r.phases(&seconds_of(r)).1).collect();
    Traffic {
        name,
        down: median(&during_all),
        variants: Persistence::ALL
            .into_iter()
            .map(|p| traffic_variant(&of(runs, p), p, seconds_of, relogins_of))
            .collect(),
    }
}

fn restart(runs: &[OutageRun], persistence: Persistence) -> Restart {
    let runs = of(runs, persistence);
    let figure = |f: fn(&OutageRun) -> f64| runs.iter().map(|r| f(r)).collect::<Vec<_>>();
    Restart {
        persistence,
        before: figure(|r| r.sessions_before as f64),
        kept: figure(|r| r.sessions_kept as f64),
        lost: figure(|r| r.lost() as f64),
        relogins: figure(|r| r.session.relogins as f64),
    }
}

pub fn summarize(runs: &[OutageRun]) -> Summary {
    // The logins and refreshes together, over every run.
    let calls_down: Vec<f64> = runs
        .iter()
        .filter_map(|r| share(&r.store_calls(), r.stop_s, r.restart_s))
        .collect();
    let calls_recovered: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.recovered_after(&r.store_calls()))
        .collect();
    Summary {
        runs: runs.len(),
        stop_s: median(&runs.iter().map(|r| r.stop_s).collect::<Vec<_>>()),
        restart_s: median(&runs.iter().map(|r| r.restart_s).collect::<Vec<_>>()),
        traffic: KINDS
            .into_iter()
            .map(|(name, seconds_of, relogins_of)| traffic(runs, name, seconds_of, relogins_of))
            .collect(),
        calls_down: (!calls_down.is_empty()).then(|| median(&calls_down)),
        calls_recovered: (calls_recovered.len() == runs.len()).then(|| median(&calls_recovered)),
        outage_s: runs
            .iter()
            .map(|r| r.restart_s - r.stop_s)
            .fold(0.0, f64::max),
        access_ttl_s: runs
            .iter()
            .map(|r| r.access_ttl_s)
            .fold(f64::INFINITY, f64::min),
        restarts: Persistence::ALL
            .into_iter()
            .map(|p| restart(runs, p))
            .collect(),
    }
}

impl Summary {
    /// The store-down error share of the `i`-th kind of [`KINDS`].
    pub fn down(&self, i: usize) -> f64 {
        self.traffic[i].down
    }

    /// What the restart cost without persistence and with the append-only
    /// file (restarts follow [`Persistence::ALL`]).
    pub fn restarts_said(&self) -> (String, String) {
        (self.restarts[0].said(), self.restarts[1].said())
    }
}

/// C3's verdict on a summary.
pub fn verdict(s: &Summary) -> ClaimVerdict {
    let (session_down, jwt_down) = (s.down(0), s.down(1));
    let (volatile, durable) = s.restarts_said();
    ClaimVerdict {
        headline: c3_headline(session_down, jwt_down, s.calls_down),
        by_design: c3_by_design(
            jwt_down,
            Duration::from_secs_f64(s.access_ttl_s.max(0.0)),
            s.outage_s,
        ),
        claim: "C3".into(),
        verdict: c3_verdict(session_down, jwt_down, s.calls_down),
        rule: RULE.into(),
        evidence: format!(
            "medians of {} run(s): store down: session {session_down:.1}% errors, JWT browsing \
             {jwt_down:.1}%, JWT logins {:.1}%, JWT refresh rotations {:.1}%, logins and refreshes \
             together {}; the restart without persistence {volatile}; with the append-only file it \
             {durable}",
            s.runs,
            s.down(2),
            s.down(3),
            s.calls_down
                .map_or("not tried".into(), |v| format!("{v:.1}%"))
        ),
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
}
