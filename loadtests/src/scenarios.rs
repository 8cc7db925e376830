//! The simulated users, one goose scenario per stack and behaviour.
//!
//! # Browse (`session-browse`, `jwt-browse`)
//!
//! A user logs in once (goose `on_start`), then loops over authenticated
//! reads in a fixed, weighted mix: `/me` ×5, `/orders` ×4, `/admin/stats`
//! ×1 per ten transactions. That is what a logged-in app does all day, and
//! it is the traffic the two stacks differ on: the session stack loads the
//! session from Redis on every one of these requests, the JWT stack only
//! verifies a signature. Logins are rare on purpose; a login costs an Argon2
//! hash, which would swamp the difference being measured.
//!
//! `/admin/stats` is there because authorization is part of the work: for
//! carol (an admin) it must answer 200, for everyone else 403, and goose is
//! told to expect exactly that, so a 403 for a non-admin is a success and a
//! 200 would be a failure.
//!
//! A 401 on an authenticated request means the credential is dead (session
//! gone from the store, logged out everywhere, served by a node that never
//! saw the session, token expired). The user does what a browser app does:
//! logs in again at once, and that login is counted in
//! [`crate::LoadReport::relogins`]. The 401 itself stays a failed request.
//!
//! # Refresh (`jwt-refresh`)
//!
//! Browse on the JWT stack, plus the token lifecycle a real client runs:
//! shortly before the access token expires (a fifth of its lifetime before,
//! at least one second) the user sends `POST /token/refresh` and switches
//! to the rotated pair; a refresh token is used once. On a 401 it tries a
//! refresh first and logs in only if that fails.
//!
//! # Lifecycle (`session-lifecycle`, `jwt-lifecycle`)
//!
//! Browse, but a login does not live forever: each visit lasts between the
//! plan's shortest and longest visit (10 to 30 s by default; spread over
//! users and visits without randomness, so two runs offer the same load), then the user sends `POST /logout` and logs in again at its
//! next request. On the JWT stack the user also refreshes as in Refresh.
//! Every write path of both stacks runs (login, refresh rotation, logout and
//! its index and denylist updates), which is what a soak needs to show that
//! nothing grows without bound. A visit's end is not a 401, so it is not a
//! re-login.
//!
//! # Baseline (`baseline`)
//!
//! `GET /health` and nothing else: no credential, no store, no Argon2. Run
//! through the same path (HAProxy or not) it is the ceiling of that path, so
//! every experiment can say how far below the ceiling it measured.
//!
//! # Think time
//!
//! Without think time each user sends its next request the moment the last
//! one is answered: a closed loop that measures capacity. With think time
//! (`*-think`) users pause between transactions like people do, and the
//! offered load is roughly `users / mean pause`: use it (or a throttle) to
//! measure latency at a fixed load well below the ceiling.
//!
//! # Credentials
//!
//! Every goose user has its own HTTP client and cookie jar. On the session
//! stack the session cookie lives in that jar, as in a browser (which also
//! keeps HAProxy's sticky cookie working); a login's `Set-Cookie` replaces
//! the old cookie, and a login that sets none is a failure. On the JWT stack
//! the user keeps its access and refresh tokens in its goose session data and
//! sends `Authorization: Bearer` itself.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use authlab_core::{
    api::LoginRequest,
    directory::ADMIN_ROLE,
    wire::{TokenResponse, SESSION_COOKIE},
};
use goose::goose::{
    GooseMethod, GooseRequest, GooseResponse, GooseUser, Scenario, Transaction, TransactionError,
    TransactionResult,
};
use serde::Deserialize;

use crate::{
    plan::{scenario_name, Credentials, ScenarioKind, Stack},
    tally::Tally,
    LoadError,
};

/// The scenarios the binary registers, by name: `(name, stack, kind, think)`.
pub const NAMED: [(&str, Stack, ScenarioKind, bool); 8] = [
    (
        "session-browse",
        Stack::Session,
        ScenarioKind::Browse,
        false,
    ),
    (
        "session-browse-think",
        Stack::Session,
        ScenarioKind::Browse,
        true,
    ),
    ("jwt-browse", Stack::Jwt, ScenarioKind::Browse, false),
    ("jwt-browse-think", Stack::Jwt, ScenarioKind::Browse, true),
    ("jwt-refresh", Stack::Jwt, ScenarioKind::Refresh, false),
    ("baseline", Stack::Session, ScenarioKind::Baseline, false),
    (
        "session-lifecycle",
        Stack::Session,
        ScenarioKind::Lifecycle,
        false,
    ),
    ("jwt-lifecycle", Stack::Jwt, ScenarioKind::Lifecycle, false),
];

