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

use crate::experiment::Outcome;
use crate::experiment::RunContext;
use crate::experiment::Runnable;
use crate::kit::cpu::cpu_time;
use crate::kit::err;
use crate::kit::load_check;
use crate::kit::schedule::{self, Trials};
use crate::kit::stats::median_spread;
use crate::{
    kit::logins::{log_in_load_users, LoadCredential},
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
            "JWT /me needs no store operation ({:.2} per request; session /me {:.2}), but this machine's {} cores are \
             shared by the load generator, HAProxy, Redis and every node, so more nodes cannot add capacity here: \
             JWT /me went {} req/s and session /me {} req/s over {} nodes. The scale-out beyond is c5's model",
            c.jwt_store_ops,
            c.session_store_ops,
            c.cores,
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

const C5_RULE: &str = "not measured with fewer than two node counts. Does not hold when JWT /me makes more than 0.05 \
    store operations per request, when session /me makes fewer than 0.5, or when at the largest node count JWT /me \
    served fewer requests/s than session /me in every trial without being generator-bound. Otherwise, on a machine \
    without a core for every node, HAProxy, Redis and the load generator, it holds with a caveat (the scale-out is a \
    model there); with those cores, it is inconclusive when a JWT /me run at the smallest or largest node count was \
    generator-bound (90% of the /health ceiling: not capacity), holds when JWT /me throughput grows at least 75% as \
    fast as the node count, and does not hold otherwise.";

/// A kind of process every request of a stack passes through, in c5's model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tier {
    pub name: &'static str,
    /// Measured CPU per request (µs).
    pub cpu_us: f64,
    /// Redis executes commands on one thread: a second core does not make it
    /// faster. `None`: the tier uses every core it gets (node processes,
    /// HAProxy's threads).
    pub max_cores: Option<usize>,
}

/// What a stack passes with a number of whole cores for its request path.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub rps: f64,
    /// Whole cores per tier, in the order of the tiers.
    pub cores: Vec<usize>,
    /// The slowest tier: its pass rate is the projection.
    pub limit: &'static str,
    /// Cores no tier could use, because the slowest one cannot take more.
    pub idle: usize,
}

/// The most requests/s `tiers` pass with `cores` whole cores between them:
/// every tier gets a core, then each further core goes to the tier that
/// passes the fewest requests/s, until the cores run out or that tier cannot
/// use another (one Redis). The projection is the slowest tier's pass rate,
/// never more. `None` with fewer cores than tiers, or a tier without a
/// measured cost.
pub fn project(tiers: &[Tier], cores: usize) -> Option<Projection> {
    if tiers.is_empty() || cores < tiers.len() || tiers.iter().any(|t| t.cpu_us <= 0.0) {
        return None;
    }
    let pass = |i: usize, n: usize| n as f64 * 1e6 / tiers[i].cpu_us;
    let mut given = vec![1; tiers.len()];
    let mut left = cores - tiers.len();
    loop {
        let slowest = (0..tiers.len())
            .min_by(|&a, &b| pass(a, given[a]).total_cmp(&pass(b, given[b])))
            .unwrap_or(0);
        let full = tiers[slowest]
            .max_cores
            .is_some_and(|most| given[slowest] >= most);
        if left == 0 || full {
            return Some(Projection {
                rps: pass(slowest, given[slowest]),
                limit: tiers[slowest].name,
                cores: given,
                idle: left,
            });
        }
        given[slowest] += 1;
        left -= 1;
    }
}

const HAPROXY: &str = "HAProxy";
const NODES: &str = "the nodes";
const STORE: &str = "the store (one Redis core)";

/// Each stack's request path as c5 measured it at the largest node count:
/// HAProxy (when recorded), the nodes, and for sessions one Redis.
pub fn model_tiers(c: &CapacitySummary) -> (Vec<Tier>, Vec<Tier>) {
    let tier = |name, cpu_us, max_cores| Tier {
        name,
        cpu_us,
        max_cores,
    };
    let (mut session, mut jwt) = (Vec::new(), Vec::new());
    if let Some((session_haproxy, jwt_haproxy)) = c.haproxy_cpu_us() {
        session.push(tier(HAPROXY, session_haproxy, None));
        jwt.push(tier(HAPROXY, jwt_haproxy, None));
    }
    session.push(tier(NODES, c.session_node_cpu_us, None));
    session.push(tier(STORE, c.redis_cpu_us, Some(1)));
    jwt.push(tier(NODES, c.jwt_node_cpu_us, None));
    (session, jwt)
}

