//! What the report shows of c5: the set-up, the measured table, the model's
//! table, the chart of req/s by node count, and the lesson.

use super::{
    analysis::{generator_bound, rps, shared_cores},
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
         by the requests (from /proc locally, from each container's cgroup on a swarm), and the store \
         commands per request (Redis INFO). A run with more than {:.1}% errors (any one generator's, or \
         all of them together) is refused. {} {} A /me run that reaches 90% of the same node count's /health \
         ceiling is flagged generator-bound: its req/s is a lower bound, not the stack's capacity. The projection is a model built from the \
         measured CPU per request of every process on the path (HAProxy, the nodes, Redis for sessions), \
         labelled as such.",
        raw.node_counts.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", "),
        CAPACITY_ALG.name(),
        jwt_revocation,
        load_check::MAX_ERROR_SHARE * 100.0,
        where_it_ran(raw),
        generators(raw),
    )
}

/// The set-up's sentence on the cores the run had, by where it ran.
fn where_it_ran(raw: &Raw) -> String {
    match (raw.hosts, raw.machines) {
        (0, _) => "The engine did not list the hosts that ran the clusters.".into(),
        (1, _) => format!(
            "This machine has {} cores, shared by wrk, HAProxy, Redis and every node.",
            raw.cores
        ),
        (hosts, 0 | 1) => format!(
            "The {hosts} hosts that ran the clusters share one machine (one boot id): its {} cores are shared by \
             wrk, HAProxy, Redis and every node, as on one host.",
            raw.cores
        ),
        (hosts, machines) => format!(
            "The {hosts} hosts that ran the clusters are {machines} machines with {} cores in all (each machine's \
             counted once).",
            raw.cores
        ),
    }
}

/// How the load was generated: how many generators ran and where, once
/// per distinct set (a swarm puts them where the loaded stack's nodes are
/// not, so the set may change with the node count and the stack).
fn generators(raw: &Raw) -> String {
    let mut sets: Vec<Vec<(String, String)>> = Vec::new();
    for sample in &raw.samples {
        let set: Vec<(String, String)> = sample
            .value
            .wrk
            .generators
            .iter()
            .map(|g| (g.name.clone(), g.host.clone()))
            .collect();
        if !sets.contains(&set) {
            sets.push(set);
        }
    }
    generators_sentence(&sets)
}

/// "Load from 1 generator (on swarm-1) or 2 (on swarm-1 and swarm-3) per
/// run, …": each distinct set of generators, by its hosts.
pub fn generators_sentence(sets: &[Vec<(String /* name */, String /* host */)>]) -> String {
    let sets: Vec<&Vec<(String, String)>> = sets.iter().filter(|s| !s.is_empty()).collect();
    if sets.is_empty() {
        return "No load generator was recorded.".into();
    }
    let described: Vec<String> = sets
        .iter()
        .map(|set| {
            let hosts: Vec<&str> = set.iter().map(|(_, host)| host.as_str()).collect();
            let noun = if set.len() == 1 { "generator" } else { "generators" };
            format!("{} {noun} (on {})", set.len(), hosts.join(" and "))
        })
        .collect();
    let several = sets.iter().any(|s| s.len() > 1);
    format!(
        "Load per run: {}{}.",
        described.join(" or "),
        if several {
            ", started together; their counts are summed and their latencies merged from their \
             histograms, and each one's errors are checked"
        } else {
            ""
        }
    )
}

/// A CPU figure, or "not measured" when the engine could not read a part.
fn cpu_cell(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.1}")
    } else {
        "not measured".into()
    }
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
                cpu_cell(s(&|x| x.cpu("nodes"))),
                cpu_cell(s(&|x| x.cpu("redis"))),
                cpu_cell(s(&|x| x.cpu("haproxy"))),
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
        title: match raw.machines {
            0 | 1 => format!(
                "Requests/s through HAProxy by nodes per stack ({}-core machine)",
                raw.cores
            ),
            machines => format!(
                "Requests/s through HAProxy by nodes per stack ({machines} machines, {} cores)",
                raw.cores
            ),
        },
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