/// The names in [`NAMED`].
pub const NAMES: [&str; 8] = [
    NAMED[0].0, NAMED[1].0, NAMED[2].0, NAMED[3].0, NAMED[4].0, NAMED[5].0, NAMED[6].0, NAMED[7].0,
];

/// How long visit number `visit` of goose user `index` lasts, between
/// `min` and `max` in 21 steps, spread by two coprime strides so that users
/// and visits do not line up.
fn visit_length((min, max): (Duration, Duration), index: usize, visit: u64) -> Duration {
    const STEPS: u64 = 21;
    let step = (index as u64 * 7 + visit * 3) % STEPS;
    min + max
        .saturating_sub(min)
        .mul_f64(step as f64 / (STEPS - 1) as f64)
}

/// goose's machine name of a scenario: `--scenarios` matches this.
pub fn machine_name(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase()
}

/// What one scenario does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioSpec {
    pub stack: Stack,
    pub kind: ScenarioKind,
    pub think_time: Option<(Duration, Duration)>,
    pub credentials: Credentials,
    /// Lifecycle: `(shortest, longest)` visit.
    pub visit: (Duration, Duration),
}

impl ScenarioSpec {
    pub fn name(&self) -> String {
        scenario_name(self.stack, self.kind, self.think_time.is_some())
    }
}

/// A goose transaction calling `$f(user, &script)`. goose transactions get
/// only `&mut GooseUser`; the closure carries the run's script and tally in.
macro_rules! step {
    ($script:expr, $name:literal, $f:ident) => {{
        let script = Arc::clone(&$script);
        Transaction::new(Arc::new(move |user| {
            let script = Arc::clone(&script);
            Box::pin(async move { $f(user, &script).await })
        }))
        .set_name($name)
    }};
}

/// Builds the goose scenario for `spec`; its transactions count into `tally`.
pub fn build(spec: &ScenarioSpec, tally: &Arc<Tally>) -> Result<Scenario, LoadError> {
    if spec.kind == ScenarioKind::Refresh && spec.stack != Stack::Jwt {
        return Err(LoadError::Plan(
            "the refresh scenario needs the JWT stack".into(),
        ));
    }
    let script = Arc::new(Script {
        stack: spec.stack,
        refresh: spec.kind == ScenarioKind::Refresh
            || (spec.kind == ScenarioKind::Lifecycle && spec.stack == Stack::Jwt),
        visits: (spec.kind == ScenarioKind::Lifecycle).then_some(spec.visit),
        credentials: spec.credentials.clone(),
        tally: Arc::clone(tally),
    });
    let mut scenario = Scenario::new(&spec.name());
    if let Some((min, max)) = spec.think_time {
        scenario = scenario.set_wait_time(min, max)?;
    }
    Ok(match spec.kind {
        ScenarioKind::Baseline => scenario.register_transaction(step!(script, "health", health)),
        ScenarioKind::Browse | ScenarioKind::Refresh | ScenarioKind::Lifecycle => scenario
            .register_transaction(step!(script, "login", log_in_on_start).set_on_start())
            .register_transaction(step!(script, "me", me).set_weight(5)?)
            .register_transaction(step!(script, "orders", orders).set_weight(4)?)
            .register_transaction(step!(script, "admin stats", admin_stats)),
    })
}

/// What every transaction of one scenario needs besides its `GooseUser`.
struct Script {
    stack: Stack,
    refresh: bool,
    /// Lifecycle: the visit lengths; the user logs out when a visit is over.
    visits: Option<(Duration, Duration)>,
    credentials: Credentials,
    tally: Arc<Tally>,
}

/// One simulated user's identity and credential: goose session data.
#[derive(Clone)]
struct Visitor {
    username: String,
    password: &'static str,
    admin: bool,
    credential: Credential,
    /// Lifecycle: logins so far, and when the current visit ends.
    visits: u64,
    visit_ends: Option<Instant>,
}

#[derive(Clone)]
enum Credential {
    /// Not logged in (yet, or any more).
    None,
    /// Logged in on the session stack; the cookie itself is in the user's jar.
    Cookie,
    Bearer {
        access: String,
        refresh: String,
        /// When to refresh: a fifth of the token's life before it expires.
        refresh_at: Instant,
    },
}

