//! What c5's runs amount to: the summary c15 reads, and C5's rule.
//!
//! Per node count, the throughput of each stack's `/me` and of the
//! `/health` ceiling through the same generator and HAProxy (a `/me` run
//! near the ceiling measured the generator, not the stack); at the largest
//! node count, what one request cost each process on its path. The rule
//! reads only this summary, so its tests build summaries by hand, broken
//! set-ups included.
//!
//! The cores the rule weighs are those of the hosts that ran the clusters,
//! each machine's counted once: three swarm hosts on one 2-core box have 2
//! cores, not 6, and on one machine more nodes cannot add cores.

use super::measure::{Raw, CEILING, JWT, SESSION};
use crate::{
    kit::{stats::median, wrk_probe::Sample},
    results::Verdict,
    summaries::{CapacityPoint, CapacitySummary, Spread},
};

/// Whether `cores` can run `nodes` nodes as more capacity: each node, HAProxy,
/// Redis and the load generator need a core of their own.
pub fn scale_out_measurable(cores: usize, nodes: usize) -> bool {
    cores >= nodes + 3
}

/// Whether a `/me` run's throughput was set by what drives it rather than by
/// the stack: it reached 90% of the `/health` ceiling measured through the
/// same generator and HAProxy. Such a run's req/s is a lower bound on the
/// stack's capacity, not the capacity.
pub fn generator_bound(rps: &Spread, ceiling: &Spread) -> bool {
    ceiling.median > 0.0 && rps.median >= 0.9 * ceiling.median
}

/// A run's median req/s, marked when it was generator-bound.
fn rps_text((rps, bound): (Spread, bool)) -> String {
    if bound {
        format!("{:.0} (generator-bound)", rps.median)
    } else {
        format!("{:.0}", rps.median)
    }
}

/// The req/s of each node count, with the runs that were generator-bound marked.
fn trend(c: &CapacitySummary, rps: fn(&CapacityPoint) -> (Spread, bool)) -> String {
    c.points
        .iter()
        .map(|p| rps_text(rps(p)))
        .collect::<Vec<_>>()
        .join(" → ")
}

/// Who shares the cores, and why more nodes could not add capacity: the
/// reason in C5's caveat, by where the run ran.
pub fn shared_cores(c: &CapacitySummary) -> String {
    match (c.hosts, c.machines) {
        (0, _) => "the engine did not list the hosts that ran the nodes, so the cores they had are unknown".into(),
        (1, _) => format!(
            "this machine's {} cores are shared by the load generator, HAProxy, Redis and every node, so more nodes \
             cannot add capacity here",
            c.cores
        ),
        (hosts, 0 | 1) => format!(
            "the {hosts} hosts that ran it share one machine (one boot id), and its {} cores are shared by the load \
             generator, HAProxy, Redis and every node: on one machine more nodes cannot add cores",
            c.cores
        ),
        (hosts, machines) => format!(
            "the {hosts} hosts that ran it are {machines} machines with {} cores in all, fewer than one each for the \
             load generator, HAProxy, Redis and every node, so more nodes cannot add capacity there",
            c.cores
        ),
    }
}

/// C5's rule, from the summary of the run.
pub fn c5_verdict(c: &CapacitySummary) -> Verdict {
    let (Some(first), Some(last)) = (c.points.first(), c.points.last()) else {
        return Verdict::NotMeasured("no node count was measured".into());
    };
    if c.points.len() < 2 {
        return Verdict::NotMeasured("only one node count was measured".into());
    }
    if c.jwt_store_ops > 0.05 {
        Verdict::DoesNotHold(format!(
            "JWT /me made {:.2} store operations per request: its nodes share state",
            c.jwt_store_ops
        ))
    } else if c.session_store_ops < 0.5 {
        Verdict::DoesNotHold(format!(
            "session /me made only {:.2} store operations per request, so the comparison shows no shared state to avoid",
            c.session_store_ops
        ))
    } else if last.jwt_rps.below(&last.session_rps) && !last.jwt_generator_bound {
        // A generator-bound JWT run is a lower bound: below the session run
        // it says nothing about which stack is faster.
        Verdict::DoesNotHold(format!(
            "at {} nodes JWT /me served fewer requests/s than session /me in every trial ({} vs {})",
            last.nodes, last.jwt_rps, last.session_rps
        ))
    } else if !c.scale_out_measured {
        Verdict::HoldsWithCaveat(format!(
            "JWT /me needs no store operation ({:.2} per request; session /me {:.2}), but {}: \
             JWT /me went {} req/s and session /me {} req/s over {} nodes. The scale-out beyond is c5's model",
            c.jwt_store_ops,
            c.session_store_ops,
            shared_cores(c),
            trend(c, |p| (p.jwt_rps, p.jwt_generator_bound)),
            trend(c, |p| (p.session_rps, p.session_generator_bound)),
            c.points.iter().map(|p| p.nodes.to_string()).collect::<Vec<_>>().join(", ")
        ))
    } else if let Some(p) = [first, last].into_iter().find(|p| p.jwt_generator_bound) {
        Verdict::Inconclusive(format!(
            "JWT /me at {} node(s) reached 90% of the /health ceiling ({} of {} req/s): the load generator, not the \
             nodes, set that throughput, so its growth with the nodes cannot be read from this run",
            p.nodes, p.jwt_rps, p.ceiling_rps
        ))
    } else if last.jwt_rps.median
        < 0.75 * first.jwt_rps.median * last.nodes as f64 / first.nodes as f64
    {
        Verdict::DoesNotHold(format!(
            "with a core per process, JWT /me grew only from {:.0} to {:.0} req/s over {} → {} nodes",
            first.jwt_rps.median, last.jwt_rps.median, first.nodes, last.nodes
        ))
    } else {
        Verdict::Holds
    }
}

