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

use crate::experiment::Outcome;
use crate::experiment::RunContext;
use crate::experiment::Runnable;
use crate::kit::err;
use crate::{
    results::{Chart, ChartKind, ClaimVerdict, ExperimentResult, Point, Series, Table, Verdict},
    Cluster, ClusterSpec, Stack,
};

pub struct Sliding;

/// The access tokens' lifetime in this experiment.
const ACCESS_TTL: Duration = Duration::from_secs(2);

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

/// What became of an access token issued before a refresh-token replay
/// revoked its login: the server revokes refresh tokens, not access tokens
/// already out (revocation `none`), so this is measured, not assumed.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct AccessAfterReplay {
    /// The status of `GET /me` with it right after the replay.
    pub first_status: u16,
    /// Seconds from the replay's answer to the last 200, if any.
    pub last_accepted_s: Option<f64>,
    /// Seconds from the replay's answer to the first 401, if any came
    /// within the polling window.
    pub first_refused_s: Option<f64>,
    /// How long the polling went on at most.
    pub window_s: f64,
}

impl AccessAfterReplay {
    /// The sentence the table and the lesson share.
    pub fn said(&self, access_ttl_s: f64) -> String {
        match (self.last_accepted_s, self.first_refused_s) {
            (Some(last), Some(refused)) => format!(
                "still accepted {last:.1} s after the replay, refused from {refused:.1} s on (its lifetime is \
                 {access_ttl_s:.0} s)"
            ),
            (Some(last), None) => format!(
                "still accepted {last:.1} s after the replay, when polling ended ({:.0} s)",
                self.window_s
            ),
            (None, Some(_)) => format!(
                "refused at once after the replay (GET /me answered {})",
                self.first_status
            ),
            (None, None) => format!(
                "answered {} after the replay, neither accepted nor refused",
                self.first_status
            ),
        }
    }
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

/// The first screen's figure: the active JWT user with and without refresh.
pub fn c10_headline(
    total_s: u64,
    jwt_no_refresh: Option<f64>,
    jwt_with_refresh: Option<f64>,
    refreshes: u32,
) -> String {
    let outcome = |r: Option<f64>| {
        r.map_or(format!("still logged in after {total_s} s"), |s| {
            format!("logged out after {s:.1} s")
        })
    };
    format!(
        "active JWT user without refresh {}; with refresh ({}) {}",
        outcome(jwt_no_refresh),
        counted(refreshes),
        outcome(jwt_with_refresh)
    )
}

/// "1 refresh", "3 refreshes".
fn counted(refreshes: u32) -> String {
    if refreshes == 1 {
        "1 refresh".into()
    } else {
        format!("{refreshes} refreshes")
    }
}

/// The lesson's last sentences: what rotation and a replay did, as
/// measured, including the access token the replay could not reach.
pub fn replay_sentences(
    replay_status: u16,
    legit_after: u16,
    access: &AccessAfterReplay,
    access_ttl_s: f64,
) -> String {
    let refresh_side = if replay_status == 400 && legit_after == 400 {
        "the replayed refresh token was refused and so was the legitimate holder's newest one: the replay \
         revoked every refresh token of the login"
            .to_owned()
    } else {
        format!(
            "the replayed refresh token was answered {replay_status} and the legitimate holder's newest one \
             {legit_after}"
        )
    };
    let access_side = match access.last_accepted_s {
        Some(_) => format!(
            " It did not end the login's access token, though: the one issued by the last refresh was {}. A replay \
             stops further refreshes; an access token already out lives until its exp (revocation none), so a \
             thief who also holds one keeps it that long.",
            access.said(access_ttl_s)
        ),
        None => format!(
            " The access token issued by the last refresh was {}.",
            access.said(access_ttl_s)
        ),
    };
    format!(
        " Refresh tokens are server state, and rotation plus replay detection is what makes a stolen one \
         self-defeating: {refresh_side}.{access_side}"
    )
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

impl Runnable for Sliding {
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
        Duration::from_secs(if quick { 22 } else { 35 })
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
                format!("{}s", ACCESS_TTL.as_secs()),
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
            // The access token of the rotated pair, issued before the replay.
            let access_after = access_after_replay(
                &client,
                &format!("{jwt_base}/me"),
                second["access_token"].as_str().unwrap_or(""),
                ACCESS_TTL + Duration::from_secs(2),
            )
            .await;
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
                    vec![
                        "the access token issued with it, GET /me every 0.1 s after the replay"
                            .into(),
                        access_after.said(ACCESS_TTL.as_secs_f64()),
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
                     /token/refresh on each 401. Then a spent refresh token is replayed (revocation none), and the \
                     access token issued with the holder's newest refresh token is sent to GET /me every 0.1 s for \
                     up to {} s.",
                    total.as_secs(),
                    (ACCESS_TTL + Duration::from_secs(2)).as_secs()
                ),
                verdicts: vec![ClaimVerdict {
                    headline: c10_headline(total.as_secs(), jwt_no_refresh, jwt_with_refresh, refreshes),
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
                     an active user is logged out at expiry unless the client refreshes ({} here kept one \
                     user in).{}",
                    counted(refreshes),
                    replay_sentences(replay_status, legit_after, &access_after, ACCESS_TTL.as_secs_f64())
                ),
                summary: None,
                raw: json!({
                    "session_active_logout_s": session_active, "jwt_no_refresh_logout_s": jwt_no_refresh,
                    "jwt_with_refresh_logout_s": jwt_with_refresh, "refreshes": refreshes, "idle_session_status": idle_status,
                    "rotated": rotated, "replay_status": replay_status, "legit_after_replay": legit_after,
                    "access_after_replay": access_after
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
    fn the_lesson_says_what_the_replay_did_not_end() {
        // As a run measures it: the replay revokes the refresh tokens, and
        // the rotated pair's access token goes on until its exp.
        let lives_on = AccessAfterReplay {
            first_status: 200,
            last_accepted_s: Some(1.6),
            first_refused_s: Some(1.7),
            window_s: 4.0,
        };
        let text = replay_sentences(400, 400, &lives_on, 2.0);
        assert!(!text.contains("kills the whole login"), "{text}");
        assert!(
            text.contains("the replay revoked every refresh token of the login"),
            "{text}"
        );
        assert!(
            text.contains(
                "It did not end the login's access token, though: the one issued by the last refresh was still \
                 accepted 1.6 s after the replay, refused from 1.7 s on (its lifetime is 2 s)"
            ),
            "{text}"
        );
        // A server that also revoked access tokens would be said so.
        let ended = AccessAfterReplay {
            first_status: 401,
            last_accepted_s: None,
            first_refused_s: Some(0.0),
            window_s: 4.0,
        };
        let text = replay_sentences(400, 400, &ended, 2.0);
        assert!(
            text.contains("was refused at once after the replay (GET /me answered 401)"),
            "{text}"
        );
        assert!(!text.contains("lives until its exp"), "{text}");
        // A replay that did not revoke is not said to have.
        let text = replay_sentences(200, 200, &lives_on, 2.0);
        assert!(
            text.contains("answered 200 and the legitimate holder's newest one 200"),
            "{text}"
        );
        assert!(!text.contains("revoked every"), "{text}");
        let open = AccessAfterReplay {
            first_refused_s: None,
            ..lives_on
        };
        assert_eq!(
            open.said(2.0),
            "still accepted 1.6 s after the replay, when polling ended (4 s)"
        );
    }

    #[test]
    fn the_headline_is_the_active_users_outcome() {
        assert_eq!(
            c10_headline(12, Some(2.5), None, 3),
            "active JWT user without refresh logged out after 2.5 s; with refresh (3 refreshes) still logged in \
             after 12 s"
        );
        assert_eq!(
            c10_headline(6, Some(2.5), None, 1),
            "active JWT user without refresh logged out after 2.5 s; with refresh (1 refresh) still logged in \
             after 6 s"
        );
    }

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
