//! The JWT server's options and their start-up checks.

use std::{path::PathBuf, time::Duration};

use authlab_core::config::{validate_redis_url, ConfigError, NodeArgs, RedisClientArgs};
use serde::Serialize;

use crate::{keys::SigningAlgorithm, tokens::TokenSettings};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevocationMode {
    /// Pure stateless: an access token is valid until it expires, whatever happens.
    None,
    /// Every request checks a Redis denylist of logged-out token ids and
    /// per-user "not before" times: revocation at the price of a lookup.
    Denylist,
}

/// Proof of possession (RFC 9449, `authlab_core::dpop`): whether tokens are bound
/// to a key the client holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DpopMode {
    /// Bearer tokens only; a `DPoP` header is ignored, as RFC 9449 §5 asks
    /// of a server that does not support it.
    Off,
    /// A login or refresh that sends a DPoP proof gets a token bound to its
    /// key; one without gets a bearer token.
    Optional,
    /// No proof, no token: every token is bound.
    Required,
}

/// Where the `jti` of every accepted DPoP proof is remembered
/// (`crate::dpop_replay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplayCacheMode {
    /// In each node's memory: a proof replayed to another node passes there.
    Node,
    /// In the token store, shared by every node: a store write per request.
    Shared,
}

#[derive(Debug, Clone, clap::Args, Serialize)]
pub struct JwtServerConfig {
    #[command(flatten)]
    pub node: NodeArgs,
    #[command(flatten)]
    pub redis: RedisClientArgs,
    /// Redis for refresh tokens and the denylist (the "session store" of this stack).
    #[arg(
        long,
        env = "AUTHLAB_TOKEN_STORE_URL",
        default_value = "redis://127.0.0.1:6379/2"
    )]
    pub token_store_url: String,
    /// Key set file written by `jwt-server keys generate` (shared by all nodes).
    #[arg(long, env = "AUTHLAB_JWT_KEYSET_FILE", conflicts_with_all = ["keyset_json", "hs256_secret"])]
    pub keyset_file: Option<PathBuf>,
    /// Load --keyset-file even if group or others can read it (it holds
    /// private keys; by default such a file is refused).
    #[arg(long, env = "AUTHLAB_ALLOW_INSECURE_KEY_FILE")]
    pub allow_insecure_key_file: bool,
    /// The same key set as inline JSON (for containers).
    #[arg(
        long,
        env = "AUTHLAB_JWT_KEYSET",
        hide_env_values = true,
        conflicts_with = "hs256_secret"
    )]
    #[serde(skip)]
    pub keyset_json: Option<String>,
    /// Shortcut for HS256: the shared secret itself (at least 32 bytes).
    #[arg(long, env = "AUTHLAB_JWT_SECRET", hide_env_values = true)]
    #[serde(skip)]
    pub hs256_secret: Option<String>,
    /// Expected signing algorithm; start-up fails if the key set is of another one.
    #[arg(long, env = "AUTHLAB_JWT_ALG", value_enum)]
    pub alg: Option<SigningAlgorithm>,
    /// `iss` of issued tokens, and the only issuer accepted.
    #[arg(long, env = "AUTHLAB_JWT_ISSUER", default_value = "authlab")]
    pub issuer: String,
    /// `aud` of issued tokens, and the only audience accepted.
    #[arg(long, env = "AUTHLAB_JWT_AUDIENCE", default_value = "authlab-api")]
    pub audience: String,
    /// Access-token lifetime: the revocation window of mode `none`.
    #[arg(long, env = "AUTHLAB_ACCESS_TTL", default_value = "5m", value_parser = humantime::parse_duration)]
    #[serde(with = "authlab_core::config::duration_serde")]
    pub access_ttl: Duration,
    /// Refresh-token lifetime (each rotation issues a new one with this lifetime).
    #[arg(long, env = "AUTHLAB_REFRESH_TTL", default_value = "24h", value_parser = humantime::parse_duration)]
    #[serde(with = "authlab_core::config::duration_serde")]
    pub refresh_ttl: Duration,
    /// Clock-skew allowance for `exp` and `nbf`. jsonwebtoken defaults to
    /// 60 s, which silently adds a minute to every revocation window.
    #[arg(long, env = "AUTHLAB_JWT_LEEWAY", default_value = "2s", value_parser = humantime::parse_duration)]
    #[serde(with = "authlab_core::config::duration_serde")]
    pub leeway: Duration,
    /// Tokens longer than this are refused before any parsing.
    #[arg(long, env = "AUTHLAB_MAX_TOKEN_BYTES", default_value_t = 8192)]
    pub max_token_bytes: usize,
    #[arg(long, env = "AUTHLAB_REVOCATION", value_enum, default_value = "none")]
    pub revocation: RevocationMode,
    /// Bind tokens to a key the client proves it holds (DPoP, RFC 9449).
    #[arg(long, env = "AUTHLAB_DPOP", value_enum, default_value = "off")]
    pub dpop: DpopMode,
    /// Where accepted DPoP proofs are remembered, so none is used twice.
    #[arg(
        long,
        env = "AUTHLAB_DPOP_REPLAY_CACHE",
        value_enum,
        default_value = "shared"
    )]
    pub dpop_replay_cache: ReplayCacheMode,
    /// The origins (`scheme://host[:port]`, comma-separated) this server is
    /// served under: a DPoP proof must name one of them, whatever `Host` the
    /// request carries. Default: none listed, the request's own scheme and
    /// host are the URL (see `authlab_core::forwarded`).
    #[arg(long, env = "AUTHLAB_DPOP_ORIGINS", value_delimiter = ',')]
    pub dpop_origins: Vec<String>,
    /// The one client allowed to call `POST /introspect`, as `ID:SECRET`
    /// (secret at least 16 bytes). Without it the endpoint refuses everyone.
    #[arg(long, env = "AUTHLAB_INTROSPECTION_CLIENT", hide_env_values = true)]
    #[serde(skip)]
    pub introspection_client: Option<String>,
}

