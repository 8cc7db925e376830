//! c5 — what the shared store does to capacity, and the wrk probe c4 shares.
//!
//! Both experiments drive wrk through HAProxy with the credentials of many logged-in
//! users, interleave the variants they compare, and record per variant:
//! wrk's throughput and latency percentiles, the CPU time every process of the
//! cluster spent per request (from /proc, before and after: the cost of a
//! request that does not depend on the load generator), and the store
//! operations per request (Redis `total_commands_processed` delta). The
//! `/health` ceiling through the same path tells when a comparison is
//! generator- or proxy-bound.

use std::{collections::BTreeMap, time::Duration, time::Instant};

use authlab_client::ApiClient;
use authlab_core::{
    metrics::Metrics,
    redis_client::{RedisClientArgs, RedisStore},
};
use jwt_server::{RevocationMode, SigningAlgorithm};
use serde_json::json;

use super::{
    c6_verify::cpu_time,
    err, load_check, median_spread,
    schedule::{self, Trials},
    Experiment, Outcome, RunContext,
};
use crate::{
    experiments::logins::{log_in_load_users, LoadCredential},
    results::{Chart, ChartKind, ClaimVerdict, ExperimentResult, Point, Series, Table, Verdict},
    summaries::{CapacityPoint, CapacitySummary, Spread, Summary},
    wrk::{self, WrkResult, WrkRun},
    Cluster, ClusterSpec, LabError, Latency, Stack,
};

pub(super) const USERS: usize = 64;

/// Header lines of `USERS` logged-in load users on `stack`.
pub(super) async fn credentials(
    client: &ApiClient,
    cluster: &Cluster,
    stack: Stack,
) -> Result<Vec<String>, LabError> {
    Ok(log_in_load_users(client, cluster, stack, USERS)
        .await?
        .into_iter()
        .map(|credential| match credential {
            LoadCredential::Cookie(pair) => format!("Cookie: {pair}"),
            LoadCredential::Token(token) => format!("Authorization: Bearer {token}"),
        })
        .collect())
}

/// One wrk run with the cluster's CPU and store-command accounting around it.
#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct Sample {
    pub variant: String,
    trial: usize,
    pub wrk: WrkResult,
    /// CPU µs per request: `nodes` (the stack's nodes), `redis`, `haproxy`.
    pub cpu_us: BTreeMap<&'static str, f64>,
    pub store_ops_per_request: f64,
}

async fn commands_processed(store: &RedisStore) -> u64 {
    let info: String = store
        .run(redis::cmd("INFO").arg("stats"))
        .await
        .unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

pub(super) struct Probe<'a> {
    pub cluster: &'a Cluster,
    pub store: RedisStore,
    pub duration: Duration,
}

impl Probe<'_> {
    pub async fn measure(
        &self,
        variant: &str,
        trial: usize,
        stack: Stack,
        path: &str,
        creds: &[String],
        connections: u32,
    ) -> Result<Sample, LabError> {
        let url = self.cluster.url(stack, path)?;
        let node_pids: Vec<u32> = self
            .cluster
            .nodes(stack)
            .iter()
            .filter_map(|n| n.pid())
            .collect();
        let (redis_pid, haproxy_pid) = (
            self.cluster.store_pid().unwrap_or(0),
            self.cluster.haproxy_pid().unwrap_or(0),
        );
        let cpu = |pids: &[u32]| pids.iter().map(|p| cpu_time(*p)).sum::<Duration>();
        let before = (
            cpu(&node_pids),
            cpu_time(redis_pid),
            cpu_time(haproxy_pid),
            commands_processed(&self.store).await,
        );
        let (creds, duration) = (creds.to_vec(), self.duration);
        let result = tokio::task::spawn_blocking(move || {
            wrk::run(&WrkRun {
                url: &url,
                credentials: &creds,
                threads: 2,
                connections,
                duration,
            })
        })
        .await
        .map_err(err)??;
        load_check::check(
            &format!("{variant} (wrk, {stack} {path})"),
            load_check::Answers {
                requests: result.requests,
                non_2xx: result.non_2xx,
                socket_errors: result.socket_errors,
            },
        )?;
        let after = (
            cpu(&node_pids),
            cpu_time(redis_pid),
            cpu_time(haproxy_pid),
            commands_processed(&self.store).await,
        );
        let per = |d: Duration| d.as_secs_f64() * 1e6 / result.requests.max(1) as f64;
        // Our own INFO calls are two of the counted commands.
        let store_ops = after.3.saturating_sub(before.3).saturating_sub(2) as f64
            / result.requests.max(1) as f64;
        Ok(Sample {
            variant: variant.into(),
            trial,
            cpu_us: BTreeMap::from([
                ("nodes", per(after.0.saturating_sub(before.0))),
                ("redis", per(after.1.saturating_sub(before.1))),
                ("haproxy", per(after.2.saturating_sub(before.2))),
            ]),
            store_ops_per_request: store_ops,
            wrk: result,
        })
    }
}

