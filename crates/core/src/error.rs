//! One error type for every failure a client can see.
//!
//! Both servers answer every failure with the same JSON shape,
//! `{"error": "<code>", "message": "<human text>"}`, so a load generator or a
//! test can tell *why* a request failed without parsing prose: `error` is a
//! stable machine-readable code, `message` is for people. The status code is
//! derived from the variant, never chosen at the call site, so the same
//! failure always gets the same status on both stacks.

use actix_web::{http::StatusCode, HttpResponse, ResponseError};

use crate::wire::ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request itself is malformed: bad JSON, a missing field, a wrong type.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// No credential, or one that does not (or no longer) identifies a session or token.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// No bearer token at all (RFC 6750 §3.1: the challenge names no error).
    #[error("{0}")]
    MissingToken(String),
    /// A bearer token that failed verification; `description` says which check.
    #[error("invalid token: {description}")]
    InvalidToken { description: String },
    /// A DPoP proof (RFC 9449) that is missing where required, malformed,
    /// stale, replayed or made with another key than the token's. At the
    /// token endpoints (`/login`, `/token/refresh`) it is a 400 (§5); at a
    /// resource, a 401 with a `DPoP` challenge (§7.1).
    #[error("invalid DPoP proof: {description}")]
    InvalidDpopProof {
        at_resource: bool,
        description: String,
    },
    /// An access token refused under the `DPoP` scheme, or a DPoP-bound
    /// token presented as a bearer token (§7.2): the challenge names DPoP.
    #[error("invalid token: {description}")]
    InvalidDpopToken { description: String },
    /// Authenticated, but the roles do not allow this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A store this request needs is unreachable. Clients may retry: the
    /// server reconnects by itself when the store comes back.
    #[error("{what} is unavailable")]
    StoreUnavailable { what: &'static str },
    /// A service this request needs (an introspection endpoint, a JWKS) is
    /// unreachable, answered with an error, or may not be asked yet.
    /// Transient, like a store outage; `retry_after` is in whole seconds, at
    /// least 1 (a JWKS refetch cooldown can make it longer).
    #[error("{what} is unavailable")]
    UpstreamUnavailable {
        what: &'static str,
        retry_after: u64,
    },
    /// Login throttling: this client or this username has used its attempts
    /// for now. `retry_after` is in whole seconds, at least 1.
    #[error("{message}")]
    TooManyAttempts { message: String, retry_after: u64 },
    /// The node is verifying as many passwords as it allows at once and this
    /// login waited too long for a turn (or the throttle's key tables are
    /// full). Nothing about the request was wrong: retry.
    #[error("{0}")]
    LoginBusy(String),
    /// A bug or an unexpected state; the cause is logged, never sent.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unauthorized {
            code,
            message: message.into(),
        }
    }

    /// The `error` field of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. } | Self::Unauthorized { code, .. } => code,
            Self::MissingToken(_) => "missing_token",
            Self::InvalidToken { .. } | Self::InvalidDpopToken { .. } => "invalid_token",
            Self::InvalidDpopProof { .. } => "invalid_dpop_proof",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::StoreUnavailable { .. } => "store_unavailable",
            Self::UpstreamUnavailable { .. } => "upstream_unavailable",
            Self::TooManyAttempts { .. } => "too_many_attempts",
            Self::LoginBusy(_) => "login_busy",
            Self::Internal => "internal",
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code().to_owned(),
            message: self.to_string(),
        }
    }
}

/// The DPoP proof algorithms the JWT server accepts, as its challenge lists them.
pub const DPOP_ALGS: &str = "ES256 EdDSA";

