//! DPoP at the server's edges: where a proof is asked for, and what its
//! absence means.
//!
//! [`authlab_core::dpop`] checks one proof against one request; [`crate::dpop_replay`]
//! remembers proofs. This module is the policy between them and the routes:
//!
//! * At the **token endpoints** (`/login`, `/token/refresh`) a valid proof
//!   binds the new access token to the proof's key (`cnf.jkt`) and the login's
//!   refresh tokens with it. Without a proof the client gets a plain bearer
//!   token (mode `optional`) or nothing (mode `required`). Mode `off` ignores
//!   the `DPoP` header altogether, as RFC 9449 §5 asks of a server that does
//!   not support it. Errors here are 400 `invalid_dpop_proof` (§5).
//! * At a **resource**, a bound token needs `Authorization: DPoP <token>` and
//!   a proof for this very request (method, URL, the token's hash), signed by
//!   the key the token names, never seen before. Errors are 401 with a `DPoP`
//!   challenge (§7.1).
//!
//! The URL a proof must name is rebuilt from the request's scheme and host as
//! this node may believe them ([`authlab_core::forwarded`]): from a trusted
//! proxy, its `X-Forwarded-Proto` and `X-Forwarded-Host` (HAProxy sets both
//! from what the client used, so a proof made for the load balancer's
//! address is good on every node behind it); from anyone else, the node's own
//! clear-text scheme and the `Host` header. A client's own `X-Forwarded-*`
//! or `Forwarded` header never moves the URL a proof must name.

use actix_web::HttpRequest;
use authlab_core::{
    dpop::{self, ProofRequest, ProofWindow},
    error::ApiError,
    forwarded::TrustedProxies,
};
use prometheus::IntCounterVec;

use crate::{
    configuration::DpopMode,
    dpop_replay::{ReplayCache, ReplayError},
    tokens::now_unix,
};

/// The request header a proof travels in (RFC 9449 §4.1).
pub const DPOP_HEADER: &str = "dpop";

pub struct DpopPolicy {
    mode: DpopMode,
    window: ProofWindow,
    cache: ReplayCache,
    /// Whose `X-Forwarded-Proto`/`-Host` name the URL the client used.
    trusted_proxies: TrustedProxies,
    /// `--dpop-origins`, normalized; empty: the request's own origin stands.
    origins: Vec<String>,
    /// `dpop_proofs_total{outcome}`: ok, invalid, replayed, key_mismatch.
    proofs: IntCounterVec,
}

/// One proof's verdict, for the metric and the error message.
enum Outcome {
    Ok,
    Invalid,
    Replayed,
    KeyMismatch,
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Invalid => "invalid",
            Outcome::Replayed => "replayed",
            Outcome::KeyMismatch => "key_mismatch",
        }
    }
}

impl DpopPolicy {
    pub fn new(
        mode: DpopMode,
        cache: ReplayCache,
        trusted_proxies: TrustedProxies,
        proofs: IntCounterVec,
    ) -> Self {
        Self {
            mode,
            window: ProofWindow::default(),
            cache,
            trusted_proxies,
            origins: Vec::new(),
            proofs,
        }
    }

    /// Pins the origins a proof may name (`--dpop-origins`, already normalized
    /// by `JwtServerConfig::dpop_origins`).
    pub fn with_origins(mut self, origins: Vec<String>) -> Self {
        self.origins = origins;
        self
    }

    pub fn mode(&self) -> DpopMode {
        self.mode
    }

    /// At `/login` and `/token/refresh`: `Some(jkt)` to bind the tokens to,
    /// `None` for bearer tokens.
    pub async fn at_token_endpoint(&self, req: &HttpRequest) -> Result<Option<String>, ApiError> {
        if self.mode == DpopMode::Off {
            return Ok(None);
        }
        match proof_header(req, false)? {
            Some(proof) => self.accept(req, proof, None, None, false).await.map(Some),
            None if self.mode == DpopMode::Required => Err(proof_error(
                false,
                "this server issues DPoP-bound tokens only: send a DPoP proof",
            )),
            None => Ok(None),
        }
    }

