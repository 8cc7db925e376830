//! The bearer-token extractor: taking an [`Authenticated`] argument is what
//! makes a route require a valid access token.

use std::{future::Future, pin::Pin};

use actix_web::{dev::Payload, http::header::AUTHORIZATION, web, FromRequest, HttpRequest};
use authlab_core::error::ApiError;

use crate::{
    configuration::RevocationMode, revocation::Denylist, startup::JwtState, tokens::AccessClaims,
};

/// The verified claims of the request's access token.
pub struct Authenticated(pub AccessClaims);

/// `Authorization: Bearer <token>`, scheme case-insensitive (RFC 7235 §2.1).
fn bearer(req: &HttpRequest) -> Result<String, ApiError> {
    let missing = || ApiError::MissingToken("send Authorization: Bearer <access token>".into());
    let value = req.headers().get(AUTHORIZATION).ok_or_else(missing)?;
    let value = value.to_str().map_err(|_| ApiError::InvalidToken {
        description: "authorization header is not ASCII".into(),
    })?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim().to_owned())
        }
        _ => Err(missing()),
    }
}

impl FromRequest for Authenticated {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<JwtState>>().cloned();
        let token = bearer(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| {
                tracing::error!("JwtState missing from app data");
                ApiError::Internal
            })?;
            let claims = state.tokens.verify(&token?).map_err(|rejection| {
                state
                    .metrics
                    .rejections
                    .with_label_values(&[rejection.label()])
                    .inc();
                ApiError::InvalidToken {
                    description: rejection.to_string(),
                }
            })?;
            if state.revocation == RevocationMode::Denylist
                && Denylist::new(state.refresh.store())
                    .is_revoked(&claims)
                    .await
                    .map_err(ApiError::from)?
            {
                state
                    .metrics
                    .rejections
                    .with_label_values(&["revoked"])
                    .inc();
                return Err(ApiError::InvalidToken {
                    description: "token revoked".into(),
                }
                .into());
            }
            Ok(Authenticated(claims))
        })
    }
}
