//! Configuration shared by both servers.
//!
//! Every option is a command-line flag with an environment-variable fallback
//! (`--port` or `AUTHLAB_PORT`), so the same binary is configured by hand, by
//! `authlab up`, and by docker-compose. Each server has one struct that
//! flattens [`NodeArgs`] and [`RedisClientArgs`] and adds its own options;
//! `validate` runs before anything binds, so a bad value stops start-up with a
//! sentence that names the flag.

use std::{net::IpAddr, time::Duration};

use serde::Serialize;

pub use crate::forwarded::AddressRange;
pub use crate::redis_client::RedisClientArgs;
pub use crate::throttle::LoginThrottleArgs;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--{flag}: {reason}")]
    Invalid { flag: &'static str, reason: String },
}

impl ConfigError {
    pub fn invalid(flag: &'static str, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            flag,
            reason: reason.into(),
        }
    }
}

/// Where a node listens, what it calls itself, and where the users live.
#[derive(Debug, Clone, clap::Args, Serialize)]
pub struct NodeArgs {
    /// Address to listen on.
    #[arg(long, env = "AUTHLAB_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on; 0 picks a free one (tests and `authlab up` do that).
    #[arg(long, env = "AUTHLAB_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Name sent in the `x-node` header of every response. Default: `<stack>-<port>`.
    #[arg(long, env = "AUTHLAB_NODE_ID")]
    pub node_id: Option<String>,
    /// HTTP worker threads. Default: one per physical core.
    #[arg(long, env = "AUTHLAB_WORKERS")]
    pub workers: Option<usize>,
    /// Redis holding the user directory; keep it apart from the session store
    /// so that stopping the store does not stop logins' user lookups.
    #[arg(
        long,
        env = "AUTHLAB_USER_DIRECTORY_URL",
        default_value = "redis://127.0.0.1:6379/0"
    )]
    pub user_directory_url: String,
    /// How long a SIGTERM waits for in-flight requests.
    #[arg(long, env = "AUTHLAB_SHUTDOWN_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    #[serde(with = "duration_serde")]
    pub shutdown_timeout: Duration,
    /// Proxies whose `X-Forwarded-For`, `-Proto` and `-Host` are believed
    /// (addresses or CIDR ranges, comma-separated): the client's address,
    /// scheme and host behind them. Default: none, every peer speaks for
    /// itself only. See `authlab_core::forwarded`.
    #[arg(long, env = "AUTHLAB_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<AddressRange>,
    /// Login throttling; see `authlab_core::throttle`.
    #[command(flatten)]
    pub throttle: LoginThrottleArgs,
    /// Install SIGINT/SIGTERM handlers. Off for servers spawned inside tests.
    #[arg(skip = true)]
    #[serde(skip)]
    pub handle_signals: bool,
}

impl NodeArgs {
    /// Defaults for a node on a free loopback port (tests, the lab), login
    /// throttling off.
    pub fn local(user_directory_url: impl Into<String>) -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            node_id: None,
            workers: Some(1),
            user_directory_url: user_directory_url.into(),
            shutdown_timeout: Duration::from_secs(1),
            // Tests and the lab log in thousands of times from one address;
            // the throttle's own tests turn it on with small limits.
            trusted_proxies: Vec::new(),
            throttle: LoginThrottleArgs::off(),
            handle_signals: false,
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(node) = &self.node_id {
            let ok = !node.is_empty()
                && node.len() <= 64
                && node
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                return Err(ConfigError::invalid(
                    "node-id",
                    "1 to 64 characters from A-Z a-z 0-9 . _ - (it is sent as a header)",
                ));
            }
        }
        if self.workers == Some(0) {
            return Err(ConfigError::invalid("workers", "must be at least 1"));
        }
        self.throttle.validate()?;
        validate_redis_url("user-directory-url", &self.user_directory_url)
    }
}

pub fn validate_redis_url(flag: &'static str, url: &str) -> Result<(), ConfigError> {
    redis::Client::open(url)
        .map(|_| ())
        .map_err(|e| ConfigError::invalid(flag, format!("not a Redis URL ({e}): {url}")))
}

/// Serializes durations as humantime strings ("1h 30m") in dumped configs.
pub mod duration_serde {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*value).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_header_unsafe_node_ids_and_bad_urls() {
        let mut args = NodeArgs::local("redis://127.0.0.1:1/0");
        assert!(args.validate().is_ok());
        args.node_id = Some("node 1\r\n".into());
        assert!(args
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--node-id"));
        args.node_id = Some("node-1".into());
        args.user_directory_url = "http://x".into();
        assert!(args
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--user-directory-url"));
    }

    #[derive(clap::Parser)]
    #[command(no_binary_name = true)]
    struct Flags {
        #[command(flatten)]
        node: NodeArgs,
    }

    #[test]
    fn trusted_proxies_are_addresses_or_ranges_and_none_by_default() {
        use clap::Parser;
        let none = Flags::try_parse_from(Vec::<String>::new()).unwrap().node;
        assert!(none.trusted_proxies.is_empty());
        let set = Flags::try_parse_from(["--trusted-proxies", "127.0.0.2,10.0.0.0/8"])
            .unwrap()
            .node;
        let expected: Vec<AddressRange> = ["127.0.0.2", "10.0.0.0/8"]
            .iter()
            .map(|r| r.parse().unwrap())
            .collect();
        assert_eq!(set.trusted_proxies, expected);
        assert!(Flags::try_parse_from(["--trusted-proxies", "example.com"]).is_err());
    }
}
