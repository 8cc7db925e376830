//! c6 — is checking a signature faster than asking the session store?
//!
//! Two questions, two measurements, both inside one process so nothing but
//! the operation is timed:
//!
//! * **waiting time**, in isolation: one operation at a time, wall time per
//!   operation: `TokenService::verify` (the server's full check) per
//!   algorithm, against one `GETEX` on a loopback Redis through the server's
//!   own client;
//! * **CPU**, under load: the machine kept busy for a while: verification on
//!   one thread per core, lookups many at a time over the multiplexed
//!   connection; CPU time per operation (this process, plus the redis-server
//!   process for lookups), read from /proc.
//!
//! A loopback round trip wanders by a factor of two or more between runs on
//! the same machine, so nothing is compared across trials: every trial
//! measures the lookup beside the verifications (the scheduler rotates their
//! order), each algorithm is judged by its ratio to the lookup *of the same
//! trial*, and a ratio that falls on both sides of 1 is reported as noise
//! rather than as a side.

use std::time::{Duration, Instant};

use authlab_core::{
    directory::User,
    metrics::Metrics,
    redis_client::{RedisClientArgs, RedisStore},
};
use jwt_server::{
    keys::{KeySet, KeySetFile},
    tokens::{TokenService, TokenSettings},
    SigningAlgorithm,
};
use serde_json::json;
use supervise::RedisServer;

use crate::experiment::Outcome;
use crate::experiment::RunContext;
use crate::experiment::Runnable;
use crate::kit::cpu::cpu_time;
use crate::kit::err;
use crate::kit::schedule::{self, Trials};
use crate::kit::stats::{per_trial_ratios, Comparison, Versus};
use crate::{
    results::{Chart, ChartKind, ClaimVerdict, ExperimentResult, Point, Series, Table, Verdict},
    summaries::Spread,
    LabError,
};

mod connection_cost;

pub struct VerifyCost;

/// A trial costs milliseconds in isolation, so even quick mode runs enough
/// of them for noise to show as a spread instead of a verdict.
const ISOLATED_TRIALS: Trials = Trials::new(7, 15);
/// A trial under load keeps the machine busy for `load_for` per variant.
const LOADED_TRIALS: Trials = Trials::new(3, 5);
const CONCURRENT_LOOKUPS: usize = 64;
const SESSION_BYTES: usize = 180;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dimension {
    Waiting,
    Cpu,
}

impl Dimension {
    const BOTH: [Dimension; 2] = [Dimension::Waiting, Dimension::Cpu];

    fn label(self) -> &'static str {
        match self {
            Dimension::Waiting => "waiting time",
            Dimension::Cpu => "CPU",
        }
    }
}

/// One algorithm against the lookup, in both dimensions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judged<'a> {
    pub alg: &'a str,
    /// Isolated wall time.
    pub waiting: Option<Comparison>,
    /// CPU per operation under load.
    pub cpu: Option<Comparison>,
}

impl Judged<'_> {
    fn get(&self, dimension: Dimension) -> Option<Comparison> {
        match dimension {
            Dimension::Waiting => self.waiting,
            Dimension::Cpu => self.cpu,
        }
    }

    fn faster_in(&self, dimension: Dimension) -> bool {
        self.get(dimension)
            .is_some_and(|c| c.versus == Versus::Faster)
    }
}

/// `0.49x (0.36–1.48x)`: the median ratio over trials and its range.
fn times(ratio: &Spread) -> String {
    if (ratio.max - ratio.min).abs() < 0.005 {
        format!("{:.2}x", ratio.median)
    } else {
        format!("{:.2}x ({:.2}–{:.2}x)", ratio.median, ratio.min, ratio.max)
    }
}

/// `ratio 0.49x, 0.36–1.48x across trials`: [`times`] inside a sentence.
fn ratio_note(ratio: &Spread) -> String {
    if (ratio.max - ratio.min).abs() < 0.005 {
        format!("ratio {:.2}x in every trial", ratio.median)
    } else {
        format!(
            "ratio {:.2}x, {:.2}–{:.2}x across trials",
            ratio.median, ratio.min, ratio.max
        )
    }
}

