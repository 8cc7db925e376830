//! How the servers talk to Redis, and why there is more than one way.
//!
//! The session stack does one store round trip per authenticated request, so
//! the client set-up decides its throughput more than anything else. Three
//! set-ups are offered, because the difference between them is one of the
//! lessons of this project (figures in `docs/performance.md`):
//!
//! * [`RedisClientKind::Multiplexed`] (the default): one
//!   [`ConnectionManager`] shared by every request of the process. It is a
//!   *multiplexed* connection: concurrent requests pipeline their commands over
//!   one socket, so 64 in-flight requests cost one connection and Redis reads
//!   them in batches. It reconnects by itself after Redis restarts.
//! * [`RedisClientKind::Pool`]: a stock `deadpool-redis` pool. Every checkout
//!   is exclusive and deadpool-redis *recycles* a connection with an
//!   `UNWATCH`+`PING` round trip, so a request that does one `GET` costs two
//!   round trips and waits for a free connection when the pool is small.
//! * [`RedisClientKind::PoolFast`]: the same pool with recycling turned into
//!   a no-op. Broken connections are not found by a ping but by the error of
//!   the command that hit them, which evicts the connection from the pool.
//!
//! Whatever the kind, every command is timed into the store round-trip
//! histogram of [`crate::metrics`], and every failure to reach Redis, or a
//! Redis that refuses to serve for now (`LOADING`, `READONLY`, `OOM`,
//! `MASTERDOWN`, …), becomes [`StoreError::Unavailable`], which the HTTP
//! layer answers with a 503 and `Retry-After`. No
//! kind needs a restart after an outage: connections are (re)made on demand.

use std::time::{Duration, Instant};

use deadpool::managed::{self, Metrics, RecycleResult};
use redis::{
    aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection},
    AsyncConnectionConfig, Client, FromRedisValue, RedisError,
};
use tokio::sync::OnceCell;

use crate::metrics::StoreMetrics;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum RedisClientKind {
    /// One shared, auto-reconnecting multiplexed connection.
    Multiplexed,
    /// deadpool-redis as shipped: exclusive checkouts, PING on every recycle.
    Pool,
    /// deadpool with a no-op recycle; failed connections are evicted.
    PoolFast,
}

/// How to reach one Redis server; shared by the directory and the session store.
#[derive(Debug, Clone, clap::Args, serde::Serialize)]
pub struct RedisClientArgs {
    /// Client set-up used for every Redis this server talks to.
    #[arg(
        long,
        env = "AUTHLAB_REDIS_CLIENT",
        value_enum,
        default_value = "multiplexed"
    )]
    pub redis_client: RedisClientKind,
    /// Connections per pool (pool kinds only).
    #[arg(long, env = "AUTHLAB_REDIS_POOL_SIZE", default_value_t = 32)]
    pub redis_pool_size: usize,
    /// Connect and response timeout; a store slower than this counts as down.
    #[arg(long, env = "AUTHLAB_REDIS_TIMEOUT", default_value = "500ms", value_parser = humantime::parse_duration)]
    #[serde(with = "crate::config::duration_serde")]
    pub redis_timeout: Duration,
}

