//! `authlab login-flood`: how much CPU a login flood takes from `/me`
//! traffic, with login throttling off and on.
//!
//! Per stack, two nodes of the real server (`authlab node …`, release
//! build when run from one) share a user directory seeded at the **default**
//! Argon2id cost (the ~15 ms a real login costs) and a store: one with
//! `--login-throttle off`, one with the production defaults and
//! `--trusted-proxies 127.0.0.1`. Each run is wrk on `GET /me` (alice's
//! credential) for a fixed time while a flood of wrong-password logins hits
//! the same node. Four variants, interleaved, the order rotated per trial:
//!
//! | variant | node | flood |
//! |---|---|---|
//! | `baseline` | off | none |
//! | `flood, throttle off` | off | from one client |
//! | `flood, throttle on` | on | from one client: the per-client limit answers 429 |
//! | `distributed flood, throttle on` | on | every attempt claims another client address (`X-Forwarded-For`, which this node trusts from 127.0.0.1) and another username, so no keyed limit applies and only the bound on concurrent verifications stands |
//!
//! The flood is paced, not a closed loop: attempts are offered at a fixed
//! rate with at most `in_flight` outstanding (the "100 parallel logins" of
//! the issue), like an attacker with a fixed budget. A closed loop would
//! answer refusals instantly and turn the generator itself into the load,
//! measuring wrk's speed rather than what the server spends on logins.
//! Attempts that could not be sent because `in_flight` were outstanding are
//! counted as "not sent".
//!
//! Every `/me` run is checked by [`load_check`](crate::experiments::load_check)
//! before its throughput is used; a run that fails the check is reported as
//! invalid and left out of the medians.

use std::{
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use authlab_client::{ApiClient, Credential};
use authlab_core::{
    directory::{SeedArgs, SeedCommand},
    password::HashCost,
    throttle::LoginThrottleArgs,
};
use jwt_server::{keys::KeySetFile, SigningAlgorithm};
use supervise::{free_port, RedisServer};
use tokio::sync::Semaphore;

use crate::{
    kit::{
        cpu::cpu_time,
        load_check::{self, Answers},
    },
    process::{NodeProcess, Stack},
    summaries::Spread,
    wrk::{self, WrkRun},
    LabError,
};

/// What to run.
#[derive(Debug, Clone)]
pub struct FloodSpec {
    pub stacks: Vec<Stack>,
    pub trials: usize,
    /// Per wrk run (and flood).
    pub duration: Duration,
    /// Login attempts offered per second.
    pub rate: u32,
    /// Most attempts outstanding at once.
    pub in_flight: usize,
    /// wrk's `-c` and `-t` on `/me`.
    pub connections: u32,
    pub threads: u32,
    /// HTTP workers per node.
    pub workers: usize,
    /// The `authlab` binary that runs `authlab node …`.
    pub launcher: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Baseline,
    FloodOff,
    FloodOn,
    DistributedOn,
}

impl Variant {
    pub const ALL: [Variant; 4] = [
        Variant::Baseline,
        Variant::FloodOff,
        Variant::FloodOn,
        Variant::DistributedOn,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Variant::Baseline => "baseline (no flood)",
            Variant::FloodOff => "flood, throttle off",
            Variant::FloodOn => "flood, throttle on",
            Variant::DistributedOn => "distributed flood, throttle on",
        }
    }

    fn throttled_node(self) -> bool {
        matches!(self, Variant::FloodOn | Variant::DistributedOn)
    }

    fn flood(self) -> Option<bool> {
        match self {
            Variant::Baseline => None,
            Variant::FloodOff | Variant::FloodOn => Some(false),
            Variant::DistributedOn => Some(true),
        }
    }
}

/// Answers the flood got in one run.
#[derive(Debug, Clone, Copy, Default)]
pub struct FloodCounts {
    pub sent: u64,
    pub ok: u64,
    pub unauthorized: u64,
    pub too_many: u64,
    /// `503 login_busy`: no verification slot within the queue timeout.
    pub busy: u64,
    /// `503 store_unavailable`: the user lookup timed out (a starved node).
    pub store: u64,
    pub other: u64,
    pub errors: u64,
    pub not_sent: u64,
}

