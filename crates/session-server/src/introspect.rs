//! `POST /introspect` (RFC 7662): other services ask whether a session cookie is live.
//!
//! A session id means nothing outside this stack: a resource service that
//! receives `authlab_session=...` cannot check it itself, so it asks here.
//! The answer is exactly what `/me` would conclude, with two differences that
//! make it an *observation* rather than a use of the session:
//!
//! * the cookie comes in the form body, not as a `Cookie` header, so
//!   actix-session's middleware never loads it (its load slides the TTL);
//! * the store is read with `GET` + `PTTL` ([`SessionBackend::peek`]), never
//!   `GETEX`: asking about a session does not keep it alive. Otherwise a
//!   resource service polling for a user would stretch the user's idle
//!   timeout forever.
//!
//! The checks, in order: the signature (with the same key actix-session
//! signs cookies with, so a forged or tampered id fails without a store
//! round trip), the session in the store, its absolute lifetime from
//! `login_at_ms` (as [`crate::session::TypedSession::user`] does).

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use actix_web::{
    cookie::{Cookie, CookieJar, Key},
    web, HttpRequest, HttpResponse,
};
use authlab_core::{
    error::ApiError,
    http::{self, NodeInfo},
    introspection::{
        ActiveToken, IntrospectionEndpoint, IntrospectionResponse, TOKEN_TYPE_SESSION,
    },
    wire::SESSION_COOKIE,
};

use crate::{
    session::{SessionSettings, LOGIN_AT_FIELD, NAME_FIELD},
    store::{SessionBackend, SessionState, ROLES_FIELD, USER_FIELD},
};

/// What the handler needs beyond the store: the endpoint, the cookie key, the lifetimes.
#[derive(Clone)]
pub struct Introspection {
    pub endpoint: IntrospectionEndpoint,
    pub cookie_key: Key,
    pub settings: SessionSettings,
}

/// The `/introspect` resource, with its own state so startup adds one line.
pub fn resource(introspection: Arc<Introspection>) -> actix_web::Resource {
    http::resource("/introspect")
        .app_data(web::Data::from(introspection))
        .route(web::post().to(introspect))
}

async fn introspect(
    request: HttpRequest,
    payload: web::Payload,
    introspection: web::Data<Introspection>,
    sessions: web::Data<SessionBackend>,
    node: web::Data<NodeInfo>,
) -> Result<HttpResponse, ApiError> {
    let token = match introspection.endpoint.accept(&request, payload).await {
        Ok(token) => token,
        Err(response) => return Ok(response),
    };
    let answer = match verified_session_key(&token, &introspection.cookie_key) {
        None => IntrospectionResponse::inactive(),
        Some(key) => match sessions.peek(&key).await? {
            None => IntrospectionResponse::inactive(),
            Some((state, idle_left)) => {
                match active_session(&state, idle_left, introspection.settings) {
                    Some(active) => IntrospectionResponse::active(active, &node.node),
                    None => IntrospectionResponse::inactive(),
                }
            }
        },
    };
    Ok(introspection.endpoint.answer(&answer))
}

/// The session key inside a cookie value, if its signature is ours.
///
/// The value is taken as the server set it (percent-encoded, as in the
/// `Set-Cookie` header); an already decoded value decodes to itself, since
/// a signed session value holds no `%`.
fn verified_session_key(token: &str, key: &Key) -> Option<String> {
    if token.len() > 4096 || token.contains([';', ' ', ',', '"']) {
        return None;
    }
    let cookie = Cookie::parse_encoded(format!("{SESSION_COOKIE}={token}")).ok()?;
    let mut jar = CookieJar::new();
    jar.add_original(cookie.into_owned());
    jar.signed(key)
        .get(SESSION_COOKIE)
        .map(|cookie| cookie.value().to_owned())
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The holder of a live session, or `None` if it has no user or outlived
/// its absolute lifetime. `exp` is the earlier of the two deadlines: the
/// idle one as the store has it now, and the absolute one.
fn active_session(
    state: &SessionState,
    idle_left: Duration,
    settings: SessionSettings,
) -> Option<ActiveToken> {
    let field = |name: &str| {
        state
            .get(name)
            .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw).ok())
    };
    let sub = field(USER_FIELD)?.as_str()?.to_owned();
    // A session without a login time counts as logged in at the epoch, so
    // it is expired: the same conclusion `/me` reaches.
    let login_at = field(LOGIN_AT_FIELD).and_then(|v| v.as_u64()).unwrap_or(0);
    let now = now_millis();
    let absolute_end = login_at.saturating_add(settings.absolute_ttl.as_millis() as u64);
    if now >= absolute_end {
        return None;
    }
    let idle_end = now.saturating_add(idle_left.as_millis() as u64);
    let name = field(NAME_FIELD)
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| sub.clone());
    let roles = field(ROLES_FIELD)
        .and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
        .unwrap_or_default();
    Some(ActiveToken {
        sub,
        name,
        roles,
        exp: idle_end.min(absolute_end) / 1000,
        iat: login_at / 1000,
        token_type: TOKEN_TYPE_SESSION,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests fail loudly by design

    use super::*;

    #[test]
    fn only_values_signed_with_our_key_verify() {
        let key = Key::derive_from(&[7u8; 64]);
        let mut jar = CookieJar::new();
        jar.signed_mut(&key)
            .add(Cookie::new(SESSION_COOKIE, "a".repeat(64)));
        let set = jar.delta().next().unwrap().encoded().to_string();
        let value = set.split_once('=').unwrap().1;
        assert_eq!(verified_session_key(value, &key), Some("a".repeat(64)));
        let other = Key::derive_from(&[8u8; 64]);
        assert_eq!(verified_session_key(value, &other), None);
        let tampered = value.replace("aaaa", "aaab");
        assert_eq!(verified_session_key(&tampered, &key), None);
        assert_eq!(verified_session_key(&"a".repeat(64), &key), None);
        assert_eq!(verified_session_key("", &key), None);
    }

    #[test]
    fn the_absolute_lifetime_ends_a_session_whatever_its_idle_ttl() {
        let settings = SessionSettings {
            idle_ttl: Duration::from_secs(60),
            absolute_ttl: Duration::from_secs(3600),
        };
        let state = |login_at: u64| {
            SessionState::from([
                (USER_FIELD.to_owned(), "\"alice\"".to_owned()),
                (LOGIN_AT_FIELD.to_owned(), login_at.to_string()),
            ])
        };
        let now = now_millis();
        let live = active_session(&state(now), Duration::from_secs(60), settings).unwrap();
        assert_eq!(live.sub, "alice");
        assert!(live.exp <= now / 1000 + 61);
        assert!(
            active_session(&state(now - 3_601_000), Duration::from_secs(60), settings).is_none()
        );
        assert!(active_session(&SessionState::new(), Duration::from_secs(60), settings).is_none());
    }
}
