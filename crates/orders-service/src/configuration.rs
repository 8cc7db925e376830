//! The orders service's options and their start-up checks.
//!
//! One binary, three ways to trust a credential ([`Mode`]); each mode reads
//! only its own flags, and `validate` refuses a mode whose flags are missing
//! so a misconfigured node stops at start-up instead of answering 503s.

use std::{net::IpAddr, time::Duration};

use authlab_core::config::{duration_serde, ConfigError};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Verify JWTs locally with keys fetched from the issuer's JWKS.
    Jwks,
    /// Ask the auth service's `POST /introspect` about every credential.
    Introspection,
    /// Trust a gateway (HAProxy `jwt_verify`) that verified the JWT already.
    Gateway,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Jwks => "jwks",
            Mode::Introspection => "introspection",
            Mode::Gateway => "gateway",
        }
    }
}

#[derive(Debug, Clone, clap::Args, Serialize)]
pub struct OrdersConfig {
    /// Address to listen on.
    #[arg(long, env = "AUTHLAB_ORDERS_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, env = "AUTHLAB_ORDERS_PORT", default_value_t = 0)]
    pub port: u16,
    /// Name sent in the `x-node` header of every response.
    #[arg(long, env = "AUTHLAB_ORDERS_NODE_NAME", default_value = "orders-1")]
    pub node_name: String,
    /// HTTP worker threads.
    #[arg(long, env = "AUTHLAB_ORDERS_WORKERS", default_value_t = 1)]
    pub workers: usize,
    /// How credentials are verified.
    #[arg(long, env = "AUTHLAB_ORDERS_MODE", value_enum)]
    pub mode: Mode,
    /// jwks: where the issuer publishes its keys.
    #[arg(long, env = "AUTHLAB_ORDERS_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// jwks (and gateway's documentation): the only `iss` accepted.
    #[arg(long, env = "AUTHLAB_ORDERS_ISSUER", default_value = "authlab")]
    pub issuer: String,
    /// jwks: the only `aud` accepted.
    #[arg(long, env = "AUTHLAB_ORDERS_AUDIENCE", default_value = "authlab-api")]
    pub audience: String,
    /// jwks: clock-skew allowance for `exp` and `nbf`.
    #[arg(long, env = "AUTHLAB_ORDERS_LEEWAY", default_value = "2s", value_parser = humantime::parse_duration)]
    #[serde(with = "duration_serde")]
    pub leeway: Duration,
    /// jwks: at most one JWKS fetch per this long (an unknown `kid`, or
    /// retrying a JWKS that failed, never fetches more often).
    #[arg(long, env = "AUTHLAB_ORDERS_JWKS_REFETCH_COOLDOWN", default_value = "5s", value_parser = humantime::parse_duration)]
    #[serde(with = "duration_serde")]
    pub jwks_refetch_cooldown: Duration,
    /// jwks: how long a token with an unknown `kid` may wait for the next
    /// JWKS fetch the cooldown allows (default: the cooldown, so such a
    /// token always gets an answer from the issuer); past it, 503 with
    /// `Retry-After`, never 401.
    #[arg(long, env = "AUTHLAB_ORDERS_JWKS_UNKNOWN_KID_WAIT", value_parser = humantime::parse_duration)]
    #[serde(serialize_with = "optional_duration")]
    pub jwks_unknown_kid_wait: Option<Duration>,
    /// jwks: how long past its `max-age` a cached key set keeps verifying
    /// while refetches fail (stale-if-error).
    #[arg(long, env = "AUTHLAB_ORDERS_JWKS_MAX_STALE", default_value = "1h", value_parser = humantime::parse_duration)]
    #[serde(with = "duration_serde")]
    pub jwks_max_stale: Duration,
    /// introspection: the auth service's `POST /introspect` URL.
    #[arg(long, env = "AUTHLAB_ORDERS_INTROSPECTION_URL")]
    pub introspection_url: Option<String>,
    /// introspection: this service's client id at the auth service.
    #[arg(long, env = "AUTHLAB_ORDERS_INTROSPECTION_CLIENT_ID")]
    pub introspection_client_id: Option<String>,
    /// introspection: this service's client secret.
    #[arg(
        long,
        env = "AUTHLAB_ORDERS_INTROSPECTION_CLIENT_SECRET",
        hide_env_values = true
    )]
    #[serde(skip)]
    pub introspection_client_secret: Option<String>,
    /// introspection: cache *active* answers per token this long (never past
    /// the token's `exp`); 0 asks for every request.
    #[arg(long, env = "AUTHLAB_ORDERS_INTROSPECTION_CACHE_TTL", default_value = "0s", value_parser = humantime::parse_duration)]
    #[serde(with = "duration_serde")]
    pub introspection_cache_ttl: Duration,
    /// Timeout of one JWKS or introspection call.
    #[arg(long, env = "AUTHLAB_ORDERS_UPSTREAM_TIMEOUT", default_value = "2s", value_parser = humantime::parse_duration)]
    #[serde(with = "duration_serde")]
    pub upstream_timeout: Duration,
    /// PEM file of a CA to trust for https:// upstreams, instead of none:
    /// the lab's own CA when HAProxy's frontends speak TLS.
    #[arg(long, env = "AUTHLAB_ORDERS_UPSTREAM_CA")]
    pub upstream_ca: Option<std::path::PathBuf>,
    /// How long a SIGTERM waits for in-flight requests.
    #[arg(long, env = "AUTHLAB_ORDERS_SHUTDOWN_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    #[serde(with = "duration_serde")]
    pub shutdown_timeout: Duration,
    /// Install SIGINT/SIGTERM handlers. Off for services spawned inside tests.
    #[arg(skip = false)]
    #[serde(skip)]
    pub handle_signals: bool,
}