impl Default for RedisClientArgs {
    fn default() -> Self {
        Self {
            redis_client: RedisClientKind::Multiplexed,
            redis_pool_size: 32,
            redis_timeout: Duration::from_millis(500),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Redis could not be reached or did not answer in time.
    #[error("{store} is unavailable: {reason}")]
    Unavailable { store: &'static str, reason: String },
    /// Redis answered, but not with what we expected (a bug or foreign data).
    #[error("{store} returned unexpected data: {reason}")]
    Data { store: &'static str, reason: String },
    #[error("invalid Redis URL for {store}: {reason}")]
    InvalidUrl { store: &'static str, reason: String },
}

/// Error codes with which a reachable Redis says it cannot serve us *now*:
/// still loading its dump after a restart, a replica refusing writes, out of
/// memory under `noeviction`, a replica cut off from its master, a script
/// hogging it, a cluster resharding. For a client that is the same as an
/// unreachable store (retry later), not a bug of ours, so it is a 503 too.
const UNAVAILABLE_CODES: &[&str] = &[
    "LOADING",
    "READONLY",
    "OOM",
    "MASTERDOWN",
    "BUSY",
    "TRYAGAIN",
    "CLUSTERDOWN",
    "NOREPLICAS",
];

/// The socket is gone or never came: the connection itself is unusable.
fn is_connection_failure(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_unrecoverable_error()
}

impl StoreError {
    fn from_redis(store: &'static str, error: RedisError) -> Self {
        let reason = error.to_string();
        let refused = error
            .code()
            .is_some_and(|code| UNAVAILABLE_CODES.contains(&code));
        if refused || is_connection_failure(&error) {
            StoreError::Unavailable { store, reason }
        } else {
            StoreError::Data { store, reason }
        }
    }
}

impl From<StoreError> for crate::error::ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable { store, .. } => {
                tracing::warn!(%error, "store unavailable");
                crate::error::ApiError::StoreUnavailable { what: store }
            }
            other => {
                tracing::error!(error = %other, "store error");
                crate::error::ApiError::Internal
            }
        }
    }
}

/// A command or a pipeline, so every path shares one timing and error wrapper.
#[derive(Clone, Copy)]
pub enum Request<'a> {
    Cmd(&'a redis::Cmd),
    Pipeline(&'a redis::Pipeline),
}

impl<'a> From<&'a redis::Cmd> for Request<'a> {
    fn from(cmd: &'a redis::Cmd) -> Self {
        Request::Cmd(cmd)
    }
}

impl<'a> From<&'a mut redis::Cmd> for Request<'a> {
    fn from(cmd: &'a mut redis::Cmd) -> Self {
        Request::Cmd(cmd)
    }
}

impl<'a> From<&'a redis::Pipeline> for Request<'a> {
    fn from(pipeline: &'a redis::Pipeline) -> Self {
        Request::Pipeline(pipeline)
    }
}

async fn send<T: FromRedisValue, C: ConnectionLike + Send>(
    connection: &mut C,
    request: Request<'_>,
) -> Result<T, RedisError> {
    match request {
        Request::Cmd(cmd) => cmd.query_async(connection).await,
        Request::Pipeline(pipeline) => pipeline.query_async(connection).await,
    }
}

/// A deadpool manager whose recycle trusts the connection instead of pinging it.
struct FastRecycleManager {
    client: Client,
    connection_config: AsyncConnectionConfig,
}

impl managed::Manager for FastRecycleManager {
    type Type = MultiplexedConnection;
    type Error = RedisError;

    async fn create(&self) -> Result<MultiplexedConnection, RedisError> {
        self.client
            .get_multiplexed_async_connection_with_config(&self.connection_config)
            .await
    }

    async fn recycle(
        &self,
        _: &mut MultiplexedConnection,
        _: &Metrics,
    ) -> RecycleResult<RedisError> {
        Ok(())
    }
}

// One Backend per store per process: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Backend {
    Multiplexed {
        client: Client,
        config: ConnectionManagerConfig,
        /// Connection and response timeout, to tell a stale error from a fresh one.
        timeout: Duration,
        // Made on first use rather than at start-up, so a node can start while
        // its store is down and become ready when the store appears.
        manager: OnceCell<ConnectionManager>,
    },
    Pool(deadpool_redis::Pool),
    PoolFast(managed::Pool<FastRecycleManager>),
}

/// A named Redis endpoint ("session store", "user directory") with its client.
pub struct RedisStore {
    name: &'static str,
    backend: Backend,
    metrics: StoreMetrics,
}