/// The one figure of the run that best shows C5's outcome, following the
/// rule's branches: throughput where the rule turned on it, store operations
/// per request otherwise.
pub fn c5_headline(c: &CapacitySummary) -> String {
    let (Some(first), Some(last)) = (c.points.first(), c.points.last()) else {
        return String::new();
    };
    let ops = format!(
        "JWT /me {:.2} store ops per request vs {:.2} for sessions",
        c.jwt_store_ops, c.session_store_ops
    );
    if c.points.len() < 2 || c.jwt_store_ops > 0.05 || c.session_store_ops < 0.5 {
        ops
    } else if last.jwt_rps.below(&last.session_rps) && !last.jwt_generator_bound {
        format!(
            "at {} nodes JWT /me {:.0} req/s vs {:.0} for sessions",
            last.nodes, last.jwt_rps.median, last.session_rps.median
        )
    } else if c.scale_out_measured {
        format!(
            "JWT /me {} → {} req/s over {} → {} nodes",
            rps_text((first.jwt_rps, first.jwt_generator_bound)),
            rps_text((last.jwt_rps, last.jwt_generator_bound)),
            first.nodes,
            last.nodes
        )
    } else {
        ops
    }
}

pub const C5_RULE: &str = "not measured with fewer than two node counts. Does not hold when JWT /me makes more than 0.05 \
    store operations per request, when session /me makes fewer than 0.5, or when at the largest node count JWT /me \
    served fewer requests/s than session /me in every trial without being generator-bound. Otherwise, when the hosts \
    that ran it (each machine's cores counted once: hosts on one machine share its cores) lack a core for every node, \
    HAProxy, Redis and the load generator, it holds with a caveat (the scale-out is a model there); with those cores, it is inconclusive when a JWT /me run at the smallest or largest node count was \
    generator-bound (90% of the /health ceiling: not capacity), holds when JWT /me throughput grows at least 75% as \
    fast as the node count, and does not hold otherwise.";

/// The summary of the run: throughput per node count, and the per-request
/// costs at the largest node count (the model's input).
pub fn summarize(raw: &Raw) -> CapacitySummary {
    let points = raw
        .node_counts
        .iter()
        .enumerate()
        .map(|(index, &nodes)| measured_point(raw, index, nodes))
        .collect();
    let last = raw.node_counts.len().saturating_sub(1);
    let at = |probe: usize, f: &dyn Fn(&Sample) -> f64| median(&raw.figure(last, probe, f));
    CapacitySummary {
        cores: raw.cores,
        hosts: raw.hosts,
        machines: raw.machines,
        scale_out_measured: scale_out_measurable(raw.cores, *raw.node_counts.last().unwrap_or(&1)),
        session_node_cpu_us: at(SESSION, &|s| s.cpu("nodes")),
        jwt_node_cpu_us: at(JWT, &|s| s.cpu("nodes")),
        redis_cpu_us: at(SESSION, &|s| s.cpu("redis")),
        session_store_ops: at(SESSION, &|s| s.store_ops_per_request),
        jwt_store_ops: at(JWT, &|s| s.store_ops_per_request),
        points,
    }
}

/// The req/s of probe `probe` on the `index`-th node count, over the trials.
pub fn rps(raw: &Raw, index: usize, probe: usize) -> Spread {
    Spread::of(&raw.figure(index, probe, |s| s.wrk.rps))
}

