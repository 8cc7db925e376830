//! The orders service in a lab cluster: one resource server, four ways to
//! trust a credential (claim C14).
//!
//! `GET /orders` needs to know who is asking. How it finds out is the whole
//! difference between the two stacks once a *second* service is involved:
//!
//! * [`OrdersVariant::Jwks`]: the service verifies the JWT itself with the
//!   JWT stack's published keys (`/.well-known/jwks.json`, through HAProxy),
//!   fetched once and cached; the auth service is not asked per request.
//! * [`OrdersVariant::Introspection`]: the service asks the session stack
//!   (`POST /introspect`, RFC 7662) about every request's session cookie.
//! * [`OrdersVariant::IntrospectionCached`]: the same, caching active answers
//!   for 5 s: fewer calls, and a logout that takes up to 5 s to be noticed.
//! * [`OrdersVariant::Gateway`]: HAProxy verifies the JWT (`jwt_verify`)
//!   before the service sees the request; the service only decodes it.
//!
//! Each variant is one node (`authlab node orders --mode …`) behind its own
//! HAProxy frontend `orders_<variant>_front`. The introspecting nodes
//! authenticate to `/introspect` as client [`INTROSPECTION_CLIENT_ID`] with a
//! secret the cluster makes up at start; the gateway's HAProxy needs the JWT
//! stack's public keys as PEM files, one per `kid` ([`write_gateway_keys`]).

use std::path::Path;

use jwt_server::{keys::KeySetFile, SigningAlgorithm};
use serde::{Deserialize, Serialize};

use crate::{
    haproxy::{GatewayKey, JwtGateway},
    process::Stack,
    HarnessError,
};

/// The client id the orders nodes introspect as.
pub const INTROSPECTION_CLIENT_ID: &str = "orders";

/// How long the cached introspection variant keeps an active answer.
pub const INTROSPECTION_CACHE_TTL: &str = "5s";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrdersVariant {
    Jwks,
    Introspection,
    IntrospectionCached,
    Gateway,
}

impl OrdersVariant {
    pub const ALL: [OrdersVariant; 4] = [
        Self::Jwks,
        Self::Introspection,
        Self::IntrospectionCached,
        Self::Gateway,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Jwks => "jwks",
            Self::Introspection => "introspection",
            Self::IntrospectionCached => "introspection-cached",
            Self::Gateway => "gateway",
        }
    }

    /// `--mode` of the orders node.
    pub fn mode(self) -> &'static str {
        match self {
            Self::Jwks => "jwks",
            Self::Introspection | Self::IntrospectionCached => "introspection",
            Self::Gateway => "gateway",
        }
    }

    /// HAProxy's name for it: frontend `<this>_front`, backend `<this>_nodes`.
    pub fn haproxy_name(self) -> String {
        format!("orders_{}", self.name().replace('-', "_"))
    }

    /// Node name (`x-node`, HAProxy server): `orders-jwks`, …
    pub fn node_name(self) -> String {
        format!("orders-{}", self.name())
    }

    /// The auth stack this variant's credentials come from.
    pub fn auth_stack(self) -> Stack {
        match self {
            Self::Jwks | Self::Gateway => Stack::Jwt,
            Self::Introspection | Self::IntrospectionCached => Stack::Session,
        }
    }

    /// Why this variant cannot run on a JWT stack signing with `alg`, if it cannot.
    pub fn unsupported(self, alg: SigningAlgorithm) -> Option<String> {
        match (self, alg) {
            (Self::Jwks, SigningAlgorithm::Hs256) => Some(
                "the jwks variant needs published keys, and an HS256 key is a secret (no JWKS)"
                    .into(),
            ),
            (Self::Gateway, SigningAlgorithm::Es256 | SigningAlgorithm::Rs256) => None,
            (Self::Gateway, alg) => Some(format!(
                "the gateway variant needs HAProxy 2.6's jwt_verify, which verifies ES256 and RS256 \
                 but not {alg} (start the JWT stack with --alg ES256)"
            )),
            _ => None,
        }
    }
}

impl std::fmt::Display for OrdersVariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where an orders node finds what it trusts.
#[derive(Debug, Clone)]
pub struct OrdersUpstreams {
    /// The JWT stack's JWKS, e.g. `http://127.0.0.1:<jwt front>/.well-known/jwks.json`.
    pub jwks_url: Option<String>,
    /// The session stack's `/introspect`, through HAProxy.
    pub introspection_url: Option<String>,
    pub issuer: String,
    pub audience: String,
}