impl RedisStore {
    /// Builds the client. Nothing connects yet: connections are made on demand.
    pub fn new(
        name: &'static str,
        url: &str,
        args: &RedisClientArgs,
        metrics: StoreMetrics,
    ) -> Result<Self, StoreError> {
        let invalid = |reason: String| StoreError::InvalidUrl {
            store: name,
            reason,
        };
        let client = Client::open(url).map_err(|e| invalid(e.to_string()))?;
        let timeout = args.redis_timeout;
        let backend = match args.redis_client {
            RedisClientKind::Multiplexed => Backend::Multiplexed {
                client,
                config: ConnectionManagerConfig::new()
                    .set_connection_timeout(timeout)
                    .set_response_timeout(timeout)
                    // One attempt per reconnect: during an outage each request
                    // fails fast with a 503 instead of waiting out a backoff.
                    .set_number_of_retries(0),
                manager: OnceCell::new(),
                timeout,
            },
            RedisClientKind::Pool => {
                let mut config = deadpool_redis::Config::from_url(url);
                config.pool = Some(pool_config(args.redis_pool_size, timeout));
                let pool = config
                    .create_pool(Some(deadpool_redis::Runtime::Tokio1))
                    .map_err(|e| invalid(e.to_string()))?;
                Backend::Pool(pool)
            }
            RedisClientKind::PoolFast => {
                let manager = FastRecycleManager {
                    client,
                    connection_config: AsyncConnectionConfig::new()
                        .set_connection_timeout(timeout)
                        .set_response_timeout(timeout),
                };
                let pool = managed::Pool::builder(manager)
                    .config(pool_config(args.redis_pool_size, timeout))
                    .runtime(deadpool::Runtime::Tokio1)
                    .build()
                    .map_err(|e| invalid(e.to_string()))?;
                Backend::PoolFast(pool)
            }
        };
        Ok(Self {
            name,
            backend,
            metrics,
        })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The same store with a connection of its own (pool kinds share their pool).
    ///
    /// An actix worker is a thread with its own runtime, and a multiplexed
    /// connection is driven by the runtime that opened it. Giving each worker
    /// its own keeps every request's round trip on one thread instead of
    /// handing it to another worker's runtime and back.
    pub fn per_worker(&self) -> Self {
        let backend = match &self.backend {
            Backend::Multiplexed {
                client,
                config,
                timeout,
                ..
            } => Backend::Multiplexed {
                client: client.clone(),
                config: config.clone(),
                manager: OnceCell::new(),
                timeout: *timeout,
            },
            Backend::Pool(pool) => Backend::Pool(pool.clone()),
            Backend::PoolFast(pool) => Backend::PoolFast(pool.clone()),
        };
        Self {
            name: self.name,
            backend,
            metrics: self.metrics.clone(),
        }
    }

    /// Runs one command or pipeline and decodes its reply.
    pub async fn run<'a, T: FromRedisValue>(
        &self,
        request: impl Into<Request<'a>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let result = self.run_untimed(request.into()).await;
        self.metrics.observe(started.elapsed(), result.is_ok());
        result
    }

