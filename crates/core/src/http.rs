//! actix-web building blocks both servers mount the same way.
//!
//! Everything here exists so that a client mistake never turns into a panic,
//! a 500 or an HTML error page: JSON extraction errors, unknown routes and
//! wrong methods all answer with the JSON body of [`ApiError`].

use std::{sync::Arc, time::Instant};

use actix_web::{error::JsonPayloadError, middleware::DefaultHeaders, web, HttpResponse, Resource};
use serde::Serialize;

use crate::{error::ApiError, redis_client::StoreError};

/// Name of the header that says which node answered.
pub const NODE_HEADER: &str = "x-node";

/// Largest JSON body the API accepts; a login is a few dozen bytes.
pub const JSON_LIMIT: usize = 16 * 1024;

/// The identity of this server process, shared by every worker.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub node: Arc<str>,
    pub stack: &'static str,
    pub started: Instant,
}

impl NodeInfo {
    pub fn new(node: impl Into<Arc<str>>, stack: &'static str) -> Self {
        Self {
            node: node.into(),
            stack,
            started: Instant::now(),
        }
    }

    /// Middleware that stamps `x-node` on every response, errors included.
    pub fn header(&self) -> DefaultHeaders {
        DefaultHeaders::new().add((NODE_HEADER, self.node.as_ref()))
    }
}

/// JSON extractor settings: size limit and JSON errors for malformed bodies.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(JSON_LIMIT)
        .error_handler(|error, _request| json_error(&error).into())
}

fn json_error(error: &JsonPayloadError) -> ApiError {
    match error {
        JsonPayloadError::ContentType => {
            ApiError::UnsupportedMediaType("expected Content-Type: application/json".into())
        }
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => {
            ApiError::PayloadTooLarge(format!("JSON body larger than {limit} bytes"))
        }
        JsonPayloadError::Deserialize(inner) if inner.is_data() => {
            ApiError::bad_request("invalid_request", inner.to_string())
        }
        JsonPayloadError::Deserialize(inner) => {
            ApiError::bad_request("invalid_json", format!("malformed JSON: {inner}"))
        }
        other => ApiError::bad_request("invalid_json", other.to_string()),
    }
}

/// Path segment errors (`/admin/users/{username}/roles`) as JSON.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|error, _request| {
        ApiError::bad_request("invalid_path", error.to_string()).into()
    })
}

/// A resource whose wrong-method answer is a JSON 405 rather than an empty one.
pub fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(|| async {
        Err::<HttpResponse, _>(ApiError::MethodNotAllowed)
    }))
}

/// The app-wide fallback for paths no route matches.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such route".into()))
}

#[derive(Serialize)]
struct Health<'a> {
    status: &'static str,
    node: &'a str,
}

/// `GET /health`: the process is up. Touches nothing else, so it is also
/// every experiment's ceiling: the cheapest request through the same path.
pub async fn health(node: web::Data<NodeInfo>) -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        node: &node.node,
    })
}

#[derive(Serialize)]
struct Readiness {
    ready: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    checks: std::collections::BTreeMap<&'static str, String>,
}

/// `GET /ready` from the checks a stack needs: 200 when all pass, else 503
/// with the usual `error`/`message` pair plus one line per check.
pub fn readiness(checks: Vec<(&'static str, Result<(), StoreError>)>) -> HttpResponse {
    let failed: Vec<&'static str> = checks
        .iter()
        .filter(|(_, result)| result.is_err())
        .map(|(name, _)| *name)
        .collect();
    let body = Readiness {
        ready: failed.is_empty(),
        error: (!failed.is_empty()).then_some("not_ready"),
        message: (!failed.is_empty()).then(|| format!("unavailable: {}", failed.join(", "))),
        checks: checks
            .into_iter()
            .map(|(name, result)| {
                let state = match result {
                    Ok(()) => "ok".to_owned(),
                    Err(error) => error.to_string(),
                };
                (name, state)
            })
            .collect(),
    };
    if body.ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
