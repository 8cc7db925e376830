//! A run's results: goose's request metrics and histograms, plus the
//! [`Tally`](crate::tally::Tally) counts goose does not keep.
//!
//! Two windows, on purpose. goose resets its metrics once every user has
//! started, so the request counts, status codes, latency percentiles and
//! `duration_s` cover the steady state only: a ramp-up with half the users
//! would otherwise blur the latency at the offered load. The tally counts
//! (`per_node`, `per_second`, logins, re-logins, refreshes) cover the whole
//! run, ramp-up included: logins happen at start, and an outage's error
//! curve needs every second. `ramp_s` says where the steady state starts on
//! the `per_second` axis.

use std::collections::BTreeMap;

use goose::{
    metrics::{GooseMetrics, GooseRequestMetricTimingData, TimeBuckets},
    test_plan::TestPlanStepAction,
};
use serde::{Deserialize, Serialize};

use crate::tally::{SecondBucket, TallySnapshot};

/// Latency in milliseconds, from goose's histograms (buckets at most 0.8 %
/// wide; a percentile is the middle of its bucket).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Percentiles {
    /// Times the figures are made of (with coordinated-omission mitigation,
    /// including the backfilled ones).
    pub count: u64,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

impl Percentiles {
    fn of(data: &GooseRequestMetricTimingData) -> Self {
        if data.counter == 0 {
            return Self::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            count: data.counter as u64,
            min: ms(data.minimum_time_us),
            p50: ms(data.percentile_us(0.5)),
            p90: ms(data.percentile_us(0.9)),
            p99: ms(data.percentile_us(0.99)),
            p999: ms(data.percentile_us(0.999)),
            max: ms(data.maximum_time_us),
            mean: data.total_time_us as f64 / data.counter as f64 / 1000.0,
        }
    }
}

/// Everything one [`run`](crate::run) measured.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LoadReport {
    /// The scenario's name, e.g. `session-browse`.
    pub scenario: String,
    pub host: String,
    pub users: usize,
    /// Requests sent in the steady state (not counting the ones
    /// coordinated-omission mitigation backfilled).
    pub requests: u64,
    /// Failed requests in the steady state: transport errors and unexpected
    /// statuses (a non-admin's 403 from `/admin/stats` is expected).
    pub failures: u64,
    /// Steady-state requests sent, by status; 0 = no response (transport error).
    pub status_counts: BTreeMap<u16, u64>,
    /// Whole run: responses by the node their `x-node` header names.
    pub per_node: BTreeMap<String, u64>,
    /// Whole run: successful logins, the first ones included.
    pub logins: u64,
    pub login_failures: u64,
    /// Whole run: logins a 401 on an authenticated request forced (attempts).
    pub relogins: u64,
    /// Whole run: successful `POST /token/refresh` (refresh scenario).
    pub refreshes: u64,
    pub refresh_failures: u64,
    /// Whole run: successful `POST /logout` (lifecycle scenario).
    #[serde(default)]
    pub logouts: u64,
    #[serde(default)]
    pub logout_failures: u64,
    /// All steady-state requests together; with coordinated-omission
    /// mitigation on, including the requests goose backfilled for stalls.
    ///
    /// Caveat: goose measures a user's cadence as the time of one pass
    /// through its transactions minus think time, *including* waits for a
    /// throttle token. Under a throttle that binds, queueing for tokens
    /// therefore reads as server stalls and is backfilled: compare with
    /// `latency_raw_ms` and look at `co_backfilled` before trusting a tail.
    pub latency_ms: Percentiles,
    /// The same, from measured responses only.
    pub latency_raw_ms: Percentiles,
    /// Per request name (`GET /me`, `POST /login`, …), as `latency_ms`.
    pub per_request: BTreeMap<String, Percentiles>,
    /// Times goose made up for stalls: `latency_ms.count - latency_raw_ms.count`.
    pub co_backfilled: u64,
    /// Whether goose ran with coordinated-omission mitigation (it does when
    /// the plan is throttled).
    pub co_mitigation: bool,
    /// Whole run, second by second from the start of the run.
    pub per_second: Vec<SecondBucket>,
    /// Length of the steady state, in seconds.
    pub duration_s: f64,
    /// Seconds from the start of the run until every user had started.
    pub ramp_s: f64,
    /// `requests / duration_s`.
    pub requests_per_second: f64,
    /// The run was cut short by Ctrl-C (goose's killswitch).
    pub interrupted: bool,
}

