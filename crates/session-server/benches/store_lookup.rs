//! One session lookup (`GETEX key EX 1800`), per Redis client set-up.
//!
//! Every authenticated request of the session server costs exactly this one
//! store command, so its latency and its throughput under concurrency bound
//! what `/me` can do. Two benchmarks per client kind:
//!
//! * `store_lookup/single`: one GETEX at a time, the latency of one lookup
//!   when nothing else is in flight;
//! * `store_lookup/batch64`: 64 GETEX in flight at once (`join_all`), what
//!   64 concurrent requests ask of the store. A multiplexed connection
//!   pipelines them over one socket; a pool hands out exclusive connections,
//!   and the stock deadpool-redis pool adds an `UNWATCH`+`PING` round trip
//!   to every checkout (its recycle).
//!
//! The variants are the three `--redis-client` kinds at the server's default
//! pool size, plus deadpool-redis as it comes out of the box: PING on recycle
//! *and* deadpool's default pool size.
//!
//! Runs against a real `redis-server` on a free loopback port (testkit).
//! `cargo bench -p session-server --bench store_lookup`

use std::{hint::black_box, time::Duration};

use authlab_core::{
    metrics::Metrics,
    redis_client::{RedisClientArgs, RedisClientKind, RedisStore},
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures::future::join_all;
use testkit::RedisServer;

const KEY: &str =
    "authlab:session:bench0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab";
/// Concurrent lookups in the throughput benchmark (wrk's `-c64` in the HTTP runs).
const BATCH: usize = 64;
/// The idle TTL the server slides on every lookup (30 min).
const IDLE_TTL_SECS: u64 = 1800;

/// A session value shaped like the ones actix-session stores (~150 bytes).
fn session_value() -> String {
    serde_json::json!({
        "user": "\"alice\"",
        "roles": "[\"user\"]",
        "name": "\"Alice\"",
        "logged_in_at": "1767225600",
        "login_node": "\"session-8080\"",
        "csrf": "\"q8Zt3LmN0pXv\"",
    })
    .to_string()
}

/// deadpool 0.12's default `max_size`: `num_cpus::get() * 2` (see
/// `deadpool::managed::PoolConfig::default`), what a stock deadpool-redis
/// pool gets when its config says nothing about size.
fn deadpool_default_max_size() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) * 2
}

fn variants() -> Vec<(String, RedisClientArgs)> {
    let defaults = RedisClientArgs::default();
    let size = defaults.redis_pool_size;
    let with = |kind, pool_size| RedisClientArgs {
        redis_client: kind,
        redis_pool_size: pool_size,
        ..defaults.clone()
    };
    let stock = deadpool_default_max_size();
    vec![
        (
            "multiplexed".to_owned(),
            with(RedisClientKind::Multiplexed, size),
        ),
        (
            format!("pool-ping-size{size}"),
            with(RedisClientKind::Pool, size),
        ),
        (
            format!("pool-fast-size{size}"),
            with(RedisClientKind::PoolFast, size),
        ),
        (
            format!("deadpool-stock-ping-default-size{stock}"),
            with(RedisClientKind::Pool, stock),
        ),
    ]
}

fn getex() -> redis::Cmd {
    redis::cmd("GETEX")
        .arg(KEY)
        .arg("EX")
        .arg(IDLE_TTL_SECS)
        .to_owned()
}

async fn lookup(store: &RedisStore, cmd: &redis::Cmd) -> usize {
    let value: Option<String> = store.run(cmd).await.expect("GETEX succeeds");
    value.expect("the session key exists").len()
}

async fn lookup_batch(store: &RedisStore, cmd: &redis::Cmd) -> usize {
    join_all((0..BATCH).map(|_| lookup(store, cmd)))
        .await
        .into_iter()
        .sum()
}

fn store_lookup(c: &mut Criterion) {
    let server = RedisServer::start();
    let url = server.url(0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let metrics = Metrics::new("bench").expect("metrics registry");
    let cmd = getex();
    let value = session_value();

    let stores: Vec<(String, RedisStore)> = runtime.block_on(async {
        let mut stores = Vec::new();
        for (name, args) in variants() {
            let store = RedisStore::new("bench store", &url, &args, metrics.store("bench"))
                .expect("valid Redis URL");
            stores.push((name, store));
        }
        let (_, first) = &stores[0];
        first
            .run::<()>(
                redis::cmd("SET")
                    .arg(KEY)
                    .arg(&value)
                    .arg("EX")
                    .arg(IDLE_TTL_SECS),
            )
            .await
            .expect("SET the session value");
        // Open every pool's connections before measuring anything.
        for (_, store) in &stores {
            assert_eq!(lookup_batch(store, &cmd).await, BATCH * value.len());
        }
        stores
    });

    let mut single = c.benchmark_group("store_lookup/single");
    single.throughput(Throughput::Elements(1));
    for (name, store) in &stores {
        single.bench_with_input(BenchmarkId::from_parameter(name), store, |b, store| {
            b.to_async(&runtime)
                .iter(|| async { black_box(lookup(store, &cmd).await) });
        });
    }
    single.finish();

    let mut batch = c.benchmark_group(format!("store_lookup/batch{BATCH}"));
    batch.throughput(Throughput::Elements(BATCH as u64));
    for (name, store) in &stores {
        batch.bench_with_input(BenchmarkId::from_parameter(name), store, |b, store| {
            b.to_async(&runtime)
                .iter(|| async { black_box(lookup_batch(store, &cmd).await) });
        });
    }
    batch.finish();

    // Stores first (their connections), then the runtime, then redis-server.
    drop(stores);
    drop(runtime);
    drop(server);
}

criterion_group! {
    name = benches;
    // No plots: in a workspace build plotters carries `ab_glyph` (the lab's
    // charts), under which criterion's plot backend finds no font and panics.
    config = Criterion::default()
        .without_plots()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = store_lookup
}
criterion_main!(benches);
