//! What every verification mode shares: where the credential is in a
//! request, what a verified one yields, the two ways verification fails,
//! and the counters.
//!
//! The two failures are kept apart on purpose. A bad credential is the
//! client's problem (401, log in again); an auth service or JWKS that cannot
//! be reached is ours (503, retry): answering 401 there would log every
//! user out of the orders service whenever the auth service blinks.

use actix_web::{http::header::AUTHORIZATION, HttpRequest};
use authlab_core::{error::ApiError, metrics::Metrics, metrics::MetricsError};
use prometheus::{IntCounter, IntCounterVec, Opts};

use crate::{gateway, introspection::IntrospectionVerifier, jwks::JwksVerifier};

/// The cookie the session server sets; accepted in introspection mode.
pub const SESSION_COOKIE: &str = "authlab_session";

/// Who a verified credential belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub sub: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The credential is missing, malformed, forged, expired or revoked.
    #[error("{0}")]
    Unauthorized(String),
    /// What verification needs (the JWKS, the introspection endpoint) is
    /// unreachable, or may not be asked yet; `retry_after` is in whole
    /// seconds, at least 1 (`Retry-After`).
    #[error("{what} is unavailable")]
    Unavailable {
        what: &'static str,
        retry_after: u64,
    },
}

impl From<VerifyError> for ApiError {
    fn from(error: VerifyError) -> Self {
        match error {
            VerifyError::Unauthorized(description) => ApiError::InvalidToken { description },
            VerifyError::Unavailable { what, retry_after } => {
                ApiError::UpstreamUnavailable { what, retry_after }
            }
        }
    }
}

/// The credential of a request: `Authorization: Bearer <token>` in every
/// mode; in introspection mode the raw `authlab_session` cookie value too
/// (raw: exactly the bytes the session server signed and set).
pub fn credential(request: &HttpRequest, accept_cookie: bool) -> Result<String, ApiError> {
    if let Some(value) = request.headers().get(AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ApiError::InvalidToken {
            description: "authorization header is not visible ASCII".into(),
        })?;
        return match value.split_once(' ') {
            Some((scheme, token))
                if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
            {
                Ok(token.trim().to_owned())
            }
            _ => Err(ApiError::InvalidToken {
                description: "expected Authorization: Bearer <token>".into(),
            }),
        };
    }
    if accept_cookie {
        if let Some(cookie) = request.cookie_raw(SESSION_COOKIE) {
            if !cookie.value().is_empty() {
                return Ok(cookie.value().to_owned());
            }
        }
    }
    Err(ApiError::MissingToken(
        "send Authorization: Bearer <token>".into(),
    ))
}

/// One of the three ways to trust a credential.
pub enum Verifier {
    Jwks(std::sync::Arc<JwksVerifier>),
    Introspection(std::sync::Arc<IntrospectionVerifier>),
    Gateway,
}

impl Verifier {
    /// `http` is the calling worker's client (see `startup`).
    pub async fn verify(
        &self,
        token: &str,
        http: &reqwest::Client,
    ) -> Result<Principal, VerifyError> {
        match self {
            Verifier::Jwks(jwks) => jwks.verify(token, http).await,
            Verifier::Introspection(introspection) => introspection.verify(token, http).await,
            Verifier::Gateway => gateway::decode(token),
        }
    }
}

/// The orders service's metric families, named without the `authlab_`
/// prefix the stacks' own families carry: c14 reads them by these names
/// (docs/downstream.md lists them).
#[derive(Clone)]
pub struct OrdersMetrics {
    /// `orders_upstream_requests_total{kind="jwks"|"introspection",outcome="ok"|"error"}`
    pub upstream: IntCounterVec,
    /// `orders_requests_total{mode,outcome="ok"|"unauthorized"|"unavailable"}`
    pub requests: IntCounterVec,
    /// `orders_introspection_cache_hits_total`
    pub cache_hits: IntCounter,
}

impl OrdersMetrics {
    pub fn register(metrics: &Metrics) -> Result<Self, MetricsError> {
        let upstream = IntCounterVec::new(
            Opts::new(
                "orders_upstream_requests_total",
                "Calls to the JWKS or the introspection endpoint, by outcome",
            ),
            &["kind", "outcome"],
        )?;
        let requests = IntCounterVec::new(
            Opts::new(
                "orders_requests_total",
                "GET /orders answers, by verification mode and outcome",
            ),
            &["mode", "outcome"],
        )?;
        let cache_hits = IntCounter::new(
            "orders_introspection_cache_hits_total",
            "Requests answered from the introspection cache (no call to the auth service)",
        )?;
        let registry = metrics.registry();
        registry.register(Box::new(upstream.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(cache_hits.clone()))?;
        Ok(Self {
            upstream,
            requests,
            cache_hits,
        })
    }

    pub fn upstream(&self, kind: &str, ok: bool) {
        self.upstream
            .with_label_values(&[kind, if ok { "ok" } else { "error" }])
            .inc();
    }
}
