//! c7 and c8 — how long a credential outlives a logout, and a role outlives a demotion.
//!
//! Both questions have the same shape: change something on the server at
//! time zero, then ask *every node directly* (not through HAProxy, so no
//! node can hide) every 50 ms until all of them refuse. Sessions are checked
//! against JWTs in the revocation set-ups a real deployment chooses between:
//! a plain long-lived token, a short access token with a refresh token, and a
//! denylist.

use std::time::{Duration, Instant};

use jwt_server::RevocationMode;
use serde_json::json;
use testkit::{Credential, TestClient};

use super::{err, median, spread, Experiment, Outcome, RunContext};
use crate::{
    results::{Chart, ChartKind, ClaimVerdict, ExperimentResult, Point, Series, Table, Verdict},
    Cluster, ClusterSpec, LabError, Stack,
};

/// A set-up under test.
#[derive(Clone, Copy)]
struct Variant {
    name: &'static str,
    stack: Stack,
    revocation: RevocationMode,
    access_ttl: Duration,
}

fn variants(quick: bool) -> Vec<Variant> {
    let short = Duration::from_secs(if quick { 3 } else { 10 });
    vec![
        Variant {
            name: "session (Redis)",
            stack: Stack::Session,
            revocation: RevocationMode::None,
            access_ttl: short,
        },
        Variant {
            name: "JWT, 1 h access token",
            stack: Stack::Jwt,
            revocation: RevocationMode::None,
            access_ttl: Duration::from_secs(3600),
        },
        Variant {
            name: "JWT, short access token + refresh",
            stack: Stack::Jwt,
            revocation: RevocationMode::None,
            access_ttl: short,
        },
        Variant {
            name: "JWT + denylist",
            stack: Stack::Jwt,
            revocation: RevocationMode::Denylist,
            access_ttl: Duration::from_secs(3600),
        },
    ]
}

async fn cluster_for(ctx: &RunContext, variant: Variant) -> Result<Cluster, LabError> {
    let mut spec = ClusterSpec::new(ctx.launcher.clone());
    spec.nodes = 3;
    spec.seed_users = 0;
    spec.stacks = vec![variant.stack];
    spec.revocation = variant.revocation;
    spec.jwt_args = vec![
        "--access-ttl".into(),
        format!("{}s", variant.access_ttl.as_secs()),
        "--leeway".into(),
        "0s".into(),
    ];
    Cluster::start(spec).await
}

async fn log_in(
    client: &TestClient,
    cluster: &Cluster,
    stack: Stack,
    user: &str,
) -> Result<Credential, LabError> {
    let base = cluster.url(stack, "")?;
    Ok(match stack {
        Stack::Session => client.session_login(&base, user).await,
        Stack::Jwt => client.jwt_login(&base, user).await.0,
    })
}

