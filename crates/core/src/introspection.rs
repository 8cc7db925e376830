//! Token introspection (RFC 7662): how a resource service asks the auth
//! service "is this credential good, and whose is it?".
//!
//! A JWT can be checked by anyone holding the public key; an opaque session
//! id cannot: only the server that keeps the sessions knows what it means.
//! Introspection is the standard answer: the resource service `POST`s the
//! credential to `/introspect` and gets back `{"active": true, "sub": ...}`
//! or `{"active": false}`. The price is a network call per request (or a
//! cache, which brings back the staleness a JWT has), and the auth service's
//! availability becomes the resource service's.
//!
//! Both authlab servers serve the endpoint; what differs is only how they
//! judge the token (a session lookup or a signature check). Everything else
//! is here, once:
//!
//! * [`ClientCredentials`]: the one client allowed to ask, from
//!   `--introspection-client ID:SECRET`, checked with HTTP Basic
//!   authentication in constant time. An endpoint that anyone may call
//!   would be an oracle for stolen or guessed tokens, so with no client
//!   configured the endpoint refuses everyone;
//! * [`IntrospectionResponse`]: the RFC 7662 §2.2 answer;
//! * [`IntrospectionEndpoint`]: client authentication, the form body
//!   (`token=...`, RFC 7662 §2.1), the answers and their counter.

use actix_web::{
    http::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE},
    web, HttpRequest, HttpResponse, ResponseError,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use futures::StreamExt;
use prometheus::{IntCounterVec, Opts};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::{
    config::ConfigError,
    error::ApiError,
    metrics::{Metrics, MetricsError},
};

/// Shortest client secret accepted (128 bits of a random alphanumeric secret is far more).
pub const MIN_CLIENT_SECRET_BYTES: usize = 16;

/// Largest form body read: a token is at most a few KiB.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// The flag both servers name in their errors.
const FLAG: &str = "introspection-client";

