//! Introspection mode: ask the auth service about every credential (RFC 7662).
//!
//! This is the only way to check an opaque session id from another service,
//! and it works for JWTs too. Each request becomes a `POST /introspect` to
//! the auth service, authenticated with this service's client id and secret
//! (HTTP Basic). The answer is as fresh as it gets: a logout, a
//! logout-everywhere, a role change are seen on the very next request.
//!
//! The price is paid twice. Latency: a network round trip (and, for
//! sessions, a store read on the other side) per request. Availability: when
//! the auth service is down, this service cannot tell a good credential from
//! a bad one and answers 503 (never 401, which would log users out).
//!
//! `--introspection-cache-ttl` trades some of that back. With a TTL above
//! zero an *active* answer is remembered per token for that long (never past
//! the token's own `exp`), and requests within it make no call at all. The
//! cost is exactly what the cache saves: a logout, or a role change, is not
//! seen here until the entry expires. Inactive answers are never cached, so a
//! user who just logged in is never refused for a TTL.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use authlab_core::introspection::{ClientCredentials, IntrospectionResponse};

use crate::credential::{OrdersMetrics, Principal, VerifyError};

/// Tokens longer than this are refused without asking anyone.
pub const MAX_TOKEN_BYTES: usize = 8192;
/// Cached answers at most; beyond it expired entries are swept, and if that
/// is not enough the cache starts over (a flood of distinct live tokens
/// costs calls, never memory).
pub const MAX_CACHE_ENTRIES: usize = 10_000;

const UPSTREAM: &str = "introspection";
const UNAVAILABLE: &str = "introspection endpoint";

#[derive(Debug, Clone)]
pub struct IntrospectionSettings {
    pub url: String,
    pub client: ClientCredentials,
    pub cache_ttl: Duration,
}

struct CachedAnswer {
    sub: String,
    until: Instant,
}

pub struct IntrospectionVerifier {
    settings: IntrospectionSettings,
    authorization: String,
    cache: Mutex<HashMap<String, CachedAnswer>>,
    metrics: OrdersMetrics,
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl IntrospectionVerifier {
    pub fn new(settings: IntrospectionSettings, metrics: OrdersMetrics) -> Self {
        let authorization = settings.client.basic_header();
        Self {
            settings,
            authorization,
            cache: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedAnswer>> {
        // Losing cached answers to a poisoned lock only costs calls.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub async fn verify(
        &self,
        token: &str,
        http: &reqwest::Client,
    ) -> Result<Principal, VerifyError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(VerifyError::Unauthorized("token too large".into()));
        }
        let caching = !self.settings.cache_ttl.is_zero();
        if caching {
            let now = Instant::now();
            if let Some(hit) = self.cache().get(token).filter(|hit| hit.until > now) {
                self.metrics.cache_hits.inc();
                return Ok(Principal {
                    sub: hit.sub.clone(),
                });
            }
        }
        let answer = self.ask(token, http).await;
        self.metrics.upstream(UPSTREAM, answer.is_ok());
        let answer = answer.map_err(|error| {
            tracing::warn!(url = %self.settings.url, %error, "introspection failed");
            VerifyError::Unavailable {
                what: UNAVAILABLE,
                retry_after: 1,
            }
        })?;
        if !answer.active {
            if caching {
                self.cache().remove(token);
            }
            return Err(VerifyError::Unauthorized("credential is not active".into()));
        }
        let Some(sub) = answer.sub.filter(|sub| !sub.is_empty()) else {
            tracing::warn!("an active introspection answer without sub");
            return Err(VerifyError::Unavailable {
                what: UNAVAILABLE,
                retry_after: 1,
            });
        };
        if caching {
            self.remember(token, &sub, answer.exp);
        }
        Ok(Principal { sub })
    }

    fn remember(&self, token: &str, sub: &str, exp: Option<u64>) {
        // Never past the credential's own end: a cached "active" must not
        // outlive what the auth service itself would say.
        let lifetime = match exp {
            Some(exp) => Duration::from_secs(exp.saturating_sub(now_unix())),
            None => self.settings.cache_ttl,
        }
        .min(self.settings.cache_ttl);
        if lifetime.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut cache = self.cache();
        if cache.len() >= MAX_CACHE_ENTRIES {
            cache.retain(|_, answer| answer.until > now);
            if cache.len() >= MAX_CACHE_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(
            token.to_owned(),
            CachedAnswer {
                sub: sub.to_owned(),
                until: now + lifetime,
            },
        );
    }

    /// One `POST /introspect`. Anything but a 200 with an RFC 7662 body is
    /// an error of the endpoint, not a verdict on the token: a 401 means the
    /// auth service refuses *our* client credentials (a configuration error
    /// on one side), a 5xx that it cannot answer.
    async fn ask(
        &self,
        token: &str,
        http: &reqwest::Client,
    ) -> Result<IntrospectionResponse, String> {
        let response = http
            .post(&self.settings.url)
            .header(reqwest::header::AUTHORIZATION, &self.authorization)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[("token", token)])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            tracing::error!(
                client = self.settings.client.id(),
                "the auth service refuses this service's introspection client credentials"
            );
        }
        if status != reqwest::StatusCode::OK {
            return Err(format!("HTTP {status}"));
        }
        response
            .json::<IntrospectionResponse>()
            .await
            .map_err(|e| format!("not an introspection answer: {e}"))
    }
}