/// Polls `path` on every node until each answer is `refused`; returns the
/// seconds until the last node refused, or `None` if one still accepted at `window`.
async fn until_all_refuse(
    client: &TestClient,
    cluster: &Cluster,
    stack: Stack,
    who: &Credential,
    path: &str,
    refused: fn(u16) -> bool,
    window: Duration,
) -> Option<f64> {
    let started = Instant::now();
    let urls: Vec<String> = cluster.nodes(stack).iter().map(|n| n.url(path)).collect();
    let mut done = vec![false; urls.len()];
    while started.elapsed() < window {
        for (i, url) in urls.iter().enumerate() {
            if !done[i] && refused(client.get(url, Some(who)).await.status().as_u16()) {
                done[i] = true;
            }
        }
        if done.iter().all(|d| *d) {
            return Some(started.elapsed().as_secs_f64());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

fn show(seconds: Option<f64>, window: Duration) -> String {
    match seconds {
        Some(s) if s < 0.05 => "at once (first poll)".into(),
        Some(s) => format!("{s:.2} s"),
        None => format!("still accepted after {} s", window.as_secs()),
    }
}

/// Median and spread of `/me` latency over `n` sequential requests to one node.
async fn me_latency(client: &TestClient, url: &str, who: &Credential, n: usize) -> Vec<f64> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let _ = client.get(url, Some(who)).await;
        samples.push(started.elapsed().as_secs_f64() * 1e6);
    }
    samples
}

/// Refused everywhere within 0.5 s: a few polls, not a token lifetime.
fn immediate(seconds: Option<f64>) -> bool {
    seconds.is_some_and(|s| s < 0.5)
}

pub struct Revocation;

/// C7's rule, from the seconds after logout until every node refused the
/// credential (`None`: a node still accepted it when the window closed) for
/// the session, the plain 1 h JWT and the JWT with a denylist. The median
/// `/me` latencies with and without the denylist (µs) only go into the caveat.
pub fn c7_verdict(
    session_s: Option<f64>,
    plain_jwt_s: Option<f64>,
    denylist_s: Option<f64>,
    denylist_us: f64,
    plain_us: f64,
) -> Verdict {
    if !immediate(session_s) {
        Verdict::DoesNotHold("the session was not refused at once on every node".into())
    } else if plain_jwt_s.is_some() {
        Verdict::DoesNotHold("the plain JWT was refused before it expired".into())
    } else if immediate(denylist_s) {
        Verdict::HoldsWithCaveat(format!(
            "the denylist revokes a JWT at once too, at the price of a store lookup per request ({:.0} µs vs {:.0} µs median /me), i.e. giving up statelessness",
            denylist_us, plain_us
        ))
    } else {
        Verdict::Holds
    }
}

impl Experiment for Revocation {
    fn id(&self) -> &'static str {
        "c7"
    }

    fn title(&self) -> &'static str {
        "Time from logout until every node refuses the credential"
    }

    fn claims(&self) -> &'static [&'static str] {
        &["C7"]
    }

    fn estimate(&self, quick: bool) -> Duration {
        Duration::from_secs(if quick { 20 } else { 60 })
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> Outcome<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let client = TestClient::new();
            let mut table = Table {
                title: "After POST /logout at t = 0: when did all 3 nodes refuse the credential, and can it still be refreshed?".into(),
                columns: ["set-up", "access token lifetime", "all nodes refuse /me", "refresh after logout"].map(String::from).to_vec(),
                rows: Vec::new(),
            };
            let mut raw = Vec::new();
            let mut measured = Vec::new();
            for variant in variants(ctx.quick) {
                ctx.variant(format!("{}: logout, then polling every node", variant.name));
                let cluster = cluster_for(ctx, variant).await?;
                let base = cluster.url(variant.stack, "")?;
                let (who, refresh) = match variant.stack {
                    Stack::Session => (client.session_login(&base, "alice").await, None),
                    Stack::Jwt => {
                        let (bearer, tokens) = client.jwt_login(&base, "alice").await;
                        (bearer, Some(tokens.refresh_token))
                    }
                };
                let status = client
                    .post(&format!("{base}/logout"), Some(&who), None)
                    .await
                    .status();
                if !status.is_success() {
                    return Err(err(format!("{}: logout answered {status}", variant.name)));
                }
                let window = (variant.access_ttl + Duration::from_secs(2))
                    .min(Duration::from_secs(if ctx.quick { 6 } else { 15 }));
                let seconds = until_all_refuse(
                    &client,
                    &cluster,
                    variant.stack,
                    &who,
                    "/me",
                    |s| s == 401,
                    window,
                )
                .await;
                let refresh_after = match &refresh {
                    Some(token) => client
                        .refresh(&base, token)
                        .await
                        .status()
                        .as_u16()
                        .to_string(),
                    None => "— (no refresh token)".into(),
                };
                table.rows.push(vec![
                    variant.name.into(),
                    if variant.stack == Stack::Session {
                        "— (server-side)".into()
                    } else {
                        format!("{} s", variant.access_ttl.as_secs())
                    },
                    show(seconds, window),
                    refresh_after.clone(),
                ]);
                raw.push(json!({"variant": variant.name, "seconds": seconds, "window_s": window.as_secs_f64(), "refresh_after_logout": refresh_after}));
                measured.push((variant, seconds, window));
                cluster.shutdown();
            }

            ctx.variant("cost of the denylist: /me latency with and without it");
            let trials = if ctx.quick { 2 } else { 3 };
            let requests = if ctx.quick { 150 } else { 500 };
            let mut none_cluster = None;
            let mut deny_cluster = None;
            for (variant, slot) in [
                (variants(ctx.quick)[1], &mut none_cluster),
                (variants(ctx.quick)[3], &mut deny_cluster),
            ] {
                *slot = Some(cluster_for(ctx, variant).await?);
            }
            let (Some(none_cluster), Some(deny_cluster)) = (none_cluster, deny_cluster) else {
                return Err(err("clusters for the denylist cost"));
            };
            let none_who = log_in(&client, &none_cluster, Stack::Jwt, "alice").await?;
            let deny_who = log_in(&client, &deny_cluster, Stack::Jwt, "alice").await?;
            let none_url = none_cluster.nodes(Stack::Jwt)[0].url("/me");
            let deny_url = deny_cluster.nodes(Stack::Jwt)[0].url("/me");
            let (mut none_medians, mut deny_medians) = (Vec::new(), Vec::new());
            for _ in 0..trials {
                none_medians.push(median(
                    &me_latency(&client, &none_url, &none_who, requests).await,
                ));
                deny_medians.push(median(
                    &me_latency(&client, &deny_url, &deny_who, requests).await,
                ));
            }
            none_cluster.shutdown();
            deny_cluster.shutdown();
            let (none_med, deny_med) = (median(&none_medians), median(&deny_medians));
            let cost = Table {
                title: format!("Cost of the denylist: median /me latency on one node, {requests} sequential requests per trial, {trials} interleaved trials"),
                columns: ["set-up", "median of trial medians (µs)", "min–max of trial medians (µs)"].map(String::from).to_vec(),
                rows: vec![
                    vec!["JWT, no revocation".into(), format!("{none_med:.0}"), format!("{:.0}–{:.0}", spread(&none_medians).0, spread(&none_medians).1)],
                    vec!["JWT + denylist (one MGET)".into(), format!("{deny_med:.0}"), format!("{:.0}–{:.0}", spread(&deny_medians).0, spread(&deny_medians).1)],
                ],
            };
            raw.push(json!({"denylist_cost_us": {"none": none_medians, "denylist": deny_medians}}));

            let seconds = |name: &str| {
                measured
                    .iter()
                    .find(|(v, _, _)| v.name == name)
                    .and_then(|(_, s, _)| *s)
            };
            let verdict = c7_verdict(
                seconds("session (Redis)"),
                seconds("JWT, 1 h access token"),
                seconds("JWT + denylist"),
                deny_med,
                none_med,
            );
            let series = measured
                .iter()
                .map(|(v, s, w)| Series {
                    name: v.name.into(),
                    points: vec![Point {
                        x: "seconds until every node refuses".into(),
                        y: s.unwrap_or(w.as_secs_f64()),
                        low: None,
                        high: None,
                    }],
                })
                .collect();
            Ok(ExperimentResult {
                id: "c7".into(),
                title: self.title().into(),
                claims: vec!["C7".into()],
                question: "Can a JWT be revoked before it expires without extra machinery, while a session logs out instantly?".into(),
                setup: format!(
                    "For each set-up a cluster of 3 nodes behind HAProxy (leeway 0 s). Alice logs in and logs out through \
                     HAProxy; then every node is asked directly every 50 ms until all answer 401, for at most the access \
                     lifetime plus 2 s ({} mode caps the window). Bars show the measured time, or the whole window when \
                     the token was still accepted at its end. The denylist cost is measured on one node with {trials} \
                     interleaved trials.",
                    if ctx.quick { "quick" } else { "full" }
                ),
                verdicts: vec![ClaimVerdict {
                    claim: "C7".into(),
                    verdict,
                    rule: "holds when the session is refused on every node within 0.5 s of the logout and a plain JWT is \
                           still accepted at the end of its window; with a caveat when a denylist also gets a JWT refused \
                           everywhere within 0.5 s (the \"extra machinery\", priced in the cost table); does not hold \
                           otherwise."
                        .into(),
                    evidence: table.rows.iter().map(|r| format!("{}: {}", r[0], r[2])).collect::<Vec<_>>().join("; "),
                }],
                tables: vec![table, cost],
                chart: Some(Chart {
                    title: "Seconds from logout until every node refuses".into(),
                    kind: ChartKind::Bars,
                    x_label: "".into(),
                    y_label: "seconds (a full bar = still accepted when observation ended)".into(),
                    series,
                }),
                lesson: "A session dies everywhere on the next request, because every node asks the store. A plain JWT \
                         cannot be recalled: it keeps working on every node until it expires. The usual remedies are a \
                         short access token (the refresh token dies at logout, the access token lives out its minutes) or \
                         a denylist, which revokes at once because every request asks the store again: the same round \
                         trip the session pays."
                    .into(),
                raw: json!(raw),
                seconds: started.elapsed().as_secs_f64(),
                error: None,
            })
        })
    }
}

