//! The application API over tokens. Same routes and bodies as the session
//! server, plus `POST /token/refresh` and the JWKS.

use actix_web::{web, HttpRequest, HttpResponse};
use authlab_core::{
    api::{orders_for, AdminStats, LoginRequest, MeResponse, OrdersResponse, RolesUpdate},
    directory::{validate_roles, User, ADMIN_ROLE},
    error::ApiError,
    http::readiness,
    wire::TokenResponse,
};
use serde::{Deserialize, Serialize};

use crate::{
    auth::Authenticated,
    configuration::RevocationMode,
    refresh::{RefreshError, RefreshToken},
    revocation::Denylist,
    state::JwtState,
};

const MAX_PASSWORD_BYTES: usize = 1024;

/// Issues the access token of a login or refresh; `jkt` binds it to a DPoP key.
fn token_response(
    state: &JwtState,
    user: &User,
    refresh: RefreshToken,
    jkt: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    let (access_token, _) = state
        .tokens
        .issue_bound(user, &refresh.family, jkt)
        .map_err(|error| {
            tracing::error!(%error, "cannot sign an access token");
            ApiError::Internal
        })?;
    state.metrics.issued.with_label_values(&["access"]).inc();
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(TokenResponse {
            access_token,
            // RFC 9449 §5: a bound token's type tells the client which
            // scheme to send it with.
            token_type: if jkt.is_some() { "DPoP" } else { "Bearer" }.into(),
            expires_in: state.tokens.settings().access_ttl.as_secs(),
            refresh_token: refresh.token,
            refresh_expires_in: state.refresh_ttl.as_secs(),
            user: user.username.clone(),
            roles: user.roles.clone(),
            node: state.node.node.to_string(),
        }))
}

pub async fn login(
    request: HttpRequest,
    body: web::Json<LoginRequest>,
    state: web::Data<JwtState>,
) -> Result<HttpResponse, ApiError> {
    if body.password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("password longer than {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    // The proof is checked before the password: a bad one costs a signature
    // check, not an Argon2 hash, and uses up no login attempt.
    let jkt = state.dpop.at_token_endpoint(&request).await?;
    // Throttled before the Argon2 verification: a refused attempt costs no hash.
    let Some(user) = state
        .throttle
        .authenticate(&request, &body.username, &body.password)
        .await?
    else {
        state.metrics.logins.with_label_values(&["rejected"]).inc();
        return Err(ApiError::unauthorized(
            "invalid_credentials",
            "unknown user or wrong password",
        ));
    };
    let refresh = state.refresh.start_family(&user.username).await?;
    if let Some(jkt) = &jkt {
        state.refresh.bind(&refresh.family, jkt).await?;
    }
    state.metrics.logins.with_label_values(&["ok"]).inc();
    token_response(&state, &user, refresh, jkt.as_deref())
}

#[derive(Debug, Deserialize)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Rotates the refresh token and issues a new access token with the user's
/// *current* roles: the moment a role change reaches a token holder.
pub async fn refresh(
    request: HttpRequest,
    body: web::Json<RefreshRequest>,
    state: web::Data<JwtState>,
) -> Result<HttpResponse, ApiError> {
    let invalid_grant = |message: String| ApiError::bad_request("invalid_grant", message);
    let jkt = state.dpop.at_token_endpoint(&request).await?;
    // A login bound to a key stays bound (RFC 9449 §5): its refresh token is
    // checked against the proof *before* it is spent, so a thief without the
    // key cannot burn the holder's token and end the login.
    let bound = state.refresh.binding(&body.refresh_token).await?;
    if let Some(bound) = &bound {
        if jkt.as_deref() != Some(bound.as_str()) {
            return Err(ApiError::InvalidDpopProof {
                at_resource: false,
                description: "this refresh token is bound to a DPoP key: send a proof made with it"
                    .into(),
            });
        }
    }
    let (username, next) = match state.refresh.rotate(&body.refresh_token).await {
        Ok(rotated) => rotated,
        Err(RefreshError::Store(error)) => return Err(error.into()),
        Err(RefreshError::Reused) => {
            state.metrics.refresh_reuse.inc();
            tracing::warn!("refresh token reuse detected; family revoked");
            return Err(invalid_grant(RefreshError::Reused.to_string()));
        }
        Err(other) => return Err(invalid_grant(other.to_string())),
    };
    let Some(user) = state.directory.get(&username).await? else {
        state.refresh.revoke_family(&next.family).await?;
        return Err(invalid_grant("the user no longer exists".into()));
    };
    state.metrics.issued.with_label_values(&["refresh"]).inc();
    // A bearer login may not become bound halfway: the binding is the login's.
    token_response(&state, &user, next, bound.as_deref())
}

pub async fn me(auth: Authenticated, state: web::Data<JwtState>) -> HttpResponse {
    // The answer is built from the verified claims, moved rather than copied:
    // nothing but the token is consulted.
    let claims = auth.0;
    HttpResponse::Ok().json(MeResponse {
        user: claims.sub,
        name: claims.name,
        roles: claims.roles,
        node: state.node.node.to_string(),
    })
}

pub async fn orders(auth: Authenticated, state: web::Data<JwtState>) -> HttpResponse {
    HttpResponse::Ok().json(OrdersResponse {
        orders: orders_for(&auth.0.sub),
        user: auth.0.sub,
        node: state.node.node.to_string(),
    })
}

fn require_admin(auth: &Authenticated) -> Result<(), ApiError> {
    if auth.0.roles.iter().any(|r| r == ADMIN_ROLE) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "role '{ADMIN_ROLE}' required; the token of {} carries {:?}",
            auth.0.sub, auth.0.roles
        )))
    }
}