/// Core counts the model projects to.
const MODEL_CORES: [usize; 5] = [4, 8, 16, 32, 64];

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
fn model_table(c: &CapacitySummary) -> Table {
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

impl Runnable for ScaleOut {
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
        Duration::from_secs(if quick { 15 } else { 235 })
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
                    let bound = i > 0 && generator_bound(&rps, &ceiling);
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
                let (session_rps, jwt_rps) = (
                    rps_of(&format!("{n}|session /me")),
                    rps_of(&format!("{n}|JWT /me")),
                );
                let haproxy_of = |name: &str| {
                    stat(&samples, &format!("{n}|{name}"), &|s: &Sample| {
                        s.cpu_us["haproxy"]
                    })
                    .0
                };
                points.push(CapacityPoint {
                    nodes: n,
                    ceiling_rps: ceiling,
                    session_generator_bound: generator_bound(&session_rps, &ceiling),
                    jwt_generator_bound: generator_bound(&jwt_rps, &ceiling),
                    session_rps,
                    jwt_rps,
                    session_haproxy_cpu_us: haproxy_of("session /me"),
                    jwt_haproxy_cpu_us: haproxy_of("JWT /me"),
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
            let headline = c5_headline(&summary);
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
                     every node. A /me run that reaches 90% of the same node count's /health ceiling is flagged generator-bound: \
                     its req/s is a lower bound, not the stack's capacity. The projection is a model built from the \
                     measured CPU per request of every process on the path (HAProxy, the nodes, Redis for sessions), \
                     labelled as such.",
                    node_counts.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", "),
                    CAPACITY_ALG.name(),
                    self.jwt_revocation,
                    load_check::MAX_ERROR_SHARE * 100.0,
                ),
                verdicts: vec![ClaimVerdict {
                    headline,
                    by_design: None,
                    claim: "C5".into(),
                    verdict,
                    rule: C5_RULE.into(),
                    evidence: format!(
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

    #[test]
    fn scale_out_needs_a_core_per_process() {
        assert!(!scale_out_measurable(2, 3));
        assert!(!scale_out_measurable(4, 2));
        assert!(scale_out_measurable(6, 3));
    }

    fn tier(name: &'static str, cpu_us: f64, max_cores: Option<usize>) -> Tier {
        Tier {
            name,
            cpu_us,
            max_cores,
        }
    }

    /// The sample run's defect: JWT nodes at 19.6 µs projected 3.26 M req/s
    /// on 64 cores of nodes, leaving out HAProxy at 22.6 µs per request,
    /// which would have needed ~68 more cores.
    #[test]
    fn haproxy_is_a_tier_and_can_be_the_limit() {
        let jwt = [tier(HAPROXY, 22.6, None), tier(NODES, 19.6, None)];
        let p = project(&jwt, 64).unwrap();
        assert_eq!(p.cores, vec![34, 30]);
        assert_eq!(p.limit, HAPROXY);
        assert!((p.rps - 34e6 / 22.6).abs() < 1.0);
        assert!(p.rps < 64e6 / 19.6 / 2.0);
        // The projection never exceeds what any tier passes with its cores.
        for cores in [2, 3, 4, 8, 16, 32, 64] {
            let p = project(&jwt, cores).unwrap();
            assert_eq!(p.cores.iter().sum::<usize>() + p.idle, cores);
            for (t, n) in jwt.iter().zip(&p.cores) {
                assert!(p.rps <= *n as f64 * 1e6 / t.cpu_us + 1e-6, "{cores}: {p:?}");
            }
        }
        // A load balancer four times as dear as a node: most cores go to it.
        let heavy = project(&[tier(HAPROXY, 80.0, None), tier(NODES, 20.0, None)], 10).unwrap();
        assert_eq!((heavy.cores.clone(), heavy.limit), (vec![8, 2], HAPROXY));
        assert!((heavy.rps - 100_000.0).abs() < 1e-6);
    }

    #[test]
    fn one_redis_caps_the_session_stack_and_leaves_cores_idle() {
        let session = [
            tier(HAPROXY, 21.2, None),
            tier(NODES, 30.0, None),
            tier(STORE, 6.3, Some(1)),
        ];
        let p = project(&session, 64).unwrap();
        assert_eq!(p.limit, STORE);
        assert_eq!(p.cores[2], 1);
        assert!((p.rps - 1e6 / 6.3).abs() < 1.0);
        assert_eq!(p.cores, vec![4, 5, 1]);
        assert_eq!(p.idle, 54);
        // Few cores: the nodes or HAProxy, not the store, limit.
        let small = project(&session, 4).unwrap();
        assert_eq!(small.cores, vec![1, 2, 1]);
        assert_eq!(small.limit, HAPROXY);
        assert_eq!(project(&session, 2), None);
        assert_eq!(project(&[tier(NODES, 0.0, None)], 4), None);
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
