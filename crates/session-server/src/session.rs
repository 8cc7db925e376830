//! A typed view of the session, and the extractor that guards every
//! authenticated route.
//!
//! actix-session hands handlers a map of strings. [`TypedSession`] is the
//! only code that knows its keys, so the rest of the server talks about
//! users and login times, never about `session.get::<Vec<String>>("roles")`.
//!
//! The session holds a *snapshot* of the user (name and roles) taken at
//! login, so an authenticated request needs one store read and no directory
//! lookup. That snapshot stays fresh because a role change rewrites every
//! live session of the user (see [`crate::store::SessionBackend::set_roles_for`]):
//! the server owns the state, which is exactly what a stateless token cannot do.

use std::{
    future::{ready, Ready},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use actix_session::{Session, SessionExt};
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use authlab_core::{directory::User, error::ApiError};

use crate::store::{ROLES_FIELD, USER_FIELD};

pub(crate) const NAME_FIELD: &str = "name";
pub(crate) const LOGIN_AT_FIELD: &str = "login_at_ms";

/// Session lifetimes. The store's TTL enforces the idle one; the extractor
/// enforces the absolute one from the login time kept in the session.
#[derive(Debug, Clone, Copy)]
pub struct SessionSettings {
    pub idle_ttl: Duration,
    pub absolute_ttl: Duration,
}

fn now_unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub struct TypedSession(Session);

impl TypedSession {
    /// Starts a fresh session for `user`. The id is renewed first, so a
    /// session id planted before login (fixation) is never the one that
    /// becomes authenticated.
    pub fn log_in(&self, user: &User) -> Result<(), ApiError> {
        self.0.renew();
        self.0.clear();
        self.put(USER_FIELD, &user.username)?;
        self.put(NAME_FIELD, &user.name)?;
        self.put(ROLES_FIELD, &user.roles)?;
        self.put(LOGIN_AT_FIELD, &now_unix_millis())
    }

    fn put<T: serde::Serialize>(&self, key: &str, value: &T) -> Result<(), ApiError> {
        self.0.insert(key, value).map_err(|error| {
            tracing::error!(%error, key, "cannot serialize session value");
            ApiError::Internal
        })
    }

    /// Ends this session: the middleware deletes it from the store and
    /// expires the cookie.
    pub fn log_out(&self) {
        self.0.purge();
    }

    /// The user this session belongs to, or the reason it does not count.
    pub fn user(&self, limits: SessionSettings) -> Result<User, ApiError> {
        let no_session = || ApiError::unauthorized("no_session", "log in first: no valid session");
        let get = |key: &str| -> Result<Option<serde_json::Value>, ApiError> {
            self.0.get::<serde_json::Value>(key).map_err(|_| {
                self.0.purge();
                ApiError::unauthorized("invalid_session", "session data is unreadable")
            })
        };
        let username = match get(USER_FIELD)? {
            Some(serde_json::Value::String(name)) => name,
            _ => return Err(no_session()),
        };
        let login_at = get(LOGIN_AT_FIELD)?.and_then(|v| v.as_u64()).unwrap_or(0);
        let age = Duration::from_millis(now_unix_millis().saturating_sub(login_at));
        if age >= limits.absolute_ttl {
            self.0.purge();
            return Err(ApiError::unauthorized(
                "session_expired",
                "session reached its absolute lifetime; log in again",
            ));
        }
        let name = get(NAME_FIELD)?
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| username.clone());
        let roles = get(ROLES_FIELD)?
            .and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
            .unwrap_or_default();
        Ok(User {
            username,
            name,
            roles,
        })
    }
}

impl FromRequest for TypedSession {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(TypedSession(req.get_session())))
    }
}

/// Extracting this from a request *is* the authentication check: a handler
/// that takes an `AuthenticatedUser` never runs for an anonymous request.
pub struct AuthenticatedUser {
    pub user: User,
    pub session: TypedSession,
}

impl FromRequest for AuthenticatedUser {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = TypedSession(req.get_session());
        let limits = req
            .app_data::<web::Data<SessionSettings>>()
            .map(|limits| *limits.get_ref())
            .ok_or_else(|| {
                tracing::error!("SessionSettings missing from app data");
                ApiError::Internal
            });
        ready(
            limits
                .and_then(|limits| session.user(limits))
                .map(|user| AuthenticatedUser { user, session })
                .map_err(Into::into),
        )
    }
}
