//! c6's run: the verifications and the lookup in one process, isolated and
//! under load, then the connection costs at HAProxy in a cluster of their
//! own.
//!
//! Every variant is warmed up first (the first operations pay for the
//! connection and cold caches), then measured through the scheduler, which
//! rotates the variants' order per trial, so that a trial's lookup sits
//! beside that trial's verifications.

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
use serde::Serialize;
use supervise::RedisServer;

use super::connection_cost::{self, ConnectionCosts};
use crate::experiment::RunContext;
use crate::kit::cpu::cpu_time;
use crate::kit::err;
use crate::kit::schedule::{self, Measured, Trials};
use crate::LabError;

/// A trial costs milliseconds in isolation, so even quick mode runs enough
/// of them for noise to show as a spread instead of a verdict.
const ISOLATED_TRIALS: Trials = Trials::new(7, 15);
/// A trial under load keeps the machine busy for `load_for` per variant.
const LOADED_TRIALS: Trials = Trials::new(3, 5);
const CONCURRENT_LOOKUPS: usize = 64;
const SESSION_BYTES: usize = 180;

/// What c6 measured: per variant, its figures in trial order, and what the
/// set-up says of the run.
#[derive(Debug, Serialize)]
pub struct Raw {
    /// One per algorithm, in [`SigningAlgorithm::ALL`] order.
    pub verifications: Vec<Figures>,
    /// The reference every verification is divided by.
    pub lookup: Figures,
    /// Per isolated trial, the variants' names in the order they ran.
    pub isolated_order: Vec<Vec<String>>,
    /// Operations per variant and trial, one at a time.
    pub ops: usize,
    pub trials: usize,
    pub load_trials: usize,
    pub load_seconds: f64,
    pub cores: usize,
    pub concurrent_lookups: usize,
    pub session_bytes: usize,
    pub build: &'static str,
    pub connection_trials: usize,
    /// HAProxy's costs, or why they could not be measured: the rest of the
    /// run stands without them.
    pub connections: Option<ConnectionCosts>,
    pub connections_error: Option<String>,
}

impl Raw {
    /// The verifications, then the lookup: the order of the table and chart.
    pub fn variants(&self) -> impl Iterator<Item = &Figures> {
        self.verifications.iter().chain([&self.lookup])
    }
}

/// One variant's figures, per trial.
#[derive(Debug, Serialize)]
pub struct Figures {
    pub name: String,
    /// `None` for the lookup.
    pub alg: Option<&'static str>,
    /// Wall time per operation, one at a time (µs).
    pub isolated_us: Vec<f64>,
    /// CPU time per operation under load (µs).
    pub loaded_cpu_us: Vec<f64>,
}

struct Variant {
    name: String,
    /// `None` for the lookup.
    alg: Option<SigningAlgorithm>,
    service: Option<TokenService>,
    token: String,
}

/// The session store the lookups read, with the session already written.
struct Store {
    /// Held for its `Drop`: the server stops when the store goes.
    _server: RedisServer,
    pid: u32,
    client: RedisStore,
    lookup: redis::Cmd,
}

/// Runs c6: the isolated trials, the loaded trials, then the connections.
pub async fn measure(ctx: &RunContext) -> Result<Raw, LabError> {
    let (ops, load_for) = if ctx.quick {
        (300, Duration::from_millis(800))
    } else {
        (2_000, Duration::from_secs(2))
    };
    let (trials, load_trials) = (
        ISOLATED_TRIALS.count(ctx.quick),
        LOADED_TRIALS.count(ctx.quick),
    );
    let store = session_store().await?;
    let variants = variants()?;
    warm_up(&variants, &store, ops / 10).await?;
    let isolated = isolated(ctx, &variants, &store, trials, ops).await?;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let loaded = loaded(ctx, &variants, &store, load_trials, cores, load_for).await?;
    drop(store);

    let mut figures: Vec<Figures> = variants
        .iter()
        .enumerate()
        .map(|(i, v)| Figures {
            name: v.name.clone(),
            alg: v.alg.map(SigningAlgorithm::name),
            isolated_us: schedule::figure(&isolated, i, |v| *v),
            loaded_cpu_us: schedule::figure(&loaded, i, |v| *v),
        })
        .collect();
    let isolated_order = (0..trials)
        .map(|t| {
            isolated
                .iter()
                .filter(|m| m.trial == t)
                .map(|m| variants[m.variant].name.clone())
                .collect()
        })
        .collect();
    let lookup = figures.pop().ok_or_else(|| err("c6 measured no lookup"))?;

    // The third cost in a request's path: the connection, at HAProxy.
    let connection_trials = connection_cost::TRIALS.count(ctx.quick);
    let connections = connection_cost::measure(ctx, connection_trials).await;
    Ok(Raw {
        verifications: figures,
        lookup,
        isolated_order,
        ops,
        trials,
        load_trials,
        load_seconds: load_for.as_secs_f64(),
        cores,
        concurrent_lookups: CONCURRENT_LOOKUPS,
        session_bytes: SESSION_BYTES,
        build: if cfg!(debug_assertions) {
            "debug (unoptimized) build: run a release build for real figures"
        } else {
            "release build"
        },
        connection_trials,
        connections_error: connections.as_ref().err().map(ToString::to_string),
        connections: connections.ok(),
    })
}