    /// At a resource, for a token bound to `jkt` and sent as `access_token`.
    pub async fn at_resource(
        &self,
        req: &HttpRequest,
        access_token: &str,
        jkt: &str,
    ) -> Result<(), ApiError> {
        let proof = proof_header(req, true)?.ok_or_else(|| {
            proof_error(
                true,
                "this token is bound to a key: send a DPoP proof made with it",
            )
        })?;
        self.accept(req, proof, Some(access_token), Some(jkt), true)
            .await
            .map(|_| ())
    }

    /// Verifies `proof`, checks its key against `expected_jkt`, and records
    /// its first use; returns the key's thumbprint.
    async fn accept(
        &self,
        req: &HttpRequest,
        proof: &str,
        access_token: Option<&str>,
        expected_jkt: Option<&str>,
        at_resource: bool,
    ) -> Result<String, ApiError> {
        let url = request_url(req, &self.trusted_proxies).ok_or_else(|| {
            self.count(Outcome::Invalid);
            proof_error(
                at_resource,
                "the request names no valid host (Host header), so no DPoP proof can match its URL",
            )
        })?;
        if !self.served_under(&url) {
            self.count(Outcome::Invalid);
            return Err(proof_error(
                at_resource,
                "this request's URL is not under an origin this server is served under (--dpop-origins)",
            ));
        }
        let now = now_unix();
        let request = ProofRequest {
            method: req.method().as_str(),
            url: &url,
            access_token,
        };
        let verified = dpop::verify(proof, &request, self.window, now).map_err(|error| {
            self.count(Outcome::Invalid);
            proof_error(at_resource, error.to_string())
        })?;
        // The key is compared before the proof is remembered: a thief's proof
        // must not use up a `jti` in the victim's name.
        if expected_jkt.is_some_and(|jkt| jkt != verified.jkt) {
            self.count(Outcome::KeyMismatch);
            return Err(proof_error(
                at_resource,
                "the DPoP proof is signed by another key than the one the token is bound to",
            ));
        }
        match self.cache.first_use(&verified, self.window, now).await {
            Ok(true) => {
                self.count(Outcome::Ok);
                Ok(verified.jkt)
            }
            Ok(false) => {
                self.count(Outcome::Replayed);
                Err(proof_error(
                    at_resource,
                    "this DPoP proof was used before (its jti is replayed)",
                ))
            }
            // Refusing is the safe side: a proof that cannot be remembered
            // could be replayed. Both heal by themselves (entries expire, the
            // store comes back), so they are 503s.
            Err(ReplayError::Full) => Err(ApiError::StoreUnavailable {
                what: "the DPoP replay cache",
            }),
            Err(ReplayError::Store(error)) => Err(error.into()),
        }
    }

    /// Whether `url`'s origin is pinned, when origins are pinned at all.
    fn served_under(&self, url: &str) -> bool {
        self.origins.is_empty()
            || url::Url::parse(url)
                .is_ok_and(|url| self.origins.contains(&url.origin().ascii_serialization()))
    }

    fn count(&self, outcome: Outcome) {
        self.proofs.with_label_values(&[outcome.label()]).inc();
    }
}

fn proof_error(at_resource: bool, description: impl Into<String>) -> ApiError {
    ApiError::InvalidDpopProof {
        at_resource,
        description: description.into(),
    }
}

/// The request's one `DPoP` header (§4.3 check 1: exactly one).
fn proof_header(req: &HttpRequest, at_resource: bool) -> Result<Option<&str>, ApiError> {
    let mut values = req.headers().get_all(DPOP_HEADER);
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(proof_error(at_resource, "more than one DPoP header"));
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| proof_error(at_resource, "the DPoP header is not visible ASCII"))
}

/// `scheme://host/path` of the request, as the client addressed it and this
/// node may believe it; `None` when the request names no valid host.
pub fn request_url(req: &HttpRequest, trusted_proxies: &TrustedProxies) -> Option<String> {
    trusted_proxies.origin(req).url(req.path())
}
