//! The session server's options and their start-up checks.

use std::{path::PathBuf, time::Duration};

use actix_web::cookie::Key;
use authlab_core::{
    config::{validate_redis_url, ConfigError, NodeArgs, RedisClientArgs},
    introspection::ClientCredentials,
};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreMode {
    /// Sessions in a shared Redis: every node knows every session.
    Redis,
    /// Sessions in this process: other nodes never see them (claim C1).
    Memory,
}

#[derive(Debug, Clone, clap::Args, Serialize)]
pub struct SessionServerConfig {
    #[command(flatten)]
    pub node: NodeArgs,
    #[command(flatten)]
    pub redis: RedisClientArgs,
    /// Where sessions live.
    #[arg(
        long,
        env = "AUTHLAB_SESSION_STORE",
        value_enum,
        default_value = "redis"
    )]
    pub session_store: StoreMode,
    /// Redis holding the sessions (redis mode).
    #[arg(
        long,
        env = "AUTHLAB_SESSION_STORE_URL",
        default_value = "redis://127.0.0.1:6379/1"
    )]
    pub session_store_url: String,
    /// Secret (at least 32 bytes) the cookie signing key is derived from.
    /// Every node of a cluster must share it, or a cookie set by one node is
    /// rejected by the next.
    #[arg(long, env = "AUTHLAB_COOKIE_SECRET", hide_env_values = true)]
    #[serde(skip)]
    pub cookie_secret: Option<String>,
    /// File holding the cookie secret (trailing whitespace and newline
    /// trimmed), instead of --cookie-secret: a secret mounted as a file (a
    /// Docker volume or secret) stays out of the environment, which
    /// `docker inspect` shows.
    #[arg(
        long,
        env = "AUTHLAB_COOKIE_SECRET_FILE",
        conflicts_with = "cookie_secret"
    )]
    pub cookie_secret_file: Option<PathBuf>,
    /// How many nodes serve this stack. Above 1 a shared --cookie-secret is required.
    #[arg(long, env = "AUTHLAB_CLUSTER_NODES", default_value_t = 1)]
    pub cluster_nodes: usize,
    /// Mark the cookie `Secure` (set it when served over TLS).
    #[arg(long, env = "AUTHLAB_SECURE_COOKIE")]
    pub secure_cookie: bool,
    /// A session unused for this long ends (sliding expiry).
    #[arg(long, env = "AUTHLAB_IDLE_TTL", default_value = "30m", value_parser = humantime::parse_duration)]
    #[serde(with = "authlab_core::config::duration_serde")]
    pub idle_ttl: Duration,
    /// A session ends this long after login, however active it is.
    #[arg(long, env = "AUTHLAB_ABSOLUTE_TTL", default_value = "12h", value_parser = humantime::parse_duration)]
    #[serde(with = "authlab_core::config::duration_serde")]
    pub absolute_ttl: Duration,
    /// The one client allowed to call `POST /introspect`, as `ID:SECRET`
    /// (secret at least 16 bytes). Without it the endpoint refuses everyone.
    #[arg(long, env = "AUTHLAB_INTROSPECTION_CLIENT", hide_env_values = true)]
    #[serde(skip)]
    pub introspection_client: Option<String>,
}

pub const MIN_COOKIE_SECRET_BYTES: usize = 32;

impl SessionServerConfig {
    /// A single node on a free loopback port, for tests and the lab.
    pub fn local(user_directory_url: &str, session_store_url: &str) -> Self {
        Self {
            node: NodeArgs::local(user_directory_url),
            redis: RedisClientArgs::default(),
            session_store: StoreMode::Redis,
            session_store_url: session_store_url.to_owned(),
            cookie_secret: Some("authlab-test-cookie-secret-0123456789abcdef".into()),
            cookie_secret_file: None,
            cluster_nodes: 1,
            secure_cookie: false,
            idle_ttl: Duration::from_secs(30 * 60),
            absolute_ttl: Duration::from_secs(12 * 3600),
            introspection_client: None,
        }
    }

    /// Checks every option and derives the cookie key.
    pub fn validate(&self) -> Result<Key, ConfigError> {
        self.node.validate()?;
        if self.session_store == StoreMode::Redis {
            validate_redis_url("session-store-url", &self.session_store_url)?;
        }
        if self.idle_ttl < Duration::from_millis(100) {
            return Err(ConfigError::invalid("idle-ttl", "must be at least 100ms"));
        }
        if self.absolute_ttl < self.idle_ttl {
            return Err(ConfigError::invalid(
                "absolute-ttl",
                "must be at least --idle-ttl",
            ));
        }
        ClientCredentials::from_option(self.introspection_client.as_deref())?;
        if self.cluster_nodes == 0 {
            return Err(ConfigError::invalid("cluster-nodes", "must be at least 1"));
        }
        match self.cookie_secret()? {
            Some(Secret { value, flag }) if value.len() < MIN_COOKIE_SECRET_BYTES => {
                Err(ConfigError::invalid(
                    flag,
                    format!(
                        "{} bytes is too short; use at least {MIN_COOKIE_SECRET_BYTES}",
                        value.len()
                    ),
                ))
            }
            Some(Secret { value, .. }) => Ok(Key::derive_from(value.as_bytes())),
            None if self.cluster_nodes > 1 => Err(ConfigError::invalid(
                "cookie-secret",
                format!(
                    "required (or --cookie-secret-file) with --cluster-nodes {}: \
                     every node must sign cookies with the same key",
                    self.cluster_nodes
                ),
            )),
            None => {
                tracing::warn!(
                    "no --cookie-secret: using a random key, so cookies die with this process"
                );
                Ok(Key::generate())
            }
        }
    }