fn measured_point(raw: &Raw, index: usize, nodes: usize) -> CapacityPoint {
    let ceiling = rps(raw, index, CEILING);
    let (session_rps, jwt_rps) = (rps(raw, index, SESSION), rps(raw, index, JWT));
    let haproxy_of = |probe| median(&raw.figure(index, probe, |s| s.cpu("haproxy")));
    CapacityPoint {
        nodes,
        ceiling_rps: ceiling,
        session_generator_bound: generator_bound(&session_rps, &ceiling),
        jwt_generator_bound: generator_bound(&jwt_rps, &ceiling),
        session_rps,
        jwt_rps,
        session_haproxy_cpu_us: haproxy_of(SESSION),
        jwt_haproxy_cpu_us: haproxy_of(JWT),
    }
}

/// The figures behind the verdict, as the report's evidence line.
pub fn evidence(summary: &CapacitySummary) -> String {
    format!(
        "store ops per request: session {:.2}, JWT {:.2}; node CPU per request: session {:.1} µs, JWT \
         {:.1} µs; Redis CPU per session request {:.1} µs; HAProxy CPU per request (session / JWT) {}; \
         req/s per node count (session / JWT, generator-bound runs marked): {}",
        summary.session_store_ops,
        summary.jwt_store_ops,
        summary.session_node_cpu_us,
        summary.jwt_node_cpu_us,
        summary.redis_cpu_us,
        summary.haproxy_cpu_us().map_or_else(
            || "not measured".to_owned(),
            |(s, j)| format!("{s:.1} / {j:.1} µs")
        ),
        summary
            .points
            .iter()
            .map(|p| format!(
                "{}: {}{} / {}{}",
                p.nodes,
                p.session_rps,
                if p.session_generator_bound { " (generator-bound)" } else { "" },
                p.jwt_rps,
                if p.jwt_generator_bound { " (generator-bound)" } else { "" },
            ))
            .collect::<Vec<_>>()
            .join("; ")
    )
}

/// Hand-made summaries for the rule's and the report's tests.
#[cfg(test)]
pub mod fixtures {
    use super::*;

    pub fn point(nodes: usize, session: f64, jwt: f64) -> CapacityPoint {
        let spread = |m: f64| Spread {
            median: m,
            min: m * 0.95,
            max: m * 1.05,
        };
        let ceiling = spread(150_000.0);
        CapacityPoint {
            nodes,
            session_generator_bound: generator_bound(&spread(session), &ceiling),
            jwt_generator_bound: generator_bound(&spread(jwt), &ceiling),
            ceiling_rps: ceiling,
            session_rps: spread(session),
            jwt_rps: spread(jwt),
            session_haproxy_cpu_us: 21.2,
            jwt_haproxy_cpu_us: 22.6,
        }
    }

    pub fn summary(
        cores: usize,
        session_ops: f64,
        jwt_ops: f64,
        points: Vec<CapacityPoint>,
    ) -> CapacitySummary {
        CapacitySummary {
            cores,
            hosts: 1,
            machines: 1,
            scale_out_measured: scale_out_measurable(cores, points.last().map_or(1, |p| p.nodes)),
            session_node_cpu_us: 18.0,
            jwt_node_cpu_us: 12.0,
            redis_cpu_us: 4.0,
            session_store_ops: session_ops,
            jwt_store_ops: jwt_ops,
            points,
        }
    }

    /// `hosts` of `cores` each; hosts with the same `boot` share a machine.
    pub fn hosts(spec: &[(&str, usize, &str)]) -> harness::Hosts {
        harness::Hosts {
            hosts: spec
                .iter()
                .map(|(name, cores, boot)| harness::Host {
                    name: (*name).into(),
                    cores: *cores,
                    boot_id: (*boot).into(),
                    role: "worker".into(),
                })
                .collect(),
        }
    }

    /// The summary of a run on `hosts`, as `summarize` makes it from what
    /// `measure` records of them.
    pub fn on(
        hosts: &harness::Hosts,
        session_ops: f64,
        jwt_ops: f64,
        points: Vec<CapacityPoint>,
    ) -> CapacitySummary {
        let mut c = summary(hosts.physical_cores(), session_ops, jwt_ops, points);
        c.hosts = hosts.hosts.len();
        c.machines = hosts.machines();
        c
    }
}

#[cfg(test)]
mod tests {
    use super::{fixtures::*, *};

