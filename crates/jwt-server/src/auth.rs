//! The bearer-token extractor: taking an [`Authenticated`] argument is what
//! makes a route require a valid access token.
//!
//! Verification is pure CPU work, so it happens right in `from_request`;
//! only the denylist check (revocation mode `denylist`) needs the store and
//! an `await`. In mode `none` the extractor is ready at once, with no boxed
//! future, no copy of the token and no store round trip: what "stateless"
//! means on the request path.

use actix_web::{dev::Payload, http::header::AUTHORIZATION, web, FromRequest, HttpRequest};
use authlab_core::error::ApiError;
use futures::future::{ready, Either, LocalBoxFuture, Ready};

use crate::{
    configuration::RevocationMode,
    revocation::{Denylist, WorkerDenylist},
    startup::JwtState,
    tokens::{AccessClaims, Rejection},
};

/// The verified claims of the request's access token.
pub struct Authenticated(pub AccessClaims);

/// `Authorization: Bearer <token>`, scheme case-insensitive (RFC 7235 §2.1).
fn bearer(req: &HttpRequest) -> Result<&str, ApiError> {
    let missing = || ApiError::MissingToken("send Authorization: Bearer <access token>".into());
    let value = req.headers().get(AUTHORIZATION).ok_or_else(missing)?;
    // `HeaderValue::to_str` checks byte by byte for visible ASCII, which on
    // a 400-byte token costs more than the HMAC. UTF-8 validation is
    // vectorised, and anything that is not base64url fails decoding anyway.
    let value = std::str::from_utf8(value.as_bytes()).map_err(|_| ApiError::InvalidToken {
        description: "authorization header is not UTF-8".into(),
    })?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(missing()),
    }
}

fn rejected(state: &JwtState, rejection: &Rejection) -> ApiError {
    state
        .metrics
        .rejections
        .with_label_values(&[rejection.label()])
        .inc();
    ApiError::InvalidToken {
        description: rejection.to_string(),
    }
}

fn verify(req: &HttpRequest) -> Result<(web::Data<JwtState>, AccessClaims), ApiError> {
    let state = req
        .app_data::<web::Data<JwtState>>()
        .cloned()
        .ok_or_else(|| {
            tracing::error!("JwtState missing from app data");
            ApiError::Internal
        })?;
    let claims = state
        .tokens
        .verify(bearer(req)?)
        .map_err(|rejection| rejected(&state, &rejection))?;
    Ok((state, claims))
}

async fn unless_revoked(
    state: web::Data<JwtState>,
    store: Option<web::Data<WorkerDenylist>>,
    claims: AccessClaims,
) -> Result<Authenticated, ApiError> {
    let store = store
        .as_ref()
        .map_or(state.refresh.store(), |worker| &worker.0);
    if Denylist::new(store).is_revoked(&claims).await? {
        return Err(rejected(&state, &Rejection::Revoked));
    }
    Ok(Authenticated(claims))
}

impl FromRequest for Authenticated {
    type Error = actix_web::Error;
    type Future = Either<
        Ready<Result<Self, Self::Error>>,
        LocalBoxFuture<'static, Result<Self, Self::Error>>,
    >;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        match verify(req) {
            Err(error) => Either::Left(ready(Err(error.into()))),
            Ok((state, claims)) if state.revocation == RevocationMode::Denylist => {
                let store = req.app_data::<web::Data<WorkerDenylist>>().cloned();
                Either::Right(Box::pin(async move {
                    unless_revoked(state, store, claims)
                        .await
                        .map_err(Into::into)
                }))
            }
            Ok((_, claims)) => Either::Left(ready(Ok(Authenticated(claims)))),
        }
    }
}