/// A loopback redis-server holding one session, and the server's own
/// client to it.
async fn session_store() -> Result<Store, LabError> {
    let redis = RedisServer::start()?;
    let pid = redis
        .pid()
        .ok_or_else(|| err("redis-server is not running: no CPU time to read"))?;
    let metrics = Metrics::new("c6").map_err(err)?;
    let client = RedisStore::new(
        "session store",
        &redis.url(0),
        &RedisClientArgs::default(),
        metrics.store("c6"),
    )
    .map_err(err)?;
    client
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
    Ok(Store {
        _server: redis,
        pid,
        client,
        lookup,
    })
}

/// A verifier with a fresh key per algorithm, each with a token to check,
/// then the lookup, last.
fn variants() -> Result<Vec<Variant>, LabError> {
    let user = User {
        username: "alice".into(),
        name: "Alice".into(),
        roles: vec!["user".into()],
    };
    let mut variants = Vec::new();
    for alg in SigningAlgorithm::ALL {
        let keys = KeySet::from_file(&KeySetFile::generate(alg).map_err(err)?).map_err(err)?;
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
    variants.push(Variant {
        name: "Redis GETEX (loopback)".into(),
        alg: None,
        service: None,
        token: String::new(),
    });
    Ok(variants)
}

/// The first operations pay for connection set-up and cold caches.
async fn warm_up(variants: &[Variant], store: &Store, ops: usize) -> Result<(), LabError> {
    for variant in variants {
        match &variant.service {
            Some(service) => {
                for _ in 0..ops {
                    service.verify(&variant.token).map_err(err)?;
                }
            }
            None => {
                for _ in 0..ops {
                    store
                        .client
                        .run::<Option<String>>(&store.lookup)
                        .await
                        .map_err(err)?;
                }
            }
        }
    }
    Ok(())
}

/// Waiting time: wall time per operation (µs), one at a time.
async fn isolated(
    ctx: &RunContext,
    variants: &[Variant],
    store: &Store,
    trials: usize,
    ops: usize,
) -> Result<Vec<Measured<f64>>, LabError> {
    schedule::run(
        ctx,
        variants,
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
                            store
                                .client
                                .run::<Option<String>>(&store.lookup)
                                .await
                                .map_err(err)?,
                        );
                    }
                }
            }
            Ok::<f64, LabError>(t.elapsed().as_secs_f64() * 1e6 / ops as f64)
        },
    )
    .await
}

/// CPU per operation (µs), with the machine busy: this process's, plus
/// redis-server's for the lookup.
async fn loaded(
    ctx: &RunContext,
    variants: &[Variant],
    store: &Store,
    trials: usize,
    cores: usize,
    load_for: Duration,
) -> Result<Vec<Measured<f64>>, LabError> {
    let me = std::process::id();
    schedule::run(
        ctx,
        variants,
        trials,
        |v| format!("under load: {}", v.name),
        async |variant, _trial| {
            let (cpu_before, redis_before) = (cpu_time(me), cpu_time(store.pid));
            let count = match &variant.service {
                Some(service) => verify_under_load(service, &variant.token, cores, load_for)?,
                None => lookups_under_load(&store.client, &store.lookup, load_for).await?,
            };
            let mut cpu = cpu_time(me).saturating_sub(cpu_before);
            if variant.service.is_none() {
                cpu += cpu_time(store.pid).saturating_sub(redis_before);
            }
            Ok::<f64, LabError>(cpu.as_secs_f64() * 1e6 / count.max(1) as f64)
        },
    )
    .await
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
