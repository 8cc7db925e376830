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

use authlab_client::{session_cookie, ApiClient as TestClient};
use authlab_core::{
    directory::LOAD_PASSWORD,
    metrics::Metrics,
    redis_client::{RedisClientArgs, RedisStore},
};
use jwt_server::SigningAlgorithm;
use serde_json::json;

use super::{c6_verify::cpu_time, err, median_spread, Experiment, Outcome, RunContext};
use crate::{
    results::{Chart, ChartKind, ClaimVerdict, ExperimentResult, Point, Series, Table, Verdict},
    wrk::{self, WrkResult, WrkRun},
    Cluster, ClusterSpec, LabError, Latency, Stack,
};

pub(super) const USERS: usize = 64;

/// Header lines of `USERS` logged-in load users on `stack`.
pub(super) async fn credentials(
    client: &TestClient,
    cluster: &Cluster,
    stack: Stack,
) -> Result<Vec<String>, LabError> {
    let base = cluster.url(stack, "")?;
    let mut lines = Vec::with_capacity(USERS);
    for i in 0..USERS {
        let response = client
            .login_response(&base, &format!("user{i}"), LOAD_PASSWORD)
            .await;
        if !response.status().is_success() {
            return Err(err(format!(
                "login of user{i} on {stack}: {}",
                response.status()
            )));
        }
        lines.push(match stack {
            Stack::Session => format!(
                "Cookie: {}",
                session_cookie(&response, session_server::COOKIE_NAME)
                    .ok_or_else(|| err("no cookie"))?
            ),
            Stack::Jwt => {
                let body: serde_json::Value = response.json().await.map_err(err)?;
                format!(
                    "Authorization: Bearer {}",
                    body["access_token"]
                        .as_str()
                        .ok_or_else(|| err("no token"))?
                )
            }
        });
    }
    Ok(lines)
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

pub struct ScaleOut;

/// C5's rule, from the median store operations per `/me` request of each
/// stack at the largest node count. `cores` and `store_ceiling` (session
/// requests/s one Redis core can serve, by the model) only go into the caveat.
pub fn c5_verdict(jwt_ops: f64, session_ops: f64, cores: usize, store_ceiling: f64) -> Verdict {
    if jwt_ops > 0.05 {
        Verdict::DoesNotHold(format!(
            "JWT /me made {jwt_ops:.2} store operations per request"
        ))
    } else if session_ops < 0.5 {
        Verdict::DoesNotHold(format!(
            "session /me made only {session_ops:.2} store operations per request"
        ))
    } else {
        // Never plain `Holds`: with every process sharing this machine's few
        // cores, the scale-out itself is a model, not a measurement.
        Verdict::HoldsWithCaveat(format!(
            "measured: JWT /me needs {jwt_ops:.2} store operations per request, session /me {session_ops:.2}; this \
             machine has {cores} cores, so adding nodes cannot add capacity here — the scale-out figures are a \
             model: the store tops out near {store_ceiling:.0} session requests/s on one Redis core"
        ))
    }
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
            let (node_counts, trials, duration): (&[usize], usize, Duration) = if ctx.quick {
                (&[1, 2], 1, Duration::from_secs(2))
            } else {
                (&[1, 2, 3], 3, Duration::from_secs(8))
            };
            let client = TestClient::new();
            let mut samples = Vec::new();
            for &n in node_counts {
                ctx.variant(format!(
                    "{n} node(s) per stack: starting the cluster and logging {USERS} users in"
                ));
                let (cluster, store) = cluster(ctx, n, None, Some(CAPACITY_ALG)).await?;
                let session = credentials(&client, &cluster, Stack::Session).await?;
                let jwt = credentials(&client, &cluster, Stack::Jwt).await?;
                let probe = Probe {
                    cluster: &cluster,
                    store,
                    duration,
                };
                for trial in 0..trials {
                    for (name, stack, path, creds) in [
                        ("ceiling /health", Stack::Session, "/health", &[][..]),
                        ("session /me", Stack::Session, "/me", &session[..]),
                        ("JWT /me", Stack::Jwt, "/me", &jwt[..]),
                    ] {
                        ctx.variant(format!("{n} node(s), trial {}/{trials}: {name}", trial + 1));
                        let mut sample = probe.measure(name, trial, stack, path, creds, 64).await?;
                        sample.variant = format!("{n}|{name}");
                        samples.push(sample);
                    }
                }
                cluster.shutdown();
            }

            let mut table = Table {
                title: format!("Through HAProxy with wrk -t2 -c64 ({} s per run, {trials} interleaved trial(s)); medians, min–max", duration.as_secs()),
                columns: ["nodes", "variant", "req/s", "p50 ms", "p99 ms", "node CPU µs/req", "redis CPU µs/req", "HAProxy CPU µs/req", "store ops/req", "non-2xx"]
                    .map(String::from)
                    .to_vec(),
                rows: Vec::new(),
            };
            let mut series: Vec<Series> = ["ceiling /health", "session /me", "JWT /me"]
                .iter()
                .map(|n| Series {
                    name: n.to_string(),
                    points: Vec::new(),
                })
                .collect();
            let mut generator_bound = Vec::new();
            for &n in node_counts {
                let ceiling = stat(&samples, &format!("{n}|ceiling /health"), &|s| s.wrk.rps).0;
                for (i, name) in ["ceiling /health", "session /me", "JWT /me"]
                    .iter()
                    .enumerate()
                {
                    let key = format!("{n}|{name}");
                    let s = |figure: Figure<'_>| stat(&samples, &key, figure);
                    let rps = s(&|x| x.wrk.rps);
                    if i > 0 && rps.0 >= 0.9 * ceiling {
                        generator_bound.push(format!("{name} at {n} node(s)"));
                    }
                    table.rows.push(vec![
                        n.to_string(),
                        name.to_string(),
                        format!("{:.0} ({:.0}–{:.0})", rps.0, rps.1, rps.2),
                        format!("{:.2}", s(&|x| x.wrk.p50_ms).0),
                        format!("{:.2}", s(&|x| x.wrk.p99_ms).0),
                        format!("{:.1}", s(&|x| x.cpu_us["nodes"]).0),
                        format!("{:.1}", s(&|x| x.cpu_us["redis"]).0),
                        format!("{:.1}", s(&|x| x.cpu_us["haproxy"]).0),
                        format!("{:.2}", s(&|x| x.store_ops_per_request).0),
                        format!("{:.0}", s(&|x| x.wrk.non_2xx as f64).0),
                    ]);
                    series[i].points.push(Point {
                        x: n.to_string(),
                        y: rps.0,
                        low: Some(rps.1),
                        high: Some(rps.2),
                    });
                }
            }

            // The model: per-request CPU costs measured at the largest node count.
            let last = *node_counts.last().unwrap_or(&1);
            let at = |name: &str, f: &dyn Fn(&Sample) -> f64| {
                stat(&samples, &format!("{last}|{name}"), f).0
            };
            let session_node = at("session /me", &|s| s.cpu_us["nodes"]);
            let jwt_node = at("JWT /me", &|s| s.cpu_us["nodes"]);
            let redis_cost = at("session /me", &|s| s.cpu_us["redis"]);
            let session_ops = at("session /me", &|s| s.store_ops_per_request);
            let jwt_ops = at("JWT /me", &|s| s.store_ops_per_request);
            let store_ceiling = if redis_cost > 0.0 {
                1e6 / redis_cost
            } else {
                f64::INFINITY
            };
            let mut model = Table {
                title: "MODEL, not a measurement: projected requests/s with k cores of nodes and one single-threaded Redis, from the per-request CPU costs above".into(),
                columns: ["cores for nodes", "session /me (projected)", "JWT /me (projected)", "what limits the session stack"].map(String::from).to_vec(),
                rows: Vec::new(),
            };
            for k in [2.0, 4.0, 8.0, 16.0, 32.0, 64.0] {
                let session_nodes = if session_node > 0.0 {
                    k * 1e6 / session_node
                } else {
                    0.0
                };
                let jwt = if jwt_node > 0.0 {
                    k * 1e6 / jwt_node
                } else {
                    0.0
                };
                let session = session_nodes.min(store_ceiling);
                model.rows.push(vec![
                    format!("{k:.0}"),
                    format!("{session:.0}"),
                    format!("{jwt:.0}"),
                    if session_nodes > store_ceiling {
                        "the store (one Redis core)".into()
                    } else {
                        "node CPU".into()
                    },
                ]);
            }
            let cores = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1);
            let verdict = c5_verdict(jwt_ops, session_ops, cores, store_ceiling);
            Ok(ExperimentResult {
                id: "c5".into(),
                title: self.title().into(),
                claims: vec!["C5".into()],
                question: "Do JWT nodes scale out with no shared state, and where does the shared session store become the ceiling?".into(),
                setup: format!(
                    "For {} node(s) per stack (1 worker each) behind HAProxy, {USERS} load users logged in per stack; wrk \
                     rotates their credentials. The JWT stack signs with {} (the cheapest verification; c6 gives \
                     the price of the others per request). Per run: wrk's figures, the CPU time of the stack's nodes, redis-server and \
                     HAProxy divided by the requests (from /proc), and the store commands per request (Redis INFO). The \
                     machine has {cores} cores shared by wrk, HAProxy, Redis and every node: more nodes mean more \
                     processes on the same cores. The projection below is a model built from the measured per-request \
                     costs, labelled as such.",
                    node_counts.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", "),
                    CAPACITY_ALG.name()
                ),
                verdicts: vec![ClaimVerdict {
                    claim: "C5".into(),
                    verdict,
                    rule: "holds with a caveat when JWT /me makes at most 0.05 store operations per request and session /me \
                           at least 0.5 (the caveat: the scale-out itself is reported as a model, since every process shares \
                           this machine's cores); does not hold otherwise. A run whose /me throughput reaches 90% of the \
                           /health ceiling is listed as generator-bound in the evidence; that does not change the verdict."
                        .into(),
                    evidence: format!(
                        "store ops per request: session {session_ops:.2}, JWT {jwt_ops:.2}; node CPU per request: session \
                         {session_node:.1} µs, JWT {jwt_node:.1} µs; Redis CPU per session request {redis_cost:.1} µs; \
                         generator-bound runs: {}",
                        if generator_bound.is_empty() { "none".into() } else { generator_bound.join(", ") }
                    ),
                }],
                tables: vec![table, model],
                chart: Some(Chart {
                    title: "Requests/s through HAProxy by nodes per stack (this 2-core machine)".into(),
                    kind: ChartKind::Lines,
                    x_label: "nodes per stack".into(),
                    y_label: "requests/s".into(),
                    series,
                }),
                lesson: format!(
                    "Every session request costs the shared store one operation ({redis_cost:.0} µs of Redis CPU here), every \
                     JWT request none. On a laptop that does not matter: the nodes are the bottleneck. It matters when nodes \
                     are many: by this model one Redis core serves about {store_ceiling:.0} session requests/s, which {} \
                     cores of session nodes already reach, while JWT nodes keep scaling until something else (the proxy) limits them.",
                    if session_node > 0.0 { format!("{:.0}", store_ceiling * session_node / 1e6) } else { "?".into() }
                ),
                raw: json!({ "samples": samples, "model": { "session_node_cpu_us": session_node, "jwt_node_cpu_us": jwt_node, "redis_cpu_us": redis_cost } }),
                seconds: started.elapsed().as_secs_f64(),
                error: None,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c5_rule() {
        assert!(matches!(
            c5_verdict(0.0, 1.0, 2, 50_000.0),
            Verdict::HoldsWithCaveat(_)
        ));
        assert!(matches!(
            c5_verdict(0.05, 0.5, 2, 50_000.0),
            Verdict::HoldsWithCaveat(_)
        ));
        assert_eq!(
            c5_verdict(0.06, 1.0, 2, 50_000.0),
            Verdict::DoesNotHold("JWT /me made 0.06 store operations per request".into())
        );
        assert_eq!(
            c5_verdict(0.0, 0.49, 2, 50_000.0),
            Verdict::DoesNotHold("session /me made only 0.49 store operations per request".into())
        );
        // A JWT stack that calls the store fails the claim whatever the sessions do.
        assert!(matches!(
            c5_verdict(1.0, 0.0, 2, 50_000.0),
            Verdict::DoesNotHold(n) if n.starts_with("JWT")
        ));
    }
}
