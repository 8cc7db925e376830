//! c10's run, in three phases on one cluster with short lifetimes: active
//! users (a session, a JWT without refresh, a JWT that refreshes), an idle
//! session user coming back, and a refresh token rotated then replayed.

use std::time::{Duration, Instant};

use authlab_client::{ApiClient, Credential};

use super::analysis::{AccessAfterReplay, Observed};
use crate::{experiment::RunContext, kit::err, ClusterSpec, LabError, Stack};

/// The access tokens' lifetime in this experiment.
pub const ACCESS_TTL: Duration = Duration::from_secs(2);

/// Requests every `every` for `total`; returns the seconds of the first 401, if any.
async fn active_user(
    client: &ApiClient,
    url: &str,
    who: &mut Credential,
    refresh: Option<(&str, &mut String)>,
    every: Duration,
    total: Duration,
) -> (Option<f64>, u32) {
    let started = Instant::now();
    let mut refreshes = 0;
    let mut refresh = refresh;
    while started.elapsed() < total {
        let status = client.get(url, Some(who)).await.status().as_u16();
        if status == 401 {
            match refresh.as_mut() {
                Some((base, token)) => {
                    let response = client.refresh(base, token).await;
                    let body: serde_json::Value = response.json().await.unwrap_or_default();
                    match (
                        body["access_token"].as_str(),
                        body["refresh_token"].as_str(),
                    ) {
                        (Some(access), Some(next)) => {
                            *who = Credential::Bearer(access.into());
                            **token = next.into();
                            refreshes += 1;
                            continue;
                        }
                        _ => return (Some(started.elapsed().as_secs_f64()), refreshes),
                    }
                }
                None => return (Some(started.elapsed().as_secs_f64()), refreshes),
            }
        }
        tokio::time::sleep(every).await;
    }
    (None, refreshes)
}

