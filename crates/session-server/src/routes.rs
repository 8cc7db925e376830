//! The application API over sessions. Same routes and bodies as the JWT server.

use actix_web::{web, HttpRequest, HttpResponse};
use authlab_core::{
    api::{orders_for, AdminStats, LoginRequest, MeResponse, OrdersResponse, RolesUpdate},
    directory::{validate_roles, UserDirectory, ADMIN_ROLE},
    error::ApiError,
    http::{readiness, NodeInfo},
    throttle::LoginThrottle,
};
use prometheus::IntCounterVec;
use serde::Serialize;
use std::sync::Arc;

use crate::{
    session::{AuthenticatedUser, TypedSession},
    store::SessionBackend,
};

/// Longest password we will run Argon2 on; longer ones are a client error
/// (and would let anyone buy our CPU time with one request).
const MAX_PASSWORD_BYTES: usize = 1024;

/// Counters only the session stack has.
#[derive(Clone)]
pub struct SessionMetrics {
    pub logins: IntCounterVec,
    pub logouts: IntCounterVec,
    pub store_outages: prometheus::IntCounter,
}

#[derive(Serialize)]
struct LoginResponse<'a> {
    user: &'a str,
    roles: &'a [String],
    node: &'a str,
    idle_ttl_seconds: u64,
}

pub async fn login(
    request: HttpRequest,
    body: web::Json<LoginRequest>,
    session: TypedSession,
    throttle: web::Data<Arc<LoginThrottle>>,
    node: web::Data<NodeInfo>,
    limits: web::Data<crate::session::SessionSettings>,
    metrics: web::Data<SessionMetrics>,
) -> Result<HttpResponse, ApiError> {
    if body.password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("password longer than {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    // Throttled before the Argon2 verification: a refused attempt costs no hash.
    let Some(user) = throttle
        .authenticate(&request, &body.username, &body.password)
        .await?
    else {
        metrics.logins.with_label_values(&["rejected"]).inc();
        return Err(ApiError::unauthorized(
            "invalid_credentials",
            "unknown user or wrong password",
        ));
    };
    session.log_in(&user)?;
    metrics.logins.with_label_values(&["ok"]).inc();
    Ok(HttpResponse::Ok().json(LoginResponse {
        user: &user.username,
        roles: &user.roles,
        node: &node.node,
        idle_ttl_seconds: limits.idle_ttl.as_secs(),
    }))
}

pub async fn me(auth: AuthenticatedUser, node: web::Data<NodeInfo>) -> HttpResponse {
    HttpResponse::Ok().json(MeResponse::new(&auth.user, &node.node))
}

pub async fn orders(auth: AuthenticatedUser, node: web::Data<NodeInfo>) -> HttpResponse {
    HttpResponse::Ok().json(OrdersResponse {
        orders: orders_for(&auth.user.username),
        user: auth.user.username,
        node: node.node.to_string(),
    })
}

fn require_admin(auth: &AuthenticatedUser) -> Result<(), ApiError> {
    if auth.user.has_role(ADMIN_ROLE) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "role '{ADMIN_ROLE}' required; {} has {:?}",
            auth.user.username, auth.user.roles
        )))
    }
}

pub async fn admin_stats(
    auth: AuthenticatedUser,
    node: web::Data<NodeInfo>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    Ok(HttpResponse::Ok().json(AdminStats {
        node: node.node.to_string(),
        stack: node.stack.to_owned(),
        uptime_seconds: node.started.elapsed().as_secs(),
        pid: std::process::id(),
    }))
}

#[derive(Serialize)]
struct RolesChanged {
    user: String,
    roles: Vec<String>,
    sessions_updated: usize,
}

/// Changes a user's roles in the directory *and* in their live sessions.
pub async fn set_roles(
    auth: AuthenticatedUser,
    username: web::Path<String>,
    body: web::Json<RolesUpdate>,
    directory: web::Data<Arc<UserDirectory>>,
    sessions: web::Data<SessionBackend>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let RolesUpdate { roles } = body.into_inner();
    validate_roles(&roles).map_err(|reason| ApiError::bad_request("invalid_request", reason))?;
    if !directory.set_roles(&username, &roles).await? {
        return Err(ApiError::NotFound(format!("no user named {username:?}")));
    }
    let sessions_updated = sessions.set_roles_for(&username, &roles).await?;
    Ok(HttpResponse::Ok().json(RolesChanged {
        user: username.into_inner(),
        roles,
        sessions_updated,
    }))
}

#[derive(Serialize)]
struct LoggedOut {
    status: &'static str,
    sessions_ended: usize,
}

pub async fn logout(auth: AuthenticatedUser, metrics: web::Data<SessionMetrics>) -> HttpResponse {
    auth.session.log_out();
    metrics.logouts.with_label_values(&["this"]).inc();
    HttpResponse::Ok().json(LoggedOut {
        status: "logged_out",
        sessions_ended: 1,
    })
}

/// Ends every session of the user, on every node (redis mode).
pub async fn logout_all(
    auth: AuthenticatedUser,
    sessions: web::Data<SessionBackend>,
    metrics: web::Data<SessionMetrics>,
) -> Result<HttpResponse, ApiError> {
    let sessions_ended = sessions.delete_all_for(&auth.user.username).await?;
    // This session is among those already deleted; purging also clears the cookie.
    auth.session.log_out();
    metrics.logouts.with_label_values(&["all"]).inc();
    Ok(HttpResponse::Ok().json(LoggedOut {
        status: "logged_out",
        sessions_ended,
    }))
}

pub async fn ready(
    directory: web::Data<Arc<UserDirectory>>,
    sessions: web::Data<SessionBackend>,
) -> HttpResponse {
    let mut checks = vec![("user_directory", directory.store().ping().await)];
    if let Some(store) = sessions.redis() {
        checks.push(("session_store", store.ping().await));
    }
    readiness(checks)
}