/// `35.7 (33.9–38.2)` µs.
fn micros(spread: &Spread) -> String {
    if (spread.max - spread.min).abs() < 0.05 {
        format!("{:.1}", spread.median)
    } else {
        format!("{:.1} ({:.1}–{:.1})", spread.median, spread.min, spread.max)
    }
}

/// What every algorithm did in one dimension, for the verdict's note.
fn dimension_note(judged: &[Judged], dimension: Dimension) -> String {
    if judged.iter().all(|j| j.faster_in(dimension)) {
        return format!(
            "{}: every algorithm cost less than one lookup in every trial",
            dimension.label()
        );
    }
    let parts: Vec<String> = judged
        .iter()
        .filter_map(|j| match j.get(dimension) {
            Some(Comparison {
                versus: Versus::Faster,
                ..
            }) => None,
            Some(Comparison {
                versus: Versus::Slower,
                ratio,
            }) => Some(format!(
                "{} costs more than one lookup in every trial ({})",
                j.alg,
                ratio_note(&ratio)
            )),
            Some(Comparison {
                versus: Versus::WithinNoise,
                ratio,
            }) => Some(format!(
                "within this machine's noise, {} costs about one loopback lookup ({})",
                j.alg,
                ratio_note(&ratio)
            )),
            None => Some(format!("{} not measured", j.alg)),
        })
        .collect();
    format!("{}: {}", dimension.label(), parts.join("; "))
}

/// The rule [`c6_verdict`] applies, as the report states it.
pub const RULE: &str = "Within each trial, every algorithm's verification and one GETEX lookup are measured back to \
    back (the order rotating per trial), and the verification's figure is divided by the lookup's from the same \
    trial, in two dimensions: waiting time (isolated wall time per operation) and CPU (CPU time per operation \
    under load, redis-server's included for lookups). In a dimension, an algorithm is faster when its ratio is \
    below 1 in every trial, slower when it is above 1 in every trial, and otherwise within this machine's noise. \
    Holds when every algorithm is faster in both dimensions; does not hold when no algorithm is faster in either; \
    otherwise holds with a caveat naming, per dimension, each algorithm that is slower, within noise or not \
    measured. Not measured when no trial gave a ratio.";

/// C6's rule (see [`RULE`]) over each algorithm's comparisons, in the order
/// the report lists the algorithms.
pub fn c6_verdict(judged: &[Judged]) -> Verdict {
    let comparisons = || judged.iter().flat_map(|j| Dimension::BOTH.map(|d| (j, d)));
    if comparisons().all(|(j, d)| j.get(d).is_none()) {
        return Verdict::NotMeasured(
            "no trial gave both a verification and a lookup figure".into(),
        );
    }
    let notes = Dimension::BOTH
        .map(|d| dimension_note(judged, d))
        .join(". ");
    if comparisons().all(|(j, d)| j.faster_in(d)) {
        Verdict::Holds
    } else if !comparisons().any(|(j, d)| j.faster_in(d)) {
        Verdict::DoesNotHold(format!(
            "no algorithm cost less than one loopback lookup in every trial, in waiting time or in CPU. {notes}"
        ))
    } else {
        let both: Vec<&str> = judged
            .iter()
            .filter(|j| Dimension::BOTH.iter().all(|d| j.faster_in(*d)))
            .map(|j| j.alg)
            .collect();
        let lead = if both.is_empty() {
            "no algorithm cost less than one loopback lookup in every trial in both waiting time and CPU"
                .to_owned()
        } else {
            format!(
                "only {} cost less than one loopback lookup in every trial in both waiting time and CPU",
                both.join(", ")
            )
        };
        Verdict::HoldsWithCaveat(format!("{lead}. {notes}"))
    }
}