    #[test]
    fn c5_rule() {
        // This machine: 2 cores, the measured sample's throughput.
        let here = summary(
            2,
            1.0,
            0.0,
            vec![
                point(1, 54_000.0, 72_700.0),
                point(2, 40_000.0, 47_800.0),
                point(3, 45_000.0, 69_000.0),
            ],
        );
        assert!(
            matches!(c5_verdict(&here), Verdict::HoldsWithCaveat(m) if m.contains("72700 → 47800 → 69000"))
        );
        assert_eq!(
            c5_headline(&here),
            "JWT /me 0.00 store ops per request vs 1.00 for sessions"
        );
        // Enough cores, JWT grows with the nodes.
        let big = summary(
            8,
            1.0,
            0.0,
            vec![point(1, 30_000.0, 40_000.0), point(3, 60_000.0, 110_000.0)],
        );
        assert_eq!(c5_verdict(&big), Verdict::Holds);
        assert_eq!(
            c5_headline(&big),
            "JWT /me 40000 → 110000 req/s over 1 → 3 nodes"
        );
        // Enough cores, JWT does not grow.
        let flat = summary(
            8,
            1.0,
            0.0,
            vec![point(1, 30_000.0, 40_000.0), point(3, 30_000.0, 45_000.0)],
        );
        assert!(matches!(c5_verdict(&flat), Verdict::DoesNotHold(m) if m.contains("grew only")));
        // JWT slower than sessions in every trial (a slow algorithm).
        let slow = summary(
            2,
            1.0,
            0.0,
            vec![point(1, 50_000.0, 20_000.0), point(2, 50_000.0, 20_000.0)],
        );
        assert!(
            matches!(c5_verdict(&slow), Verdict::DoesNotHold(m) if m.contains("fewer requests/s"))
        );
        assert_eq!(
            c5_headline(&slow),
            "at 2 nodes JWT /me 20000 req/s vs 50000 for sessions"
        );
        // A broken set-up: the JWT stack asks the store on every request.
        let stateful = summary(2, 1.0, 1.0, here.points.clone());
        assert!(
            matches!(c5_verdict(&stateful), Verdict::DoesNotHold(m) if m.starts_with("JWT /me made 1.00"))
        );
        assert_eq!(
            c5_headline(&stateful),
            "JWT /me 1.00 store ops per request vs 1.00 for sessions"
        );
        let no_store = summary(2, 0.0, 0.0, here.points.clone());
        assert!(
            matches!(c5_verdict(&no_store), Verdict::DoesNotHold(m) if m.starts_with("session /me"))
        );
        assert!(matches!(
            c5_verdict(&summary(2, 1.0, 0.0, vec![point(1, 1.0, 1.0)])),
            Verdict::NotMeasured(_)
        ));
        assert!(matches!(
            c5_verdict(&summary(2, 1.0, 0.0, Vec::new())),
            Verdict::NotMeasured(_)
        ));
        assert_eq!(c5_headline(&summary(2, 1.0, 0.0, Vec::new())), "");
    }

    /// A broken set-up: the load generator, not the nodes, sets the
    /// throughput. With a core per process, flat JWT throughput would read
    /// as "does not scale"; generator-bound, it must read as inconclusive.
    #[test]
    fn a_generator_bound_run_is_not_capacity() {
        let mut bound = summary(
            8,
            1.0,
            0.0,
            vec![point(1, 30_000.0, 140_000.0), point(3, 60_000.0, 145_000.0)],
        );
        assert!(bound.points.iter().all(|p| p.jwt_generator_bound));
        assert!(
            matches!(c5_verdict(&bound), Verdict::Inconclusive(m) if m.contains("at 1 node(s) reached 90%")),
            "{:?}",
            c5_verdict(&bound)
        );
        assert_eq!(
            c5_headline(&bound),
            "JWT /me 140000 (generator-bound) → 145000 (generator-bound) req/s over 1 → 3 nodes"
        );
        // The same figures, not flagged, are the "does not scale" finding.
        for p in &mut bound.points {
            p.jwt_generator_bound = false;
        }
        assert!(matches!(c5_verdict(&bound), Verdict::DoesNotHold(m) if m.contains("grew only")));
        // A generator-bound JWT run below the session run is no finding
        // that JWT is slower; on 2 cores the verdict is the model's caveat,
        // and the trend names the bound runs.
        let mut both = summary(
            2,
            1.0,
            0.0,
            vec![
                point(1, 145_000.0, 136_000.0),
                point(2, 146_000.0, 136_000.0),
            ],
        );
        for p in &mut both.points {
            p.jwt_rps.max = 137_000.0;
            p.session_rps.min = 140_000.0;
        }
        assert!(both.points[1].jwt_rps.below(&both.points[1].session_rps));
        assert!(matches!(
            c5_verdict(&both),
            Verdict::HoldsWithCaveat(m) if m.contains("136000 (generator-bound) → 136000 (generator-bound)")
        ));
        assert!(generator_bound(&Spread::of(&[90.0]), &Spread::of(&[100.0])));
        assert!(!generator_bound(
            &Spread::of(&[89.0]),
            &Spread::of(&[100.0])
        ));
        assert!(!generator_bound(&Spread::of(&[0.0]), &Spread::of(&[0.0])));
    }