/// `authlab node orders` flags for `variant` listening on `port`. The
/// introspection secret is not among them: it goes in the environment
/// ([`introspection_env`]), where `ps` does not show it.
pub fn node_args(
    variant: OrdersVariant,
    port: u16,
    workers: usize,
    upstreams: &OrdersUpstreams,
) -> Result<Vec<String>, HarnessError> {
    let missing = |what: &str| {
        HarnessError::Config(format!(
            "the {variant} orders variant needs {what} in the cluster"
        ))
    };
    let mut args: Vec<String> = vec![
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
        "--node-name".into(),
        variant.node_name(),
        "--workers".into(),
        workers.to_string(),
        "--mode".into(),
        variant.mode().into(),
    ];
    match variant {
        OrdersVariant::Jwks => {
            let url = upstreams
                .jwks_url
                .as_ref()
                .ok_or_else(|| missing("the JWT stack"))?;
            args.extend([
                "--jwks-url".into(),
                url.clone(),
                "--issuer".into(),
                upstreams.issuer.clone(),
                "--audience".into(),
                upstreams.audience.clone(),
            ]);
        }
        OrdersVariant::Introspection | OrdersVariant::IntrospectionCached => {
            let url = upstreams
                .introspection_url
                .as_ref()
                .ok_or_else(|| missing("the session stack"))?;
            args.extend([
                "--introspection-url".into(),
                url.clone(),
                "--introspection-client-id".into(),
                INTROSPECTION_CLIENT_ID.into(),
            ]);
            if variant == OrdersVariant::IntrospectionCached {
                args.extend([
                    "--introspection-cache-ttl".into(),
                    INTROSPECTION_CACHE_TTL.into(),
                ]);
            }
        }
        OrdersVariant::Gateway => {}
    }
    Ok(args)
}

/// The orders node's environment: its introspection secret, if it introspects.
pub fn introspection_env(variant: OrdersVariant, secret: &str) -> Vec<(String, String)> {
    match variant {
        OrdersVariant::Introspection | OrdersVariant::IntrospectionCached => vec![(
            "AUTHLAB_ORDERS_INTROSPECTION_CLIENT_SECRET".into(),
            secret.into(),
        )],
        _ => Vec::new(),
    }
}

/// The auth nodes' side of the same secret: `--introspection-client ID:SECRET`
/// as its environment variable.
pub fn introspection_client_env(secret: &str) -> (String, String) {
    (
        "AUTHLAB_INTROSPECTION_CLIENT".into(),
        format!("{INTROSPECTION_CLIENT_ID}:{secret}"),
    )
}

/// Writes one public-key PEM per usable `kid` of `keys` into `dir` (created
/// if needed) and returns them as HAProxy will name them: `<seen_as>/<kid>.pem`
/// (`seen_as` is `dir` for a local HAProxy, the mount point in a container).
/// Keys whose grace period is over are left out, as the JWT nodes drop them.
pub fn write_gateway_keys(
    keys: &KeySetFile,
    dir: &Path,
    seen_as: &str,
) -> Result<Vec<GatewayKey>, HarnessError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| HarnessError::Io(format!("creating {}: {e}", dir.display())))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let mut written = Vec::new();
    for entry in keys
        .keys
        .iter()
        .filter(|k| k.not_after.is_none_or(|t| t > now))
    {
        let kid = &entry.kid;
        // The kid becomes a file name and a word in HAProxy's config.
        if kid.is_empty()
            || !kid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        {
            return Err(HarnessError::Config(format!(
                "kid {kid:?} cannot name a key file for the gateway"
            )));
        }
        let pem = keys
            .public_pem(kid)
            .map_err(|e| HarnessError::Config(e.to_string()))?
            .ok_or_else(|| HarnessError::Config(format!("kid {kid} vanished from the key set")))?;
        let path = dir.join(format!("{kid}.pem"));
        std::fs::write(&path, pem)
            .map_err(|e| HarnessError::Io(format!("writing {}: {e}", path.display())))?;
        written.push(GatewayKey {
            kid: kid.clone(),
            path: format!("{}/{kid}.pem", seen_as.trim_end_matches('/')),
        });
    }
    Ok(written)
}