/// What the run was, besides its measurements.
pub(crate) struct RunFacts {
    pub scenario: String,
    pub host: String,
    pub users: usize,
    pub co_mitigation: bool,
    pub interrupted: bool,
}

impl LoadReport {
    pub(crate) fn new(facts: RunFacts, metrics: &GooseMetrics, tally: TallySnapshot) -> Self {
        let mut requests = 0u64;
        let mut status_counts = BTreeMap::new();
        let mut per_request = BTreeMap::new();
        let mut all = Vec::new();
        let mut all_raw = Vec::new();
        // goose's success, failure and status counts include the requests
        // coordinated-omission mitigation made up; these figures count only
        // requests that were sent: the raw histogram, the per-status timing
        // summaries and the error summary hold nothing synthetic.
        for (name, aggregate) in &metrics.requests {
            requests += aggregate.raw_data.counter as u64;
            for (status, timing) in &aggregate.status_code_timings {
                *status_counts.entry(*status).or_insert(0u64) += timing.count as u64;
            }
            // goose keeps a separate histogram with the backfilled times only
            // once a stall happened for this request; otherwise raw is all.
            let data = aggregate
                .coordinated_omission_data
                .as_ref()
                .unwrap_or(&aggregate.raw_data);
            per_request.insert(name.clone(), Percentiles::of(data));
            all.push(data);
            all_raw.push(&aggregate.raw_data);
        }
        let failures = metrics
            .errors
            .values()
            .map(|error| error.occurrences as u64)
            .sum();
        let (duration_s, ramp_s) = steady_state(metrics);
        let latency_ms = Percentiles::of(&merged(&all));
        let latency_raw_ms = Percentiles::of(&merged(&all_raw));
        Self {
            scenario: facts.scenario,
            host: facts.host,
            users: facts.users,
            requests,
            failures,
            status_counts,
            per_node: tally.per_node,
            logins: tally.logins,
            login_failures: tally.login_failures,
            relogins: tally.relogins,
            refreshes: tally.refreshes,
            refresh_failures: tally.refresh_failures,
            logouts: tally.logouts,
            logout_failures: tally.logout_failures,
            co_backfilled: latency_ms.count - latency_raw_ms.count,
            latency_ms,
            latency_raw_ms,
            per_request,
            co_mitigation: facts.co_mitigation,
            per_second: tally.per_second,
            duration_s,
            ramp_s,
            requests_per_second: if duration_s > 0.0 {
                requests as f64 / duration_s
            } else {
                0.0
            },
            interrupted: facts.interrupted,
        }
    }
}

/// One histogram of several: goose's buckets are the same for every
/// request, so adding the counts bucket by bucket is exact.
fn merged(parts: &[&GooseRequestMetricTimingData]) -> GooseRequestMetricTimingData {
    let counted = || parts.iter().filter(|part| part.counter > 0);
    GooseRequestMetricTimingData {
        times_us: counted()
            .flat_map(|part| {
                part.times_us
                    .iter()
                    .map(|(&bucket, &count)| (bucket, count))
            })
            .collect::<TimeBuckets>(),
        minimum_time_us: counted().map(|p| p.minimum_time_us).min().unwrap_or(0),
        maximum_time_us: counted().map(|p| p.maximum_time_us).max().unwrap_or(0),
        total_time_us: counted().map(|p| p.total_time_us).sum(),
        counter: counted().map(|p| p.counter).sum(),
    }
}

/// `(steady-state seconds, ramp seconds)` from goose's test-plan history:
/// metrics reset when `Maintaining` starts, and the steady state lasts until
/// the next step. goose's own `duration` is whole seconds; this is not.
fn steady_state(metrics: &GooseMetrics) -> (f64, f64) {
    let history = &metrics.history;
    let seconds = |from: usize, to: usize| match (history.get(from), history.get(to)) {
        (Some(a), Some(b)) => (b.timestamp - a.timestamp)
            .num_microseconds()
            .map(|us| us as f64 / 1e6),
        _ => None,
    };
    let Some(hold) = history
        .iter()
        .position(|step| matches!(step.action, TestPlanStepAction::Maintaining))
    else {
        return (metrics.duration as f64, 0.0);
    };
    let duration = seconds(hold, hold + 1).unwrap_or(metrics.duration as f64);
    let ramp = seconds(0, hold).unwrap_or(0.0);
    (duration, ramp)
}
