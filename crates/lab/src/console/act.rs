//! Carrying out a click: checks its arguments, does it (or has the
//! cluster's owner do it), and writes the outcome in the action log.

use std::time::Duration;

use authlab_core::{
    directory::UserDirectory,
    metrics::Metrics,
    redis_client::{RedisClientArgs, RedisStore},
};
use jwt_server::RevocationMode;
use reqwest::Method;

use super::{
    controls::{revocation_name, Action, ClusterAction, ControlError, NodeRef, STORE_LATENCIES_MS},
    inspector::Person,
    load::{LoadSettings, MAX_RATE},
    state::{LogEntry, Shared, StoreControl},
};
use crate::runtime_api::ServerState;

/// Does `action` and logs it; the sentence the page shows on success.
pub(super) async fn perform(shared: &Shared, action: &Action) -> Result<String, ControlError> {
    let result = dispatch(shared, action).await;
    shared.log(LogEntry {
        at_s: shared.clock.second(),
        action: action.name().to_owned(),
        ok: result.is_ok(),
        message: match &result {
            Ok(message) => message.clone(),
            Err(error) => error.to_string(),
        },
        claim: action.claim().map(str::to_owned),
    });
    shared.resample.notify_one();
    result
}

async fn dispatch(shared: &Shared, action: &Action) -> Result<String, ControlError> {
    match action {
        Action::LoadStart(settings) => start_load(shared, settings),
        Action::LoadStop => {
            lock(&shared.load)?.stop();
            Ok("built-in load stopped".into())
        }
        Action::StoreStop => store(shared, ClusterAction::StoreStop, StoreControl::Stopped).await,
        Action::StoreStart => store(shared, ClusterAction::StoreStart, StoreControl::Running).await,
        Action::StorePause => store(shared, ClusterAction::StorePause, StoreControl::Paused).await,
        Action::StoreResume => {
            store(shared, ClusterAction::StoreResume, StoreControl::Running).await
        }
        Action::StoreLatency { ms } => store_latency(shared, *ms).await,
        Action::NodeKill { node } => node_action(shared, node, ClusterAction::NodeKill).await,
        Action::NodeRestart { node } => node_action(shared, node, ClusterAction::NodeRestart).await,
        Action::NodeDrain { node } => {
            node_action(shared, node, |n| {
                ClusterAction::NodeState(n, ServerState::Drain)
            })
            .await
        }
        Action::NodeReady { node } => {
            node_action(shared, node, |n| {
                ClusterAction::NodeState(n, ServerState::Ready)
            })
            .await
        }
        Action::AliceLogin => Ok(shared.inspector.lock().await.log_in(Person::Alice).await),
        Action::CarolLogin => Ok(shared.inspector.lock().await.log_in(Person::Carol).await),
        Action::AliceLogout => revoke(shared, Person::Alice, "logout", "/logout", None).await,
        Action::AliceLogoutAll => {
            revoke(
                shared,
                Person::Alice,
                "logout everywhere",
                "/logout/all",
                None,
            )
            .await
        }
        Action::CarolDemote => demote_carol(shared).await,
        Action::CarolPromote => promote_carol(shared).await,
        Action::RotateKey => rotate_key(shared).await,
        Action::Revocation { mode } => set_revocation(shared, mode).await,
    }
}

fn start_load(shared: &Shared, settings: &LoadSettings) -> Result<String, ControlError> {
    let mut load = lock(&shared.load)?;
    load.start(*settings).map_err(ControlError::Invalid)?;
    Ok(format!(
        "built-in load: {} users per stack, {} req/s each (at most {MAX_RATE})",
        settings.users, settings.rate
    ))
}

/// Only the latencies the page offers: the proxy's delay is a demo dial,
/// not a general fault injector.
async fn store_latency(shared: &Shared, ms: u32) -> Result<String, ControlError> {
    if !STORE_LATENCIES_MS.contains(&ms) {
        return Err(ControlError::Invalid(format!(
            "store latency must be one of {STORE_LATENCIES_MS:?} ms"
        )));
    }
    let delay = Duration::from_millis(u64::from(ms));
    let message = shared
        .controller
        .apply(ClusterAction::StoreLatency(delay))
        .await?;
    lock(&shared.dials)?.store_latency = delay;
    Ok(message)
}

