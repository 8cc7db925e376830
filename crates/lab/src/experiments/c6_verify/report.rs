//! How c6 shows its figures: the cost table, HAProxy's table beside it, a
//! chart of microseconds per operation, the set-up and the lesson.
//!
//! The lesson is written from the summary's comparisons only, so a sentence
//! never claims a side the trials did not show.

use super::analysis::{micros, times, Dimension, Judged, Summary};
use super::measure::Raw;
use crate::experiment::Presentation;
use crate::kit::stats::{Comparison, Versus};
use crate::{
    results::{Chart, ChartKind, Point, Series, Table},
    summaries::Spread,
};

/// The set-up, both tables, the chart and the lesson.
pub fn present(raw: &Raw, summary: &Summary) -> Presentation {
    let (table, chart) = costs(raw, summary);
    let mut tables = vec![table];
    tables.extend(
        raw.connections
            .as_ref()
            .map(|c| c.table(raw.connection_trials)),
    );
    Presentation {
        setup: setup(raw),
        tables,
        chart: Some(chart),
        lesson: full_lesson(raw, summary),
    }
}

fn setup(raw: &Raw) -> String {
    let Raw {
        build,
        ops,
        trials,
        cores,
        load_trials,
        connection_trials,
        ..
    } = raw;
    format!(
        "In one process ({build}): the JWT server's full verification (TokenService::verify: header, kid, \
         signature, claims) for a fresh key of each algorithm, against one GETEX of a {}-byte \
         session on a loopback redis-server through the servers' own multiplexed client. Waiting time: \
         {ops} operations one at a time per variant, {trials} trials, the variants' order rotating per \
         trial, after {} warm-up operations each. CPU: {cores} threads verifying, or {} \
         concurrent lookups, for {:.1} s per variant, {load_trials} trials, the order rotating per trial; \
         CPU time of this process (and of redis-server for lookups) divided by operations. Each \
         algorithm's figure is divided by the lookup's from the same trial. Then, beside it, what a \
         connection costs at the load balancer: a one-node JWT cluster with TLS at HAProxy (ALPN \
         h2,http/1.1, ECDSA P-256 certificate from a CA generated for the run), and HAProxy's CPU time \
         (its thread's scheduler account) per new connection fetching /health (openssl s_time -new: full \
         handshake; -reuse: resumed session) and per request on one kept-alive connection (h2load, \
         HTTP/1.1 and HTTP/2), {connection_trials} trials, the order rotating per trial.",
        raw.session_bytes,
        ops / 10,
        raw.concurrent_lookups,
        raw.load_seconds
    )
}