/// `text` with nothing that could end or escape a quoted-string of a header.
fn quoted_safe(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control() && *c != '"' && *c != '\\')
        .collect()
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. }
            | Self::MissingToken(_)
            | Self::InvalidToken { .. }
            | Self::InvalidDpopToken { .. }
            | Self::InvalidDpopProof {
                at_resource: true, ..
            } => StatusCode::UNAUTHORIZED,
            Self::InvalidDpopProof {
                at_resource: false, ..
            } => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::StoreUnavailable { .. }
            | Self::UpstreamUnavailable { .. }
            | Self::LoginBusy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            // Tells well-behaved clients this is transient.
            Self::StoreUnavailable { .. } | Self::LoginBusy(_) => {
                response.insert_header(("retry-after", "1"));
            }
            Self::TooManyAttempts { retry_after, .. }
            | Self::UpstreamUnavailable { retry_after, .. } => {
                response.insert_header(("retry-after", (*retry_after).max(1).to_string()));
            }
            // RFC 6750 §3: a bearer-protected resource names its scheme, and
            // for a rejected token says why, in a machine-readable header.
            Self::MissingToken(_) => {
                response.insert_header(("www-authenticate", "Bearer realm=\"authlab\""));
            }
            Self::InvalidToken { description } => {
                let description = quoted_safe(description);
                response.insert_header((
                    "www-authenticate",
                    format!(
                        "Bearer realm=\"authlab\", error=\"invalid_token\", error_description=\"{description}\""
                    ),
                ));
            }
            // RFC 9449 §7.1: the DPoP challenge lists the proof algorithms
            // the server accepts, so a client can pick one.
            Self::InvalidDpopToken { description }
            | Self::InvalidDpopProof {
                at_resource: true,
                description,
            } => {
                let description = quoted_safe(description);
                response.insert_header((
                    "www-authenticate",
                    format!(
                        "DPoP realm=\"authlab\", algs=\"{DPOP_ALGS}\", error=\"{}\", error_description=\"{description}\"",
                        self.code()
                    ),
                ));
            }
            _ => {}
        }
        response.json(self.body())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[actix_web::test]
    async fn every_error_renders_code_and_message_as_json() {
        let cases = [
            (
                ApiError::bad_request("invalid_json", "x"),
                400,
                "invalid_json",
            ),
            (ApiError::unauthorized("no_session", "y"), 401, "no_session"),
            (ApiError::Forbidden("z".into()), 403, "forbidden"),
            (
                ApiError::StoreUnavailable {
                    what: "session store",
                },
                503,
                "store_unavailable",
            ),
            (
                ApiError::TooManyAttempts {
                    message: "w".into(),
                    retry_after: 7,
                },
                429,
                "too_many_attempts",
            ),
            (
                ApiError::UpstreamUnavailable {
                    what: "JWKS",
                    retry_after: 3,
                },
                503,
                "upstream_unavailable",
            ),
            (ApiError::LoginBusy("v".into()), 503, "login_busy"),
            (ApiError::Internal, 500, "internal"),
        ];
        for (error, status, code) in cases {
            let response = error.error_response();
            assert_eq!(response.status().as_u16(), status);
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            match code {
                "too_many_attempts" => assert_eq!(retry_after.as_deref(), Some("7")),
                "upstream_unavailable" => assert_eq!(retry_after.as_deref(), Some("3")),
                "login_busy" | "store_unavailable" => {
                    assert_eq!(retry_after.as_deref(), Some("1"))
                }
                _ => assert_eq!(retry_after, None),
            }
            let bytes = to_bytes(response.into_body()).await.unwrap();
            let body: ErrorBody = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(body.error, code);
            assert!(!body.message.is_empty());
        }
    }

    #[actix_web::test]
    async fn dpop_errors_are_400_at_the_token_endpoint_and_401_with_a_dpop_challenge_elsewhere() {
        let proof = |at_resource| ApiError::InvalidDpopProof {
            at_resource,
            description: "the \"jti\" was used before".into(),
        };
        let at_login = proof(false).error_response();
        assert_eq!(at_login.status().as_u16(), 400);
        assert!(at_login.headers().get("www-authenticate").is_none());

        for (error, code) in [
            (proof(true), "invalid_dpop_proof"),
            (
                ApiError::InvalidDpopToken {
                    description: "bound token sent as bearer".into(),
                },
                "invalid_token",
            ),
        ] {
            let response = error.error_response();
            assert_eq!(response.status().as_u16(), 401);
            let challenge = response
                .headers()
                .get("www-authenticate")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            assert!(challenge.starts_with("DPoP "), "{challenge}");
            assert!(
                challenge.contains(&format!("error=\"{code}\"")),
                "{challenge}"
            );
            assert!(challenge.contains("algs=\"ES256 EdDSA\""), "{challenge}");
            assert!(
                !challenge.contains("\\"),
                "quotes are dropped, not escaped: {challenge}"
            );
            let bytes = to_bytes(response.into_body()).await.unwrap();
            let body: ErrorBody = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(body.error, code);
        }
    }
}