/// The first screen's figure: the spread of the algorithms' median ratios
/// to the lookup, CPU first (where they part ways), then waiting time.
pub fn c6_headline(judged: &[Judged]) -> String {
    let medians = |dimension: Dimension| {
        let mut ratios: Vec<(&str, f64)> = judged
            .iter()
            .filter_map(|j| j.get(dimension).map(|c| (j.alg, c.ratio.median)))
            .collect();
        ratios.sort_by(|a, b| a.1.total_cmp(&b.1));
        ratios
    };
    let (cpu, wait) = (medians(Dimension::Cpu), medians(Dimension::Waiting));
    let cpu = match (cpu.first(), cpu.last()) {
        (Some(low), Some(high)) if low.0 != high.0 => format!(
            "a check's CPU {:.2}x ({}) to {:.2}x ({}) a lookup's",
            low.1, low.0, high.1, high.0
        ),
        (Some(only), _) => format!("a check's CPU {:.2}x ({}) a lookup's", only.1, only.0),
        _ => String::new(),
    };
    let wait = match (wait.first(), wait.last()) {
        (Some(low), Some(high)) => format!("its waiting time {:.2}x to {:.2}x", low.1, high.1),
        _ => String::new(),
    };
    [cpu, wait]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The lesson, every figure and every comparison from the run's own results.
fn lesson(judged: &[Judged], lookup_wait: &Spread, lookup_cpu: Option<&Spread>) -> String {
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

struct Variant {
    name: String,
    /// `None` for the lookup.
    alg: Option<SigningAlgorithm>,
    service: Option<TokenService>,
    token: String,
}

impl Runnable for VerifyCost {
    fn id(&self) -> &'static str {
        "c6"
    }

    fn title(&self) -> &'static str {
        "Signature check vs one session-store lookup"
    }

    fn claims(&self) -> &'static [&'static str] {
        &["C6"]
    }

    fn estimate(&self, quick: bool) -> Duration {
        Duration::from_secs(if quick { 25 } else { 95 })
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> Outcome<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let (ops, load_for) = if ctx.quick {
                (300, Duration::from_millis(800))
            } else {
                (2_000, Duration::from_secs(2))
            };
            let (trials, load_trials) = (
                ISOLATED_TRIALS.count(ctx.quick),
                LOADED_TRIALS.count(ctx.quick),
            );
            let redis = RedisServer::start()?;
            let redis_pid = redis
                .pid()
                .ok_or_else(|| err("redis-server is not running: no CPU time to read"))?;
            let metrics = Metrics::new("c6").map_err(err)?;
            let store = RedisStore::new(
                "session store",
                &redis.url(0),
                &RedisClientArgs::default(),
                metrics.store("c6"),
            )
            .map_err(err)?;
            store
                .run::<()>(
                    redis::cmd("SET")
                        .arg("authlab:session:c6")
                        .arg("x".repeat(SESSION_BYTES)),
                )
                .await
                .map_err(err)?;
            let lookup = redis::cmd("GETEX")
                .arg("authlab:session:c6")
                .arg("PX")
                .arg(1_800_000)
                .to_owned();

            let user = User {
                username: "alice".into(),
                name: "Alice".into(),
                roles: vec!["user".into()],
            };
            let mut variants = Vec::new();
            for alg in SigningAlgorithm::ALL {
                let keys =
                    KeySet::from_file(&KeySetFile::generate(alg).map_err(err)?).map_err(err)?;
                let service = TokenService::new(
                    keys,
                    TokenSettings {
                        access_ttl: Duration::from_secs(600),
                        ..TokenSettings::default()
                    },
                );
                let (token, _) = service.issue(&user, "c6").map_err(err)?;
                variants.push(Variant {
                    name: format!("verify {alg}"),
                    alg: Some(alg),
                    service: Some(service),
                    token,
                });
            }
            let lookup_index = variants.len();
            variants.push(Variant {
                name: "Redis GETEX (loopback)".into(),
                alg: None,
                service: None,
                token: String::new(),
            });

            // The first operations pay for connection set-up and cold caches.
            for variant in &variants {
                match &variant.service {
                    Some(service) => {
                        for _ in 0..ops / 10 {
                            service.verify(&variant.token).map_err(err)?;
                        }
                    }
                    None => {
                        for _ in 0..ops / 10 {
                            store.run::<Option<String>>(&lookup).await.map_err(err)?;
                        }
                    }
                }
            }

            // Waiting time: wall time per operation, one at a time.
            let isolated = schedule::run(
                ctx,
                &variants,
                trials,
                |v| format!("isolated: {}", v.name),
                async |variant, _trial| {
                    let t = Instant::now();
                    match &variant.service {
                        Some(service) => {
                            for _ in 0..ops {
                                std::hint::black_box(service.verify(&variant.token).map_err(err)?);
                            }
                        }
                        None => {
                            for _ in 0..ops {
                                std::hint::black_box(
                                    store.run::<Option<String>>(&lookup).await.map_err(err)?,
                                );
                            }
                        }
                    }
                    Ok::<f64, LabError>(t.elapsed().as_secs_f64() * 1e6 / ops as f64)
                },
            )
            .await?;

            // CPU: per operation, with the machine busy.
            let cores = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1);
            let me = std::process::id();
            let loaded = schedule::run(
                ctx,
                &variants,
                load_trials,
                |v| format!("under load: {}", v.name),
                async |variant, _trial| {
                    let (cpu_before, redis_before) = (cpu_time(me), cpu_time(redis_pid));
                    let count = match &variant.service {
                        Some(service) => {
                            verify_under_load(service, &variant.token, cores, load_for)?
                        }
                        None => lookups_under_load(&store, &lookup, load_for).await?,
                    };
                    let mut cpu = cpu_time(me).saturating_sub(cpu_before);
                    if variant.service.is_none() {
                        cpu += cpu_time(redis_pid).saturating_sub(redis_before);
                    }
                    Ok::<f64, LabError>(cpu.as_secs_f64() * 1e6 / count.max(1) as f64)
                },
            )
            .await?;
            drop(redis);

            let wait: Vec<Vec<f64>> = (0..variants.len())
                .map(|i| schedule::figure(&isolated, i, |v| *v))
                .collect();
            let cpu: Vec<Vec<f64>> = (0..variants.len())
                .map(|i| schedule::figure(&loaded, i, |v| *v))
                .collect();
            let judged: Vec<Judged> = variants
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    v.alg.map(|alg| Judged {
                        alg: alg.name(),
                        waiting: Comparison::of(&per_trial_ratios(&wait[i], &wait[lookup_index])),
                        cpu: Comparison::of(&per_trial_ratios(&cpu[i], &cpu[lookup_index])),
                    })
                })
                .collect();
            let lookup_wait = Spread::of(&wait[lookup_index]);
            let lookup_cpu = cpu[lookup_index]
                .iter()
                .any(|v| *v > 0.0)
                .then(|| Spread::of(&cpu[lookup_index]));

            let mut table = Table {
                title: format!(
                    "Cost per operation and ratio to the lookup of the same trial: waiting time over {trials} \
                     interleaved trials of {ops} sequential operations; CPU over {load_trials} interleaved trials \
                     of {:.1} s under load. Medians (min–max)",
                    load_for.as_secs_f64()
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
            for (i, variant) in variants.iter().enumerate() {
                let (w, c) = (Spread::of(&wait[i]), Spread::of(&cpu[i]));
                let judgement = judged
                    .iter()
                    .find(|j| variant.alg.map(|a| a.name()) == Some(j.alg));
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

            let mut evidence = vec![format!(
                "lookup waiting {} µs, CPU {}",
                micros(&lookup_wait),
                lookup_cpu
                    .as_ref()
                    .map_or("not measured".into(), |c| format!("{} µs", micros(c)))
            )];
            for j in &judged {
                let said = |c: Option<Comparison>| {
                    c.map_or("not measured".into(), |c| {
                        format!("{} {}", times(&c.ratio), c.versus.label())
                    })
                };
                evidence.push(format!(
                    "{} waiting {}, CPU {}",
                    j.alg,
                    said(j.waiting),
                    said(j.cpu)
                ));
            }
            let verdict = c6_verdict(&judged);
            let headline = c6_headline(&judged);
            let mut lesson = lesson(&judged, &lookup_wait, lookup_cpu.as_ref());
            let mut tables = vec![table];

            // The third cost in a request's path: the connection, at HAProxy.
            let connection_trials = connection_cost::TRIALS.count(ctx.quick);
            let connections = connection_cost::measure(ctx, connection_trials).await;
            match &connections {
                Ok(costs) => {
                    let verify_cpu: Vec<(&str, f64)> = judged
                        .iter()
                        .zip(variants.iter().enumerate().filter(|(_, v)| v.alg.is_some()))
                        .map(|(j, (i, _))| (j.alg, Spread::of(&cpu[i]).median))
                        .collect();
                    lesson += " ";
                    lesson += &costs.sentence(&verify_cpu, lookup_cpu.as_ref().map(|c| c.median));
                    evidence.push(format!(
                        "HAProxy CPU per new TLS connection {:.0} µs (full handshake), {:.0} µs (resumed), per \
                         kept-alive request {:.0} µs (HTTP/1.1)",
                        costs.spread(connection_cost::Connection::FullHandshake).median,
                        costs.spread(connection_cost::Connection::Resumed).median,
                        costs.spread(connection_cost::Connection::KeptAliveHttp1).median
                    ));
                    tables.push(costs.table(connection_trials));
                }
                Err(error) => {
                    lesson += &format!(
                        " The connection costs at the load balancer could not be measured in this run: {error}."
                    );
                }
            }
            let build = if cfg!(debug_assertions) {
                "debug (unoptimized) build: run a release build for real figures"
            } else {
                "release build"
            };
            let order: Vec<Vec<&str>> = (0..trials)
                .map(|t| {
                    isolated
                        .iter()
                        .filter(|m| m.trial == t)
                        .map(|m| variants[m.variant].name.as_str())
                        .collect()
                })
                .collect();
            Ok(ExperimentResult {
                id: "c6".into(),
                title: self.title().into(),
                claims: vec!["C6".into()],
                question: "Is checking a token's signature faster than looking a session up in a store?".into(),
                setup: format!(
                    "In one process ({build}): the JWT server's full verification (TokenService::verify: header, kid, \
                     signature, claims) for a fresh key of each algorithm, against one GETEX of a {SESSION_BYTES}-byte \
                     session on a loopback redis-server through the servers' own multiplexed client. Waiting time: \
                     {ops} operations one at a time per variant, {trials} trials, the variants' order rotating per \
                     trial, after {} warm-up operations each. CPU: {cores} threads verifying, or {CONCURRENT_LOOKUPS} \
                     concurrent lookups, for {:.1} s per variant, {load_trials} trials, the order rotating per trial; \
                     CPU time of this process (and of redis-server for lookups) divided by operations. Each \
                     algorithm's figure is divided by the lookup's from the same trial. Then, beside it, what a \
                     connection costs at the load balancer: a one-node JWT cluster with TLS at HAProxy (ALPN \
                     h2,http/1.1, ECDSA P-256 certificate from a CA generated for the run), and HAProxy's CPU time \
                     (its thread's scheduler account) per new connection fetching /health (openssl s_time -new: full \
                     handshake; -reuse: resumed session) and per request on one kept-alive connection (h2load, \
                     HTTP/1.1 and HTTP/2), {connection_trials} trials, the order rotating per trial.",
                    ops / 10,
                    load_for.as_secs_f64()
                ),
                verdicts: vec![ClaimVerdict {
                    headline,
                    by_design: None,
                    claim: "C6".into(),
                    verdict,
                    rule: RULE.into(),
                    evidence: evidence.join("; "),
                }],
                tables,
                chart: Some(Chart {
                    title: "Microseconds per operation".into(),
                    kind: ChartKind::Bars,
                    x_label: "operation".into(),
                    y_label: "µs per operation".into(),
                    series: vec![wait_series, cpu_series],
                }),
                lesson,
                summary: None,
                raw: json!({
                    "variants": variants.iter().map(|v| v.name.clone()).collect::<Vec<_>>(),
                    "isolated_us": wait, "loaded_cpu_us": cpu, "isolated_order": order,
                    "ratios": judged.iter().map(|j| json!({
                        "alg": j.alg,
                        "waiting": j.waiting.map(|c| json!({"versus": format!("{:?}", c.versus), "ratio": c.ratio})),
                        "cpu": j.cpu.map(|c| json!({"versus": format!("{:?}", c.versus), "ratio": c.ratio})),
                    })).collect::<Vec<_>>(),
                    "ops": ops, "trials": trials, "load_trials": load_trials,
                    "load_seconds": load_for.as_secs_f64(), "cores": cores,
                    "concurrent_lookups": CONCURRENT_LOOKUPS, "session_bytes": SESSION_BYTES, "build": build,
                    "connections": connections.as_ref().ok(),
                    "connections_error": connections.as_ref().err().map(ToString::to_string),
                }),
                seconds: started.elapsed().as_secs_f64(),
                error: None,
            })
        })
    }
}