pub async fn admin_stats(
    auth: Authenticated,
    state: web::Data<JwtState>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    Ok(HttpResponse::Ok().json(AdminStats {
        node: state.node.node.to_string(),
        stack: state.node.stack.to_owned(),
        uptime_seconds: state.node.started.elapsed().as_secs(),
        pid: std::process::id(),
    }))
}

#[derive(Serialize)]
struct RolesChanged {
    user: String,
    roles: Vec<String>,
    effective: &'static str,
}

/// Changes roles in the directory only: tokens already issued keep the old
/// roles until they expire or are refreshed (claim C8).
pub async fn set_roles(
    auth: Authenticated,
    username: web::Path<String>,
    body: web::Json<RolesUpdate>,
    state: web::Data<JwtState>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth)?;
    let RolesUpdate { roles } = body.into_inner();
    validate_roles(&roles).map_err(|reason| ApiError::bad_request("invalid_request", reason))?;
    if !state.directory.set_roles(&username, &roles).await? {
        return Err(ApiError::NotFound(format!("no user named {username:?}")));
    }
    Ok(HttpResponse::Ok().json(RolesChanged {
        user: username.into_inner(),
        roles,
        effective: "at the user's next token refresh or login; issued access tokens keep their roles until they expire",
    }))
}

#[derive(Serialize)]
struct LoggedOut {
    status: &'static str,
    /// Until when the presented access token is still accepted (mode `none`).
    access_token_valid_until: Option<u64>,
    logins_ended: usize,
}

/// Ends this login: its refresh tokens die at once. The access token dies at
/// once too in denylist mode, and only at its `exp` in mode `none`.
pub async fn logout(
    auth: Authenticated,
    state: web::Data<JwtState>,
) -> Result<HttpResponse, ApiError> {
    state.refresh.revoke_family(&auth.0.sid).await?;
    let valid_until = match state.revocation {
        RevocationMode::Denylist => {
            Denylist::new(state.refresh.store())
                .deny(&auth.0, state.tokens.settings().leeway)
                .await?;
            None
        }
        RevocationMode::None => Some(auth.0.exp),
    };
    state.metrics.logouts.with_label_values(&["this"]).inc();
    Ok(HttpResponse::Ok().json(LoggedOut {
        status: "logged_out",
        access_token_valid_until: valid_until,
        logins_ended: 1,
    }))
}

/// Ends every login of the user.
pub async fn logout_all(
    auth: Authenticated,
    state: web::Data<JwtState>,
) -> Result<HttpResponse, ApiError> {
    let logins_ended = state.refresh.revoke_user(&auth.0.sub).await?;
    let valid_until = match state.revocation {
        RevocationMode::Denylist => {
            let settings = state.tokens.settings();
            Denylist::new(state.refresh.store())
                .deny_user(&auth.0.sub, settings.access_ttl + settings.leeway)
                .await?;
            None
        }
        RevocationMode::None => Some(auth.0.exp),
    };
    state.metrics.logouts.with_label_values(&["all"]).inc();
    Ok(HttpResponse::Ok().json(LoggedOut {
        status: "logged_out",
        access_token_valid_until: valid_until,
        logins_ended,
    }))
}

pub async fn jwks(state: web::Data<JwtState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "public, max-age=300"))
        .json(state.tokens.keys().jwks())
}

/// In mode `none` a node verifies tokens with nothing but its keys, so it is
/// ready even with the store down (logins and refreshes answer 503 meanwhile).
/// With the denylist every request needs the store, and readiness says so.
pub async fn ready(state: web::Data<JwtState>) -> HttpResponse {
    let directory = state.directory.store().ping().await;
    let store = state.refresh.store().ping().await;
    match state.revocation {
        RevocationMode::Denylist => {
            readiness(vec![("user_directory", directory), ("token_store", store)])
        }
        RevocationMode::None => {
            let describe = |result: Result<(), authlab_core::redis_client::StoreError>| match result
            {
                Ok(()) => "ok".to_owned(),
                Err(error) => format!("degraded (logins and refreshes fail): {error}"),
            };
            HttpResponse::Ok().json(serde_json::json!({
                "ready": true,
                "checks": {
                    "keys": "ok",
                    "user_directory": describe(directory),
                    "token_store": describe(store),
                }
            }))
        }
    }
}
