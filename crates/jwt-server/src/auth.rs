//! The access-token extractor: taking an [`Authenticated`] argument is what
//! makes a route require a valid access token.
//!
//! Verification is pure CPU work, so it happens right in `from_request`;
//! only the denylist check (revocation mode `denylist`) needs the store and
//! an `await`. In mode `none` the extractor is ready at once, with no boxed
//! future, no copy of the token and no store round trip: what "stateless"
//! means on the request path. A DPoP-bound token (`cnf.jkt`) also needs its
//! proof checked ([`crate::dpop_binding`]), which may mean a replay-cache
//! write in the store: that is the price C11's experiment measures.

use actix_web::{dev::Payload, http::header::AUTHORIZATION, web, FromRequest, HttpRequest};
use authlab_core::error::ApiError;
use futures::future::{ready, Either, LocalBoxFuture, Ready};

use crate::{
    configuration::{DpopMode, RevocationMode},
    revocation::{Denylist, WorkerDenylist},
    state::JwtState,
    tokens::{AccessClaims, Rejection},
};

/// The verified claims of the request's access token.
pub struct Authenticated(pub AccessClaims);

/// The two schemes an access token may come with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    /// RFC 6750: whoever holds the token may use it.
    Bearer,
    /// RFC 9449 §7.1: the token plus a proof of its key (`DPoP` header).
    Dpop,
}

/// `Authorization: Bearer|DPoP <token>`, scheme case-insensitive (RFC 7235 §2.1).
fn credentials(req: &HttpRequest) -> Result<(Scheme, &str), ApiError> {
    let missing = || ApiError::MissingToken("send Authorization: Bearer <access token>".into());
    let value = req.headers().get(AUTHORIZATION).ok_or_else(missing)?;
    // `HeaderValue::to_str` checks byte by byte for visible ASCII, which on
    // a 400-byte token costs more than the HMAC. UTF-8 validation is
    // vectorised, and anything that is not base64url fails decoding anyway.
    let value = std::str::from_utf8(value.as_bytes()).map_err(|_| ApiError::InvalidToken {
        description: "authorization header is not UTF-8".into(),
    })?;
    let (scheme, token) = value.split_once(' ').ok_or_else(missing)?;
    let token = token.trim();
    if token.is_empty() {
        return Err(missing());
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        Ok((Scheme::Bearer, token))
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Ok((Scheme::Dpop, token))
    } else {
        Err(missing())
    }
}

/// A token that verified but came with the wrong scheme for its binding
/// (RFC 9449 §7.2: a bound token used as a bearer token is refused).
fn scheme_mismatch(scheme: Scheme, claims: &AccessClaims, mode: DpopMode) -> Option<&'static str> {
    match (scheme, &claims.cnf) {
        (Scheme::Bearer, Some(_)) => Some(
            "this token is bound to a DPoP key: send it as Authorization: DPoP with a DPoP proof",
        ),
        (Scheme::Bearer, None) if mode == DpopMode::Required => {
            Some("this server accepts DPoP-bound tokens only")
        }
        (Scheme::Dpop, None) => Some("this token is not bound to a key: send it as a bearer token"),
        _ => None,
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
    let (scheme, token) = credentials(req)?;
    let claims = state.tokens.verify(token).map_err(|rejection| {
        match (scheme, rejected(&state, &rejection)) {
            (Scheme::Dpop, ApiError::InvalidToken { description }) => {
                ApiError::InvalidDpopToken { description }
            }
            (_, error) => error,
        }
    })?;
    if let Some(description) = scheme_mismatch(scheme, &claims, state.dpop.mode()) {
        return Err(ApiError::InvalidDpopToken {
            description: description.into(),
        });
    }
    Ok((state, claims))
}

/// The checks that need an `await`: the DPoP proof of a bound token (its
/// replay cache may be the store) and the denylist.
async fn finish(
    req: HttpRequest,
    state: web::Data<JwtState>,
    claims: AccessClaims,
) -> Result<Authenticated, ApiError> {
    if let Some(cnf) = &claims.cnf {
        let (_, token) = credentials(&req)?;
        state.dpop.at_resource(&req, token, &cnf.jkt).await?;
    }
    if state.revocation == RevocationMode::Denylist {
        let worker = req.app_data::<web::Data<WorkerDenylist>>();
        let store = worker.map_or(state.refresh.store(), |worker| &worker.0);
        if Denylist::new(store).is_revoked(&claims).await? {
            return Err(rejected(&state, &Rejection::Revoked));
        }
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
            Ok((state, claims))
                if claims.cnf.is_some() || state.revocation == RevocationMode::Denylist =>
            {
                let req = req.clone();
                Either::Right(Box::pin(async move {
                    finish(req, state, claims).await.map_err(Into::into)
                }))
            }
            Ok((_, claims)) => Either::Left(ready(Ok(Authenticated(claims)))),
        }
    }
}