/// Characters allowed in a client id and secret: RFC 6749 §2.3.1 has the
/// client form-urlencode both before HTTP Basic; with only unreserved
/// characters, the encoded and the plain form are the same bytes, so a
/// client that encodes and one that does not both authenticate.
fn unreserved(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// The client allowed to introspect: `ID:SECRET`.
#[derive(Clone)]
pub struct ClientCredentials {
    id: String,
    secret: String,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl ClientCredentials {
    pub fn new(id: &str, secret: &str) -> Result<Self, ConfigError> {
        if id.is_empty() || id.len() > 128 || !unreserved(id) {
            return Err(ConfigError::invalid(
                FLAG,
                "the client id must be 1 to 128 characters from A-Z a-z 0-9 - . _ ~",
            ));
        }
        if secret.len() < MIN_CLIENT_SECRET_BYTES {
            return Err(ConfigError::invalid(
                FLAG,
                format!(
                    "the secret is {} bytes; use at least {MIN_CLIENT_SECRET_BYTES}",
                    secret.len()
                ),
            ));
        }
        if secret.len() > 256 || !unreserved(secret) {
            return Err(ConfigError::invalid(
                FLAG,
                "the secret must be at most 256 characters from A-Z a-z 0-9 - . _ ~",
            ));
        }
        Ok(Self {
            id: id.to_owned(),
            secret: secret.to_owned(),
        })
    }

    /// Parses `ID:SECRET` (the secret may not contain `:` anyway).
    pub fn parse(spec: &str) -> Result<Self, ConfigError> {
        let (id, secret) = spec
            .split_once(':')
            .ok_or_else(|| ConfigError::invalid(FLAG, "expected ID:SECRET"))?;
        Self::new(id, secret)
    }

    /// The option as both servers hold it: `None` means no client (the
    /// endpoint answers 401 to everyone), a bad value is a start-up error.
    pub fn from_option(spec: Option<&str>) -> Result<Option<Self>, ConfigError> {
        spec.map(Self::parse).transpose()
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// `Authorization: Basic base64(id:secret)` for these credentials.
    pub fn basic_header(&self) -> String {
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", self.id, self.secret))
        )
    }

    /// Whether an `Authorization` header carries these credentials.
    ///
    /// Both parts are compared in constant time, and both comparisons always
    /// run, so the time taken says nothing about how much of the id or the
    /// secret matched (only, as with any comparison, whether the lengths did).
    pub fn authenticate(&self, header: Option<&HeaderValue>) -> bool {
        let Some((id, secret)) = header.and_then(basic_credentials) else {
            return false;
        };
        let id_ok = id.as_bytes().ct_eq(self.id.as_bytes());
        let secret_ok = secret.as_bytes().ct_eq(self.secret.as_bytes());
        bool::from(id_ok & secret_ok)
    }
}

/// `user:password` of an HTTP Basic header (RFC 7617), scheme case-insensitive.
fn basic_credentials(header: &HeaderValue) -> Option<(String, String)> {
    let value = header.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// What `token_type` an active answer names (RFC 7662 §2.2 leaves the values open).
pub const TOKEN_TYPE_SESSION: &str = "session";
pub const TOKEN_TYPE_ACCESS: &str = "access_token";

/// The RFC 7662 §2.2 answer. An inactive answer carries `active: false`
/// and nothing else: it must not say *why* (expired, revoked, forged), or
/// the endpoint helps whoever is probing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntrospectionResponse {
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// Unix seconds after which the credential is no longer active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    /// Unix seconds of issue (the login, for a session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// The node that answered (authlab's addition, like the `x-node` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// What an active credential says about its holder.
#[derive(Debug, Clone)]
pub struct ActiveToken {
    pub sub: String,
    pub name: String,
    pub roles: Vec<String>,
    pub exp: u64,
    pub iat: u64,
    pub token_type: &'static str,
}

impl IntrospectionResponse {
    pub fn inactive() -> Self {
        Self {
            active: false,
            sub: None,
            name: None,
            roles: None,
            exp: None,
            iat: None,
            token_type: None,
            node: None,
        }
    }

    pub fn active(token: ActiveToken, node: &str) -> Self {
        Self {
            active: true,
            sub: Some(token.sub),
            name: Some(token.name),
            roles: Some(token.roles),
            exp: Some(token.exp),
            iat: Some(token.iat),
            token_type: Some(token.token_type.to_owned()),
            node: Some(node.to_owned()),
        }
    }
}

/// The parts of `POST /introspect` that do not depend on the kind of token.
#[derive(Clone)]
pub struct IntrospectionEndpoint {
    client: Option<ClientCredentials>,
    requests: IntCounterVec,
}

impl IntrospectionEndpoint {
    /// Registers `introspection_requests_total{result}`: the same name on
    /// both auth stacks, without the `authlab_` prefix of their own families,
    /// because it is an interface the orders service's docs and the lab's
    /// c14 share.
    pub fn new(client: Option<ClientCredentials>, metrics: &Metrics) -> Result<Self, MetricsError> {
        let requests = IntCounterVec::new(
            Opts::new(
                "introspection_requests_total",
                "POST /introspect answers: active, inactive, or unauthorized (client authentication failed)",
            ),
            &["result"],
        )?;
        metrics.registry().register(Box::new(requests.clone()))?;
        Ok(Self { client, requests })
    }

    /// Authenticates the client, then reads the form and returns its
    /// `token`; or the response to send instead (401, 400, 413).
    ///
    /// The client is checked before the body is parsed: an unauthenticated
    /// caller learns nothing, not even whether its body was well formed.
    pub async fn accept(
        &self,
        request: &HttpRequest,
        payload: web::Payload,
    ) -> Result<String, HttpResponse> {
        let authenticated = self
            .client
            .as_ref()
            .is_some_and(|client| client.authenticate(request.headers().get(AUTHORIZATION)));
        if !authenticated {
            self.requests.with_label_values(&["unauthorized"]).inc();
            return Err(invalid_client(self.client.is_some()));
        }
        let form_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_none_or(|value| {
                value.split(';').next().is_some_and(|t| {
                    t.trim()
                        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                })
            });
        if !form_type {
            return Err(no_store(ApiError::bad_request(
                "invalid_request",
                "send the token as application/x-www-form-urlencoded: token=...",
            )));
        }
        let body = read_body(payload).await.map_err(no_store)?;
        let token = url::form_urlencoded::parse(&body)
            .find(|(name, _)| name == "token")
            .map(|(_, value)| value.into_owned())
            .filter(|token| !token.is_empty());
        token.ok_or_else(|| {
            no_store(ApiError::bad_request(
                "invalid_request",
                "the form has no token parameter",
            ))
        })
    }

    /// The 200 answer, counted as active or inactive.
    pub fn answer(&self, response: &IntrospectionResponse) -> HttpResponse {
        let result = if response.active {
            "active"
        } else {
            "inactive"
        };
        self.requests.with_label_values(&[result]).inc();
        HttpResponse::Ok()
            .insert_header(("cache-control", "no-store"))
            .json(response)
    }
}

/// Any error answer of the endpoint: introspection answers are never cached
/// by intermediaries (RFC 7662 §4).
pub fn no_store(error: ApiError) -> HttpResponse {
    let mut response = error.error_response();
    response.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    response
}

/// 401 `invalid_client` with the Basic challenge (RFC 6749 §5.2).
fn invalid_client(configured: bool) -> HttpResponse {
    let message = if configured {
        "client authentication failed: send Authorization: Basic base64(id:secret)"
    } else {
        "no introspection client is configured on this server (--introspection-client)"
    };
    let mut response = no_store(ApiError::unauthorized("invalid_client", message));
    response.headers_mut().insert(
        actix_web::http::header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"introspection\""),
    );
    response
}

async fn read_body(mut payload: web::Payload) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request("invalid_request", e.to_string()))?;
        if body.len() + chunk.len() > MAX_FORM_BYTES {
            return Err(ApiError::PayloadTooLarge(format!(
                "form body larger than {MAX_FORM_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests fail loudly by design

    use super::*;

    fn header(value: &str) -> HeaderValue {
        HeaderValue::from_str(value).unwrap()
    }

    #[test]
    fn parses_and_validates_the_flag() {
        let client = ClientCredentials::parse("orders:0123456789abcdef").unwrap();
        assert_eq!(
            (client.id(), client.secret()),
            ("orders", "0123456789abcdef")
        );
        for bad in [
            "orders",
            ":0123456789abcdef",
            "orders:short",
            "orders:0123456789abcdef:x",
            "ord ers:0123456789abcdef",
        ] {
            let error = ClientCredentials::parse(bad).unwrap_err().to_string();
            assert!(
                error.starts_with("--introspection-client"),
                "{bad}: {error}"
            );
        }
        assert!(ClientCredentials::from_option(None).unwrap().is_none());
        assert!(!format!("{client:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn basic_authentication_accepts_exactly_the_configured_client() {
        let client = ClientCredentials::parse("orders:0123456789abcdef").unwrap();
        assert!(client.authenticate(Some(&header(&client.basic_header()))));
        assert!(client.authenticate(Some(&header(&format!(
            "basic {}",
            STANDARD.encode("orders:0123456789abcdef")
        )))));
        let refused = [
            format!("Basic {}", STANDARD.encode("orders:0123456789abcdeX")),
            format!("Basic {}", STANDARD.encode("orderz:0123456789abcdef")),
            format!("Basic {}", STANDARD.encode("orders:0123456789abcdef0")),
            format!("Basic {}", STANDARD.encode("orders")),
            format!("Bearer {}", STANDARD.encode("orders:0123456789abcdef")),
            "Basic !!!".to_owned(),
            "Basic".to_owned(),
        ];
        for value in refused {
            assert!(!client.authenticate(Some(&header(&value))), "{value}");
        }
        assert!(!client.authenticate(None));
    }

    #[test]
    fn an_inactive_answer_says_nothing_else() {
        assert_eq!(
            serde_json::to_string(&IntrospectionResponse::inactive()).unwrap(),
            r#"{"active":false}"#
        );
    }
}