/// Polls `GET /me` with `access` every 100 ms from now until the first 401
/// or `window`.
async fn access_after_replay(
    client: &ApiClient,
    url: &str,
    access: &str,
    window: Duration,
) -> AccessAfterReplay {
    let started = Instant::now();
    let who = Credential::Bearer(access.into());
    let mut seen = AccessAfterReplay {
        first_status: 0,
        last_accepted_s: None,
        first_refused_s: None,
        window_s: window.as_secs_f64(),
    };
    while started.elapsed() < window {
        let status = client.get(url, Some(&who)).await.status().as_u16();
        let at = started.elapsed().as_secs_f64();
        if seen.first_status == 0 {
            seen.first_status = status;
        }
        match status {
            200 => seen.last_accepted_s = Some(at),
            401 => {
                seen.first_refused_s = Some(at);
                break;
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seen
}

/// How long the access token issued before the replay is polled.
pub fn access_window() -> Duration {
    ACCESS_TTL + Duration::from_secs(2)
}

/// Seconds until each active user got a 401 (`None`: never), and the
/// refreshing user's refresh count.
struct Active {
    session: Option<f64>,
    jwt_no_refresh: Option<f64>,
    jwt_with_refresh: Option<f64>,
    refreshes: u32,
}

/// What the rotation and the replay answered.
struct Replay {
    rotated: bool,
    replay_status: u16,
    replay_message: String,
    legit_after: u16,
    access_after: AccessAfterReplay,
}

fn spec(ctx: &RunContext) -> ClusterSpec {
    let mut spec = ctx.spec();
    spec.nodes = 2;
    spec.seed_users = 0;
    spec.session.idle_ttl = Some(Duration::from_secs(2));
    spec.session.absolute_ttl = Some(Duration::from_secs(3600));
    spec.jwt.access_ttl = Some(Duration::from_secs(ACCESS_TTL.as_secs()));
    spec.jwt.leeway = Some(Duration::ZERO);
    spec
}

async fn active_users(
    client: &ApiClient,
    session_base: &str,
    jwt_base: &str,
    every: Duration,
    total: Duration,
) -> Active {
    let mut session_user = client.session_login(session_base, "alice").await;
    let (session_active, _) = active_user(
        client,
        &format!("{session_base}/me"),
        &mut session_user,
        None,
        every,
        total,
    )
    .await;
    let (mut jwt_plain, _) = client.jwt_login(jwt_base, "alice").await;
    let (jwt_no_refresh, _) = active_user(
        client,
        &format!("{jwt_base}/me"),
        &mut jwt_plain,
        None,
        every,
        total,
    )
    .await;
    let (mut jwt_user, tokens) = client.jwt_login(jwt_base, "bob").await;
    let mut refresh_token = tokens.refresh_token.clone();
    let (jwt_with_refresh, refreshes) = active_user(
        client,
        &format!("{jwt_base}/me"),
        &mut jwt_user,
        Some((jwt_base, &mut refresh_token)),
        every,
        total,
    )
    .await;
    Active {
        session: session_active,
        jwt_no_refresh,
        jwt_with_refresh,
        refreshes,
    }
}

/// The status of `GET /me` for a session user back after 3 s idle.
async fn idle_user(client: &ApiClient, session_base: &str) -> u16 {
    let idle_session = client.session_login(session_base, "carol").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    client
        .get(&format!("{session_base}/me"), Some(&idle_session))
        .await
        .status()
        .as_u16()
}

async fn rotation_and_replay(client: &ApiClient, jwt_base: &str) -> Result<Replay, LabError> {
    let (_, first) = client.jwt_login(jwt_base, "carol").await;
    let second: serde_json::Value = client
        .refresh(jwt_base, &first.refresh_token)
        .await
        .json()
        .await
        .map_err(err)?;
    let rotated = second["refresh_token"]
        .as_str()
        .is_some_and(|t| t != first.refresh_token);
    let replay = client.refresh(jwt_base, &first.refresh_token).await;
    let replay_status = replay.status().as_u16();
    let replay_body: serde_json::Value = replay.json().await.unwrap_or_default();
    let legit_after = client
        .refresh(jwt_base, second["refresh_token"].as_str().unwrap_or(""))
        .await
        .status()
        .as_u16();
    // The access token of the rotated pair, issued before the replay.
    let access_after = access_after_replay(
        client,
        &format!("{jwt_base}/me"),
        second["access_token"].as_str().unwrap_or(""),
        access_window(),
    )
    .await;
    Ok(Replay {
        rotated,
        replay_status,
        replay_message: replay_body["message"].as_str().unwrap_or("").to_owned(),
        legit_after,
        access_after,
    })
}

pub async fn run(ctx: &RunContext) -> Result<Observed, LabError> {
    let total = Duration::from_secs(if ctx.quick { 6 } else { 12 });
    let every = Duration::from_millis(500);
    ctx.variant("cluster with 2 s session idle TTL and 2 s access tokens");
    let cluster = ctx.cluster(spec(ctx)).await?;
    let client = ApiClient::new();
    let session_base = cluster.url(Stack::Session, "")?;
    let jwt_base = cluster.url(Stack::Jwt, "")?;

    ctx.variant("active users, one request every 0.5 s");
    let active = active_users(&client, &session_base, &jwt_base, every, total).await;

    ctx.variant("an idle user comes back after 3 s");
    let idle_status = idle_user(&client, &session_base).await;

    ctx.variant("refresh rotation and a replayed refresh token");
    let replay = rotation_and_replay(&client, &jwt_base).await?;
    cluster.shutdown();
    Ok(Observed {
        total_s: total.as_secs(),
        session_active: active.session,
        jwt_no_refresh: active.jwt_no_refresh,
        jwt_with_refresh: active.jwt_with_refresh,
        refreshes: active.refreshes,
        idle_status,
        rotated: replay.rotated,
        replay_status: replay.replay_status,
        replay_message: replay.replay_message,
        legit_after: replay.legit_after,
        access_after: replay.access_after,
        access_ttl_s: ACCESS_TTL.as_secs_f64(),
    })
}
