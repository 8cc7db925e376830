//! The service's API: `GET /orders` for the credential's user, and the probes.

use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use authlab_core::{
    api::{orders_for, OrdersResponse},
    error::ApiError,
    http::NodeInfo,
};

use crate::{
    configuration::Mode,
    credential::{credential, OrdersMetrics, Verifier},
};

/// Shared by every worker.
pub struct OrdersState {
    pub mode: Mode,
    pub verifier: Verifier,
    pub metrics: OrdersMetrics,
    pub node: NodeInfo,
}

/// The HTTP client of one worker, for JWKS and introspection calls: each
/// actix worker runs its own runtime, and a client's pooled connections
/// belong to the runtime that opened them.
pub struct Upstream(pub reqwest::Client);

pub async fn orders(
    request: HttpRequest,
    state: web::Data<OrdersState>,
    upstream: web::Data<Upstream>,
) -> Result<HttpResponse, ApiError> {
    let verified = match credential(&request, state.mode == Mode::Introspection) {
        Ok(token) => state
            .verifier
            .verify(&token, &upstream.0)
            .await
            .map_err(ApiError::from),
        Err(error) => Err(error),
    };
    let outcome = match &verified {
        Ok(_) => "ok",
        Err(error) if error.status_code().is_server_error() => "unavailable",
        Err(_) => "unauthorized",
    };
    state
        .metrics
        .requests
        .with_label_values(&[state.mode.name(), outcome])
        .inc();
    let principal = verified?;
    Ok(HttpResponse::Ok().json(OrdersResponse {
        orders: orders_for(&principal.sub),
        user: principal.sub,
        node: state.node.node.to_string(),
    }))
}

/// Ready when the service can verify: in JWKS mode, when it holds a usable
/// key set (trying one fetch, cooldown permitting, if not); the other modes
/// have nothing to hold (introspection finds out per request, and a
/// readiness probe that called the auth service would take every orders
/// node out of rotation with it, which per-request 503s already say).
pub async fn ready(state: web::Data<OrdersState>, upstream: web::Data<Upstream>) -> HttpResponse {
    let (ready, check) = match &state.verifier {
        Verifier::Jwks(jwks) => {
            if !jwks.usable() {
                jwks.refresh(&upstream.0).await;
            }
            if jwks.usable() {
                (true, format!("ok ({} keys)", jwks.kids().len()))
            } else {
                (false, "no usable key set (JWKS unreachable)".to_owned())
            }
        }
        Verifier::Introspection(_) => (true, "not probed; checked per request".to_owned()),
        Verifier::Gateway => (true, "trusts the gateway".to_owned()),
    };
    let body = serde_json::json!({
        "ready": ready,
        "mode": state.mode.name(),
        "checks": { "verifier": check },
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        let mut body = body;
        body["error"] = "not_ready".into();
        body["message"] = "cannot verify credentials yet".into();
        HttpResponse::ServiceUnavailable().json(body)
    }
}
