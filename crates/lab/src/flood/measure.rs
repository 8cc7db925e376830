//! The measuring side of a login flood: the processes ([`Rig`]), one wrk
//! run on `/me` with its flood beside it, and the CPU accounting that says
//! where the machine's time went during that run.
//!
//! CPU is read from `/proc` before and after each run rather than sampled:
//! the node, this process (the flood generator), wrk (a child, counted once
//! reaped) and the two Redis are "ours"; whatever else the machine spent is
//! reported as other CPU so a noisy run shows as one.

use std::{
    path::Path,
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
};
use jwt_server::{keys::KeySetFile, SigningAlgorithm};
use supervise::{free_port, RedisServer};
use tempfile::TempDir;
use tokio::sync::Semaphore;

use super::record::{FloodCounts, FloodSpec, Run, Variant};
use crate::{
    kit::{
        cpu::cpu_time,
        load_check::{self, Answers},
    },
    process::{NodeProcess, Stack},
    wrk::{self, WrkRun},
    LabError,
};

/// Everything a flood runs against: per stack a node with login throttling
/// off and one with the defaults, sharing a user directory and a store.
pub(super) struct Rig {
    /// `(stack, throttled, node)`.
    nodes: Vec<(Stack, bool, Node)>,
    // Fields drop in this order: the nodes before the Redis they use, the
    // directory holding the key set and the nodes' files last.
    store: RedisServer,
    directory: RedisServer,
    dir: TempDir,
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

impl Rig {
    /// Starts the two Redis, seeds the users, writes a key set, then starts
    /// every node and logs alice in on each.
    pub(super) async fn start(spec: &FloodSpec) -> Result<Self, LabError> {
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
        KeySetFile::generate(SigningAlgorithm::EdDsa)
            .and_then(|file| file.write(&keyset_path(dir.path())))
            .map_err(|e| LabError::Config(e.to_string()))?;

        let mut rig = Self {
            nodes: Vec::new(),
            store,
            directory,
            dir,
        };
        let client = ApiClient::new();
        for stack in &spec.stacks {
            for throttled in [false, true] {
                let node = rig.start_node(spec, &client, *stack, throttled).await?;
                rig.nodes.push((*stack, throttled, node));
            }
        }
        Ok(rig)
    }

    /// One node, ready, with alice's credential on it.
    async fn start_node(
        &self,
        spec: &FloodSpec,
        client: &ApiClient,
        stack: Stack,
        throttled: bool,
    ) -> Result<Node, LabError> {
        let name = format!("{stack}-throttle-{}", if throttled { "on" } else { "off" });
        let port = free_port()?;
        let mut args = crate::process::node_args(&name, port, spec.workers, &self.directory.url(0));
        if throttled {
            // The distributed flood names its clients in X-Forwarded-For.
            args.extend(["--trusted-proxies".into(), "127.0.0.1".into()]);
        } else {
            args.extend(["--login-throttle".into(), "off".into()]);
        }
        let mut env = Vec::new();
        match stack {
            Stack::Session => {
                args.extend(["--session-store-url".into(), self.store.url(0)]);
                env.push((
                    "AUTHLAB_COOKIE_SECRET".to_owned(),
                    "authlab-flood-cookie-secret-0123456789abcdef".to_owned(),
                ));
            }
            Stack::Jwt => args.extend([
                "--token-store-url".into(),
                self.store.url(1),
                "--keyset-file".into(),
                keyset_path(self.dir.path()).display().to_string(),
                "--access-ttl".into(),
                "1h".into(),
            ]),
        }
        let mut process = NodeProcess::new(
            stack,
            name,
            port,
            &spec.launcher,
            args,
            env,
            self.dir.path(),
        );
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
        Ok(Node {
            process,
            credential,
        })
    }

    /// Every trial: per stack the four variants, in an order rotated per
    /// trial so no variant always runs first (or right after a flood).
    pub(super) async fn trials(&self, spec: &FloodSpec) -> Result<Vec<Run>, LabError> {
        let mut runs = Vec::new();
        for trial in 0..spec.trials {
            for stack in &spec.stacks {
                let mut order = Variant::ALL;
                order.rotate_left(trial % Variant::ALL.len());
                for variant in order {
                    let node = self
                        .nodes
                        .iter()
                        .find(|(s, throttled, _)| {
                            s == stack && *throttled == variant.throttled_node()
                        })
                        .map(|(_, _, node)| node)
                        .ok_or_else(|| LabError::Config(format!("no {stack} node")))?;
                    let redis_pids = [self.directory.pid(), self.store.pid()];
                    let run = one_run(spec, *stack, variant, trial, node, &redis_pids).await?;
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
        Ok(runs)
    }

    /// Stops the nodes; the Redis and the directory go as the rig drops.
    pub(super) fn stop(self) {
        for (_, _, mut node) in self.nodes {
            node.process.terminate(Duration::from_secs(3));
        }
    }
}

fn keyset_path(dir: &Path) -> std::path::PathBuf {
    dir.join("keys.json")
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
