//! What the report shows of c4: the set-up, the table of latency and
//! throughput per setting and stack, the chart of `/me` latency by measured
//! store round trip, and the lesson.

use super::{
    analysis::store_rtt,
    measure::{Raw, Run, DELAYS, GOOSE_USERS, PINGS, STACKS},
};
use crate::{
    kit::{
        load_check,
        stats::{median, median_spread},
        wrk_probe::{CAPACITY_ALG, USERS},
    },
    results::{Chart, ChartKind, Point, Series, Table},
    summaries::LatencySummary,
};

pub fn setup() -> String {
    format!(
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
    )
}

/// A setting as the chart's axis names it: the measured round trip, and
/// the proxy's setting beside it.
fn shown(raw: &Raw, delay: usize) -> String {
    let (label, micros) = DELAYS[delay];
    if micros == 0 {
        format!("{:.2} ms (loopback)", store_rtt(raw, delay))
    } else {
        format!(
            "{:.2} ms (setting +{})",
            store_rtt(raw, delay),
            label.trim_start_matches('+')
        )
    }
}

/// A row per setting and stack.
pub fn table(raw: &Raw) -> Table {
    let mut rows = Vec::new();
    for (delay, (label, _)) in DELAYS.iter().enumerate() {
        for (stack, (name, _)) in STACKS.iter().enumerate() {
            let of = |f: &dyn Fn(&Run) -> f64| raw.figure(delay, stack, f);
            let med = |f: &dyn Fn(&Run) -> f64| median(&of(f));
            let p50 = median_spread(&of(&|r| r.latency.me.p50));
            let p99 = median_spread(&of(&|r| r.latency.me.p99));
            let rps = median_spread(&of(&|r| r.saturated.wrk.rps));
            rows.push(vec![
                label.to_string(),
                format!("{:.2}", med(&|r| r.latency.store_rtt_ms)),
                name.to_string(),
                format!("{:.2} ({:.2}–{:.2})", p50.0, p50.1, p50.2),
                format!("{:.2}", med(&|r| r.latency.me.p90)),
                format!("{:.2} ({:.2}–{:.2})", p99.0, p99.1, p99.2),
                format!("{:.2}", med(&|r| r.latency.me.p999)),
                format!("{:.0}", med(&|r| r.latency.offered_rps)),
                format!("{:.0}", med(&|r| r.latency.co_backfilled as f64)),
                format!("{:.0}", med(&|r| r.latency.failures as f64)),
                format!("{:.0} ({:.0}–{:.0})", rps.0, rps.1, rps.2),
                format!("{:.2}", med(&|r| r.saturated.store_ops_per_request)),
            ]);
        }
    }
    Table {
        title: format!(
            "/me through HAProxy, {} interleaved trial(s). Latency: goose, {GOOSE_USERS} users with \
             40–60 ms think time ({} s per run, coordinated-omission mitigation on), GET /me percentiles. \
             Throughput: wrk -t2 -c64 ({} s per run). Medians (min–max).",
            raw.trials, raw.goose_s, raw.wrk_s
        ),
        columns: [
            "proxy setting", "store RTT ms (measured)", "variant", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "offered req/s",
            "CO backfilled", "failed", "req/s (saturated)", "store ops/req",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

/// A figure of one run.
type Figure = fn(&Run) -> f64;

/// The chart's percentiles of GET /me, each a series per stack.
const CHARTED: [(&str, Figure); 2] = [("p50", |r| r.latency.me.p50), ("p99", |r| r.latency.me.p99)];

/// p50 and p99 of each stack by measured store round trip.
pub fn chart(raw: &Raw) -> Chart {
    let series = CHARTED
        .iter()
        .flat_map(|(percentile, f)| {
            STACKS
                .iter()
                .enumerate()
                .map(move |(stack, (name, _))| Series {
                    name: format!("{name} {percentile}"),
                    points: (0..DELAYS.len())
                        .map(|delay| {
                            let (y, low, high) = median_spread(&raw.figure(delay, stack, f));
                            Point {
                                x: shown(raw, delay),
                                y,
                                low: Some(low),
                                high: Some(high),
                            }
                        })
                        .collect(),
                })
        })
        .collect();
    Chart {
        title: "GET /me latency at a fixed offered load, by measured store round trip".into(),
        kind: ChartKind::Bars,
        x_label: "store round trip (measured through the proxy)".into(),
        y_label: "latency (ms)".into(),
        series,
    }
}

pub fn lesson(summary: &LatencySummary) -> String {
    summary.added().map_or_else(String::new, |a| {
        format!(
            "A store round trip {:.2} ms longer made the median session request {:+.2} ms slower and the \
             median JWT request {:+.2} ms: a session request waits for the store, a JWT request (no \
             revocation) never asks it. At saturation the same delay shows as requests/s a fixed number of \
             connections can no longer send (table).",
            a.store_rtt_ms, a.session_p50_ms, a.jwt_p50_ms
        )
    })
}
