//! What the report shows of c5: the set-up, the measured table, the model's
//! table, the chart of req/s by node count, and the lesson.

use super::{
    analysis::{generator_bound, rps},
    measure::{Raw, CEILING, PROBES},
    model::{model_tiers, project, Projection, Tier, HAPROXY, MODEL_CORES, NODES, STORE},
};
use crate::{
    kit::{
        load_check,
        stats::median,
        wrk_probe::{Sample, CAPACITY_ALG, USERS},
    },
    results::{Chart, ChartKind, Point, Series, Table},
    summaries::CapacitySummary,
};
use jwt_server::RevocationMode;

pub fn setup(raw: &Raw, jwt_revocation: RevocationMode) -> String {
    format!(
        "For {} node(s) per stack (1 worker each) behind HAProxy, a fresh cluster per node count and trial, \
         {USERS} load users logged in per stack just before each run; wrk rotates their credentials. The \
         JWT stack signs with {} (the cheapest verification; c6 prices the others) and revocation \
         {:?}. Per run: wrk's figures, the CPU time of the stack's nodes, redis-server and HAProxy divided \
         by the requests (from /proc), and the store commands per request (Redis INFO). A run with more \
         than {:.1}% errors is refused. This machine has {} cores, shared by wrk, HAProxy, Redis and \
         every node. A /me run that reaches 90% of the same node count's /health ceiling is flagged generator-bound: \
         its req/s is a lower bound, not the stack's capacity. The projection is a model built from the \
         measured CPU per request of every process on the path (HAProxy, the nodes, Redis for sessions), \
         labelled as such.",
        raw.node_counts.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", "),
        CAPACITY_ALG.name(),
        jwt_revocation,
        load_check::MAX_ERROR_SHARE * 100.0,
        raw.cores,
    )
}

/// What was measured: a row per node count and probe.
pub fn measured_table(raw: &Raw) -> Table {
    let mut rows = Vec::new();
    for (index, &n) in raw.node_counts.iter().enumerate() {
        let ceiling = rps(raw, index, CEILING);
        for (probe, (name, _, _)) in PROBES.iter().enumerate() {
            let s = |f: &dyn Fn(&Sample) -> f64| median(&raw.figure(index, probe, f));
            let rps = rps(raw, index, probe);
            let bound = probe != CEILING && generator_bound(&rps, &ceiling);
            rows.push(vec![
                n.to_string(),
                name.to_string(),
                rps.to_string(),
                format!("{:.2}", s(&|x| x.wrk.p50_ms)),
                format!("{:.2}", s(&|x| x.wrk.p99_ms)),
                format!("{:.1}", s(&|x| x.cpu_us["nodes"])),
                format!("{:.1}", s(&|x| x.cpu_us["redis"])),
                format!("{:.1}", s(&|x| x.cpu_us["haproxy"])),
                format!("{:.2}", s(&|x| x.store_ops_per_request)),
                format!("{:.0}", s(&|x| x.wrk.non_2xx as f64)),
                if probe == CEILING {
                    "—".into()
                } else if bound {
                    "yes".into()
                } else {
                    "no".into()
                },
            ]);
        }
    }
    Table {
        title: format!(
            "Through HAProxy with wrk -t2 -c64 ({} s per run, {} interleaved trial(s)); medians, min–max. \
             \"generator-bound\": /me reached 90% of the /health ceiling of the same trials",
            raw.run_s, raw.trials
        ),
        columns: ["nodes", "variant", "req/s", "p50 ms", "p99 ms", "node CPU µs/req", "redis CPU µs/req", "HAProxy CPU µs/req", "store ops/req", "non-2xx", "generator-bound"]
            .map(String::from)
            .to_vec(),
        rows,
    }
}

/// Requests/s of each probe by node count, median with the range.
pub fn chart(raw: &Raw) -> Chart {
    let series = PROBES
        .iter()
        .enumerate()
        .map(|(probe, (name, _, _))| Series {
            name: name.to_string(),
            points: raw
                .node_counts
                .iter()
                .enumerate()
                .map(|(index, n)| {
                    let rps = rps(raw, index, probe);
                    Point {
                        x: n.to_string(),
                        y: rps.median,
                        low: Some(rps.min),
                        high: Some(rps.max),
                    }
                })
                .collect(),
        })
        .collect();
    Chart {
        title: format!(
            "Requests/s through HAProxy by nodes per stack ({}-core machine)",
            raw.cores
        ),
        kind: ChartKind::Lines,
        x_label: "nodes per stack".into(),
        y_label: "requests/s".into(),
        series,
    }
}

fn split(tiers: &[Tier], p: &Projection) -> String {
    let mut text = p
        .cores
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(" / ");
    if p.idle > 0 {
        text.push_str(&format!(" ({} idle)", p.idle));
    }
    if tiers.first().is_some_and(|t| t.name != HAPROXY) {
        text.push_str(" (HAProxy not measured)");
    }
    text
}