/// The cost table and the chart: per variant, its figures and its ratio to
/// the lookup of the same trial.
fn costs(raw: &Raw, summary: &Summary) -> (Table, Chart) {
    let mut table = Table {
        title: format!(
            "Cost per operation and ratio to the lookup of the same trial: waiting time over {} \
             interleaved trials of {} sequential operations; CPU over {} interleaved trials \
             of {:.1} s under load. Medians (min–max)",
            raw.trials, raw.ops, raw.load_trials, raw.load_seconds
        ),
        columns: [
            "operation",
            "waiting µs",
            "waiting ÷ lookup",
            "waiting time",
            "CPU µs under load",
            "CPU ÷ lookup",
            "CPU",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
    };
    let mut wait_series = Series {
        name: "waiting (isolated): wall µs per operation".into(),
        points: Vec::new(),
    };
    let mut cpu_series = Series {
        name: "under load: CPU µs per operation".into(),
        points: Vec::new(),
    };
    let comparison_cells = |c: Option<Comparison>| match c {
        Some(c) => [times(&c.ratio), c.versus.label().to_owned()],
        None => ["—".to_owned(), "not measured".to_owned()],
    };
    for variant in raw.variants() {
        let (w, c) = (
            Spread::of(&variant.isolated_us),
            Spread::of(&variant.loaded_cpu_us),
        );
        let judgement = summary.judged.iter().find(|j| variant.alg == Some(j.alg));
        let [wait_ratio, wait_versus] = match judgement {
            Some(j) => comparison_cells(j.waiting),
            None => ["1 (reference)".to_owned(), "—".to_owned()],
        };
        let [cpu_ratio, cpu_versus] = match judgement {
            Some(j) => comparison_cells(j.cpu),
            None => ["1 (reference)".to_owned(), "—".to_owned()],
        };
        table.rows.push(vec![
            variant.name.clone(),
            micros(&w),
            wait_ratio,
            wait_versus,
            micros(&c),
            cpu_ratio,
            cpu_versus,
        ]);
        for (series, s) in [(&mut wait_series, w), (&mut cpu_series, c)] {
            series.points.push(Point {
                x: variant.name.clone(),
                y: s.median,
                low: Some(s.min),
                high: Some(s.max),
            });
        }
    }
    let chart = Chart {
        title: "Microseconds per operation".into(),
        kind: ChartKind::Bars,
        x_label: "operation".into(),
        y_label: "µs per operation".into(),
        series: vec![wait_series, cpu_series],
    };
    (table, chart)
}

/// [`lesson`], then what a connection costs at the balancer beside it.
fn full_lesson(raw: &Raw, summary: &Summary) -> String {
    let mut text = lesson(
        &summary.judged,
        &summary.lookup_wait,
        summary.lookup_cpu.as_ref(),
    );
    if let Some(costs) = &raw.connections {
        let verify_cpu: Vec<(&str, f64)> = summary
            .judged
            .iter()
            .zip(&raw.verifications)
            .map(|(j, v)| (j.alg, Spread::of(&v.loaded_cpu_us).median))
            .collect();
        text += " ";
        text += &costs.sentence(&verify_cpu, summary.lookup_cpu.as_ref().map(|c| c.median));
    } else if let Some(error) = &raw.connections_error {
        text += &format!(
            " The connection costs at the load balancer could not be measured in this run: {error}."
        );
    }
    text
}

/// The lesson, every figure and every comparison from the run's own results.
pub fn lesson(judged: &[Judged], lookup_wait: &Spread, lookup_cpu: Option<&Spread>) -> String {
    let mut text = match lookup_cpu {
        Some(cpu) if cpu.median < lookup_wait.median => format!(
            "One loopback lookup kept its caller waiting {} µs but cost only {} µs of CPU under load \
             (client and redis-server): most of a lookup is waiting, not work.",
            micros(lookup_wait),
            micros(cpu)
        ),
        Some(cpu) => format!(
            "One loopback lookup kept its caller waiting {} µs and cost {} µs of CPU under load \
             (client and redis-server).",
            micros(lookup_wait),
            micros(cpu)
        ),
        None => format!(
            "One loopback lookup kept its caller waiting {} µs; its CPU cost was not measured.",
            micros(lookup_wait)
        ),
    };
    if lookup_wait.max > lookup_wait.min {
        text += &format!(
            " Its waiting time alone ranged {:.1}–{:.1} µs across this run's trials, which is why each \
             algorithm is compared with the lookup of the same trial.",
            lookup_wait.min, lookup_wait.max
        );
    }
    for dimension in Dimension::BOTH {
        let group = |versus: Option<Versus>| {
            judged
                .iter()
                .filter(|j| j.get(dimension).map(|c| c.versus) == versus)
                .map(|j| j.alg)
                .collect::<Vec<_>>()
        };
        let parts: Vec<String> = [
            (
                Some(Versus::Faster),
                "cost less than a lookup in every trial",
            ),
            (Some(Versus::Slower), "cost more in every trial"),
            (
                Some(Versus::WithinNoise),
                "cost about one lookup, within this machine's noise",
            ),
            (None, "were not measured"),
        ]
        .into_iter()
        .filter_map(|(versus, said)| {
            let algs = group(versus);
            (!algs.is_empty()).then(|| format!("{} {said}", algs.join(", ")))
        })
        .collect();
        if !parts.is_empty() {
            text += &format!(" In {}, {}.", dimension.label(), parts.join("; "));
        }
    }
    let by_algorithm = Dimension::BOTH.iter().any(|d| {
        judged
            .windows(2)
            .any(|w| w[0].get(*d).map(|c| c.versus) != w[1].get(*d).map(|c| c.versus))
    });
    let by_dimension = judged
        .iter()
        .any(|j| j.waiting.map(|c| c.versus) != j.cpu.map(|c| c.versus));
    let depends = match (by_algorithm, by_dimension) {
        (true, true) => Some("on the algorithm and on what you count: waiting time or CPU"),
        (true, false) => Some("on the algorithm"),
        (false, true) => Some("on what you count: waiting time or CPU"),
        (false, false) => None,
    };
    if let Some(depends) = depends {
        text += &format!(" Here, whether a signature check beats a lookup depends {depends}.");
    }
    text
}