async fn demote_carol(shared: &Shared) -> Result<String, ControlError> {
    // carol is the admin who demotes herself: nobody else is one.
    let body = serde_json::json!({"roles": ["user"]});
    revoke(
        shared,
        Person::Carol,
        "demotion",
        "/admin/users/carol/roles",
        Some(body),
    )
    .await
}

async fn rotate_key(shared: &Shared) -> Result<String, ControlError> {
    if !shared.facts.can_rotate {
        return Err(ControlError::Unavailable(
            "this cluster has no JWT key set to rotate".into(),
        ));
    }
    shared.controller.apply(ClusterAction::RotateKey).await
}

/// Switches the JWT nodes' revocation; the dial changes only once the
/// controller says the nodes run with the new mode.
async fn set_revocation(shared: &Shared, mode: &str) -> Result<String, ControlError> {
    let mode = match mode {
        "none" => RevocationMode::None,
        "denylist" => RevocationMode::Denylist,
        other => {
            return Err(ControlError::Invalid(format!(
                "revocation is none or denylist, not {other:?}"
            )))
        }
    };
    if !shared.facts.has(crate::Stack::Jwt) {
        return Err(ControlError::Unavailable(
            "this cluster has no JWT stack".into(),
        ));
    }
    if lock(&shared.dials)?.revocation == mode {
        return Ok(format!("revocation is already {}", revocation_name(mode)));
    }
    let message = shared
        .controller
        .apply(ClusterAction::Revocation(mode))
        .await?;
    lock(&shared.dials)?.revocation = mode;
    Ok(message)
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>, ControlError> {
    mutex
        .lock()
        .map_err(|_| ControlError::Failed("the console's state is poisoned".into()))
}

async fn store(
    shared: &Shared,
    action: ClusterAction,
    after: StoreControl,
) -> Result<String, ControlError> {
    let message = shared.controller.apply(action).await?;
    lock(&shared.dials)?.store = after;
    Ok(message)
}

async fn node_action(
    shared: &Shared,
    node: &str,
    action: impl FnOnce(NodeRef) -> ClusterAction,
) -> Result<String, ControlError> {
    let node = shared
        .node(node)
        .ok_or_else(|| ControlError::Invalid(format!("no node named {node:?}")))?;
    shared.controller.apply(action(node)).await
}

async fn revoke(
    shared: &Shared,
    person: Person,
    what: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<String, ControlError> {
    let method = if body.is_some() {
        Method::PUT
    } else {
        Method::POST
    };
    let answers = shared
        .inspector
        .lock()
        .await
        .revoke(person, what, method, path, body)
        .await
        .map_err(ControlError::Invalid)?;
    Ok(format!(
        "{what} of {} sent ({answers}); watch each node's counter",
        person.username()
    ))
}

/// carol demoted herself, so no admin is left to promote her through the
/// API: the console writes her roles to the user directory, then logs her in
/// again so her credentials carry them.
async fn promote_carol(shared: &Shared) -> Result<String, ControlError> {
    let failed = |e: String| ControlError::Failed(format!("promoting carol: {e}"));
    let metrics = Metrics::new("console").map_err(|e| failed(e.to_string()))?;
    let store = RedisStore::new(
        "user directory",
        &shared.facts.directory_url,
        &RedisClientArgs::default(),
        metrics.store("user_directory"),
    )
    .map_err(|e| failed(e.to_string()))?;
    let roles = ["user".to_owned(), "admin".to_owned()];
    let found = UserDirectory::new(store)
        .set_roles("carol", &roles)
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !found {
        return Err(ControlError::Unavailable(
            "the user directory has no carol".into(),
        ));
    }
    let login = shared.inspector.lock().await.log_in(Person::Carol).await;
    Ok(format!("carol is admin again (user directory); {login}"))
}
