//! A `redis-server` owned by a test: [`supervise`]'s, with panicking shorthands.
//!
//! [`supervise::RedisServer`] returns errors, because the `authlab` binary
//! reports a missing `redis-server` rather than crash. A test has nothing
//! better to do with that error than fail with its message (which carries
//! the install command), so here `start` and `restart` panic instead, and a
//! test reads like the scenario it checks.

use std::path::Path;

pub use supervise::{redis::ping, RedisOptions};

/// Sends one command to the store at `url` as an operator would
/// (redis-cli), outside any node, and returns its answer.
pub async fn command<T: ::redis::FromRedisValue>(url: &str, args: &[&str]) -> T {
    let client = ::redis::Client::open(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let mut cmd = ::redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query_async(&mut connection)
        .await
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// [`supervise::RedisServer`], started and restarted without a `Result`.
pub struct RedisServer(supervise::RedisServer);

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    supervise::free_port().unwrap_or_else(|e| panic!("{e}"))
}

/// Fails with the install command when `redis-server` is missing.
pub fn require_redis_server() -> String {
    supervise::redis::require_redis_server().unwrap_or_else(|e| panic!("{e}"))
}

impl RedisServer {
    /// Starts a throwaway Redis without persistence.
    pub fn start() -> Self {
        Self::start_with(RedisOptions::default())
    }

    pub fn start_with(options: RedisOptions) -> Self {
        Self(supervise::RedisServer::start_with(options).unwrap_or_else(|e| panic!("{e}")))
    }

    pub fn port(&self) -> u16 {
        self.0.port()
    }

    /// `redis://127.0.0.1:<port>/<db>`
    pub fn url(&self, db: u8) -> String {
        self.0.url(db)
    }

    pub fn dir(&self) -> &Path {
        self.0.dir()
    }

    pub fn pid(&self) -> Option<u32> {
        self.0.pid()
    }

    pub fn is_running(&self) -> bool {
        self.0.is_running()
    }

    /// SIGKILL without persistence (all data gone, like a crash), SIGTERM with it.
    pub fn stop(&mut self) {
        self.0.stop();
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.0.restart().unwrap_or_else(|e| panic!("{e}"));
    }
}