/// A sample that belongs to one variant of an experiment.
pub(super) trait OfVariant {
    fn variant(&self) -> &str;
}

impl OfVariant for Sample {
    fn variant(&self) -> &str {
        &self.variant
    }
}

/// A figure of one variant's samples: an accessor, read back as (median, min, max).
pub(super) type Figure<'f, S = Sample> = &'f dyn Fn(&S) -> f64;

/// The median, min and max of a figure over the samples of one variant.
pub(super) fn stat<S: OfVariant>(
    samples: &[S],
    variant: &str,
    figure: Figure<'_, S>,
) -> (f64, f64, f64) {
    let values: Vec<f64> = samples
        .iter()
        .filter(|s| s.variant() == variant)
        .map(figure)
        .collect();
    median_spread(&values)
}

/// A cluster of `nodes` per stack with the load users seeded, and a client
/// of its session store for the command counts. `alg` overrides the JWT
/// stack's signing algorithm.
pub(super) async fn cluster(
    ctx: &RunContext,
    nodes: usize,
    latency: Option<Latency>,
    alg: Option<SigningAlgorithm>,
) -> Result<(Cluster, RedisStore), LabError> {
    let mut spec = ClusterSpec::new(ctx.launcher.clone());
    spec.nodes = nodes;
    if let Some(alg) = alg {
        spec.alg = alg;
    }
    spec.seed_users = USERS;
    spec.store_latency = latency;
    let cluster = Cluster::start(spec).await?;
    let store = probe_store("session store", &cluster.store_url(0))?;
    Ok((cluster, store))
}

/// A client of the store at `url` for the lab's own probes (INFO, PING),
/// with the server's default client settings.
pub(super) fn probe_store(name: &'static str, url: &str) -> Result<RedisStore, LabError> {
    let metrics = Metrics::new("probe").map_err(err)?;
    RedisStore::new(
        name,
        url,
        &RedisClientArgs::default(),
        metrics.store("probe"),
    )
    .map_err(err)
}

/// The JWT stack's algorithm in c4 and c5: HS256, the cheapest
/// verification (see c6), so the JWT side shows what having no shared state
/// is worth rather than what a signature costs; c6 puts the asymmetric
/// algorithms' price next to it.
pub(super) const CAPACITY_ALG: SigningAlgorithm = SigningAlgorithm::Hs256;

/// The three runs c5 makes on each cluster.
const PROBES: [(&str, Stack, &str); 3] = [
    ("ceiling /health", Stack::Session, "/health"),
    ("session /me", Stack::Session, "/me"),
    ("JWT /me", Stack::Jwt, "/me"),
];

const SCALE_TRIALS: Trials = Trials::new(1, 3);

pub struct ScaleOut {
    /// The JWT stack's revocation mode: `None`, except in the test that
    /// gives it a store lookup per request to see the verdict turn.
    pub jwt_revocation: RevocationMode,
}

impl Default for ScaleOut {
    fn default() -> Self {
        Self {
            jwt_revocation: RevocationMode::None,
        }
    }
}

/// Whether `cores` can run `nodes` nodes as more capacity: each node, HAProxy,
/// Redis and the load generator need a core of their own.
pub fn scale_out_measurable(cores: usize, nodes: usize) -> bool {
    cores >= nodes + 3
}