/// One wrk run on `/me` and what went with it.
#[derive(Debug, Clone)]
pub struct Run {
    pub stack: Stack,
    pub variant: Variant,
    pub trial: usize,
    /// `/me` requests per second; `None` when the run failed its error check.
    pub rps: Option<f64>,
    pub invalid: Option<String>,
    /// CPU the node used during the run, in cores.
    pub node_cores: f64,
    /// CPU this process (the flood generator) used during the run, in cores:
    /// it shares the machine with the node, so it is reported, not hidden.
    pub generator_cores: f64,
    /// CPU used by processes that are not part of the measurement (not the
    /// node, the generator, wrk or the two Redis): a build running beside
    /// the measurement shows here.
    pub other_cores: f64,
    pub flood: FloodCounts,
}

pub struct FloodReport {
    pub spec: FloodSpec,
    pub concurrency: Option<usize>,
    pub runs: Vec<Run>,
}

struct Node {
    process: NodeProcess,
    credential: String,
}

/// CPU time of everything on the machine except idle, I/O wait and steal
/// (first line of /proc/stat).
fn machine_busy() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .next()
        .map(|line| {
            line.split_whitespace()
                .skip(1)
                .enumerate()
                // user nice system idle iowait irq softirq steal …
                .filter(|(i, _)| matches!(i, 0 | 1 | 2 | 5 | 6))
                .filter_map(|(_, v)| v.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    ticks_to_duration(ticks)
}

/// CPU time of this process's children that have exited and been waited
/// for (`cutime` + `cstime`): each wrk run, once it returns.
fn reaped_children_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = [13, 14]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    ticks_to_duration(ticks)
}

fn ticks_to_duration(ticks: u64) -> Duration {
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as u64;
    Duration::from_micros(ticks * 1_000_000 / hz.max(1))
}

/// Starts everything, runs the trials, stops everything.
pub async fn run(spec: FloodSpec) -> Result<FloodReport, LabError> {
    if spec.trials == 0 || spec.rate == 0 || spec.in_flight == 0 || spec.stacks.is_empty() {
        return Err(LabError::Config(
            "login-flood needs at least one trial, stack, attempt per second and attempt in flight"
                .into(),
        ));
    }
    let dir = tempfile::Builder::new()
        .prefix("authlab-flood-")
        .tempdir()
        .map_err(|e| LabError::Io(e.to_string()))?;
    let directory = RedisServer::start()?;
    let store = RedisServer::start()?;
    // The default cost: what a real login, and so a real flood, costs.
    SeedCommand {
        user_directory_url: directory.url(0),
        seed: SeedArgs {
            users: 0,
            cost: HashCost::Default,
        },
    }
    .run()
    .await
    .map_err(|e| LabError::Config(format!("seeding users: {e}")))?;
    let keyset = dir.path().join("keys.json");
    KeySetFile::generate(SigningAlgorithm::EdDsa)
        .and_then(|file| file.write(&keyset))
        .map_err(|e| LabError::Config(e.to_string()))?;

    let client = ApiClient::new();
    let mut nodes = Vec::new();
    for stack in &spec.stacks {
        for throttled in [false, true] {
            let name = format!("{stack}-throttle-{}", if throttled { "on" } else { "off" });
            let port = free_port()?;
            let mut args = crate::process::node_args(&name, port, spec.workers, &directory.url(0));
            if throttled {
                // The distributed flood names its clients in X-Forwarded-For.
                args.extend(["--trusted-proxies".into(), "127.0.0.1".into()]);
            } else {
                args.extend(["--login-throttle".into(), "off".into()]);
            }
            let mut env = Vec::new();
            match stack {
                Stack::Session => {
                    args.extend(["--session-store-url".into(), store.url(0)]);
                    env.push((
                        "AUTHLAB_COOKIE_SECRET".to_owned(),
                        "authlab-flood-cookie-secret-0123456789abcdef".to_owned(),
                    ));
                }
                Stack::Jwt => args.extend([
                    "--token-store-url".into(),
                    store.url(1),
                    "--keyset-file".into(),
                    keyset.display().to_string(),
                    "--access-ttl".into(),
                    "1h".into(),
                ]),
            }
            let mut process =
                NodeProcess::new(*stack, name, port, &spec.launcher, args, env, dir.path());
            process.spawn()?;
            process
                .wait_ready(client.raw(), Duration::from_secs(30))
                .await?;
            let base = process.url("");
            let credential = match stack {
                Stack::Session => client.session_login(&base, "alice").await,
                Stack::Jwt => client.jwt_login(&base, "alice").await.0,
            };
            let credential = match credential {
                Credential::Cookie(cookie) => format!("Cookie: {cookie}"),
                Credential::Bearer(token) => format!("Authorization: Bearer {token}"),
            };
            nodes.push((
                *stack,
                throttled,
                Node {
                    process,
                    credential,
                },
            ));
        }
    }

    let mut runs = Vec::new();
    for trial in 0..spec.trials {
        for stack in &spec.stacks {
            let mut order = Variant::ALL;
            order.rotate_left(trial % Variant::ALL.len());
            for variant in order {
                let node = nodes
                    .iter()
                    .find(|(s, throttled, _)| s == stack && *throttled == variant.throttled_node())
                    .map(|(_, _, node)| node)
                    .ok_or_else(|| LabError::Config(format!("no {stack} node")))?;
                let redis_pids = [directory.pid(), store.pid()];
                let run = one_run(&spec, *stack, variant, trial, node, &redis_pids).await?;
                tracing::info!(
                    stack = %stack,
                    variant = variant.label(),
                    trial,
                    rps = ?run.rps,
                    cores = run.node_cores,
                    "run done"
                );
                runs.push(run);
            }
        }
    }
    for (_, _, mut node) in nodes {
        node.process.terminate(Duration::from_secs(3));
    }
    Ok(FloodReport {
        concurrency: LoginThrottleArgs::default().concurrency(),
        spec,
        runs,
    })
}

async fn one_run(
    spec: &FloodSpec,
    stack: Stack,
    variant: Variant,
    trial: usize,
    node: &Node,
    redis_pids: &[Option<u32>],
) -> Result<Run, LabError> {
    let stop = Arc::new(AtomicBool::new(false));
    let flood = variant.flood().map(|distributed| {
        tokio::spawn(flood(
            node.process.url("/login"),
            spec.rate,
            spec.in_flight,
            distributed,
            stop.clone(),
        ))
    });
    let pid = node
        .process
        .pid()
        .ok_or_else(|| LabError::NodeDied(format!("{stack} node is not running")))?;
    let cpu_before = cpu_time(pid);
    let generator_before = cpu_time(std::process::id());
    let wrk_before = reaped_children_cpu();
    let redis_cpu = || {
        redis_pids
            .iter()
            .flatten()
            .map(|&pid| cpu_time(pid))
            .sum::<Duration>()
    };
    let redis_before = redis_cpu();
    let machine_before = machine_busy();
    let started = Instant::now();
    let url = node.process.url("/me");
    let credentials = vec![node.credential.clone()];
    let (threads, connections, duration) = (spec.threads, spec.connections, spec.duration);
    let result = tokio::task::spawn_blocking(move || {
        wrk::run(&WrkRun {
            url: &url,
            credentials: &credentials,
            threads,
            connections,
            duration,
        })
    })
    .await
    .map_err(|e| LabError::Io(e.to_string()))?;
    let elapsed = started.elapsed().as_secs_f64();
    let node_cpu = cpu_time(pid).saturating_sub(cpu_before);
    let generator = cpu_time(std::process::id()).saturating_sub(generator_before);
    let ours = node_cpu
        + generator
        + reaped_children_cpu().saturating_sub(wrk_before)
        + redis_cpu().saturating_sub(redis_before);
    let other = machine_busy()
        .saturating_sub(machine_before)
        .saturating_sub(ours);
    let (node_cores, generator_cores, other_cores) = (
        node_cpu.as_secs_f64() / elapsed,
        generator.as_secs_f64() / elapsed,
        other.as_secs_f64() / elapsed,
    );
    stop.store(true, Ordering::Relaxed);
    let flood = match flood {
        Some(task) => task.await.map_err(|e| LabError::Io(e.to_string()))?,
        None => FloodCounts::default(),
    };
    // Let the node finish any hashing still queued before the next run.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let result = result?;
    let name = format!("{stack} /me, {}, trial {}", variant.label(), trial + 1);
    let checked = load_check::check(
        &name,
        Answers {
            requests: result.requests,
            non_2xx: result.non_2xx,
            socket_errors: result.socket_errors,
        },
    );
    Ok(Run {
        stack,
        variant,
        trial,
        rps: checked.is_ok().then_some(result.rps),
        invalid: checked.err().map(|e| e.to_string()),
        node_cores,
        generator_cores,
        other_cores,
        flood,
    })
}

/// Offers wrong-password logins at `rate` per second, at most `in_flight`
/// outstanding, until `stop`; then waits for the outstanding ones.
async fn flood(
    url: String,
    rate: u32,
    in_flight: usize,
    distributed: bool,
    stop: Arc<AtomicBool>,
) -> FloodCounts {
    #[derive(Default)]
    struct Tally {
        ok: AtomicU64,
        unauthorized: AtomicU64,
        too_many: AtomicU64,
        busy: AtomicU64,
        store: AtomicU64,
        other: AtomicU64,
        errors: AtomicU64,
    }
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .pool_max_idle_per_host(in_flight)
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "building the flood's HTTP client");
            return FloodCounts::default();
        }
    };
    let tally = Arc::new(Tally::default());
    let slots = Arc::new(Semaphore::new(in_flight));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    let (mut sent, mut not_sent) = (0u64, 0u64);
    while !stop.load(Ordering::Relaxed) {
        ticker.tick().await;
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            not_sent += 1;
            continue;
        };
        sent += 1;
        let mut request = client.post(&url).json(&serde_json::json!({
            "username": format!("flood-{sent}"),
            "password": "not-the-password",
        }));
        if distributed {
            // A fresh client address per attempt, from the benchmarking
            // range (RFC 2544): a header value only, never a destination.
            let host: u32 = rand::random::<u32>() % (1 << 17);
            let address = std::net::Ipv4Addr::from(u32::from_be_bytes([198, 18, 0, 0]) + host);
            request = request.header("x-forwarded-for", address.to_string());
        }
        let tally = tally.clone();
        tokio::spawn(async move {
            let counter = match request.send().await {
                Ok(response) => match response.status().as_u16() {
                    200 => &tally.ok,
                    401 => &tally.unauthorized,
                    429 => &tally.too_many,
                    503 => match response.json::<serde_json::Value>().await {
                        Ok(body) if body["error"] == "login_busy" => &tally.busy,
                        Ok(body) if body["error"] == "store_unavailable" => &tally.store,
                        _ => &tally.other,
                    },
                    _ => &tally.other,
                },
                Err(_) => &tally.errors,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            drop(slot);
        });
    }
    // Every outstanding attempt answered (or timed out): all slots back.
    let in_flight = u32::try_from(in_flight).unwrap_or(u32::MAX);
    if tokio::time::timeout(Duration::from_secs(20), slots.acquire_many(in_flight))
        .await
        .is_err()
    {
        tracing::warn!("flood attempts still outstanding after 20 s");
    }
    FloodCounts {
        sent,
        ok: tally.ok.load(Ordering::Relaxed),
        unauthorized: tally.unauthorized.load(Ordering::Relaxed),
        too_many: tally.too_many.load(Ordering::Relaxed),
        busy: tally.busy.load(Ordering::Relaxed),
        store: tally.store.load(Ordering::Relaxed),
        other: tally.other.load(Ordering::Relaxed),
        errors: tally.errors.load(Ordering::Relaxed),
        not_sent,
    }
}