/// The core counts the model table projects to, each with its label: the
/// fixed ones, and on distinct machines the run's own cores, so the model
/// can be read beside what was measured on them.
fn model_rows(c: &CapacitySummary) -> Vec<(usize, String)> {
    let mut rows: Vec<(usize, String)> = MODEL_CORES.iter().map(|n| (*n, n.to_string())).collect();
    if c.machines > 1 && c.cores > 0 {
        let label = format!("{} (this run's {} machines)", c.cores, c.machines);
        match rows.iter().position(|(n, _)| *n >= c.cores) {
            Some(at) if rows[at].0 == c.cores => rows[at].1 = label,
            Some(at) => rows.insert(at, (c.cores, label)),
            None => rows.push((c.cores, label)),
        }
    }
    rows
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
    for (cores, label) in model_rows(c) {
        let mut row = vec![label];
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
    lesson.push_str(&on_these_cores(c, &session, &jwt));
    lesson
}

/// What the lesson says of the cores the run had: on one machine, that more
/// nodes only shared them; on distinct machines, the model at their cores
/// beside what was measured there.
fn on_these_cores(c: &CapacitySummary, session: &[Tier], jwt: &[Tier]) -> String {
    if c.machines > 1 {
        let last = c.points.last();
        return match (project(session, c.cores), project(jwt, c.cores), last) {
            (Some(s), Some(j), Some(last)) => format!(
                " On this run's {} machines ({} cores in all) the model gives JWT /me {:.0} and session /me {:.0} \
                 requests/s; measured at {} nodes: {:.0} and {:.0}.{}",
                c.machines,
                c.cores,
                j.rps,
                s.rps,
                last.nodes,
                last.jwt_rps.median,
                last.session_rps.median,
                if c.scale_out_measured {
                    String::new()
                } else {
                    format!(" Still, {}.", shared_cores(c))
                }
            ),
            _ if !c.scale_out_measured => format!(" {}.", capitalized(&shared_cores(c))),
            _ => String::new(),
        };
    }
    if c.scale_out_measured {
        String::new()
    } else if c.hosts > 1 {
        format!(
            " The {} hosts that ran it share one machine and its {} cores: on one machine more nodes cannot add \
             cores, so the measured throughput says nothing about scaling out.",
            c.hosts, c.cores
        )
    } else {
        format!(
            " On this {}-core machine more nodes only share the same cores, so the measured throughput says nothing \
             about scaling out.",
            c.cores
        )
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{super::analysis::fixtures::*, *};

    #[test]
    fn the_load_generators_are_named_with_their_hosts() {
        let one = vec![vec![("generator-1".to_string(), "here".to_string())]];
        assert_eq!(
            generators_sentence(&one),
            "Load per run: 1 generator (on here)."
        );
        let two = vec![
            vec![("generator-1".to_string(), "swarm-1".to_string())],
            vec![
                ("generator-1".to_string(), "swarm-1".to_string()),
                ("generator-2".to_string(), "swarm-3".to_string()),
            ],
        ];
        let text = generators_sentence(&two);
        assert!(
            text.starts_with(
                "Load per run: 1 generator (on swarm-1) or 2 generators (on swarm-1 and swarm-3)"
            ),
            "{text}"
        );
        assert!(text.contains("merged from their histograms"));
        assert_eq!(generators_sentence(&[]), "No load generator was recorded.");
    }

    #[test]
    fn on_distinct_machines_the_model_projects_to_their_cores_beside_the_measurement() {
        let machines = hosts(&[("swarm-1", 4, "x"), ("swarm-2", 4, "y"), ("swarm-3", 2, "z")]);
        let c = on(
            &machines,
            1.0,
            0.0,
            vec![point(1, 30_000.0, 40_000.0), point(3, 60_000.0, 110_000.0)],
        );
        let table = model_table(&c);
        let labels: Vec<&str> = table.rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(
            labels,
            ["4", "8", "10 (this run's 3 machines)", "16", "32", "64"]
        );
        let (session, jwt) = model_tiers(&c);
        let projected = project(&jwt, 10).unwrap().rps;
        assert_eq!(table.rows[2][4], format!("{projected:.0}"));
        let lesson = c5_lesson(&c);
        assert!(
            lesson.contains(&format!(
                "On this run's 3 machines (10 cores in all) the model gives JWT /me {projected:.0} and session /me {:.0} \
                 requests/s; measured at 3 nodes: 110000 and 60000.",
                project(&session, 10).unwrap().rps
            )),
            "{lesson}"
        );
        // One machine: no row of its own, and the lesson says why.
        let one_box = on(
            &hosts(&[("swarm-1", 2, "b"), ("swarm-2", 2, "b"), ("swarm-3", 2, "b")]),
            1.0,
            0.0,
            c.points.clone(),
        );
        assert_eq!(model_table(&one_box).rows.len(), MODEL_CORES.len());
        assert!(
            c5_lesson(&one_box).contains(
                "The 3 hosts that ran it share one machine and its 2 cores: on one machine more nodes cannot add cores"
            ),
            "{}",
            c5_lesson(&one_box)
        );
        // This machine: as before.
        let here = summary(2, 1.0, 0.0, c.points.clone());
        assert!(c5_lesson(&here).ends_with(
            " On this 2-core machine more nodes only share the same cores, so the measured throughput says nothing \
             about scaling out."
        ));
    }

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