/// C5's rule, from the summary of the run.
pub fn c5_verdict(c: &CapacitySummary) -> Verdict {
    let (Some(first), Some(last)) = (c.points.first(), c.points.last()) else {
        return Verdict::NotMeasured("no node count was measured".into());
    };
    if c.points.len() < 2 {
        return Verdict::NotMeasured("only one node count was measured".into());
    }
    let trend = |f: fn(&CapacityPoint) -> Spread| {
        c.points
            .iter()
            .map(|p| format!("{:.0}", f(p).median))
            .collect::<Vec<_>>()
            .join(" → ")
    };
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
    } else if last.jwt_rps.below(&last.session_rps) {
        Verdict::DoesNotHold(format!(
            "at {} nodes JWT /me served fewer requests/s than session /me in every trial ({} vs {})",
            last.nodes, last.jwt_rps, last.session_rps
        ))
    } else if !c.scale_out_measured {
        Verdict::HoldsWithCaveat(format!(
            "JWT /me needs no store operation ({:.2} per request; session /me {:.2}), but this machine's {} cores are \
             shared by the load generator, HAProxy, Redis and every node, so more nodes cannot add capacity here: \
             JWT /me went {} req/s and session /me {} req/s over {} nodes. The scale-out beyond is c5's model",
            c.jwt_store_ops,
            c.session_store_ops,
            c.cores,
            trend(|p| p.jwt_rps),
            trend(|p| p.session_rps),
            c.points.iter().map(|p| p.nodes.to_string()).collect::<Vec<_>>().join(", ")
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

const C5_RULE: &str = "not measured with fewer than two node counts. Does not hold when JWT /me makes more than 0.05 \
    store operations per request, when session /me makes fewer than 0.5, or when at the largest node count JWT /me \
    served fewer requests/s than session /me in every trial. Otherwise, on a machine without a core for every node, \
    HAProxy, Redis and the load generator, it holds with a caveat (the scale-out is a model there); with those cores, \
    it holds when JWT /me throughput grows at least 75% as fast as the node count, and does not hold otherwise.";

/// The per-request model (nodes' and Redis' CPU per request) projected to
/// more cores.
fn model_table(c: &CapacitySummary) -> Table {
    let store_ceiling = if c.redis_cpu_us > 0.0 {
        1e6 / c.redis_cpu_us
    } else {
        f64::INFINITY
    };
    let mut model = Table {
        title: "MODEL, not a measurement: projected requests/s with k cores of nodes and one single-threaded Redis, \
                from the per-request CPU costs measured at the largest node count"
            .into(),
        columns: ["cores for nodes", "session /me (projected)", "JWT /me (projected)", "what limits the session stack"]
            .map(String::from)
            .to_vec(),
        rows: Vec::new(),
    };
    for k in [2.0, 4.0, 8.0, 16.0, 32.0, 64.0] {
        let per = |us: f64| if us > 0.0 { k * 1e6 / us } else { 0.0 };
        let session_nodes = per(c.session_node_cpu_us);
        model.rows.push(vec![
            format!("{k:.0}"),
            format!("{:.0}", session_nodes.min(store_ceiling)),
            format!("{:.0}", per(c.jwt_node_cpu_us)),
            if session_nodes > store_ceiling {
                "the store (one Redis core)".into()
            } else {
                "node CPU".into()
            },
        ]);
    }
    model
}

fn c5_lesson(c: &CapacitySummary) -> String {
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
    if !c.scale_out_measured {
        lesson.push_str(&format!(
            " On this {}-core machine more nodes only share the same cores, so the measured throughput says nothing \
             about scaling out.",
            c.cores
        ));
    }
    lesson
}

impl Experiment for ScaleOut {
    fn id(&self) -> &'static str {
        "c5"
    }

    fn title(&self) -> &'static str {
        "Scaling out: throughput, CPU per request and store operations per request"
    }

    fn claims(&self) -> &'static [&'static str] {
        &["C5"]
    }

    fn estimate(&self, quick: bool) -> Duration {
        Duration::from_secs(if quick { 25 } else { 150 })
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> Outcome<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let (node_counts, duration): (&[usize], Duration) = if ctx.quick {
                (&[1, 2], Duration::from_secs(2))
            } else {
                (&[1, 2, 3], Duration::from_secs(8))
            };
            let trials = SCALE_TRIALS.count(ctx.quick);
            let client = ApiClient::new();
            // A fresh cluster per node count and trial; the three probes on
            // it run in an order that rotates with the trial too.
            let measured = schedule::run(
                ctx,
                node_counts,
                trials,
                |n| format!("{n} node(s) per stack: cluster, {USERS} logins, three wrk runs"),
                async |&n, trial| {
                    let mut spec = ClusterSpec::new(ctx.launcher.clone());
                    spec.nodes = n;
                    spec.alg = CAPACITY_ALG;
                    spec.revocation = self.jwt_revocation;
                    spec.seed_users = USERS;
                    let cluster = Cluster::start(spec).await?;
                    let store = probe_store("session store", &cluster.store_url(0))?;
                    let probe = Probe {
                        cluster: &cluster,
                        store,
                        duration,
                    };
                    let mut samples = Vec::new();
                    for index in schedule::order(PROBES.len(), trial) {
                        let (name, stack, path) = PROBES[index];
                        // Logged in just before its run: a credential never
                        // expires inside a run.
                        let creds = match path {
                            "/health" => Vec::new(),
                            _ => credentials(&client, &cluster, stack).await?,
                        };
                        let mut sample =
                            probe.measure(name, trial, stack, path, &creds, 64).await?;
                        sample.variant = format!("{n}|{name}");
                        samples.push(sample);
                    }
                    cluster.shutdown();
                    Ok(samples)
                },
            )
            .await?;
            let samples: Vec<Sample> = measured.into_iter().flat_map(|m| m.value).collect();

            let mut table = Table {
                title: format!(
                    "Through HAProxy with wrk -t2 -c64 ({} s per run, {trials} interleaved trial(s)); medians, min–max. \
                     \"generator-bound\": /me reached 90% of the /health ceiling of the same trials",
                    duration.as_secs()
                ),
                columns: ["nodes", "variant", "req/s", "p50 ms", "p99 ms", "node CPU µs/req", "redis CPU µs/req", "HAProxy CPU µs/req", "store ops/req", "non-2xx", "generator-bound"]
                    .map(String::from)
                    .to_vec(),
                rows: Vec::new(),
            };
            let mut series: Vec<Series> = PROBES
                .iter()
                .map(|(name, _, _)| Series {
                    name: name.to_string(),
                    points: Vec::new(),
                })
                .collect();
            let rps_of = |key: &str| {
                let (median, min, max) = stat(&samples, key, &|s: &Sample| s.wrk.rps);
                Spread { median, min, max }
            };
            let mut points = Vec::new();
            for &n in node_counts {
                let ceiling = rps_of(&format!("{n}|ceiling /health"));
                for (i, (name, _, _)) in PROBES.iter().enumerate() {
                    let key = format!("{n}|{name}");
                    let s = |figure: Figure<'_>| stat(&samples, &key, figure);
                    let rps = rps_of(&key);
                    let bound = i > 0 && rps.median >= 0.9 * ceiling.median;
                    table.rows.push(vec![
                        n.to_string(),
                        name.to_string(),
                        rps.to_string(),
                        format!("{:.2}", s(&|x| x.wrk.p50_ms).0),
                        format!("{:.2}", s(&|x| x.wrk.p99_ms).0),
                        format!("{:.1}", s(&|x| x.cpu_us["nodes"]).0),
                        format!("{:.1}", s(&|x| x.cpu_us["redis"]).0),
                        format!("{:.1}", s(&|x| x.cpu_us["haproxy"]).0),
                        format!("{:.2}", s(&|x| x.store_ops_per_request).0),
                        format!("{:.0}", s(&|x| x.wrk.non_2xx as f64).0),
                        if i == 0 {
                            "—".into()
                        } else if bound {
                            "yes".into()
                        } else {
                            "no".into()
                        },
                    ]);
                    series[i].points.push(Point {
                        x: n.to_string(),
                        y: rps.median,
                        low: Some(rps.min),
                        high: Some(rps.max),
                    });
                }
                points.push(CapacityPoint {
                    nodes: n,
                    ceiling_rps: ceiling,
                    session_rps: rps_of(&format!("{n}|session /me")),
                    jwt_rps: rps_of(&format!("{n}|JWT /me")),
                });
            }

            // Per-request costs at the largest node count: the model's input.
            let last = *node_counts.last().unwrap_or(&1);
            let at = |name: &str, f: &dyn Fn(&Sample) -> f64| {
                stat(&samples, &format!("{last}|{name}"), f).0
            };
            let cores = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1);
            let summary = CapacitySummary {
                cores,
                scale_out_measured: scale_out_measurable(cores, last),
                session_node_cpu_us: at("session /me", &|s| s.cpu_us["nodes"]),
                jwt_node_cpu_us: at("JWT /me", &|s| s.cpu_us["nodes"]),
                redis_cpu_us: at("session /me", &|s| s.cpu_us["redis"]),
                session_store_ops: at("session /me", &|s| s.store_ops_per_request),
                jwt_store_ops: at("JWT /me", &|s| s.store_ops_per_request),
                points,
            };
            let verdict = c5_verdict(&summary);
            Ok(ExperimentResult {
                id: "c5".into(),
                title: self.title().into(),
                claims: vec!["C5".into()],
                question: "Do JWT nodes scale out with no shared state, and where does the shared session store become the ceiling?".into(),
                setup: format!(
                    "For {} node(s) per stack (1 worker each) behind HAProxy, a fresh cluster per node count and trial, \
                     {USERS} load users logged in per stack just before each run; wrk rotates their credentials. The \
                     JWT stack signs with {} (the cheapest verification; c6 prices the others) and revocation \
                     {:?}. Per run: wrk's figures, the CPU time of the stack's nodes, redis-server and HAProxy divided \
                     by the requests (from /proc), and the store commands per request (Redis INFO). A run with more \
                     than {:.1}% errors is refused. This machine has {cores} cores, shared by wrk, HAProxy, Redis and \
                     every node. The projection is a model built from the measured per-request costs, labelled as such.",
                    node_counts.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", "),
                    CAPACITY_ALG.name(),
                    self.jwt_revocation,
                    load_check::MAX_ERROR_SHARE * 100.0,
                ),
                verdicts: vec![ClaimVerdict {
                    headline: String::new(),
                    by_design: None,
                    claim: "C5".into(),
                    verdict,
                    rule: C5_RULE.into(),
                    evidence: format!(
                        "store ops per request: session {:.2}, JWT {:.2}; node CPU per request: session {:.1} µs, JWT \
                         {:.1} µs; Redis CPU per session request {:.1} µs; req/s per node count (session / JWT): {}",
                        summary.session_store_ops,
                        summary.jwt_store_ops,
                        summary.session_node_cpu_us,
                        summary.jwt_node_cpu_us,
                        summary.redis_cpu_us,
                        summary
                            .points
                            .iter()
                            .map(|p| format!("{}: {} / {}", p.nodes, p.session_rps, p.jwt_rps))
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                }],
                tables: vec![table, model_table(&summary)],
                chart: Some(Chart {
                    title: format!("Requests/s through HAProxy by nodes per stack ({cores}-core machine)"),
                    kind: ChartKind::Lines,
                    x_label: "nodes per stack".into(),
                    y_label: "requests/s".into(),
                    series,
                }),
                lesson: c5_lesson(&summary),
                summary: Some(Summary::Capacity(summary)),
                raw: json!({ "samples": samples }),
                seconds: started.elapsed().as_secs_f64(),
                error: None,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(nodes: usize, session: f64, jwt: f64) -> CapacityPoint {
        let spread = |m: f64| Spread {
            median: m,
            min: m * 0.95,
            max: m * 1.05,
        };
        CapacityPoint {
            nodes,
            ceiling_rps: spread(150_000.0),
            session_rps: spread(session),
            jwt_rps: spread(jwt),
        }
    }

    fn summary(
        cores: usize,
        session_ops: f64,
        jwt_ops: f64,
        points: Vec<CapacityPoint>,
    ) -> CapacitySummary {
        CapacitySummary {
            cores,
            scale_out_measured: scale_out_measurable(cores, points.last().map_or(1, |p| p.nodes)),
            session_node_cpu_us: 18.0,
            jwt_node_cpu_us: 12.0,
            redis_cpu_us: 4.0,
            session_store_ops: session_ops,
            jwt_store_ops: jwt_ops,
            points,
        }
    }

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
        // Enough cores, JWT grows with the nodes.
        let big = summary(
            8,
            1.0,
            0.0,
            vec![point(1, 30_000.0, 40_000.0), point(3, 60_000.0, 110_000.0)],
        );
        assert_eq!(c5_verdict(&big), Verdict::Holds);
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
        // A broken set-up: the JWT stack asks the store on every request.
        let stateful = summary(2, 1.0, 1.0, here.points.clone());
        assert!(
            matches!(c5_verdict(&stateful), Verdict::DoesNotHold(m) if m.starts_with("JWT /me made 1.00"))
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
    }

    #[test]
    fn scale_out_needs_a_core_per_process() {
        assert!(!scale_out_measurable(2, 3));
        assert!(!scale_out_measurable(4, 2));
        assert!(scale_out_measurable(6, 3));
    }
}