/// The model: each stack's projected requests/s with N whole cores for its
/// request path, from the per-request CPU of every process measured on it.
pub fn model_table(c: &CapacitySummary) -> Table {
    let (session, jwt) = model_tiers(c);
    let names = |tiers: &[Tier]| {
        tiers
            .iter()
            .map(|t| match t.name {
                STORE => "Redis",
                NODES => "nodes",
                other => other,
            })
            .collect::<Vec<_>>()
            .join(" / ")
    };
    let mut model = Table {
        title: format!(
            "MODEL, not a measurement: requests/s each stack passes with N whole cores for its request path, from \
             the CPU per request of every process on it measured at the largest node count (session: {}; JWT: {}). \
             Each process gets cores of its own, one Redis at most one; each core goes to the tier that passes \
             fewest; the projection is the slowest tier's rate. The load generator is not counted.",
            session
                .iter()
                .map(|t| format!("{} {:.1} µs", t.name, t.cpu_us))
                .collect::<Vec<_>>()
                .join(", "),
            jwt.iter()
                .map(|t| format!("{} {:.1} µs", t.name, t.cpu_us))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        columns: vec![
            "cores".into(),
            "session /me (projected)".into(),
            format!("session cores: {}", names(&session)),
            "what limits the session stack".into(),
            "JWT /me (projected)".into(),
            format!("JWT cores: {}", names(&jwt)),
            "what limits the JWT stack".into(),
        ],
        rows: Vec::new(),
    };
    for cores in MODEL_CORES {
        let mut row = vec![cores.to_string()];
        for tiers in [&session, &jwt] {
            match project(tiers, cores) {
                Some(p) => row.extend([
                    format!("{:.0}", p.rps),
                    split(tiers, &p),
                    p.limit.to_owned(),
                ]),
                None => row.extend([
                    "—".into(),
                    "—".into(),
                    "a tier's cost was not measured".into(),
                ]),
            }
        }
        model.rows.push(row);
    }
    model
}

pub fn c5_lesson(c: &CapacitySummary) -> String {
    let mut lesson = format!(
        "Every session request cost the shared store {:.2} operations ({:.1} µs of Redis CPU here), every JWT request \
         {:.2}.",
        c.session_store_ops, c.redis_cpu_us, c.jwt_store_ops
    );
    if let Some(cores) = c.store_ceiling_cores() {
        lesson.push_str(&format!(
            " By the model built from those costs, one Redis core keeps up with about {cores:.0} cores of session nodes \
             ({:.0} session requests/s); only past that would the store, not the nodes, limit the session stack.",
            1e6 / c.redis_cpu_us.max(f64::MIN_POSITIVE)
        ));
    }
    let (session, jwt) = model_tiers(c);
    let most = MODEL_CORES[MODEL_CORES.len() - 1];
    if let (Some((session_haproxy, jwt_haproxy)), Some(s), Some(j)) = (
        c.haproxy_cpu_us(),
        project(&session, most),
        project(&jwt, most),
    ) {
        lesson.push_str(&format!(
            " HAProxy is on the path too: {jwt_haproxy:.1} µs per JWT request against {:.1} µs for a JWT node \
             ({session_haproxy:.1} µs per session request), so with {most} cores the model gives the JWT stack {:.0} \
             requests/s with {} of the cores on HAProxy (limit: {}), and the session stack {:.0} (limit: {}).",
            c.jwt_node_cpu_us,
            j.rps,
            j.cores[0],
            j.limit,
            s.rps,
            s.limit,
        ));
    }
    if !c.scale_out_measured {
        lesson.push_str(&format!(
            " On this {}-core machine more nodes only share the same cores, so the measured throughput says nothing \
             about scaling out.",
            c.cores
        ));
    }
    lesson
}

#[cfg(test)]
mod tests {
    use super::{super::analysis::fixtures::*, *};

    #[test]
    fn the_model_table_counts_every_process_on_the_path() {
        let c = summary(2, 1.0, 0.0, vec![point(1, 1.0, 1.0), point(3, 1.0, 1.0)]);
        let (session, jwt) = model_tiers(&c);
        assert_eq!(
            session.iter().map(|t| t.name).collect::<Vec<_>>(),
            [HAPROXY, NODES, STORE]
        );
        assert_eq!(
            jwt.iter().map(|t| t.name).collect::<Vec<_>>(),
            [HAPROXY, NODES]
        );
        let table = model_table(&c);
        assert_eq!(table.rows.len(), MODEL_CORES.len());
        let last = table.rows.last().unwrap();
        // 64 cores: HAProxy 22.6 µs and JWT nodes 12 µs → 42 / 22 cores,
        // the best whole-core split (41 / 23 would leave HAProxy slower).
        assert_eq!(last[5], "42 / 22");
        assert_eq!(last[6], NODES);
        assert_eq!(last[3], STORE);
        assert!(
            table.title.contains("HAProxy 22.6 µs, the nodes 12.0 µs"),
            "{}",
            table.title
        );
        // Results written before HAProxy was recorded: the table says so.
        let mut old = c.clone();
        for p in &mut old.points {
            p.jwt_haproxy_cpu_us = 0.0;
            p.session_haproxy_cpu_us = 0.0;
        }
        let table = model_table(&old);
        assert!(
            table.rows[0][5].ends_with("(HAProxy not measured)"),
            "{:?}",
            table.rows[0]
        );
        assert!(
            c5_lesson(&c).contains("42 of the cores on HAProxy"),
            "{}",
            c5_lesson(&c)
        );
    }
}