/// The part of the session server's login answer the user looks at.
#[derive(Deserialize)]
struct SessionGrant {
    roles: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Why {
    /// First login, or no credential after an earlier failed attempt.
    NoCredential,
    /// A request answered 401: counted as a re-login.
    Unauthorized,
    /// The refresh token was refused before a 401 happened.
    RefreshFailed,
}

fn visitor<'u>(user: &'u mut GooseUser, script: &Script) -> &'u mut Visitor {
    if user.get_session_data::<Visitor>().is_none() {
        let (username, password) = script.credentials.for_user(user.weighted_users_index);
        user.set_session_data(Visitor {
            username,
            password,
            admin: false,
            credential: Credential::None,
            visits: 0,
            visit_ends: None,
        });
    }
    user.get_session_data_unchecked_mut::<Visitor>()
}

/// The request failed (goose already counted it): fail the transaction too.
fn failed(request: goose::metrics::GooseRequestMetric) -> TransactionResult {
    Err(Box::new(TransactionError::RequestFailed {
        raw_request: Box::new(request),
    }))
}

async fn send(
    user: &mut GooseUser,
    script: &Script,
    request: GooseRequest<'_>,
) -> Result<GooseResponse, Box<TransactionError>> {
    let response = user.request(request).await?;
    script.tally.record(&response);
    Ok(response)
}

async fn health(user: &mut GooseUser, script: &Script) -> TransactionResult {
    let request = GooseRequest::builder()
        .path("/health")
        .name("/health")
        .build();
    let response = send(user, script, request).await?;
    if response.request.success {
        Ok(())
    } else {
        failed(response.request)
    }
}

async fn log_in_on_start(user: &mut GooseUser, script: &Script) -> TransactionResult {
    log_in(user, script, Why::NoCredential).await
}

async fn me(user: &mut GooseUser, script: &Script) -> TransactionResult {
    authenticated_get(user, script, "/me", 200).await
}

async fn orders(user: &mut GooseUser, script: &Script) -> TransactionResult {
    authenticated_get(user, script, "/orders", 200).await
}

async fn admin_stats(user: &mut GooseUser, script: &Script) -> TransactionResult {
    let expect = if visitor(user, script).admin {
        200
    } else {
        403
    };
    authenticated_get(user, script, "/admin/stats", expect).await
}

async fn log_in(user: &mut GooseUser, script: &Script, why: Why) -> TransactionResult {
    let visitor = visitor(user, script);
    visitor.credential = Credential::None;
    let body = LoginRequest {
        username: visitor.username.clone(),
        password: visitor.password.to_owned(),
    };
    if why == Why::Unauthorized {
        script.tally.relogin();
    }
    let builder = user
        .get_request_builder(&GooseMethod::Post, "/login")?
        .json(&body);
    let request = GooseRequest::builder()
        .set_request_builder(builder)
        .name("/login")
        .build();
    let GooseResponse {
        mut request,
        response,
    } = send(user, script, request).await?;
    let response = match response {
        Ok(response) if request.success => response,
        _ => {
            script.tally.login(false);
            return failed(request);
        }
    };
    let granted = match script.stack {
        Stack::Session => {
            // The jar stores the new cookie by itself; check it was sent, so a
            // "successful" login that left the old cookie in place is caught.
            let cookie_prefix = format!("{SESSION_COOKIE}=");
            let sets_cookie = response
                .headers()
                .get_all("set-cookie")
                .iter()
                .any(|value| value.as_bytes().starts_with(cookie_prefix.as_bytes()));
            match response.json::<SessionGrant>().await {
                Ok(grant) if sets_cookie => Some((Credential::Cookie, grant.roles)),
                _ => None,
            }
        }
        Stack::Jwt => match response.json::<TokenResponse>().await {
            Ok(tokens) => Some(bearer(tokens)),
            Err(_) => None,
        },
    };
    let Some((credential, roles)) = granted else {
        script.tally.login(false);
        return user.set_failure(
            "login answered 2xx without a usable credential",
            &mut request,
            None,
            None,
        );
    };
    let index = user.weighted_users_index;
    let visitor = self::visitor(user, script);
    visitor.admin = roles.iter().any(|role| role == ADMIN_ROLE);
    visitor.credential = credential;
    if let Some(range) = script.visits {
        visitor.visit_ends = Some(Instant::now() + visit_length(range, index, visitor.visits));
        visitor.visits += 1;
    }
    script.tally.login(true);
    Ok(())
}

