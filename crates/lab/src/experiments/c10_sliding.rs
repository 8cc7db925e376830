//! c10 — staying logged in: sliding sessions against access + refresh tokens.
//!
//! A session slides: every request pushes its idle expiry forward, so an
//! active user never sees a login page. A JWT cannot slide (its `exp` is
//! signed into it), so staying logged in takes a refresh token, and keeping
//! that safe takes rotation and replay detection. This experiment plays an
//! active and an idle user against each stack with short lifetimes, then
//! replays a stolen refresh token.

use std::time::{Duration, Instant};

use authlab_client::{ApiClient, Credential};
use serde_json::json;

use super::{err, Experiment, Outcome, RunContext};
use crate::{
    results::{Chart, ChartKind, ClaimVerdict, ExperimentResult, Point, Series, Table, Verdict},
    Cluster, ClusterSpec, Stack,
};

pub struct Sliding;

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

/// C10's rule. The first three are the seconds until each active user got a
/// 401 (`None`: still logged in when the run ended): the sliding session, the
/// JWT user without refresh, the JWT user who refreshes. Then the status of
/// the idle session's return, whether refresh handed out a new refresh token,
/// and the statuses of the replayed spent token and of the legitimate
/// holder's newest token after it.
pub fn c10_verdict(
    session_active: Option<f64>,
    jwt_no_refresh: Option<f64>,
    jwt_with_refresh: Option<f64>,
    idle_status: u16,
    rotated: bool,
    replay_status: u16,
    legit_after: u16,
) -> Verdict {
    let ok = session_active.is_none()
        && jwt_no_refresh.is_some()
        && jwt_with_refresh.is_none()
        && idle_status == 401
        && rotated
        && replay_status == 400
        && legit_after == 400;
    if ok {
        Verdict::Holds
    } else {
        Verdict::DoesNotHold(format!(
            "expected: session slides, plain JWT expires, refresh keeps the JWT user in, idle session ends, replay \
             revokes the family; got {session_active:?}, {jwt_no_refresh:?}, {jwt_with_refresh:?}, idle {idle_status}, \
             rotated {rotated}, replay {replay_status}, after {legit_after}"
        ))
    }
}

