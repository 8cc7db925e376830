#![allow(clippy::unwrap_used)] // benchmarks fail loudly by design
//! One denylist check, next to one session lookup, on the same store.
//!
//! With `--revocation denylist` every authenticated request of the JWT
//! server asks Redis whether its token was revoked:
//! `Denylist::is_revoked`, one `MGET authlab:deny:<jti> authlab:user-nbf:<sub>`.
//! The session server asks Redis for the session instead: one
//! `GETEX <key> EX 1800`. Both go through `RedisStore` with the server's
//! default client (one multiplexed connection), to the same redis-server,
//! so the two differ only in the command:
//!
//! * `denylist/single/<check>`: one call at a time, the latency of one
//!   check when nothing else is in flight;
//! * `denylist/batch64/<check>`: 64 calls in flight at once (`join_all`),
//!   what 64 concurrent requests ask of the store (wrk's `-c64`);
//!
//! where `<check>` is `is_revoked` (the token was not revoked: both keys
//! are missing, the common case) or `session_getex` (an existing ~150-byte
//! session value, as in the session server's `store_lookup` benchmark).
//!
//! Together with `tokens/verify/*` this compares, in isolation, what
//! verifying a token and looking up a session cost (claim C6).
//!
//! Runs against a real `redis-server` on a free loopback port (testkit).
//! `cargo bench -p jwt-server --bench denylist`

use std::{hint::black_box, time::Duration};

use authlab_core::{
    directory::User,
    metrics::Metrics,
    redis_client::{RedisClientArgs, RedisClientKind, RedisStore},
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures::future::join_all;
use jwt_server::{
    keys::{KeySet, KeySetFile, SigningAlgorithm},
    revocation::Denylist,
    tokens::{AccessClaims, TokenService, TokenSettings},
};
use testkit::RedisServer;

const SESSION_KEY: &str =
    "authlab:session:bench0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab";
/// Concurrent checks in the throughput benchmark (wrk's `-c64` in the HTTP runs).
const BATCH: usize = 64;
/// The idle TTL the session server slides on every lookup (30 min).
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

/// Claims of a real access token (the denylist reads `jti`, `sub`, `iat`).
fn claims() -> AccessClaims {
    let keys = KeySet::from_file(&KeySetFile::generate(SigningAlgorithm::Hs256).unwrap()).unwrap();
    let service = TokenService::new(keys, TokenSettings::default());
    let user = User {
        username: "alice".into(),
        name: "Alice".into(),
        roles: vec!["user".into()],
    };
    service.issue(&user, "Qm3xT8pLw2ZkR7vN").unwrap().1
}

fn getex() -> redis::Cmd {
    redis::cmd("GETEX")
        .arg(SESSION_KEY)
        .arg("EX")
        .arg(IDLE_TTL_SECS)
        .to_owned()
}

async fn is_revoked(denylist: &Denylist<'_>, claims: &AccessClaims) -> bool {
    denylist.is_revoked(claims).await.unwrap()
}

async fn lookup(store: &RedisStore, cmd: &redis::Cmd) -> usize {
    let value: Option<String> = store.run(cmd).await.unwrap();
    value.expect("the session key exists").len()
}

fn denylist(c: &mut Criterion) {
    let server = RedisServer::start();
    let url = server.url(0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let metrics = Metrics::new("bench").unwrap();
    let args = RedisClientArgs {
        redis_client: RedisClientKind::Multiplexed,
        ..RedisClientArgs::default()
    };
    let store = RedisStore::new("token store", &url, &args, metrics.store("bench")).unwrap();
    let denylist = Denylist::new(&store);
    let claims = claims();
    let cmd = getex();
    let value = session_value();

    runtime.block_on(async {
        store
            .run::<()>(
                redis::cmd("SET")
                    .arg(SESSION_KEY)
                    .arg(&value)
                    .arg("EX")
                    .arg(IDLE_TTL_SECS),
            )
            .await
            .unwrap();
        assert!(!is_revoked(&denylist, &claims).await, "not revoked");
        assert_eq!(lookup(&store, &cmd).await, value.len());
    });

    let mut single = c.benchmark_group("denylist/single");
    single.throughput(Throughput::Elements(1));
    single.bench_function(BenchmarkId::from_parameter("is_revoked"), |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(is_revoked(&denylist, black_box(&claims)).await) });
    });
    single.bench_function(BenchmarkId::from_parameter("session_getex"), |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(lookup(&store, &cmd).await) });
    });
    single.finish();

    let mut batch = c.benchmark_group(format!("denylist/batch{BATCH}"));
    batch.throughput(Throughput::Elements(BATCH as u64));
    batch.bench_function(BenchmarkId::from_parameter("is_revoked"), |b| {
        b.to_async(&runtime).iter(|| async {
            let revoked = join_all((0..BATCH).map(|_| is_revoked(&denylist, &claims))).await;
            black_box(revoked.into_iter().filter(|r| *r).count())
        });
    });
    batch.bench_function(BenchmarkId::from_parameter("session_getex"), |b| {
        b.to_async(&runtime).iter(|| async {
            let sizes = join_all((0..BATCH).map(|_| lookup(&store, &cmd))).await;
            black_box(sizes.into_iter().sum::<usize>())
        });
    });
    batch.finish();

    // The store first (its connection), then the runtime, then redis-server.
    drop(store);
    drop(runtime);
    drop(server);
}

criterion_group! {
    name = benches;
    // No plots: lab (a dev-dependency) builds plotters with `ab_glyph`, under
    // which criterion's plot backend finds no font and panics.
    config = Criterion::default()
        .without_plots()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = denylist
}
criterion_main!(benches);