fn optional_duration<S: serde::Serializer>(
    value: &Option<Duration>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(d) => duration_serde::serialize(d, s),
        None => s.serialize_none(),
    }
}

fn http_url(flag: &'static str, value: Option<&str>, mode: Mode) -> Result<(), ConfigError> {
    let url = value.ok_or_else(|| {
        ConfigError::invalid(flag, format!("required with --mode {}", mode.name()))
    })?;
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| ConfigError::invalid(flag, format!("not a URL ({e}): {url}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ConfigError::invalid(
            flag,
            "must be an http:// or https:// URL",
        ));
    }
    Ok(())
}

impl OrdersConfig {
    /// `--jwks-unknown-kid-wait`, or the cooldown when not given.
    pub fn unknown_kid_wait(&self) -> Duration {
        self.jwks_unknown_kid_wait
            .unwrap_or(self.jwks_refetch_cooldown)
    }

    /// A node on a free loopback port, one worker, signals off (tests, the lab).
    pub fn local(mode: Mode) -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            node_name: "orders-1".into(),
            workers: 1,
            mode,
            jwks_url: None,
            issuer: "authlab".into(),
            audience: "authlab-api".into(),
            leeway: Duration::from_secs(2),
            jwks_refetch_cooldown: Duration::from_secs(5),
            jwks_unknown_kid_wait: None,
            jwks_max_stale: Duration::from_secs(3600),
            introspection_url: None,
            introspection_client_id: None,
            introspection_client_secret: None,
            introspection_cache_ttl: Duration::ZERO,
            upstream_timeout: Duration::from_secs(2),
            upstream_ca: None,
            shutdown_timeout: Duration::from_secs(1),
            handle_signals: false,
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let name_ok = !self.node_name.is_empty()
            && self.node_name.len() <= 64
            && self
                .node_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !name_ok {
            return Err(ConfigError::invalid(
                "node-name",
                "1 to 64 characters from A-Z a-z 0-9 . _ - (it is sent as a header)",
            ));
        }
        if self.workers == 0 {
            return Err(ConfigError::invalid("workers", "must be at least 1"));
        }
        if self.upstream_timeout < Duration::from_millis(10) {
            return Err(ConfigError::invalid(
                "upstream-timeout",
                "must be at least 10ms",
            ));
        }
        match self.mode {
            Mode::Jwks => {
                http_url("jwks-url", self.jwks_url.as_deref(), self.mode)?;
                if self.issuer.is_empty() || self.audience.is_empty() {
                    return Err(ConfigError::invalid(
                        "issuer",
                        "issuer and audience must not be empty",
                    ));
                }
                if self.leeway > Duration::from_secs(300) {
                    return Err(ConfigError::invalid(
                        "leeway",
                        "more than 5m defeats expiry",
                    ));
                }
            }
            Mode::Introspection => {
                http_url(
                    "introspection-url",
                    self.introspection_url.as_deref(),
                    self.mode,
                )?;
                // The same rules the auth servers apply to --introspection-client.
                authlab_core::introspection::ClientCredentials::new(
                    self.introspection_client_id.as_deref().unwrap_or_default(),
                    self.introspection_client_secret
                        .as_deref()
                        .unwrap_or_default(),
                )
                .map_err(|e| {
                    ConfigError::invalid(
                        "introspection-client-secret",
                        format!("--introspection-client-id and --introspection-client-secret: {e}"),
                    )
                })?;
            }
            Mode::Gateway => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests fail loudly by design

    use super::*;

    #[test]
    fn each_mode_requires_its_own_flags() {
        let jwks = OrdersConfig::local(Mode::Jwks);
        assert!(jwks
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--jwks-url"));
        let mut jwks = jwks;
        jwks.jwks_url = Some("ftp://x".into());
        assert!(jwks.validate().is_err());
        jwks.jwks_url = Some("http://127.0.0.1:1/.well-known/jwks.json".into());
        assert!(jwks.validate().is_ok());

        let mut introspection = OrdersConfig::local(Mode::Introspection);
        introspection.introspection_url = Some("http://127.0.0.1:1/introspect".into());
        assert!(introspection.validate().is_err(), "no client");
        introspection.introspection_client_id = Some("orders".into());
        introspection.introspection_client_secret = Some("short".into());
        assert!(introspection.validate().is_err(), "short secret");
        introspection.introspection_client_secret = Some("0123456789abcdef".into());
        assert!(introspection.validate().is_ok());

        assert!(OrdersConfig::local(Mode::Gateway).validate().is_ok());
    }

    #[test]
    fn flags_parse() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            config: OrdersConfig,
        }
        use clap::Parser;
        let cli = Cli::try_parse_from([
            "x",
            "--mode",
            "introspection",
            "--introspection-cache-ttl",
            "5s",
            "--upstream-timeout",
            "250ms",
        ])
        .unwrap();
        assert_eq!(cli.config.mode, Mode::Introspection);
        assert_eq!(cli.config.introspection_cache_ttl, Duration::from_secs(5));
        assert_eq!(cli.config.upstream_timeout, Duration::from_millis(250));
        // The unknown-kid wait follows the cooldown unless given.
        assert_eq!(cli.config.unknown_kid_wait(), Duration::from_secs(5));
        let cli = Cli::try_parse_from([
            "x",
            "--mode",
            "jwks",
            "--jwks-refetch-cooldown",
            "10s",
            "--jwks-unknown-kid-wait",
            "2s",
        ])
        .unwrap();
        assert_eq!(cli.config.unknown_kid_wait(), Duration::from_secs(2));
        assert_eq!(cli.config.jwks_refetch_cooldown, Duration::from_secs(10));
        assert!(Cli::try_parse_from(["x"]).is_err(), "--mode is required");
    }
}