    /// The secret, from the flag or from the file, with the flag it came from
    /// so an error names what the operator has to fix.
    fn cookie_secret(&self) -> Result<Option<Secret>, ConfigError> {
        const FILE_FLAG: &str = "cookie-secret-file";
        match (&self.cookie_secret, &self.cookie_secret_file) {
            (Some(_), Some(_)) => Err(ConfigError::invalid(
                FILE_FLAG,
                "give either --cookie-secret or --cookie-secret-file, not both",
            )),
            (Some(secret), None) => Ok(Some(Secret {
                value: secret.clone(),
                flag: "cookie-secret",
            })),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError::invalid(FILE_FLAG, format!("cannot read {}: {e}", path.display()))
                })?;
                // Editors and `echo` end files with a newline; it is not part of the secret.
                Ok(Some(Secret {
                    value: text.trim_end().to_owned(),
                    flag: FILE_FLAG,
                }))
            }
            (None, None) => Ok(None),
        }
    }
}

struct Secret {
    value: String,
    flag: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_cluster_without_a_shared_secret() {
        let mut config = SessionServerConfig::local("redis://127.0.0.1:1", "redis://127.0.0.1:2");
        config.cookie_secret = None;
        config.cluster_nodes = 3;
        let error = config.validate().err().unwrap().to_string();
        assert!(error.contains("--cookie-secret"), "{error}");
        config.cluster_nodes = 1;
        assert!(config.validate().is_ok());
    }

    #[test]
    fn refuses_short_secrets_and_inverted_ttls() {
        let mut config = SessionServerConfig::local("redis://127.0.0.1:1", "redis://127.0.0.1:2");
        config.cookie_secret = Some("short".into());
        assert!(config.validate().is_err());
        config.cookie_secret = None;
        config.absolute_ttl = Duration::from_secs(1);
        assert!(config
            .validate()
            .err()
            .unwrap()
            .to_string()
            .contains("--absolute-ttl"));
    }

    fn with_secret_file(contents: &[u8]) -> (SessionServerConfig, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cookie-secret");
        std::fs::write(&path, contents).unwrap();
        let mut config = SessionServerConfig::local("redis://127.0.0.1:1", "redis://127.0.0.1:2");
        config.cookie_secret = None;
        config.cookie_secret_file = Some(path);
        config.cluster_nodes = 3;
        (config, dir)
    }

    #[test]
    fn reads_the_secret_from_a_file_without_its_newline() {
        let secret = "0123456789abcdefghijklmnopqrstuvwxyzABCDEF";
        let (config, _dir) = with_secret_file(format!("{secret}\n").as_bytes());
        let from_file = config.validate().unwrap();
        // The same key as the flag gives, so nodes configured either way share cookies.
        let mut by_flag = config.clone();
        by_flag.cookie_secret_file = None;
        by_flag.cookie_secret = Some(secret.into());
        assert_eq!(from_file.master(), by_flag.validate().unwrap().master());
    }

    #[test]
    fn refuses_a_short_missing_or_doubled_secret_file() {
        // 31 bytes plus newlines and spaces: trimmed, it is too short.
        let (config, _dir) = with_secret_file(b"0123456789012345678901234567890 \n\n");
        let error = config.validate().err().unwrap().to_string();
        assert!(
            error.starts_with("--cookie-secret-file: 31 bytes"),
            "{error}"
        );

        let (mut config, dir) = with_secret_file(b"0123456789abcdefghijklmnopqrstuvwxyz");
        config.cookie_secret_file = Some(dir.path().join("absent"));
        let error = config.validate().err().unwrap().to_string();
        assert!(
            error.starts_with("--cookie-secret-file: cannot read"),
            "{error}"
        );
        assert!(error.contains("absent"), "{error}");

        let (mut config, _dir) = with_secret_file(b"0123456789abcdefghijklmnopqrstuvwxyz");
        config.cookie_secret = Some("0123456789abcdefghijklmnopqrstuvwxyz".into());
        let error = config.validate().err().unwrap().to_string();
        assert!(error.contains("not both"), "{error}");
    }

    #[test]
    fn the_flag_parses_and_conflicts_with_cookie_secret() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            config: SessionServerConfig,
        }
        use clap::Parser;
        let cli = Cli::try_parse_from(["x", "--cookie-secret-file", "/run/secret"]).unwrap();
        assert_eq!(
            cli.config.cookie_secret_file,
            Some(PathBuf::from("/run/secret"))
        );
        let both = Cli::try_parse_from([
            "x",
            "--cookie-secret-file",
            "/run/secret",
            "--cookie-secret",
            "0123456789abcdefghijklmnopqrstuvwxyz",
        ]);
        assert_eq!(
            both.err().map(|e| e.kind()),
            Some(clap::error::ErrorKind::ArgumentConflict)
        );
    }
}