impl JwtServerConfig {
    /// A single node on a free loopback port with an HS256 secret (tests, the lab).
    pub fn local(user_directory_url: &str, token_store_url: &str) -> Self {
        let tokens = TokenSettings::default();
        Self {
            node: NodeArgs::local(user_directory_url),
            redis: RedisClientArgs::default(),
            token_store_url: token_store_url.to_owned(),
            keyset_file: None,
            allow_insecure_key_file: false,
            keyset_json: None,
            hs256_secret: Some("authlab-test-hs256-secret-0123456789abcdef".into()),
            alg: None,
            issuer: tokens.issuer,
            audience: tokens.audience,
            access_ttl: tokens.access_ttl,
            refresh_ttl: Duration::from_secs(24 * 3600),
            leeway: tokens.leeway,
            max_token_bytes: tokens.max_token_bytes,
            revocation: RevocationMode::None,
            dpop: DpopMode::Off,
            dpop_replay_cache: ReplayCacheMode::Shared,
            dpop_origins: Vec::new(),
            introspection_client: None,
        }
    }

    /// The token-service part of the configuration.
    pub fn token_settings(&self) -> TokenSettings {
        TokenSettings {
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            access_ttl: self.access_ttl,
            leeway: self.leeway,
            max_token_bytes: self.max_token_bytes,
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.node.validate()?;
        validate_redis_url("token-store-url", &self.token_store_url)?;
        if self.access_ttl < Duration::from_secs(1) {
            return Err(ConfigError::invalid("access-ttl", "must be at least 1s"));
        }
        if self.refresh_ttl < self.access_ttl {
            return Err(ConfigError::invalid(
                "refresh-ttl",
                "must be at least --access-ttl",
            ));
        }
        if self.leeway > Duration::from_secs(300) {
            return Err(ConfigError::invalid(
                "leeway",
                "more than 5m defeats expiry",
            ));
        }
        if !(512..=1_048_576).contains(&self.max_token_bytes) {
            return Err(ConfigError::invalid(
                "max-token-bytes",
                "must be between 512 and 1048576",
            ));
        }
        if self.issuer.is_empty() || self.audience.is_empty() {
            return Err(ConfigError::invalid(
                "issuer",
                "issuer and audience must not be empty",
            ));
        }
        authlab_core::introspection::ClientCredentials::from_option(
            self.introspection_client.as_deref(),
        )?;
        if self.keyset_file.is_none() && self.keyset_json.is_none() && self.hs256_secret.is_none() {
            return Err(ConfigError::invalid(
                "keyset-file",
                "no signing keys: pass --keyset-file (see `jwt-server keys generate`), --keyset-json or --hs256-secret",
            ));
        }
        self.dpop_origins()?;
        Ok(())
    }

    /// `--dpop-origins`, each as `url` serializes an origin (lowercase,
    /// default port left out), so that comparing strings compares origins.
    pub fn dpop_origins(&self) -> Result<Vec<String>, ConfigError> {
        // Empty entries are skipped: compose passes an unset variable as "".
        self.dpop_origins
            .iter()
            .filter(|text| !text.trim().is_empty())
            .map(|text| {
                let refuse =
                    |why: &str| ConfigError::invalid("dpop-origins", format!("{text:?}: {why}"));
                let url = url::Url::parse(text.trim()).map_err(|_| refuse("not a URL"))?;
                if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                    return Err(refuse("must be http:// or https:// and a host"));
                }
                if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
                    return Err(refuse("an origin has no path, query or fragment"));
                }
                if !url.username().is_empty() || url.password().is_some() {
                    return Err(refuse("an origin has no user name or password"));
                }
                Ok(url.origin().ascii_serialization())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpop_origins_are_normalized_origins_or_refused() {
        let mut config = JwtServerConfig::local("redis://127.0.0.1:1/0", "redis://127.0.0.1:1/1");
        assert_eq!(config.dpop_origins().unwrap(), Vec::<String>::new());
        config.dpop_origins = vec![
            "http://Auth.Example:8081".into(),
            "https://auth.example:443/".into(),
            "http://127.0.0.1:8081".into(),
            "".into(),
        ];
        assert_eq!(
            config.dpop_origins().unwrap(),
            [
                "http://auth.example:8081",
                "https://auth.example",
                "http://127.0.0.1:8081"
            ]
        );
        assert!(config.validate().is_ok());
        for bad in [
            "auth.example",
            "ftp://auth.example",
            "http://auth.example/me",
            "http://auth.example/?x=1",
            "http://user@auth.example",
        ] {
            config.dpop_origins = vec![bad.into()];
            let error = config.validate().unwrap_err().to_string();
            assert!(error.contains("--dpop-origins"), "{bad}: {error}");
        }
    }
}