    /// Whether the store answers a PING now (used by `/ready`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let reply: String = self.run(&redis::cmd("PING")).await?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(StoreError::Data {
                store: self.name,
                reason: format!("PING answered {reply:?}"),
            })
        }
    }

    async fn run_untimed<T: FromRedisValue>(&self, request: Request<'_>) -> Result<T, StoreError> {
        let unavailable = |reason: String| StoreError::Unavailable {
            store: self.name,
            reason,
        };
        match &self.backend {
            Backend::Multiplexed {
                client,
                config,
                manager,
                timeout,
            } => {
                let manager = manager
                    .get_or_try_init(|| {
                        ConnectionManager::new_with_config(client.clone(), config.clone())
                    })
                    .await
                    .map_err(|e| StoreError::from_redis(self.name, e))?;
                // Cloning a ConnectionManager clones a handle, not a socket.
                let mut connection = manager.clone();
                let started = Instant::now();
                match send(&mut connection, request).await {
                    // The manager answers the first command after an outage
                    // with the error of its last failed reconnect, and only
                    // then reconnects. Retry once so that first request after
                    // Redis returns succeeds; our commands are safe to repeat.
                    Err(error) if stale_reconnect_error(&error, started.elapsed(), *timeout) => {
                        send(&mut connection, request).await
                    }
                    other => other,
                }
                .map_err(|e| StoreError::from_redis(self.name, e))
            }
            Backend::Pool(pool) => {
                let mut connection = pool.get().await.map_err(|e| unavailable(e.to_string()))?;
                send(&mut connection, request)
                    .await
                    .map_err(|e| StoreError::from_redis(self.name, e))
            }
            Backend::PoolFast(pool) => {
                let mut connection = pool.get().await.map_err(|e| unavailable(e.to_string()))?;
                let result = send(&mut *connection, request).await;
                match result {
                    Ok(value) => Ok(value),
                    Err(error) => {
                        // Without a recycle ping this is how a dead socket leaves the pool;
                        // a refusal such as OOM came over a healthy one, which stays.
                        if is_connection_failure(&error) {
                            drop(managed::Object::take(connection));
                        }
                        Err(StoreError::from_redis(self.name, error))
                    }
                }
            }
        }
    }
}

/// Is `error` the manager's report of an earlier, failed reconnect rather
/// than this command's own failure? Then one retry makes the reconnect that
/// serves the command. A dropped or refused connection is always such a
/// report. A timeout is one only when it came back at once: a command that
/// timed out itself waited the whole `timeout`, and waiting it out again
/// would only double an outage's latency. (Stale timeouts come from a
/// reconnect whose connect timed out, e.g. while a stopped container's name
/// did not resolve.)
fn stale_reconnect_error(error: &RedisError, elapsed: Duration, timeout: Duration) -> bool {
    error.is_connection_dropped()
        || error.is_connection_refusal()
        || (error.is_timeout() && elapsed < timeout / 2)
}

fn pool_config(max_size: usize, timeout: Duration) -> deadpool::managed::PoolConfig {
    let mut config = deadpool::managed::PoolConfig::new(max_size.max(1));
    config.timeouts = deadpool::managed::Timeouts {
        wait: Some(timeout),
        create: Some(timeout),
        recycle: Some(timeout),
    };
    config
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    fn io_error(kind: io::ErrorKind) -> RedisError {
        RedisError::from(io::Error::new(kind, "Reconnecting failed"))
    }

    const TIMEOUT: Duration = Duration::from_millis(500);

    #[test]
    fn a_dropped_or_refused_connection_is_always_retried() {
        for kind in [
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::BrokenPipe,
            io::ErrorKind::UnexpectedEof,
            io::ErrorKind::ConnectionRefused,
        ] {
            assert!(
                stale_reconnect_error(&io_error(kind), TIMEOUT, TIMEOUT),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn a_timeout_that_came_back_at_once_is_stale_and_retried() {
        let error = io_error(io::ErrorKind::TimedOut);
        assert!(stale_reconnect_error(
            &error,
            Duration::from_millis(1),
            TIMEOUT
        ));
    }

    #[test]
    fn a_timeout_that_waited_is_this_commands_own_and_not_retried() {
        let error = io_error(io::ErrorKind::TimedOut);
        assert!(!stale_reconnect_error(&error, TIMEOUT, TIMEOUT));
        assert!(!stale_reconnect_error(&error, TIMEOUT / 2, TIMEOUT));
    }

    #[test]
    fn an_answer_from_redis_is_never_retried() {
        let error = RedisError::from((redis::ErrorKind::ResponseError, "OOM"));
        assert!(!stale_reconnect_error(&error, Duration::ZERO, TIMEOUT));
    }
}
