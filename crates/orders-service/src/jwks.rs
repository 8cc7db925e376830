//! JWKS mode: verify the JWT here, with public keys the issuer publishes.
//!
//! This is what "stateless" buys a second service: once it holds the
//! issuer's public keys, a request costs a signature check and no call to
//! anyone. The keys come from `GET /.well-known/jwks.json` and are cached;
//! the interesting part is when to fetch them again.
//!
//! * **Freshness.** The JWKS answer's `Cache-Control: max-age` says how long
//!   the set is fresh (300 s when absent or unreadable). A request that finds
//!   the set past that age is still verified with the cached keys, and one
//!   background refetch replaces them.
//! * **Rotation.** A token whose `kid` is not in the cache may be signed by a
//!   key the issuer has just started using. Only a fetch that *started after
//!   the token arrived* can say whether the issuer publishes that key (one
//!   in flight or finished before may predate the key), so the request waits
//!   for one, and is refused as "unknown signing key" only when such a fetch
//!   succeeded without it. But a `kid` is attacker-controlled, so a flood of
//!   made-up `kid`s must not turn into a flood of fetches: at most one fetch
//!   per `--jwks-refetch-cooldown`, and every waiting request shares it (a
//!   single flight behind a `tokio::sync::Mutex`). The wait for the next
//!   allowed fetch is bounded (`--jwks-unknown-kid-wait`); past the bound, or
//!   when the fetch fails, the answer is 503 with `Retry-After`, never a 401:
//!   a valid token must not be refused because of our cooldown.
//! * **Outage.** When fetches fail, the cached keys keep verifying for
//!   `--jwks-max-stale` past their expiry (stale-if-error); after that, or
//!   when no key was ever fetched, requests get 503, never 401: the token
//!   may be fine, we just cannot tell.
//!
//! What no cache fixes is the other half of C14: a logged-out user's token,
//! or one carrying roles since revoked, verifies here until its `exp`, since
//! nothing about a logout reaches a service that never calls the issuer.
//!
//! The algorithm is taken from the JWK (`alg`), never from the token's
//! header: a token claiming `alg: none` or `HS256` with a public key as the
//! secret fails because the key's one algorithm is the only one accepted.
//! Keys without an `alg`, symmetric keys and encryption keys are skipped.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, RwLock,
    },
    time::{Duration, Instant},
};

// `Retry-After` for a wait: whole seconds rounded up, at least 1 (0 would
// invite an immediate retry that cannot be answered yet).
use authlab_core::throttle::whole_seconds as retry_after;
use jsonwebtoken::{
    jwk::{JwkSet, KeyAlgorithm, PublicKeyUse},
    Algorithm, DecodingKey, Validation,
};
use serde::Deserialize;

use crate::credential::{OrdersMetrics, Principal, VerifyError};

/// Freshness of a JWKS answer that says nothing about it.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
/// A `max-age` longer than this is capped: a typo on the issuer's side
/// should not pin a key set for a year.
pub const MAX_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// Tokens longer than this are refused before any decoding.
pub const MAX_TOKEN_BYTES: usize = 8192;
/// Largest JWKS document read.
const MAX_JWKS_BYTES: usize = 256 * 1024;

const UPSTREAM: &str = "jwks";
const UNAVAILABLE: &str = "JWKS";

/// The last fetch: when it started (the cooldown counts from there) and
/// whether it brought a usable key set.
#[derive(Debug, Clone, Copy)]
struct LastFetch {
    started: Instant,
    ok: bool,
}

/// What a request with an unknown `kid` learned from [`JwksVerifier::ask_after`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    /// The cache knows the `kid` now (a fetch in flight brought it), or a
    /// fetch that started after the request arrived brought a key set: the
    /// cache now says whether the issuer publishes the `kid`.
    Answered,
    /// No such fetch could start within the wait, or it failed: the issuer
    /// may publish the key, we could not ask. Retry after these seconds.
    NotAnswered { retry_after: u64 },
}

/// What [`JwksVerifier::refresh`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// Fetched the set now.
    Fetched,
    /// Another request fetched it while this one waited: its result counts.
    Shared,
    /// A fetch started less than a cooldown ago; none was made.
    Cooldown,
    /// The fetch failed (twice for a connection error): cached keys kept.
    Failed,
}