/// The gateway in front of stack `stack` (an HAProxy name), verifying what
/// the JWT stack with key set `keys` signs.
pub fn gateway(
    stack: &str,
    keys: &KeySetFile,
    key_files: Vec<GatewayKey>,
    issuer: &str,
    audience: &str,
) -> Result<JwtGateway, HarnessError> {
    if let Some(reason) = OrdersVariant::Gateway.unsupported(keys.alg) {
        return Err(HarnessError::Config(reason));
    }
    let gateway = JwtGateway {
        stack: stack.into(),
        alg: keys.alg.name().into(),
        issuer: issuer.into(),
        audience: audience.into(),
        keys: key_files,
    };
    gateway.validate()?;
    Ok(gateway)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstreams() -> OrdersUpstreams {
        OrdersUpstreams {
            jwks_url: Some("http://127.0.0.1:1/.well-known/jwks.json".into()),
            introspection_url: Some("http://127.0.0.1:2/introspect".into()),
            issuer: "authlab".into(),
            audience: "authlab-api".into(),
        }
    }

    fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(String::as_str)
    }

    #[test]
    fn names_are_the_ones_haproxy_compose_and_the_report_use() {
        let names: Vec<_> = OrdersVariant::ALL.iter().map(|v| v.name()).collect();
        assert_eq!(
            names,
            ["jwks", "introspection", "introspection-cached", "gateway"]
        );
        assert_eq!(
            OrdersVariant::IntrospectionCached.haproxy_name(),
            "orders_introspection_cached"
        );
        assert_eq!(
            serde_json::to_string(&OrdersVariant::IntrospectionCached).unwrap(),
            "\"introspection-cached\""
        );
    }

    #[test]
    fn each_variant_gets_its_mode_and_upstream() {
        let all = upstreams();
        let jwks = node_args(OrdersVariant::Jwks, 7001, 1, &all).unwrap();
        assert_eq!(flag(&jwks, "--mode"), Some("jwks"));
        assert_eq!(flag(&jwks, "--jwks-url"), all.jwks_url.as_deref());
        assert_eq!(flag(&jwks, "--issuer"), Some("authlab"));
        assert_eq!(flag(&jwks, "--audience"), Some("authlab-api"));
        assert_eq!(flag(&jwks, "--node-name"), Some("orders-jwks"));
        assert_eq!(flag(&jwks, "--port"), Some("7001"));

        let plain = node_args(OrdersVariant::Introspection, 7002, 1, &all).unwrap();
        assert_eq!(flag(&plain, "--mode"), Some("introspection"));
        assert_eq!(
            flag(&plain, "--introspection-url"),
            all.introspection_url.as_deref()
        );
        assert_eq!(flag(&plain, "--introspection-client-id"), Some("orders"));
        assert_eq!(flag(&plain, "--introspection-cache-ttl"), None);

        let cached = node_args(OrdersVariant::IntrospectionCached, 7003, 1, &all).unwrap();
        assert_eq!(flag(&cached, "--mode"), Some("introspection"));
        assert_eq!(flag(&cached, "--introspection-cache-ttl"), Some("5s"));

        let gateway = node_args(OrdersVariant::Gateway, 7004, 1, &all).unwrap();
        assert_eq!(flag(&gateway, "--mode"), Some("gateway"));
        assert_eq!(flag(&gateway, "--jwks-url"), None);

        // No secret on any command line.
        for args in [&jwks, &plain, &cached, &gateway] {
            assert!(!args.iter().any(|a| a.contains("secret")), "{args:?}");
        }
        assert_eq!(
            introspection_env(OrdersVariant::IntrospectionCached, "s3cr3t-s3cr3t-s3cr3t"),
            [(
                "AUTHLAB_ORDERS_INTROSPECTION_CLIENT_SECRET".to_string(),
                "s3cr3t-s3cr3t-s3cr3t".to_string()
            )]
        );
        assert!(introspection_env(OrdersVariant::Jwks, "x").is_empty());
        assert_eq!(
            introspection_client_env("abc").1,
            format!("{INTROSPECTION_CLIENT_ID}:abc")
        );
    }

    #[test]
    fn a_variant_without_its_auth_stack_is_refused() {
        let none = OrdersUpstreams {
            jwks_url: None,
            introspection_url: None,
            ..upstreams()
        };
        for variant in [OrdersVariant::Jwks, OrdersVariant::Introspection] {
            let error = node_args(variant, 1, 1, &none).unwrap_err().to_string();
            assert!(error.contains("needs the"), "{error}");
        }
    }

    #[test]
    fn only_es256_and_rs256_have_a_gateway() {
        for alg in SigningAlgorithm::ALL {
            let supported = OrdersVariant::Gateway.unsupported(alg).is_none();
            assert_eq!(
                supported,
                matches!(alg, SigningAlgorithm::Es256 | SigningAlgorithm::Rs256),
                "{alg}"
            );
        }
        assert!(OrdersVariant::Jwks
            .unsupported(SigningAlgorithm::Hs256)
            .is_some());
        let keys = KeySetFile::generate(SigningAlgorithm::EdDsa).unwrap();
        let error = gateway("orders_gateway", &keys, Vec::new(), "a", "b")
            .unwrap_err()
            .to_string();
        assert!(error.contains("ES256"), "{error}");
    }

    #[test]
    fn gateway_keys_are_public_pem_files_per_kid() {
        let dir = tempfile::tempdir().unwrap();
        let mut keys = KeySetFile::generate(SigningAlgorithm::Es256).unwrap();
        let staged = keys.stage().unwrap();
        let written = write_gateway_keys(&keys, dir.path(), "/config/gateway").unwrap();
        assert_eq!(written.len(), 2);
        assert!(written.iter().any(|k| k.kid == staged));
        for key in &written {
            assert_eq!(key.path, format!("/config/gateway/{}.pem", key.kid));
            let text =
                std::fs::read_to_string(dir.path().join(format!("{}.pem", key.kid))).unwrap();
            assert!(text.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{text}");
            assert!(!text.contains("PRIVATE"), "{text}");
        }
    }
}