impl FloodReport {
    fn runs(&self, stack: Stack, variant: Variant) -> impl Iterator<Item = &Run> {
        self.runs
            .iter()
            .filter(move |r| r.stack == stack && r.variant == variant)
    }

    fn rps(&self, stack: Stack, variant: Variant, trial: usize) -> Option<f64> {
        self.runs(stack, variant)
            .find(|r| r.trial == trial)
            .and_then(|r| r.rps)
    }

    /// The figures as a Markdown table per stack, with the set-up above them.
    pub fn render(&self) -> String {
        let spec = &self.spec;
        let mut out = format!(
            "login flood: {} trials x {} variants per stack, {} s per run; /me: wrk -t{} -c{}; \
             flood: {} wrong-password attempts/s offered, at most {} outstanding; \
             nodes: {} workers, users seeded at the default Argon2id cost; throttle on = defaults \
             (concurrent verifications: {})\n",
            spec.trials,
            Variant::ALL.len(),
            spec.duration.as_secs(),
            spec.threads,
            spec.connections,
            spec.rate,
            spec.in_flight,
            spec.workers,
            self.concurrency
                .map_or("unbounded".to_owned(), |n| n.to_string()),
        );
        for stack in &spec.stacks {
            out.push_str(&format!(
                "\n{stack} stack\n\n\
                 | variant | /me req/s, median (min–max) | / baseline (per trial) | node CPU, cores | generator CPU | other CPU | \
                 flood sent | 401 | 429 | 503 login_busy | 503 store_unavailable | other + errors | not sent |\n\
                 |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
            ));
            let baseline: Vec<f64> = self
                .runs(*stack, Variant::Baseline)
                .filter_map(|r| r.rps)
                .collect();
            let baseline = Spread::of(&baseline);
            for variant in Variant::ALL {
                let runs: Vec<&Run> = self.runs(*stack, variant).collect();
                let rps: Vec<f64> = runs.iter().filter_map(|r| r.rps).collect();
                let ratios: Vec<f64> = (0..spec.trials)
                    .filter_map(|t| {
                        Some(
                            self.rps(*stack, variant, t)?
                                / self.rps(*stack, Variant::Baseline, t)?,
                        )
                    })
                    .collect();
                let cores: Vec<f64> = runs.iter().map(|r| r.node_cores).collect();
                let median = |f: fn(&FloodCounts) -> u64| {
                    let values: Vec<f64> = runs.iter().map(|r| f(&r.flood) as f64).collect();
                    format!("{:.0}", Spread::of(&values).median)
                };
                let throughput = if rps.is_empty() {
                    "invalid".to_owned()
                } else {
                    let s = Spread::of(&rps);
                    format!("{:.0} ({:.0}–{:.0})", s.median, s.min, s.max)
                };
                let ratio = if ratios.is_empty() || baseline.median <= 0.0 {
                    "—".to_owned()
                } else {
                    let r = Spread::of(&ratios);
                    format!(
                        "{:.2}x ({:.2}–{:.2})",
                        Spread::of(&rps).median / baseline.median,
                        r.min,
                        r.max
                    )
                };
                let cores = Spread::of(&cores);
                let generator: Vec<f64> = runs.iter().map(|r| r.generator_cores).collect();
                let generator = format!("{:.2}", Spread::of(&generator).median);
                let other: Vec<f64> = runs.iter().map(|r| r.other_cores).collect();
                let other = Spread::of(&other);
                let other = format!("{:.2} (max {:.2})", other.median, other.max);
                if variant.flood().is_some() {
                    out.push_str(&format!(
                        "| {} | {throughput} | {ratio} | {:.2} ({:.2}–{:.2}) | {generator} | {other} | {} | {} | {} | {} | {} | {} | {} |\n",
                        variant.label(),
                        cores.median,
                        cores.min,
                        cores.max,
                        median(|c| c.sent),
                        median(|c| c.unauthorized),
                        median(|c| c.too_many),
                        median(|c| c.busy),
                        median(|c| c.store),
                        median(|c| c.other + c.errors + c.ok),
                        median(|c| c.not_sent),
                    ));
                } else {
                    out.push_str(&format!(
                        "| {} | {throughput} | {ratio} | {:.2} ({:.2}–{:.2}) | {generator} | {other} | — | — | — | — | — | — | — |\n",
                        variant.label(),
                        cores.median,
                        cores.min,
                        cores.max,
                    ));
                }
            }
            let invalid: Vec<&str> = self
                .runs
                .iter()
                .filter(|r| r.stack == *stack)
                .filter_map(|r| r.invalid.as_deref())
                .collect();
            for reason in invalid {
                out.push_str(&format!("\ninvalid run left out: {reason}\n"));
            }
        }
        out.push_str(
            "\nCPU in cores (of the machine's), medians per run; \"other CPU\": processes outside the \
             measurement (above ~0.2 the run shared the machine with something else). Flood columns \
             are medians per run; \"not sent\": attempts the generator skipped because its \
             outstanding limit was reached (the node was slower than the offered rate).\n",
        );
        out
    }
}