/// Why one fetch of the JWKS failed.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    /// No answer: the request could not be sent or the connection dropped.
    #[error("{0}")]
    Send(String),
    /// An answer that is not a usable JWKS document.
    #[error("{0}")]
    Document(String),
}

/// What a JWKS-mode node is configured with.
#[derive(Debug, Clone)]
pub struct JwksSettings {
    pub url: String,
    pub issuer: String,
    pub audience: String,
    pub leeway: Duration,
    pub refetch_cooldown: Duration,
    /// How long a request with an unknown `kid` may wait for the next fetch
    /// the cooldown allows to start (plus that fetch's own time).
    pub unknown_kid_wait: Duration,
    pub max_stale: Duration,
}

/// The `max-age` of a `Cache-Control` header value: the directive's
/// seconds, `0` for `no-cache`/`no-store` (fresh for no time at all), or
/// `None` when the header says nothing usable (the caller's default then).
///
/// Directive names are case-insensitive (RFC 9111 §5.2); the value may be
/// quoted; of several `max-age`s the smallest wins (the cautious reading of
/// a header RFC 9111 calls invalid); a value too big for `u64` is "very
/// long" and gets capped by the caller.
pub fn max_age(header: Option<&str>) -> Option<Duration> {
    let mut found: Option<u64> = None;
    for directive in header?.split(',') {
        let (name, value) = match directive.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim().trim_matches('"'))),
            None => (directive.trim(), None),
        };
        let seconds =
            if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
                Some(0)
            } else if name.eq_ignore_ascii_case("max-age") {
                value.and_then(|v| {
                    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
                        Some(v.parse::<u64>().unwrap_or(u64::MAX))
                    } else {
                        None
                    }
                })
            } else {
                None
            };
        if let Some(seconds) = seconds {
            found = Some(found.map_or(seconds, |f| f.min(seconds)));
        }
    }
    found.map(Duration::from_secs)
}

/// One key from the set, ready to verify: the key and a validation that
/// accepts exactly its algorithm.
struct CachedKey {
    key: DecodingKey,
    validation: Validation,
}

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, Arc<CachedKey>>,
    /// When the last successful fetch stops being fresh (`None`: never fetched).
    fresh_until: Option<Instant>,
}

enum Lookup {
    Fresh(Arc<CachedKey>),
    /// Past `max-age` but within `--jwks-max-stale`: use it, refetch behind.
    Stale(Arc<CachedKey>),
    /// The set is usable but has no such `kid`.
    Unknown,
    /// No key set at all, or one staler than `--jwks-max-stale`.
    Unusable,
}

/// The claims this service reads; jsonwebtoken checks `exp`, `nbf`, `iss`
/// and `aud` on its own parse of the payload.
#[derive(Deserialize)]
struct Claims {
    sub: String,
}

/// The key cache and the single flight that refreshes it, shared by every worker.
pub struct JwksVerifier {
    settings: JwksSettings,
    cache: RwLock<KeyCache>,
    /// Held for the whole of one fetch; its value is the last fetch.
    fetch: tokio::sync::Mutex<Option<LastFetch>>,
    /// Fetches finished (well or not): a request that waited for the lock
    /// and sees this moved knows another request just fetched for it.
    fetches_done: AtomicU64,
    background: AtomicBool,
    metrics: OrdersMetrics,
}

impl JwksVerifier {
    pub fn new(settings: JwksSettings, metrics: OrdersMetrics) -> Self {
        Self {
            settings,
            cache: RwLock::new(KeyCache::default()),
            fetch: tokio::sync::Mutex::new(None),
            fetches_done: AtomicU64::new(0),
            background: AtomicBool::new(false),
            metrics,
        }
    }