pub struct RoleDemotion;

/// C8's rule, from the seconds after the demotion until every node refused
/// admin (`None`: a node still granted it when the window closed) for the
/// session and for the long-lived (1 h) JWT.
pub fn c8_verdict(session_s: Option<f64>, long_jwt_s: Option<f64>) -> Verdict {
    if !immediate(session_s) {
        Verdict::DoesNotHold("the session kept the old role".into())
    } else if long_jwt_s.is_some() {
        Verdict::DoesNotHold("the long-lived JWT lost its role before expiry".into())
    } else {
        Verdict::Holds
    }
}

impl Experiment for RoleDemotion {
    fn id(&self) -> &'static str {
        "c8"
    }

    fn title(&self) -> &'static str {
        "How long a demoted user keeps admin rights"
    }

    fn claims(&self) -> &'static [&'static str] {
        &["C8"]
    }

    fn estimate(&self, quick: bool) -> Duration {
        Duration::from_secs(if quick { 15 } else { 40 })
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> Outcome<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let client = TestClient::new();
            let mut table = Table {
                title: "carol (admin) is demoted to user at t = 0: when did all 3 nodes stop granting GET /admin/stats to her credential (403, or 401 once the token expired)?".into(),
                columns: ["set-up", "access token lifetime", "admin refused on all nodes", "admin with a refreshed token"].map(String::from).to_vec(),
                rows: Vec::new(),
            };
            let mut measured = Vec::new();
            let all = variants(ctx.quick);
            for variant in [all[0], all[2], all[1]] {
                ctx.variant(format!("{}: demote, then polling every node", variant.name));
                let cluster = cluster_for(ctx, variant).await?;
                let base = cluster.url(variant.stack, "")?;
                let (carol, refresh) = match variant.stack {
                    Stack::Session => (client.session_login(&base, "carol").await, None),
                    Stack::Jwt => {
                        let (bearer, tokens) = client.jwt_login(&base, "carol").await;
                        (bearer, Some(tokens.refresh_token))
                    }
                };
                let demote = {
                    let request = client
                        .raw()
                        .put(format!("{base}/admin/users/carol/roles"))
                        .json(&json!({"roles": ["user"]}));
                    match &carol {
                        Credential::Cookie(c) => request.header("cookie", c.clone()),
                        Credential::Bearer(t) => request.bearer_auth(t),
                    }
                    .send()
                    .await
                    .map_err(err)?
                };
                if !demote.status().is_success() {
                    return Err(err(format!(
                        "{}: demotion answered {}",
                        variant.name,
                        demote.status()
                    )));
                }
                let window = (variant.access_ttl + Duration::from_secs(2))
                    .min(Duration::from_secs(if ctx.quick { 6 } else { 15 }));
                let seconds = until_all_refuse(
                    &client,
                    &cluster,
                    variant.stack,
                    &carol,
                    "/admin/stats",
                    // 403 (demoted) and 401 (token expired) both end the admin rights.
                    |s| s != 200,
                    window,
                )
                .await;
                let after_refresh = match &refresh {
                    Some(token) => {
                        let response = client.refresh(&base, token).await;
                        let body: serde_json::Value = response.json().await.unwrap_or_default();
                        match body["access_token"].as_str() {
                            Some(fresh) => client
                                .get(
                                    &format!("{base}/admin/stats"),
                                    Some(&Credential::Bearer(fresh.into())),
                                )
                                .await
                                .status()
                                .as_u16()
                                .to_string(),
                            None => "refresh refused".into(),
                        }
                    }
                    None => "—".into(),
                };
                table.rows.push(vec![
                    variant.name.into(),
                    if variant.stack == Stack::Session {
                        "— (server-side)".into()
                    } else {
                        format!("{} s", variant.access_ttl.as_secs())
                    },
                    show(seconds, window),
                    after_refresh,
                ]);
                measured.push((variant.name, seconds, window));
                cluster.shutdown();
            }
            let verdict = c8_verdict(measured[0].1, measured[2].1);
            Ok(ExperimentResult {
                id: "c8".into(),
                title: self.title().into(),
                claims: vec!["C8".into()],
                question: "Do permissions baked into a token go stale until it expires or is reissued, while a session follows a role change at once?".into(),
                setup: "For each set-up a cluster of 3 nodes. carol (roles user, admin) logs in, then demotes herself \
                        through PUT /admin/users/carol/roles; every node is then asked GET /admin/stats directly every 50 ms \
                        until all answer 403. The session stack rewrites the roles inside every live session of the user; \
                        the JWT stack changes only the directory, which a token sees at its next refresh."
                    .into(),
                verdicts: vec![ClaimVerdict {
                    claim: "C8".into(),
                    verdict,
                    rule: "holds when the session is refused admin on every node within 0.5 s of the demotion and a \
                           long-lived JWT still grants admin at the end of the observation window; does not hold otherwise."
                        .into(),
                    evidence: table.rows.iter().map(|r| format!("{}: {}", r[0], r[2])).collect::<Vec<_>>().join("; "),
                }],
                tables: vec![table],
                chart: Some(Chart {
                    title: "Seconds a demoted admin keeps admin rights".into(),
                    kind: ChartKind::Bars,
                    x_label: "".into(),
                    y_label: "seconds (a full bar = still admin when observation ended)".into(),
                    series: measured
                        .iter()
                        .map(|(name, s, w)| Series {
                            name: (*name).into(),
                            points: vec![Point { x: "seconds of stale admin rights".into(), y: s.unwrap_or(w.as_secs_f64()), low: None, high: None }],
                        })
                        .collect(),
                }),
                lesson: "A role in a token is a copy, and a copy does not hear about the demotion: it grants the old rights \
                         on every node until the token expires or is refreshed. A session holds the same copy, but on the \
                         server, where the server can rewrite it. Short access tokens bound the window; they do not close it."
                    .into(),
                raw: json!(measured.iter().map(|(n, s, w)| json!({"variant": n, "seconds": s, "window_s": w.as_secs_f64()})).collect::<Vec<_>>()),
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
    fn c7_rule() {
        assert_eq!(
            c7_verdict(Some(0.06), None, None, 900.0, 800.0),
            Verdict::Holds
        );
        assert_eq!(
            c7_verdict(Some(0.49), None, Some(0.5), 900.0, 800.0),
            Verdict::Holds
        );
        assert_eq!(
            c7_verdict(Some(0.06), None, Some(0.49), 900.0, 800.0),
            Verdict::HoldsWithCaveat(
                "the denylist revokes a JWT at once too, at the price of a store lookup per request (900 µs vs 800 µs median /me), i.e. giving up statelessness"
                    .into()
            )
        );
        assert_eq!(
            c7_verdict(Some(0.5), None, None, 900.0, 800.0),
            Verdict::DoesNotHold("the session was not refused at once on every node".into())
        );
        assert!(matches!(
            c7_verdict(None, None, None, 900.0, 800.0),
            Verdict::DoesNotHold(_)
        ));
        assert_eq!(
            c7_verdict(Some(0.06), Some(14.0), Some(0.06), 900.0, 800.0),
            Verdict::DoesNotHold("the plain JWT was refused before it expired".into())
        );
    }

    #[test]
    fn c8_rule() {
        assert_eq!(c8_verdict(Some(0.0), None), Verdict::Holds);
        assert_eq!(c8_verdict(Some(0.49), None), Verdict::Holds);
        assert_eq!(
            c8_verdict(Some(0.5), None),
            Verdict::DoesNotHold("the session kept the old role".into())
        );
        assert!(matches!(c8_verdict(None, None), Verdict::DoesNotHold(_)));
        assert_eq!(
            c8_verdict(Some(0.1), Some(9.0)),
            Verdict::DoesNotHold("the long-lived JWT lost its role before expiry".into())
        );
    }
}
