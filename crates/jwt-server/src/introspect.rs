//! `POST /introspect` (RFC 7662) for access tokens.
//!
//! A resource service holding the public keys does not need this: it can
//! verify the token itself (the JWKS at `/.well-known/jwks.json`). What it
//! cannot learn that way is anything that changed after the token was
//! signed. Introspection asks the issuer, which applies exactly the checks
//! `/me` applies ([`crate::tokens::TokenService::verify`]) plus, in
//! revocation mode `denylist`, the denylist: a logged-out token is inactive
//! here at once, while a service verifying locally accepts it until `exp`.
//! In mode `none` the answer is the local verification's answer, fetched
//! over the network: the lesson of C14 in one endpoint.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use authlab_core::{
    error::ApiError,
    http,
    introspection::{ActiveToken, IntrospectionEndpoint, IntrospectionResponse, TOKEN_TYPE_ACCESS},
};

use crate::{
    configuration::RevocationMode,
    revocation::{Denylist, WorkerDenylist},
    state::JwtState,
};

/// The `/introspect` resource, carrying its endpoint state so startup adds one line.
pub fn resource(endpoint: Arc<IntrospectionEndpoint>) -> actix_web::Resource {
    http::resource("/introspect")
        .app_data(web::Data::from(endpoint))
        .route(web::post().to(introspect))
}

async fn introspect(
    request: HttpRequest,
    payload: web::Payload,
    endpoint: web::Data<IntrospectionEndpoint>,
    state: web::Data<JwtState>,
    worker_denylist: Option<web::Data<WorkerDenylist>>,
) -> Result<HttpResponse, ApiError> {
    let token = match endpoint.accept(&request, payload).await {
        Ok(token) => token,
        Err(response) => return Ok(response),
    };
    let Ok(claims) = state.tokens.verify(&token) else {
        return Ok(endpoint.answer(&IntrospectionResponse::inactive()));
    };
    if state.revocation == RevocationMode::Denylist {
        let store = worker_denylist
            .as_ref()
            .map_or(state.refresh.store(), |worker| &worker.0);
        // A store outage is a 503: answering "inactive" would log users out
        // of every resource service, "active" would ignore revocations.
        if Denylist::new(store).is_revoked(&claims).await? {
            return Ok(endpoint.answer(&IntrospectionResponse::inactive()));
        }
    }
    let active = ActiveToken {
        sub: claims.sub,
        name: claims.name,
        roles: claims.roles,
        exp: claims.exp,
        iat: claims.iat,
        token_type: TOKEN_TYPE_ACCESS,
    };
    Ok(endpoint.answer(&IntrospectionResponse::active(active, &state.node.node)))
}
