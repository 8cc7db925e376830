//! The last 30 seconds of one stack's traffic, as the console shows it.
//!
//! Every request the built-in load sends ends as one [`Outcome`]: answered
//! 2xx, or failed with a short label (`503`, `401`, `timeout`, …). Outcomes
//! go into one bucket per second; a summary reads the buckets that are still
//! inside the window. Nothing is sampled: the success rate is the share of
//! all requests sent, and p50/p99 come from every latency, sorted.
//!
//! Two spans matter on the page. The charts show the whole window (30 s), so
//! a fault and its recovery stay on screen together; the stack's status word
//! reads only the last [`RECENT`] seconds, so it turns within a couple of
//! seconds of a fault instead of waiting for 30 s of history to go bad.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use crate::kit::stats::nearest_rank as percentile;

/// Seconds of history the charts show.
pub const SPAN: u64 = 30;
/// Seconds the status word reads.
pub const RECENT: u64 = 2;

/// How one request ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// `None` when it answered 2xx; otherwise what went wrong, e.g. `503`.
    pub failure: Option<String>,
    pub latency_ms: f64,
}

#[derive(Debug, Default, Clone)]
struct Bucket {
    second: u64,
    ok: u32,
    failures: BTreeMap<String, u32>,
    latencies_ms: Vec<f64>,
}

impl Bucket {
    fn failed(&self) -> u32 {
        self.failures.values().sum()
    }
}

/// One stack's outcomes, bucketed by the second they ended in.
#[derive(Debug, Default)]
pub struct Window {
    buckets: VecDeque<Bucket>,
}

/// One second of a window, for the charts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// Seconds before now (0 = the second in progress).
    pub ago: u64,
    pub requests: u32,
    pub failed: u32,
    /// Share of requests that succeeded, in percent; `None` with no requests.
    pub success_pct: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// What the page shows for a span of a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub seconds: u64,
    pub requests: u32,
    pub failed: u32,
    pub success_pct: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Failures by label, most frequent first.
    pub failures: Vec<(String, u32)>,
}

impl Summary {
    /// A span without requests.
    pub fn empty(seconds: u64) -> Self {
        Self {
            seconds,
            requests: 0,
            failed: 0,
            success_pct: None,
            p50_ms: None,
            p99_ms: None,
            failures: Vec::new(),
        }
    }
}

impl Window {
    /// Records `outcome` as ended in `second` (seconds since the console started).
    pub fn record(&mut self, second: u64, outcome: Outcome) {
        self.forget_before(second.saturating_sub(SPAN));
        let bucket = match self.buckets.iter_mut().rev().find(|b| b.second == second) {
            Some(bucket) => bucket,
            None => {
                // Outcomes arrive in order of their end but may straddle a second.
                let at = self
                    .buckets
                    .iter()
                    .position(|b| b.second > second)
                    .unwrap_or(self.buckets.len());
                self.buckets.insert(
                    at,
                    Bucket {
                        second,
                        ..Bucket::default()
                    },
                );
                &mut self.buckets[at]
            }
        };
        match outcome.failure {
            None => bucket.ok += 1,
            Some(label) => *bucket.failures.entry(label).or_default() += 1,
        }
        bucket.latencies_ms.push(outcome.latency_ms);
    }

    fn forget_before(&mut self, second: u64) {
        while self.buckets.front().is_some_and(|b| b.second < second) {
            self.buckets.pop_front();
        }
    }