/// Verifications done by one thread per core until `load_for` has passed.
fn verify_under_load(
    service: &TokenService,
    token: &str,
    cores: usize,
    load_for: Duration,
) -> Result<u64, LabError> {
    let counts: Vec<(u64, u64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..cores)
            .map(|_| {
                scope.spawn(|| {
                    let deadline = Instant::now() + load_for;
                    let (mut ok, mut failed) = (0u64, 0u64);
                    while Instant::now() < deadline {
                        match service.verify(token) {
                            Ok(_) => ok += 1,
                            Err(_) => failed += 1,
                        }
                    }
                    (ok, failed)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or((0, 1)))
            .collect()
    });
    let (ok, failed) = counts
        .iter()
        .fold((0, 0), |(o, f), (ok, failed)| (o + ok, f + failed));
    // A failed check is cheaper than a passing one: it must not count.
    if failed > 0 {
        return Err(err(format!(
            "{failed} of {} verifications under load failed",
            ok + failed
        )));
    }
    Ok(ok)
}

/// Lookups done by `CONCURRENT_LOOKUPS` tasks until `load_for` has passed.
async fn lookups_under_load(
    store: &RedisStore,
    lookup: &redis::Cmd,
    load_for: Duration,
) -> Result<u64, LabError> {
    let deadline = Instant::now() + load_for;
    let tasks = (0..CONCURRENT_LOOKUPS).map(|_| async move {
        let mut n = 0u64;
        while Instant::now() < deadline {
            store.run::<Option<String>>(lookup).await.map_err(err)?;
            n += 1;
        }
        Ok::<u64, LabError>(n)
    });
    futures::future::join_all(tasks).await.into_iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One algorithm from per-trial figures (µs): its own and the lookup's,
    /// waiting time then CPU.
    fn judged<'a>(
        alg: &'a str,
        (wait, lookup_wait): (&[f64], &[f64]),
        (cpu, lookup_cpu): (&[f64], &[f64]),
    ) -> Judged<'a> {
        Judged {
            alg,
            waiting: Comparison::of(&per_trial_ratios(wait, lookup_wait)),
            cpu: Comparison::of(&per_trial_ratios(cpu, lookup_cpu)),
        }
    }

    /// The four algorithms at this machine's usual costs (µs per trial),
    /// against a lookup's per-trial waiting time and CPU.
    fn four(lookup_wait: &[f64], es256_wait: &[f64]) -> Vec<Judged<'static>> {
        let lookup_cpu: &[f64] = &[3.8, 4.6, 3.4];
        vec![
            judged(
                "HS256",
                (&[1.1, 1.0, 1.2], lookup_wait),
                (&[1.0, 1.1, 1.0], lookup_cpu),
            ),
            judged(
                "RS256",
                (&[16.2, 15.8, 16.9], lookup_wait),
                (&[16.0, 16.6, 15.9], lookup_cpu),
            ),
            judged(
                "ES256",
                (es256_wait, lookup_wait),
                (&[38.0, 41.0, 39.5], lookup_cpu),
            ),
            judged(
                "EdDSA",
                (&[33.5, 37.8, 34.0], lookup_wait),
                (&[33.0, 35.2, 34.1], lookup_cpu),
            ),
        ]
    }

    #[test]
    fn the_headline_spans_the_algorithms_in_each_dimension() {
        let judged = four(&[95.0, 90.0, 100.0], &[50.0, 52.0, 51.0]);
        let text = c6_headline(&judged);
        assert!(
            text.starts_with(
                "a check's CPU 0.26x (HS256) to 10.00x (ES256) a lookup's; its waiting time 0.01x to "
            ),
            "{text}"
        );
        assert_eq!(c6_headline(&[]), "");
    }

    #[test]
    fn every_trial_decides_a_side() {
        let versus = |ratios: &[f64]| Comparison::of(ratios).map(|c| c.versus);
        assert_eq!(versus(&[0.4, 0.9, 0.99]), Some(Versus::Faster));
        assert_eq!(versus(&[1.01, 1.5]), Some(Versus::Slower));
        assert_eq!(versus(&[0.36, 1.48, 0.49]), Some(Versus::WithinNoise));
        // At 1 it is not faster, and not slower either.
        assert_eq!(versus(&[1.0, 1.2]), Some(Versus::WithinNoise));
        assert_eq!(versus(&[]), None);
        let c = Comparison::of(&[0.36, 1.48, 0.49]).unwrap();
        assert_eq!(times(&c.ratio), "0.49x (0.36–1.48x)");
    }

    #[test]
    fn ratios_pair_each_trial_with_its_own_lookup() {
        // Medians would compare 40 with 69.8 ("faster"); per trial it is one
        // faster trial and one slower.
        assert_eq!(
            per_trial_ratios(&[40.0, 40.0], &[35.7, 80.0]),
            vec![40.0 / 35.7, 0.5]
        );
        // A trial with no figure on one side gives no ratio.
        assert_eq!(per_trial_ratios(&[1.0, 2.0, 3.0], &[0.0, 4.0]), vec![0.5]);
        assert!(per_trial_ratios(&[1.0], &[]).is_empty());
    }

    #[test]
    fn holds_when_every_algorithm_costs_less_in_both() {
        // HMAC alone: about 1 µs against a 35–95 µs wait and 3–5 µs of CPU.
        let judged = [judged(
            "HS256",
            (&[1.1, 1.0, 1.2], &[35.7, 93.9, 69.8]),
            (&[1.0, 1.1, 1.0], &[3.8, 4.6, 3.4]),
        )];
        assert_eq!(c6_verdict(&judged), Verdict::Holds);
    }

    #[test]
    fn holds_with_a_caveat_names_the_algorithm_and_the_dimension() {
        let verdict = c6_verdict(&four(&[35.7, 36.4, 34.9], &[52.9, 55.0, 50.1]));
        let Verdict::HoldsWithCaveat(note) = verdict else {
            panic!("{verdict:?}");
        };
        assert!(
            note.starts_with("only HS256 cost less than one loopback lookup"),
            "{note}"
        );
        assert!(
            note.contains("waiting time: ES256 costs more than one lookup in every trial (ratio 1.48x, 1.44–1.51x across trials)"),
            "{note}"
        );
        assert!(
            note.contains("within this machine's noise, EdDSA costs about one loopback lookup"),
            "{note}"
        );
        assert!(
            note.contains("CPU: RS256 costs more than one lookup in every trial"),
            "{note}"
        );
        assert!(!note.contains("HS256 costs"), "{note}");
    }

    #[test]
    fn does_not_hold_when_no_algorithm_costs_less() {
        // Only the elliptic-curve algorithms, against a fast loopback.
        let (lookup_wait, lookup_cpu): (&[f64], &[f64]) = (&[35.7, 35.1, 36.0], &[3.8, 4.6, 3.4]);
        let judged = [
            judged(
                "ES256",
                (&[52.9, 50.4, 58.0], lookup_wait),
                (&[52.0, 50.0, 57.0], lookup_cpu),
            ),
            judged(
                "EdDSA",
                (&[38.0, 39.5, 40.0], lookup_wait),
                (&[37.5, 39.0, 39.8], lookup_cpu),
            ),
        ];
        let verdict = c6_verdict(&judged);
        let Verdict::DoesNotHold(note) = verdict else {
            panic!("{verdict:?}");
        };
        assert!(note.contains("waiting time: ES256 costs more"), "{note}");
        assert!(
            note.contains("EdDSA costs more than one lookup in every trial"),
            "{note}"
        );
    }

    #[test]
    fn not_measured_without_figures() {
        assert!(matches!(c6_verdict(&[]), Verdict::NotMeasured(_)));
        // CPU read as zero (no /proc), and no isolated trial.
        let judged = [judged("HS256", (&[1.0], &[]), (&[1.0], &[0.0]))];
        assert!(matches!(c6_verdict(&judged), Verdict::NotMeasured(_)));
    }

    #[test]
    fn a_missing_dimension_is_a_caveat_not_a_pass() {
        let judged = [judged(
            "HS256",
            (&[1.0, 1.1], &[35.7, 69.8]),
            (&[1.0], &[0.0]),
        )];
        let verdict = c6_verdict(&judged);
        assert_eq!(
            verdict,
            Verdict::HoldsWithCaveat(
                "no algorithm cost less than one loopback lookup in every trial in both waiting time and CPU. \
                 waiting time: every algorithm cost less than one lookup in every trial. CPU: HS256 not measured"
                    .into()
            )
        );
    }

    /// The issue's runs: one loopback GETEX at 35.7 µs with ES256 at 52.9,
    /// then 93.9 (quick) and 69.8 µs (full) with ES256 at 34. The old rule
    /// said "holds with a caveat", then "holds" twice.
    #[test]
    fn the_real_runs_no_longer_flip() {
        let fast_loopback = c6_verdict(&four(&[35.7, 36.4, 34.9], &[52.9, 55.0, 50.1]));
        let quick = c6_verdict(&four(&[93.9, 90.2, 95.0], &[34.0, 33.1, 35.2]));
        let full = c6_verdict(&four(&[69.8, 72.5, 68.0], &[34.0, 34.8, 33.5]));
        for verdict in [&fast_loopback, &quick, &full] {
            // The public-key algorithms' CPU against the lookup's 3–5 µs is
            // steady, and keeps the label.
            assert_eq!(verdict.label(), "holds with a caveat", "{verdict:?}");
            let note = verdict.note().unwrap_or_default();
            assert!(note.contains("CPU: RS256 costs more"), "{note}");
        }
        let note = quick.note().unwrap_or_default();
        assert!(
            note.contains("waiting time: every algorithm cost less than one lookup in every trial"),
            "{note}"
        );
    }

    /// The same figures met within one run: ES256's side changes between
    /// trials, so it is noise, not a side.
    #[test]
    fn a_ratio_on_both_sides_of_one_is_noise() {
        let judged = four(&[35.7, 93.9, 69.8], &[52.9, 34.0, 34.0]);
        assert_eq!(
            judged[2].waiting.map(|c| c.versus),
            Some(Versus::WithinNoise)
        );
        let note = c6_verdict(&judged).note().unwrap_or_default().to_owned();
        assert!(
            note.contains("within this machine's noise, ES256 costs about one loopback lookup (ratio 0.49x, 0.36–1.48x across trials)"),
            "{note}"
        );
    }

    #[test]
    fn the_lesson_says_only_what_the_figures_say() {
        let (lookup_wait, lookup_cpu) = (
            Spread::of(&[93.9, 90.2, 95.0]),
            Spread::of(&[3.8, 4.6, 3.4]),
        );
        let slow_loopback = lesson(
            &four(&[93.9, 90.2, 95.0], &[34.0, 33.1, 35.2]),
            &lookup_wait,
            Some(&lookup_cpu),
        );
        assert!(slow_loopback.starts_with("One loopback lookup kept its caller waiting 93.9 (90.2–95.0) µs but cost only 3.8 (3.4–4.6) µs of CPU"), "{slow_loopback}");
        assert!(slow_loopback.contains("In waiting time, HS256, RS256, ES256, EdDSA cost less than a lookup in every trial."), "{slow_loopback}");
        assert!(slow_loopback.contains("In CPU, HS256 cost less than a lookup in every trial; RS256, ES256, EdDSA cost more in every trial."), "{slow_loopback}");
        assert!(
            slow_loopback
                .ends_with("depends on the algorithm and on what you count: waiting time or CPU."),
            "{slow_loopback}"
        );

        let fast = Spread::of(&[35.7, 36.4, 34.9]);
        let fast_loopback = lesson(
            &four(&[35.7, 36.4, 34.9], &[52.9, 55.0, 50.1]),
            &fast,
            Some(&lookup_cpu),
        );
        assert!(fast_loopback.contains("In waiting time, HS256, RS256 cost less than a lookup in every trial; ES256 cost more in every trial; EdDSA cost about one lookup, within this machine's noise."), "{fast_loopback}");

        let only_hmac = [judged("HS256", (&[1.0], &[35.7]), (&[1.0], &[3.8]))];
        let hmac = lesson(&only_hmac, &Spread::of(&[35.7]), Some(&Spread::of(&[3.8])));
        assert!(!hmac.contains("depends"), "{hmac}");
        assert!(!hmac.contains("ranged"), "{hmac}");
    }
}