    /// Three swarm hosts that are virtual machines on one 2-core box: 6
    /// cores by their own count, 2 in truth. The caveat stays, and says why.
    #[test]
    fn on_hosts_of_one_machine_the_caveat_stays_and_says_why() {
        let one_box = hosts(&[("swarm-1", 2, "b"), ("swarm-2", 2, "b"), ("swarm-3", 2, "b")]);
        let naive: usize = one_box.hosts.iter().map(|h| h.cores).sum();
        assert!(scale_out_measurable(naive, 3), "summed, they would pass");
        let c = on(
            &one_box,
            1.0,
            0.0,
            vec![point(1, 30_000.0, 40_000.0), point(3, 30_000.0, 45_000.0)],
        );
        assert_eq!((c.cores, c.hosts, c.machines), (2, 3, 1));
        assert!(!c.scale_out_measured);
        let verdict = c5_verdict(&c);
        assert!(
            matches!(&verdict, Verdict::HoldsWithCaveat(m) if m.contains(
                "the 3 hosts that ran it share one machine (one boot id), and its 2 cores are shared by the load \
                 generator, HAProxy, Redis and every node: on one machine more nodes cannot add cores: JWT /me went"
            )),
            "{verdict:?}"
        );
    }

    /// Three machines of 4 cores: the rule reads the measured throughput,
    /// and a broken set-up (JWT throughput flat over the nodes) turns it,
    /// where on one machine the same figures only earned the caveat.
    #[test]
    fn on_distinct_machines_the_rule_uses_their_cores() {
        let machines = hosts(&[("swarm-1", 4, "x"), ("swarm-2", 4, "y"), ("swarm-3", 4, "z")]);
        let grows = on(
            &machines,
            1.0,
            0.0,
            vec![point(1, 30_000.0, 40_000.0), point(3, 60_000.0, 110_000.0)],
        );
        assert_eq!((grows.cores, grows.machines), (12, 3));
        assert!(grows.scale_out_measured);
        assert_eq!(c5_verdict(&grows), Verdict::Holds);

        let flat = vec![point(1, 30_000.0, 40_000.0), point(3, 30_000.0, 45_000.0)];
        let broken = on(&machines, 1.0, 0.0, flat.clone());
        assert!(
            matches!(c5_verdict(&broken), Verdict::DoesNotHold(m) if m.contains("grew only from 40000 to 45000")),
            "{:?}",
            c5_verdict(&broken)
        );
        let one_box = hosts(&[("swarm-1", 4, "x"), ("swarm-2", 4, "x"), ("swarm-3", 4, "x")]);
        assert!(matches!(
            c5_verdict(&on(&one_box, 1.0, 0.0, flat.clone())),
            Verdict::HoldsWithCaveat(_)
        ));
        // Two small machines: more than one, still too few cores.
        let small = hosts(&[("a", 2, "x"), ("b", 2, "y")]);
        assert!(matches!(
            c5_verdict(&on(&small, 1.0, 0.0, flat)),
            Verdict::HoldsWithCaveat(m) if m.contains("are 2 machines with 4 cores in all, fewer than one each")
        ));
    }

    #[test]
    fn locally_and_unlisted_the_caveat_names_what_it_knows() {
        let mut c = summary(2, 1.0, 0.0, vec![point(1, 1.0, 1.0), point(2, 1.0, 1.0)]);
        assert_eq!(
            shared_cores(&c),
            "this machine's 2 cores are shared by the load generator, HAProxy, Redis and every node, so more nodes \
             cannot add capacity here"
        );
        c.hosts = 0;
        c.cores = 0;
        assert!(shared_cores(&c).starts_with("the engine did not list the hosts"));
    }

    #[test]
    fn scale_out_needs_a_core_per_process() {
        assert!(!scale_out_measurable(2, 3));
        assert!(!scale_out_measurable(4, 2));
        assert!(scale_out_measurable(6, 3));
    }
}