    /// The last `seconds` seconds up to and including `now`.
    pub fn summary(&self, now: u64, seconds: u64) -> Summary {
        let first = (now + 1).saturating_sub(seconds);
        let inside: Vec<&Bucket> = self
            .buckets
            .iter()
            .filter(|b| b.second >= first && b.second <= now)
            .collect();
        let mut failures: BTreeMap<String, u32> = BTreeMap::new();
        for bucket in &inside {
            for (label, count) in &bucket.failures {
                *failures.entry(label.clone()).or_default() += count;
            }
        }
        let mut failures: Vec<(String, u32)> = failures.into_iter().collect();
        failures.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut latencies: Vec<f64> = inside
            .iter()
            .flat_map(|b| b.latencies_ms.iter().copied())
            .collect();
        latencies.sort_by(f64::total_cmp);
        let requests = inside.iter().map(|b| b.ok + b.failed()).sum();
        let failed = inside.iter().map(|b| b.failed()).sum();
        Summary {
            seconds,
            requests,
            failed,
            success_pct: success_pct(requests, failed),
            p50_ms: percentile(&latencies, 0.50),
            p99_ms: percentile(&latencies, 0.99),
            failures,
        }
    }

    /// One point per second of the whole span, oldest first; seconds without
    /// requests are points without figures, so a chart shows the gap.
    pub fn series(&self, now: u64) -> Vec<Point> {
        (0..SPAN)
            .rev()
            .map(|ago| {
                let second = now.checked_sub(ago);
                let bucket = second.and_then(|s| self.buckets.iter().find(|b| b.second == s));
                let mut latencies = bucket.map(|b| b.latencies_ms.clone()).unwrap_or_default();
                latencies.sort_by(f64::total_cmp);
                let (ok, failed) = bucket.map_or((0, 0), |b| (b.ok, b.failed()));
                Point {
                    ago,
                    requests: ok + failed,
                    failed,
                    success_pct: success_pct(ok + failed, failed),
                    p50_ms: percentile(&latencies, 0.50),
                    p99_ms: percentile(&latencies, 0.99),
                }
            })
            .collect()
    }
}

fn success_pct(requests: u32, failed: u32) -> Option<f64> {
    (requests > 0).then(|| 100.0 * f64::from(requests - failed) / f64::from(requests))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(ms: f64) -> Outcome {
        Outcome {
            failure: None,
            latency_ms: ms,
        }
    }

    fn failed(label: &str) -> Outcome {
        Outcome {
            failure: Some(label.into()),
            latency_ms: 1.0,
        }
    }

    #[test]
    fn a_summary_counts_every_request_in_its_span_and_nothing_older() {
        let mut window = Window::default();
        window.record(10, ok(1.0));
        window.record(11, failed("503"));
        window.record(12, ok(3.0));
        window.record(12, failed("503"));
        window.record(12, failed("timeout"));
        let recent = window.summary(12, 2);
        assert_eq!((recent.requests, recent.failed), (4, 3));
        assert_eq!(recent.success_pct, Some(25.0));
        assert_eq!(
            recent.failures,
            vec![("503".to_owned(), 2), ("timeout".to_owned(), 1)]
        );
        let all = window.summary(12, SPAN);
        assert_eq!((all.requests, all.failed), (5, 3));
    }

    #[test]
    fn a_window_without_requests_has_no_rate_and_no_percentiles() {
        let summary = Window::default().summary(100, SPAN);
        assert_eq!(summary.requests, 0);
        assert_eq!(summary.success_pct, None);
        assert_eq!(summary.p50_ms, None);
    }

    #[test]
    fn buckets_older_than_the_span_are_forgotten() {
        let mut window = Window::default();
        window.record(1, failed("503"));
        window.record(1 + SPAN + 1, ok(1.0));
        let summary = window.summary(1 + SPAN + 1, SPAN);
        assert_eq!((summary.requests, summary.failed), (1, 0));
        assert_eq!(window.buckets.len(), 1);
    }

    #[test]
    fn an_outcome_that_ends_in_an_earlier_second_lands_in_its_own_bucket() {
        let mut window = Window::default();
        window.record(5, ok(1.0));
        window.record(4, failed("503"));
        let series = window.series(5);
        assert_eq!(series.len() as u64, SPAN);
        let last = &series[series.len() - 1];
        let before = &series[series.len() - 2];
        assert_eq!((last.ago, last.requests, last.failed), (0, 1, 0));
        assert_eq!((before.ago, before.requests, before.failed), (1, 1, 1));
        assert_eq!(before.success_pct, Some(0.0));
    }
}