impl Experiment for Sliding {
    fn id(&self) -> &'static str {
        "c10"
    }

    fn title(&self) -> &'static str {
        "Staying logged in: sliding sessions vs access + refresh tokens"
    }

    fn claims(&self) -> &'static [&'static str] {
        &["C10"]
    }

    fn estimate(&self, quick: bool) -> Duration {
        Duration::from_secs(if quick { 15 } else { 30 })
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> Outcome<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let total = Duration::from_secs(if ctx.quick { 6 } else { 12 });
            let every = Duration::from_millis(500);
            ctx.variant("cluster with 2 s session idle TTL and 2 s access tokens");
            let mut spec = ClusterSpec::new(ctx.launcher.clone());
            spec.nodes = 2;
            spec.seed_users = 0;
            spec.session_args = vec![
                "--idle-ttl".into(),
                "2s".into(),
                "--absolute-ttl".into(),
                "1h".into(),
            ];
            spec.jwt_args = vec![
                "--access-ttl".into(),
                "2s".into(),
                "--leeway".into(),
                "0s".into(),
            ];
            let cluster = Cluster::start(spec).await?;
            let client = ApiClient::new();
            let session_base = cluster.url(Stack::Session, "")?;
            let jwt_base = cluster.url(Stack::Jwt, "")?;

            ctx.variant("active users, one request every 0.5 s");
            let mut session_user = client.session_login(&session_base, "alice").await;
            let (session_active, _) = active_user(
                &client,
                &format!("{session_base}/me"),
                &mut session_user,
                None,
                every,
                total,
            )
            .await;
            let (mut jwt_plain, _) = client.jwt_login(&jwt_base, "alice").await;
            let (jwt_no_refresh, _) = active_user(
                &client,
                &format!("{jwt_base}/me"),
                &mut jwt_plain,
                None,
                every,
                total,
            )
            .await;
            let (mut jwt_user, tokens) = client.jwt_login(&jwt_base, "bob").await;
            let mut refresh_token = tokens.refresh_token.clone();
            let (jwt_with_refresh, refreshes) = active_user(
                &client,
                &format!("{jwt_base}/me"),
                &mut jwt_user,
                Some((&jwt_base, &mut refresh_token)),
                every,
                total,
            )
            .await;

            ctx.variant("an idle user comes back after 3 s");
            let idle_session = client.session_login(&session_base, "carol").await;
            tokio::time::sleep(Duration::from_secs(3)).await;
            let idle_status = client
                .get(&format!("{session_base}/me"), Some(&idle_session))
                .await
                .status()
                .as_u16();

            ctx.variant("refresh rotation and a replayed refresh token");
            let (_, first) = client.jwt_login(&jwt_base, "carol").await;
            let second: serde_json::Value = client
                .refresh(&jwt_base, &first.refresh_token)
                .await
                .json()
                .await
                .map_err(err)?;
            let rotated = second["refresh_token"]
                .as_str()
                .is_some_and(|t| t != first.refresh_token);
            let replay = client.refresh(&jwt_base, &first.refresh_token).await;
            let replay_status = replay.status().as_u16();
            let replay_body: serde_json::Value = replay.json().await.unwrap_or_default();
            let legit_after = client
                .refresh(&jwt_base, second["refresh_token"].as_str().unwrap_or(""))
                .await
                .status()
                .as_u16();
            cluster.shutdown();

            let show = |r: Option<f64>| {
                r.map(|s| format!("logged out after {s:.1} s"))
                    .unwrap_or_else(|| format!("still logged in after {} s", total.as_secs()))
            };
            let table = Table {
                title: format!(
                    "An active user (a request every 0.5 s for {} s) with 2 s lifetimes",
                    total.as_secs()
                ),
                columns: ["set-up", "outcome", "token refreshes"]
                    .map(String::from)
                    .to_vec(),
                rows: vec![
                    vec![
                        "session, 2 s idle TTL (sliding)".into(),
                        show(session_active),
                        "—".into(),
                    ],
                    vec![
                        "JWT, 2 s access token, no refresh".into(),
                        show(jwt_no_refresh),
                        "0".into(),
                    ],
                    vec![
                        "JWT, 2 s access token + refresh token".into(),
                        show(jwt_with_refresh),
                        refreshes.to_string(),
                    ],
                    vec![
                        "session, idle user returning after 3 s".into(),
                        format!("GET /me answered {idle_status}"),
                        "—".into(),
                    ],
                ],
            };
            let rotation = Table {
                title: "Refresh-token rotation and replay".into(),
                columns: ["step", "result"].map(String::from).to_vec(),
                rows: vec![
                    vec![
                        "refresh returns a new refresh token".into(),
                        rotated.to_string(),
                    ],
                    vec![
                        "replaying the spent token".into(),
                        format!(
                            "{replay_status} {}",
                            replay_body["message"].as_str().unwrap_or("")
                        ),
                    ],
                    vec![
                        "the legitimate holder's newest token afterwards".into(),
                        legit_after.to_string(),
                    ],
                ],
            };
            let verdict = c10_verdict(
                session_active,
                jwt_no_refresh,
                jwt_with_refresh,
                idle_status,
                rotated,
                replay_status,
                legit_after,
            );
            let bar = |r: Option<f64>| r.unwrap_or(total.as_secs_f64());
            let series = [
                ("session, sliding", session_active),
                ("JWT, no refresh", jwt_no_refresh),
                ("JWT + refresh", jwt_with_refresh),
            ]
            .into_iter()
            .map(|(name, r)| Series {
                name: name.into(),
                points: vec![Point {
                    x: "seconds an active user stays logged in".into(),
                    y: bar(r),
                    low: None,
                    high: None,
                }],
            })
            .collect();
            Ok(ExperimentResult {
                id: "c10".into(),
                title: self.title().into(),
                claims: vec!["C10".into()],
                question: "Can a JWT slide like a session, or does staying logged in need refresh tokens, and do rotation and replay detection make those safe?".into(),
                setup: format!(
                    "A cluster of 2 nodes per stack with a 2 s session idle TTL and 2 s access tokens (leeway 0). Active \
                     users send GET /me every 0.5 s for {} s through HAProxy; the refreshing JWT user calls POST \
                     /token/refresh on each 401. Then a spent refresh token is replayed.",
                    total.as_secs()
                ),
                verdicts: vec![ClaimVerdict {
                    headline: String::new(),
                    by_design: None,
                    claim: "C10".into(),
                    verdict,
                    rule: "holds when the active session user stays logged in past several idle TTLs, the JWT user without \
                           refresh is logged out at expiry, the JWT user with refresh stays in, an idle session ends, \
                           refresh rotates the token, and a replayed token is refused and revokes its family."
                        .into(),
                    evidence: table.rows.iter().chain(&rotation.rows).map(|r| r.join(": ")).collect::<Vec<_>>().join("; "),
                }],
                tables: vec![table, rotation],
                chart: Some(Chart {
                    title: "Seconds an active user stays logged in (a full bar = the whole run)".into(),
                    kind: ChartKind::Bars,
                    x_label: "".into(),
                    y_label: "seconds".into(),
                    series,
                }),
                lesson: format!(
                    "A session slides for free: each request moves the idle deadline. A JWT's deadline is signed into it, so \
                     an active user is logged out at expiry unless the client refreshes ({refreshes} refreshes here kept one \
                     user in). Refresh tokens are server state, and rotation plus replay detection is what makes a stolen one \
                     self-defeating: the first replay kills the whole login."
                ),
                summary: None,
                raw: json!({
                    "session_active_logout_s": session_active, "jwt_no_refresh_logout_s": jwt_no_refresh,
                    "jwt_with_refresh_logout_s": jwt_with_refresh, "refreshes": refreshes, "idle_session_status": idle_status,
                    "rotated": rotated, "replay_status": replay_status, "legit_after_replay": legit_after
                }),
                seconds: started.elapsed().as_secs_f64(),
                error: None,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c10_rule() {
        assert_eq!(
            c10_verdict(None, Some(2.1), None, 401, true, 400, 400),
            Verdict::Holds
        );
        assert_eq!(
            c10_verdict(Some(2.0), Some(2.1), None, 401, true, 400, 400),
            Verdict::DoesNotHold(
                "expected: session slides, plain JWT expires, refresh keeps the JWT user in, idle session ends, \
                 replay revokes the family; got Some(2.0), Some(2.1), None, idle 401, rotated true, replay 400, \
                 after 400"
                    .into()
            )
        );
        // Every other expectation, broken on its own, fails the claim too.
        for broken in [
            c10_verdict(None, None, None, 401, true, 400, 400),
            c10_verdict(None, Some(2.1), Some(4.0), 401, true, 400, 400),
            c10_verdict(None, Some(2.1), None, 200, true, 400, 400),
            c10_verdict(None, Some(2.1), None, 401, false, 400, 400),
            c10_verdict(None, Some(2.1), None, 401, true, 401, 400),
            c10_verdict(None, Some(2.1), None, 401, true, 200, 400),
            c10_verdict(None, Some(2.1), None, 401, true, 400, 200),
        ] {
            assert!(matches!(broken, Verdict::DoesNotHold(_)), "{broken:?}");
        }
    }
}