/// Ends the visit: `POST /logout` with the credential, which is dropped
/// whatever the answer (a client that logged out does not keep using it).
async fn log_out(user: &mut GooseUser, script: &Script) -> TransactionResult {
    let token = match &visitor(user, script).credential {
        Credential::Bearer { access, .. } => Some(access.clone()),
        Credential::Cookie | Credential::None => None,
    };
    let mut builder = user.get_request_builder(&GooseMethod::Post, "/logout")?;
    if let Some(token) = token {
        builder = builder.bearer_auth(token);
    }
    let request = GooseRequest::builder()
        .set_request_builder(builder)
        .name("/logout")
        .build();
    let response = send(user, script, request).await?;
    let visitor = visitor(user, script);
    visitor.credential = Credential::None;
    visitor.visit_ends = None;
    script.tally.logout(response.request.success);
    if response.request.success {
        Ok(())
    } else {
        failed(response.request)
    }
}

fn bearer(tokens: TokenResponse) -> (Credential, Vec<String>) {
    let lifetime = Duration::from_secs(tokens.expires_in);
    let margin = (lifetime / 5).max(Duration::from_secs(1)).min(lifetime);
    (
        Credential::Bearer {
            access: tokens.access_token,
            refresh: tokens.refresh_token,
            refresh_at: Instant::now() + (lifetime - margin),
        },
        tokens.roles,
    )
}

/// Rotates the token pair. `Ok(true)` with new tokens in place; `Ok(false)`
/// when there was nothing to refresh with or the server refused (the failed
/// request is counted by goose; the caller logs in instead).
async fn refresh(user: &mut GooseUser, script: &Script) -> Result<bool, Box<TransactionError>> {
    let Credential::Bearer { refresh, .. } = &visitor(user, script).credential else {
        return Ok(false);
    };
    let body = serde_json::json!({ "refresh_token": refresh });
    let builder = user
        .get_request_builder(&GooseMethod::Post, "/token/refresh")?
        .json(&body);
    let request = GooseRequest::builder()
        .set_request_builder(builder)
        .name("/token/refresh")
        .build();
    let GooseResponse { request, response } = send(user, script, request).await?;
    let tokens = match response {
        Ok(response) if request.success => response.json::<TokenResponse>().await.ok(),
        _ => None,
    };
    let visitor = visitor(user, script);
    match tokens {
        Some(tokens) => {
            visitor.credential = bearer(tokens).0;
            script.tally.refresh(true);
            Ok(true)
        }
        None => {
            // A refused refresh token is spent either way: never send it again.
            visitor.credential = Credential::None;
            script.tally.refresh(false);
            Ok(false)
        }
    }
}

/// `GET path` with the user's credential, expecting `expect`; logs in first
/// when there is no credential, refreshes first when it is about to expire
/// (refresh scenario), and logs in again after a 401.
async fn authenticated_get(
    user: &mut GooseUser,
    script: &Script,
    path: &'static str,
    expect: u16,
) -> TransactionResult {
    let visit_over = script.visits.is_some()
        && matches!(visitor(user, script).visit_ends, Some(ends) if Instant::now() >= ends);
    if visit_over {
        log_out(user, script).await?;
    }
    if matches!(visitor(user, script).credential, Credential::None) {
        log_in(user, script, Why::NoCredential).await?;
    }
    if script.refresh {
        let due = matches!(
            visitor(user, script).credential,
            Credential::Bearer { refresh_at, .. } if Instant::now() >= refresh_at
        );
        if due && !refresh(user, script).await? {
            log_in(user, script, Why::RefreshFailed).await?;
        }
    }
    let token = match &visitor(user, script).credential {
        Credential::Bearer { access, .. } => Some(access.clone()),
        Credential::Cookie | Credential::None => None,
    };
    let mut builder = user.get_request_builder(&GooseMethod::Get, path)?;
    if let Some(token) = token {
        builder = builder.bearer_auth(token);
    }
    let mut request = GooseRequest::builder()
        .set_request_builder(builder)
        .name(path);
    if expect != 200 {
        request = request.expect_status_code(expect);
    }
    let response = send(user, script, request.build()).await?;
    let unauthorized = matches!(&response.response, Ok(r) if r.status().as_u16() == 401);
    if unauthorized {
        // The credential is dead: a refresh may revive a JWT login; otherwise
        // log in again, as an app does when the server says "who are you?".
        let revived = script.refresh && refresh(user, script).await?;
        if !revived {
            // Its own failure is counted by goose; the 401 is what this
            // transaction reports.
            let _ = log_in(user, script, Why::Unauthorized).await;
        }
    }
    if response.request.success {
        Ok(())
    } else {
        failed(response.request)
    }
}
