//! A paced request loop: `GET`s offered at a fixed rate, each answer counted
//! in the second it was sent.
//!
//! An outage is read as the share of requests that fail, second by second,
//! at a load that does not change when the server does. wrk cannot give
//! that: it is a closed loop, so a fast error frees its connection for the
//! next request at once and an outage turns into a flood of errors. goose's
//! users log in again after a 401, against the very auth service this
//! experiment stops. So the loop here offers request *i* at `i / rate`
//! seconds whatever the answers were, and its bounds are explicit: it stops
//! at `max` (or earlier, when told to), keeps at most `in_flight` requests
//! outstanding (a tick that finds them all busy is counted as not sent,
//! never queued), and cuts every request at `timeout`.
//!
//! At a rate far below what a node serves, the same loop also gives the
//! latency of a route at a fixed offered load: its p50 and p99 are over the
//! successful answers only, since an error's time says nothing about the
//! route.

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use tokio::{sync::Semaphore, task::JoinSet};

/// How fast, for how long, and how patiently.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Requests offered per second.
    pub rate: u32,
    /// Most requests outstanding at once.
    pub in_flight: usize,
    /// A request that takes longer counts as failed.
    pub timeout: Duration,
    /// The loop stops offering requests after this long, told or not.
    pub max: Duration,
    /// Keep every request's send time and status ([`LoopRecord::sent`]): an
    /// outage is cut at the kill and the recovery, which fall inside seconds.
    pub keep_sends: bool,
}

/// The requests sent in one second of the timeline, and how many failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondCount {
    pub second: u64,
    pub requests: u64,
    pub errors: u64,
}

/// What one loop saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoopRecord {
    pub rate: u32,
    /// Seconds of the shared timeline (from the `started` the loop was
    /// given), in order; a second in which nothing was sent is absent.
    pub per_second: Vec<SecondCount>,
    /// Answers by status code; `0` counts requests that got none (refused
    /// connection, timeout).
    pub statuses: BTreeMap<u16, u64>,
    /// Ticks skipped because `in_flight` requests were still outstanding.
    pub not_sent: u64,
    /// Latency of the successful answers (ms); 0 when there were none.
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// With [`Pace::keep_sends`]: per request, in the order sent, the
    /// milliseconds on the shared timeline at which it was sent and its
    /// status (`0`: no answer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sent: Vec<(u32, u16)>,
}

impl LoopRecord {
    pub fn requests(&self) -> u64 {
        self.per_second.iter().map(|s| s.requests).sum()
    }

    pub fn errors(&self) -> u64 {
        self.per_second.iter().map(|s| s.errors).sum()
    }
}

/// The value at quantile `q` (0–1) of `sorted`, nearest rank; 0 for none.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    crate::kit::stats::nearest_rank(sorted, q).unwrap_or(0.0)
}

/// Offers `GET url` at `pace.rate` until `stop` is set or `pace.max` has
/// passed, rotating through `authorizations` (values of the `Authorization`
/// header, one per user), and waits for the last answers.
pub async fn run(
    client: &reqwest::Client,
    url: &str,
    authorizations: &[String],
    pace: Pace,
    started: Instant,
    stop: &AtomicBool,
) -> LoopRecord {
    let rate = pace.rate.max(1);
    let gap = Duration::from_secs_f64(1.0 / f64::from(rate));
    let permits = Arc::new(Semaphore::new(pace.in_flight.max(1)));
    let mut tasks: JoinSet<(Duration, u16, f64)> = JoinSet::new();
    let mut not_sent = 0;
    let begin = Instant::now();
    let mut tick: u32 = 0;
    loop {
        let due = begin + gap * tick;
        if due.duration_since(begin) >= pace.max || stop.load(Ordering::Relaxed) {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        if stop.load(Ordering::Relaxed) {
            break;
        }
        tick += 1;
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            not_sent += 1;
            continue;
        };
        let at = started.elapsed();
        let request = client
            .get(url)
            .timeout(pace.timeout)
            .header(
                reqwest::header::AUTHORIZATION,
                authorizations
                    .get(tick as usize % authorizations.len().max(1))
                    .map(String::as_str)
                    .unwrap_or_default(),
            )
            .send();
        tasks.spawn(async move {
            let sent = Instant::now();
            let status = match request.await {
                // The body too: a route that fails halfway has not answered.
                Ok(response) => {
                    let status = response.status().as_u16();
                    match response.bytes().await {
                        Ok(_) => status,
                        Err(_) => 0,
                    }
                }
                Err(_) => 0,
            };
            drop(permit);
            (at, status, sent.elapsed().as_secs_f64() * 1e3)
        });
    }
    let mut per_second: BTreeMap<u64, SecondCount> = BTreeMap::new();
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let mut latencies = Vec::new();
    let mut sent = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        // A task only panics if reqwest does; count it as no answer.
        let (at, status, ms) = joined.unwrap_or((started.elapsed(), 0, 0.0));
        let second = at.as_secs();
        if pace.keep_sends {
            sent.push((u32::try_from(at.as_millis()).unwrap_or(u32::MAX), status));
        }
        let ok = (200..300).contains(&status);
        let count = per_second.entry(second).or_insert(SecondCount {
            second,
            requests: 0,
            errors: 0,
        });
        count.requests += 1;
        count.errors += u64::from(!ok);
        *statuses.entry(status).or_default() += 1;
        if ok {
            latencies.push(ms);
        }
    }
    latencies.sort_by(f64::total_cmp);
    sent.sort_unstable();
    LoopRecord {
        rate,
        per_second: per_second.into_values().collect(),
        statuses,
        not_sent,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        sent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_loop_against_a_closed_port_is_bounded_and_counts_every_failure() {
        // A port nothing listens on: every request fails at once.
        let port = supervise::free_port().unwrap();
        let url = format!("http://127.0.0.1:{port}/orders");
        let pace = Pace {
            rate: 50,
            in_flight: 8,
            timeout: Duration::from_millis(500),
            max: Duration::from_millis(400),
            keep_sends: true,
        };
        let started = Instant::now();
        let record = run(
            &reqwest::Client::new(),
            &url,
            &["Bearer x".into()],
            pace,
            started,
            &AtomicBool::new(false),
        )
        .await;
        assert!(started.elapsed() < Duration::from_secs(2));
        // 0.4 s at 50/s: 20 ticks, give or take the scheduler.
        let offered = record.requests() + record.not_sent;
        assert!((15..=21).contains(&offered), "{record:?}");
        assert_eq!(record.errors(), record.requests());
        assert_eq!(record.statuses.get(&0), Some(&record.requests()));
        assert_eq!((record.p50_ms, record.p99_ms), (0.0, 0.0));
        // Every request's send time, in order, within the loop's 0.4 s.
        assert_eq!(record.sent.len() as u64, record.requests());
        assert!(record.sent.windows(2).all(|w| w[0].0 <= w[1].0));
        assert!(record
            .sent
            .iter()
            .all(|&(ms, status)| ms < 1_000 && status == 0));
    }

    #[tokio::test]
    async fn a_stop_ends_the_loop_early() {
        let port = supervise::free_port().unwrap();
        let stop = AtomicBool::new(true);
        let pace = Pace {
            rate: 50,
            in_flight: 8,
            timeout: Duration::from_millis(500),
            max: Duration::from_secs(30),
            keep_sends: false,
        };
        let started = Instant::now();
        let record = run(
            &reqwest::Client::new(),
            &format!("http://127.0.0.1:{port}/"),
            &[],
            pace,
            started,
            &stop,
        )
        .await;
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(record.requests(), 0);
    }
}