    /// The verified subject of `token`.
    pub async fn verify(
        self: &Arc<Self>,
        token: &str,
        http: &reqwest::Client,
    ) -> Result<Principal, VerifyError> {
        let unauthorized = |why: &str| VerifyError::Unauthorized(why.to_owned());
        if token.len() > MAX_TOKEN_BYTES {
            return Err(unauthorized("token too large"));
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| unauthorized("malformed token or unsupported algorithm"))?;
        // RFC 9068 §4: an access token says so; an ID token or any other JWT
        // signed by the same keys is not accepted as one.
        let typ_ok = header.typ.as_deref().is_some_and(|typ| {
            typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(unauthorized("token type must be at+jwt"));
        }
        let kid = header.kid.ok_or_else(|| unauthorized("token has no kid"))?;
        let arrived = Instant::now();
        let key = match self.lookup(&kid) {
            Lookup::Fresh(key) => key,
            Lookup::Stale(key) => {
                self.refresh_in_background(http);
                key
            }
            lookup @ (Lookup::Unknown | Lookup::Unusable) => {
                // No key set at all (or one too stale) is an issuer outage:
                // answer 503 at once rather than hold every request for a
                // cooldown. An unknown kid may be a new key: wait for it.
                let wait = match lookup {
                    Lookup::Unknown => self.settings.unknown_kid_wait,
                    _ => Duration::ZERO,
                };
                match self.ask_after(http, &kid, arrived, wait).await {
                    Asked::NotAnswered { retry_after } => {
                        return Err(VerifyError::Unavailable {
                            what: UNAVAILABLE,
                            retry_after,
                        })
                    }
                    Asked::Answered => match self.lookup(&kid) {
                        Lookup::Fresh(key) | Lookup::Stale(key) => key,
                        // Asked after the token arrived, and the issuer does not
                        // publish the key: now, and only now, it is the token's fault.
                        Lookup::Unknown => return Err(unauthorized("unknown signing key")),
                        Lookup::Unusable => {
                            return Err(VerifyError::Unavailable {
                                what: UNAVAILABLE,
                                retry_after: retry_after(self.settings.refetch_cooldown),
                            })
                        }
                    },
                }
            }
        };
        jsonwebtoken::decode::<Claims>(token, &key.key, &key.validation)
            .map(|data| Principal {
                sub: data.claims.sub,
            })
            .map_err(|error| {
                use jsonwebtoken::errors::ErrorKind;
                let why = match error.kind() {
                    ErrorKind::InvalidSignature => "signature does not verify",
                    ErrorKind::ExpiredSignature => "token expired",
                    ErrorKind::ImmatureSignature => "token not yet valid",
                    ErrorKind::InvalidIssuer => "wrong issuer",
                    ErrorKind::InvalidAudience => "wrong audience",
                    ErrorKind::InvalidAlgorithm => "algorithm does not match the key",
                    ErrorKind::MissingRequiredClaim(_) => "required claim missing",
                    _ => "invalid token",
                };
                unauthorized(why)
            })
    }

    fn lookup(&self, kid: &str) -> Lookup {
        let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
        let Some(fresh_until) = cache.fresh_until else {
            return Lookup::Unusable;
        };
        let now = Instant::now();
        if !within_max_stale(fresh_until, self.settings.max_stale, now) {
            return Lookup::Unusable;
        }
        match cache.keys.get(kid) {
            Some(key) if now < fresh_until => Lookup::Fresh(key.clone()),
            Some(key) => Lookup::Stale(key.clone()),
            None => Lookup::Unknown,
        }
    }

    /// Whether the cached set can verify now (for `/ready`).
    pub fn usable(&self) -> bool {
        let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
        cache.fresh_until.is_some_and(|fresh_until| {
            within_max_stale(fresh_until, self.settings.max_stale, Instant::now())
        })
    }

    /// The `kid`s cached now (tests and `/ready`).
    pub fn kids(&self) -> Vec<String> {
        let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
        cache.keys.keys().cloned().collect()
    }

    fn refresh_in_background(self: &Arc<Self>, http: &reqwest::Client) {
        if self
            .background
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        let this = self.clone();
        let http = http.clone();
        actix_web::rt::spawn(async move {
            this.refresh(&http).await;
            this.background.store(false, Ordering::Release);
        });
    }

    /// Fetches the set again, unless another request just did (then its
    /// result is ours too) or the last fetch started less than a cooldown
    /// ago. Failures keep the cached keys; they are counted and logged.
    pub async fn refresh(&self, http: &reqwest::Client) -> Refresh {
        let seen = self.fetches_done.load(Ordering::Acquire);
        let mut last = self.fetch.lock().await;
        if self.fetches_done.load(Ordering::Acquire) != seen {
            return Refresh::Shared;
        }
        if last.is_some_and(|l| l.started.elapsed() < self.settings.refetch_cooldown) {
            return Refresh::Cooldown;
        }
        self.fetch_locked(&mut last, http).await
    }

    /// Waits until the cache knows `kid`, or a fetch that started at or
    /// after `arrived` says it does not, and says which. Such fetches still
    /// come at most one per cooldown and are shared: a request that finds
    /// one finished since it arrived takes its result; otherwise it starts
    /// one if the cooldown allows, or sleeps until it does, if that is within
    /// `wait` of its arrival. Waiting for the lock is waiting for a fetch in
    /// flight, which the client's timeout bounds; that fetch, though older
    /// than the request, may well bring the key (the requests right behind
    /// the first one with a new kid), so the cache is looked at again first.
    async fn ask_after(
        &self,
        http: &reqwest::Client,
        kid: &str,
        arrived: Instant,
        wait: Duration,
    ) -> Asked {
        let cooldown = self.settings.refetch_cooldown;
        let deadline = arrived.checked_add(wait).unwrap_or(arrived);
        loop {
            let mut last = self.fetch.lock().await;
            if matches!(self.lookup(kid), Lookup::Fresh(_) | Lookup::Stale(_)) {
                return Asked::Answered;
            }
            let now = Instant::now();
            if let Some(done) = *last {
                if done.started >= arrived {
                    return if done.ok {
                        Asked::Answered
                    } else {
                        Asked::NotAnswered {
                            retry_after: retry_after(
                                (done.started + cooldown).saturating_duration_since(now),
                            ),
                        }
                    };
                }
            }
            let allowed_at = last.map_or(now, |l| l.started + cooldown);
            if allowed_at <= now {
                return match self.fetch_locked(&mut last, http).await {
                    Refresh::Fetched => Asked::Answered,
                    _ => Asked::NotAnswered {
                        retry_after: retry_after(cooldown),
                    },
                };
            }
            if allowed_at > deadline {
                return Asked::NotAnswered {
                    retry_after: retry_after(allowed_at - now),
                };
            }
            drop(last);
            tokio::time::sleep_until(allowed_at.into()).await;
        }
    }

    /// One fetch (and its one retry), with the lock held: the record of it,
    /// the counters, the log line and, on success, the new key set.
    async fn fetch_locked(&self, last: &mut Option<LastFetch>, http: &reqwest::Client) -> Refresh {
        let started = Instant::now();
        *last = Some(LastFetch { started, ok: false });
        let mut result = self.fetch_once(http).await;
        self.metrics.upstream(UPSTREAM, result.is_ok());
        // A pooled keep-alive connection the other side has just closed (a
        // load balancer reloading, say) fails before any byte is answered;
        // one fresh attempt tells that apart from an issuer that is down.
        if matches!(&result, Err(FetchError::Send(_))) {
            result = self.fetch_once(http).await;
            self.metrics.upstream(UPSTREAM, result.is_ok());
        }
        let outcome = match result {
            Ok((keys, fresh_for)) => {
                tracing::info!(url = %self.settings.url, keys = keys.len(), ?fresh_for, "JWKS fetched");
                let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
                cache.keys = keys;
                cache.fresh_until = Some(Instant::now() + fresh_for);
                Refresh::Fetched
            }
            Err(error) => {
                tracing::warn!(url = %self.settings.url, %error, "JWKS fetch failed; keeping the cached keys");
                Refresh::Failed
            }
        };
        *last = Some(LastFetch {
            started,
            ok: outcome == Refresh::Fetched,
        });
        self.fetches_done.fetch_add(1, Ordering::AcqRel);
        outcome
    }

    async fn fetch_once(
        &self,
        http: &reqwest::Client,
    ) -> Result<(HashMap<String, Arc<CachedKey>>, Duration), FetchError> {
        let response = http
            .get(&self.settings.url)
            .send()
            .await
            .map_err(|e| FetchError::Send(e.to_string()))?;
        if !response.status().is_success() {
            return Err(FetchError::Document(format!("HTTP {}", response.status())));
        }
        let fresh_for = max_age(
            response
                .headers()
                .get(reqwest::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
        )
        .unwrap_or(DEFAULT_MAX_AGE)
        .min(MAX_MAX_AGE);
        if response
            .content_length()
            .is_some_and(|length| length > MAX_JWKS_BYTES as u64)
        {
            return Err(FetchError::Document("JWKS document too large".into()));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| FetchError::Document(e.to_string()))?;
        if body.len() > MAX_JWKS_BYTES {
            return Err(FetchError::Document("JWKS document too large".into()));
        }
        let set: JwkSet = serde_json::from_slice(&body)
            .map_err(|e| FetchError::Document(format!("not a JWKS: {e}")))?;
        Ok((self.usable_keys(&set), fresh_for))
    }

    fn usable_keys(&self, set: &JwkSet) -> HashMap<String, Arc<CachedKey>> {
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            if jwk
                .common
                .public_key_use
                .as_ref()
                .is_some_and(|usage| *usage != PublicKeyUse::Signature)
            {
                continue;
            }
            let Some(alg) = jwk.common.key_algorithm.and_then(signature_algorithm) else {
                tracing::debug!(%kid, "JWK without a public signature algorithm; skipped");
                continue;
            };
            let key = match DecodingKey::from_jwk(jwk) {
                Ok(key) => key,
                Err(error) => {
                    tracing::warn!(%kid, %error, "unusable JWK; skipped");
                    continue;
                }
            };
            keys.insert(
                kid,
                Arc::new(CachedKey {
                    key,
                    validation: self.validation(alg),
                }),
            );
        }
        keys
    }

    fn validation(&self, alg: Algorithm) -> Validation {
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = self.settings.leeway.as_secs();
        validation
    }
}

/// Whether keys fresh until `fresh_until` may still verify at `now`
/// (an absurd `--jwks-max-stale` that overflows means "for ever").
fn within_max_stale(fresh_until: Instant, max_stale: Duration, now: Instant) -> bool {
    fresh_until
        .checked_add(max_stale)
        .is_none_or(|end| now < end)
}

/// The JWS algorithm of a JWK's `alg`, for public-key signature algorithms
/// only: HMAC keys have no business in a public set, encryption keys sign nothing.
fn signature_algorithm(alg: KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_carefully() {
        let s = Duration::from_secs;
        assert_eq!(max_age(Some("public, max-age=300")), Some(s(300)));
        assert_eq!(max_age(Some("MAX-AGE=60")), Some(s(60)));
        assert_eq!(max_age(Some("max-age=\"30\", public")), Some(s(30)));
        assert_eq!(max_age(Some("max-age=60, max-age=10")), Some(s(10)));
        assert_eq!(max_age(Some("public, max-age=300, no-cache")), Some(s(0)));
        assert_eq!(max_age(Some("no-store")), Some(s(0)));
        assert_eq!(max_age(Some("max-age=-5")), None);
        assert_eq!(max_age(Some("max-age=1e3")), None);
        assert_eq!(max_age(Some("max-age=")), None);
        assert_eq!(max_age(Some("s-maxage=10")), None);
        assert_eq!(max_age(Some("public")), None);
        assert_eq!(max_age(None), None);
        assert_eq!(
            max_age(Some("max-age=99999999999999999999999")),
            Some(s(u64::MAX))
        );
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_and_at_least_one() {
        assert_eq!(retry_after(Duration::ZERO), 1);
        assert_eq!(retry_after(Duration::from_millis(1)), 1);
        assert_eq!(retry_after(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after(Duration::from_secs(5)), 5);
    }

    #[test]
    fn only_public_signature_algorithms_are_used() {
        assert_eq!(
            signature_algorithm(KeyAlgorithm::EdDSA),
            Some(Algorithm::EdDSA)
        );
        assert_eq!(
            signature_algorithm(KeyAlgorithm::ES256),
            Some(Algorithm::ES256)
        );
        assert_eq!(signature_algorithm(KeyAlgorithm::HS256), None);
        assert_eq!(signature_algorithm(KeyAlgorithm::RSA_OAEP), None);
    }
}
