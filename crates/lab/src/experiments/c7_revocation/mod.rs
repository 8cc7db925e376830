//! c7 and c8 — how long a credential outlives a logout, and a role outlives a demotion.
//!
//! Both questions have the same shape: change something on the server at
//! time zero, then ask *every node directly* (not through HAProxy, so no
//! node can hide) every 50 ms until all of them refuse. Sessions are checked
//! against JWTs in the revocation set-ups a real deployment chooses between:
//! a plain long-lived token, a short access token with a refresh token, and a
//! denylist.

use std::time::{Duration, Instant};

use authlab_client::{ApiClient, Credential};
use jwt_server::RevocationMode;
use serde_json::json;

use crate::experiment::Outcome;
use crate::experiment::RunContext;
use crate::experiment::Runnable;
use crate::kit::err;
use crate::kit::schedule::{self, Trials};
use crate::kit::stats::median;
use crate::kit::stats::median_spread;
use crate::kit::stats::spread;
use crate::{
    results::{Chart, ChartKind, ClaimVerdict, ExperimentResult, Point, Series, Table, Verdict},
    summaries::{setups, RevocationSetup, RevocationSummary, Summary},
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

/// The set-ups; `denylist` is the revocation mode of the denylist set-up
/// (a test passes `None` to see the verdict turn on a denylist that does
/// not deny).
fn variants(quick: bool, denylist: RevocationMode) -> Vec<Variant> {
    let short = Duration::from_secs(if quick { 3 } else { 10 });
    vec![
        Variant {
            name: setups::SESSION,
            stack: Stack::Session,
            revocation: RevocationMode::None,
            access_ttl: short,
        },
        Variant {
            name: setups::PLAIN_JWT,
            stack: Stack::Jwt,
            revocation: RevocationMode::None,
            access_ttl: Duration::from_secs(3600),
        },
        Variant {
            name: setups::SHORT_JWT,
            stack: Stack::Jwt,
            revocation: RevocationMode::None,
            access_ttl: short,
        },
        Variant {
            name: setups::DENYLIST,
            stack: Stack::Jwt,
            revocation: denylist,
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
    client: &ApiClient,
    cluster: &Cluster,
    stack: Stack,
    user: &str,
) -> Result<Credential, LabError> {
    let base = cluster.url(stack, "")?;
    Ok(log_in_with_refresh(client, &base, stack, user).await.0)
}

/// Logs `user` in through `base`: the credential, and for JWT the refresh token.
async fn log_in_with_refresh(
    client: &ApiClient,
    base: &str,
    stack: Stack,
    user: &str,
) -> (Credential, Option<String>) {
    match stack {
        Stack::Session => (client.session_login(base, user).await, None),
        Stack::Jwt => {
            let (bearer, tokens) = client.jwt_login(base, user).await;
            (bearer, Some(tokens.refresh_token))
        }
    }
}

/// How long to watch after the change: the access lifetime plus 2 s, so an
/// expiring token is seen to expire, capped so a 1 h token does not hold the
/// run for an hour.
fn window(variant: Variant, quick: bool) -> Duration {
    (variant.access_ttl + Duration::from_secs(2)).min(Duration::from_secs(if quick {
        6
    } else {
        15
    }))
}

/// Polls `path` on every node until each answer is `refused`; returns the
/// seconds until the last node refused, or `None` if one still accepted at `window`.
async fn until_all_refuse(
    client: &ApiClient,
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
async fn me_latency(client: &ApiClient, url: &str, who: &Credential, n: usize) -> Vec<f64> {
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

/// The slowest trial: `None` if any trial ended with the credential still
/// accepted. For "refused at once in every trial".
fn slowest(trials: &[Option<f64>]) -> Option<f64> {
    trials
        .iter()
        .try_fold(0.0f64, |worst, s| s.map(|s| worst.max(s)))
        .filter(|_| !trials.is_empty())
}

/// The fastest refusal of any trial: `None` only if every trial ended with
/// the credential still accepted. For "accepted until the end in every trial".
fn fastest(trials: &[Option<f64>]) -> Option<f64> {
    trials.iter().flatten().copied().reduce(f64::min)
}

/// One cell for all trials of a set-up.
fn show_trials(trials: &[Option<f64>], window: Duration) -> String {
    let refused: Vec<f64> = trials.iter().flatten().copied().collect();
    let n = trials.len();
    if refused.len() == n && n > 1 {
        let (lo, hi) = spread(&refused);
        format!(
            "{} (median; {lo:.2}–{hi:.2} s over {n} trials)",
            show(Some(median(&refused)), window)
        )
    } else if refused.len() == n || refused.is_empty() {
        let all = if n > 1 {
            format!(", all {n} trials")
        } else {
            String::new()
        };
        format!("{}{all}", show(trials.first().copied().flatten(), window))
    } else {
        format!(
            "refused in {} of {n} trials (median {:.2} s); still accepted after {} s in the others",
            refused.len(),
            median(&refused),
            window.as_secs()
        )
    }
}

/// A bar for all trials: the median of the measured times, a trial that
/// ended with the credential still accepted counting as the whole window.
fn bar(trials: &[Option<f64>], window: Duration) -> (f64, f64, f64) {
    let values: Vec<f64> = trials
        .iter()
        .map(|s| s.unwrap_or(window.as_secs_f64()))
        .collect();
    median_spread(&values)
}

/// The trials of one set-up.
struct Observed {
    variant: Variant,
    window: Duration,
    seconds: Vec<Option<f64>>,
    /// What the check after the measurement answered, per trial.
    after: Vec<String>,
}

impl Observed {
    /// The table row: set-up, lifetime, what the trials saw, the follow-up check.
    fn row(&self) -> Vec<String> {
        vec![
            self.variant.name.into(),
            if self.variant.stack == Stack::Session {
                "— (server-side)".into()
            } else {
                format!("{} s", self.variant.access_ttl.as_secs())
            },
            show_trials(&self.seconds, self.window),
            distinct(&self.after),
        ]
    }

    /// One bar: the median across trials, min–max as the whisker.
    fn series(&self, x: &str) -> Series {
        let (y, low, high) = bar(&self.seconds, self.window);
        Series {
            name: self.variant.name.into(),
            points: vec![Point {
                x: x.into(),
                y,
                low: Some(low),
                high: Some(high),
            }],
        }
    }
}

/// The trials of the set-up called `name` (none if it did not run).
fn trials_of<'o>(observed: &'o [Observed], name: &str) -> &'o [Option<f64>] {
    observed
        .iter()
        .find(|o| o.variant.name == name)
        .map_or(&[], |o| o.seconds.as_slice())
}

/// Distinct answers, in order of first appearance.
fn distinct(answers: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for a in answers {
        if !seen.contains(&a.as_str()) {
            seen.push(a);
        }
    }
    seen.join(" / ")
}

/// Each trial on fresh clusters; the claims are about every trial.
const TRIALS: Trials = Trials::new(1, 3);

/// The revocation summary of `observed`, for c15 and the lessons.
fn revocation_summary(observed: &[Observed]) -> RevocationSummary {
    RevocationSummary {
        setups: observed
            .iter()
            .map(|o| RevocationSetup {
                name: o.variant.name.into(),
                seconds: o.seconds.clone(),
                window_s: o.window.as_secs_f64(),
            })
            .collect(),
    }
}

fn summary(observed: &[Observed]) -> Summary {
    Summary::Revocation(revocation_summary(observed))
}

/// The trials of every set-up, in the set-ups' own order.
fn collect(
    variants: &[Variant],
    quick: bool,
    measured: &[schedule::Measured<(Option<f64>, String)>],
) -> Vec<Observed> {
    variants
        .iter()
        .enumerate()
        .map(|(i, variant)| {
            let trials = schedule::of_variant(measured, i);
            Observed {
                variant: *variant,
                window: window(*variant, quick),
                seconds: trials.iter().map(|t| t.0).collect(),
                after: trials.iter().map(|t| t.1.clone()).collect(),
            }
        })
        .collect()
}

pub struct Revocation {
    /// The denylist set-up's mode: `Denylist`, except in the test that
    /// breaks it on purpose.
    pub denylist: RevocationMode,
}

impl Default for Revocation {
    fn default() -> Self {
        Self {
            denylist: RevocationMode::Denylist,
        }
    }
}

/// C7's rule, from the seconds after logout until every node refused the
/// credential, slowest trial first: `Some(None)` means a node still accepted
/// it when some trial's window closed, `None` that the set-up did not run.
/// The denylist's price (median `/me` µs, with and without it, and the
/// spread of the trials without) decides between "holds" and the caveat.
pub fn c7_verdict(
    session_s: Option<Option<f64>>,
    plain_jwt_s: Option<Option<f64>>,
    denylist_s: Option<Option<f64>>,
    price: DenylistPrice,
) -> Verdict {
    let (Some(session_s), Some(plain_jwt_s)) = (session_s, plain_jwt_s) else {
        return Verdict::NotMeasured("the session or the plain JWT set-up did not run".into());
    };
    if !immediate(session_s) {
        return Verdict::DoesNotHold(
            "the session was not refused on every node within 0.5 s in every trial".into(),
        );
    }
    if let Some(s) = plain_jwt_s {
        return Verdict::DoesNotHold(format!(
            "the plain JWT was refused on every node after {s:.2} s in some trial, before it expired: no extra machinery was needed"
        ));
    }
    match denylist_s {
        None => Verdict::HoldsWithCaveat("the denylist set-up did not run, so the remedy was not shown".into()),
        Some(d) if !immediate(d) => Verdict::DoesNotHold(format!(
            "the denylist did not revoke the JWT within 0.5 s in every trial ({}): the extra machinery failed, so this \
             run cannot show that it works",
            d.map_or("still accepted when a window closed".into(), |s| format!("slowest {s:.2} s"))
        )),
        Some(_) if price.measurable() => Verdict::HoldsWithCaveat(format!(
            "the denylist revokes a JWT at once too, at the price of a store lookup per request (median /me {:.0} µs vs \
             {:.0} µs without): the JWT is then no longer stateless",
            price.denylist_us, price.plain_us
        )),
        Some(_) => Verdict::Holds,
    }
}

/// The denylist's cost on `/me`: medians of the per-trial medians (µs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DenylistPrice {
    pub plain_us: f64,
    pub denylist_us: f64,
    /// The highest per-trial median without the denylist.
    pub plain_max_us: f64,
}

impl DenylistPrice {
    /// The denylist's median lies above every trial without it: a price the
    /// run could tell from noise.
    pub fn measurable(self) -> bool {
        self.denylist_us > self.plain_max_us
    }
}

impl Runnable for Revocation {
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
        Duration::from_secs(if quick { 16 } else { 95 })
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> Outcome<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let client = ApiClient::new();
            let mut table = Table {
                title: "After POST /logout at t = 0: when did all 3 nodes refuse the credential, and can it still be refreshed?".into(),
                columns: ["set-up", "access token lifetime", "all nodes refuse /me", "refresh after logout"].map(String::from).to_vec(),
                rows: Vec::new(),
            };
            let mut raw = Vec::new();
            let all = variants(ctx.quick, self.denylist);
            let trials = TRIALS.count(ctx.quick);
            // A fresh cluster per set-up and trial.
            let measured = schedule::run(
                ctx,
                &all,
                trials,
                |v| format!("{}: logout, then polling every node", v.name),
                async |variant, trial| {
                    let cluster = cluster_for(ctx, *variant).await?;
                    let base = cluster.url(variant.stack, "")?;
                    let (who, refresh) =
                        log_in_with_refresh(&client, &base, variant.stack, "alice").await;
                    let status = client
                        .post(&format!("{base}/logout"), Some(&who), None)
                        .await
                        .status();
                    if !status.is_success() {
                        return Err(err(format!("{}: logout answered {status}", variant.name)));
                    }
                    let window = window(*variant, ctx.quick);
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
                    raw.push(json!({"variant": variant.name, "trial": trial, "seconds": seconds, "window_s": window.as_secs_f64(), "refresh_after_logout": refresh_after}));
                    cluster.shutdown();
                    Ok((seconds, refresh_after))
                },
            )
            .await?;
            let observed = collect(&all, ctx.quick, &measured);
            table.rows.extend(observed.iter().map(Observed::row));

            ctx.variant("cost of the denylist: /me latency with and without it");
            let cost_trials = if ctx.quick { 2 } else { 3 };
            let requests = if ctx.quick { 150 } else { 500 };
            let mut none_cluster = None;
            let mut deny_cluster = None;
            for (variant, slot) in [(all[1], &mut none_cluster), (all[3], &mut deny_cluster)] {
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
            for trial in 0..cost_trials {
                // Interleaved, the order alternating per trial.
                for which in schedule::order(2, trial) {
                    if which == 0 {
                        none_medians.push(median(
                            &me_latency(&client, &none_url, &none_who, requests).await,
                        ));
                    } else {
                        deny_medians.push(median(
                            &me_latency(&client, &deny_url, &deny_who, requests).await,
                        ));
                    }
                }
            }
            none_cluster.shutdown();
            deny_cluster.shutdown();
            let (none_med, deny_med) = (median(&none_medians), median(&deny_medians));
            let cost = Table {
                title: format!("Cost of the denylist: median /me latency on one node, {requests} sequential requests per trial, {cost_trials} interleaved trials"),
                columns: ["set-up", "median of trial medians (µs)", "min–max of trial medians (µs)"].map(String::from).to_vec(),
                rows: vec![
                    vec!["JWT, no revocation".into(), format!("{none_med:.0}"), format!("{:.0}–{:.0}", spread(&none_medians).0, spread(&none_medians).1)],
                    vec!["JWT + denylist (one MGET)".into(), format!("{deny_med:.0}"), format!("{:.0}–{:.0}", spread(&deny_medians).0, spread(&deny_medians).1)],
                ],
            };
            raw.push(json!({"denylist_cost_us": {"none": none_medians, "denylist": deny_medians}}));

            // Every trial must show the claim: the session refused at once in
            // each, the plain JWT accepted to the end in each.
            let ran = |name: &str| Some(trials_of(&observed, name)).filter(|t| !t.is_empty());
            let verdict = c7_verdict(
                ran(setups::SESSION).map(slowest),
                ran(setups::PLAIN_JWT).map(fastest),
                ran(setups::DENYLIST).map(slowest),
                DenylistPrice {
                    plain_us: none_med,
                    denylist_us: deny_med,
                    plain_max_us: spread(&none_medians).1,
                },
            );
            let series = observed
                .iter()
                .map(|o| o.series("seconds until every node refuses"))
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
                     the token was still accepted at its end; {trials} trial(s), each on fresh clusters, set-ups \
                     interleaved. The denylist cost is measured on one node with {cost_trials} interleaved trials.",
                    if ctx.quick { "quick" } else { "full" }
                ),
                verdicts: vec![ClaimVerdict {
                    headline: revocation_headline(&revocation_summary(&observed), "logout"),
                    by_design: None,
                    claim: "C7".into(),
                    verdict,
                    rule: "not measured when the session or plain-JWT set-up did not run. Does not hold when, in some trial, the \
                           session is not refused on every node within 0.5 s of the logout, the plain JWT is refused before the \
                           end of its window, or the denylist (the extra machinery) does not get the JWT refused everywhere \
                           within 0.5 s. Otherwise it holds with a caveat when the denylist's median /me latency lies above \
                           every trial without it (a measurable price: the JWT is no longer stateless), or when the denylist \
                           set-up did not run; and holds when the denylist revoked at once at no price this run could measure."
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
                lesson: logout_lesson(&observed, none_med, deny_med),
                summary: Some(summary(&observed)),
                raw: json!(raw),
                seconds: started.elapsed().as_secs_f64(),
                error: None,
            })
        })
    }
}

pub struct RoleDemotion;

/// C8's rule, from the seconds after the demotion until every node refused
/// admin, slowest trial for the session and fastest for the 1 h JWT
/// (`Some(None)`: a node still granted it when a window closed; `None`: the
/// set-up did not run), and whether a token reissued by refresh after the
/// demotion still granted admin in some trial.
pub fn c8_verdict(
    session_s: Option<Option<f64>>,
    long_jwt_s: Option<Option<f64>>,
    reissued_still_admin: bool,
) -> Verdict {
    let (Some(session_s), Some(long_jwt_s)) = (session_s, long_jwt_s) else {
        return Verdict::NotMeasured("the session or the 1 h JWT set-up did not run".into());
    };
    if !immediate(session_s) {
        Verdict::DoesNotHold(
            "the session kept the old role for more than 0.5 s on some node in some trial".into(),
        )
    } else if let Some(s) = long_jwt_s {
        Verdict::DoesNotHold(format!(
            "the 1 h JWT lost its role on every node after {s:.2} s in some trial, long before it expired"
        ))
    } else if reissued_still_admin {
        Verdict::HoldsWithCaveat(
            "a token reissued by refresh after the demotion still granted admin: reissuing did not refresh the roles".into(),
        )
    } else {
        Verdict::Holds
    }
}

/// The first screen's figure for c7 and c8: how the session and the 1 h
/// JWT ended after `event` ("logout", "demotion").
pub fn revocation_headline(summary: &RevocationSummary, event: &str) -> String {
    let show = |name: &str, what: &str| {
        summary.outcome(name).map_or_else(
            || format!("{what} not measured"),
            |o| match o {
                crate::summaries::Outcome::AcceptedThroughout { .. } => format!("{what} {o}"),
                _ => format!("{what} refused {o}"),
            },
        )
    };
    format!(
        "after the {event}: {}; {}",
        show(setups::SESSION, "session"),
        show(setups::PLAIN_JWT, "1 h JWT")
    )
}

/// The lesson of c8, from its own outcomes.
fn demotion_lesson(observed: &[Observed]) -> String {
    let summary = revocation_summary(observed);
    let show = |name: &str| {
        summary
            .outcome(name)
            .map_or_else(|| "not measured".to_owned(), |o| o.to_string())
    };
    format!(
        "After the demotion the session lost admin on every node {}: the server rewrote the role inside it. The 1 h \
         JWT kept admin: {}; a role in a token is a copy the server cannot reach. The short access token lost it {}, \
         when it expired; the token reissued by refresh answered {}.",
        show(setups::SESSION),
        show(setups::PLAIN_JWT),
        show(setups::SHORT_JWT),
        distinct(
            &observed
                .iter()
                .filter(|o| o.variant.name == setups::SHORT_JWT)
                .flat_map(|o| o.after.clone())
                .collect::<Vec<_>>()
        ),
    )
}

/// The lesson of c7, from its own outcomes.
fn logout_lesson(observed: &[Observed], plain_us: f64, denylist_us: f64) -> String {
    let summary = revocation_summary(observed);
    let show = |name: &str| {
        summary
            .outcome(name)
            .map_or_else(|| "not measured".to_owned(), |o| o.to_string())
    };
    format!(
        "After a logout the session was refused on every node {}, because every node asks the store. The 1 h JWT was \
         {}: no node asks anyone about it. The short access token was refused {}, when it expired (its refresh token \
         died at logout). The denylist got the JWT refused {}, by asking the store on every request: median /me \
         {denylist_us:.0} µs against {plain_us:.0} µs without it.",
        show(setups::SESSION),
        show(setups::PLAIN_JWT),
        show(setups::SHORT_JWT),
        show(setups::DENYLIST),
    )
}

impl Runnable for RoleDemotion {
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
        Duration::from_secs(if quick { 13 } else { 90 })
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> Outcome<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let client = ApiClient::new();
            let mut table = Table {
                title: "carol (admin) is demoted to user at t = 0: when did all 3 nodes stop granting GET /admin/stats to her credential (403, or 401 once the token expired)?".into(),
                columns: ["set-up", "access token lifetime", "admin refused on all nodes", "admin with a refreshed token"].map(String::from).to_vec(),
                rows: Vec::new(),
            };
            let all = variants(ctx.quick, RevocationMode::Denylist);
            // A demotion cannot be undone by the demoted admin: a fresh
            // cluster per set-up and trial. The denylist set-up is c7's.
            let demoted = [all[0], all[2], all[1]];
            let trials = TRIALS.count(ctx.quick);
            let measured = schedule::run(
                ctx,
                &demoted,
                trials,
                |v| format!("{}: demote, then polling every node", v.name),
                async |variant, _trial| {
                    let cluster = cluster_for(ctx, *variant).await?;
                    let base = cluster.url(variant.stack, "")?;
                    let (carol, refresh) =
                        log_in_with_refresh(&client, &base, variant.stack, "carol").await;
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
                    let window = window(*variant, ctx.quick);
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
                    cluster.shutdown();
                    Ok((seconds, after_refresh))
                },
            )
            .await?;
            let observed = collect(&demoted, ctx.quick, &measured);
            table.rows.extend(observed.iter().map(Observed::row));
            let ran = |name: &str| Some(trials_of(&observed, name)).filter(|t| !t.is_empty());
            let reissued_still_admin = observed
                .iter()
                .filter(|o| o.variant.stack == Stack::Jwt)
                .any(|o| o.after.iter().any(|a| a == "200"));
            let verdict = c8_verdict(
                ran(setups::SESSION).map(slowest),
                ran(setups::PLAIN_JWT).map(fastest),
                reissued_still_admin,
            );
            Ok(ExperimentResult {
                id: "c8".into(),
                title: self.title().into(),
                claims: vec!["C8".into()],
                question: "Do permissions baked into a token go stale until it expires or is reissued, while a session follows a role change at once?".into(),
                setup: format!(
                    "For each set-up and trial a fresh cluster of 3 nodes ({} trial(s), set-ups interleaved). carol (roles \
                     user, admin) logs in, then demotes herself through PUT /admin/users/carol/roles; every node is then \
                     asked GET /admin/stats directly every 50 ms until all stop answering 200 (403 once demoted, 401 once \
                     the token expired). The session stack rewrites the roles inside every live session of the user; \
                     the JWT stack changes only the directory, which a token sees at its next refresh.",
                    trials
                ),
                verdicts: vec![ClaimVerdict {
                    headline: revocation_headline(&revocation_summary(&observed), "demotion"),
                    by_design: None,
                    claim: "C8".into(),
                    verdict,
                    rule: "not measured when the session or 1 h JWT set-up did not run. Does not hold when, in some trial, the \
                           session still gets admin on some node 0.5 s after the demotion, or the 1 h JWT stops getting it on \
                           every node before the window closes. Holds with a caveat when a token reissued by refresh after the \
                           demotion still gets admin (200) in some trial; holds otherwise."
                        .into(),
                    evidence: table.rows.iter().map(|r| format!("{}: {}", r[0], r[2])).collect::<Vec<_>>().join("; "),
                }],
                tables: vec![table],
                chart: Some(Chart {
                    title: "Seconds a demoted admin keeps admin rights".into(),
                    kind: ChartKind::Bars,
                    x_label: "".into(),
                    y_label: "seconds (a full bar = still admin when observation ended)".into(),
                    series: observed
                        .iter()
                        .map(|o| o.series("seconds of stale admin rights"))
                        .collect(),
                }),
                lesson: demotion_lesson(&observed),
                summary: Some(summary(&observed)),
                raw: json!(observed.iter().map(|o| json!({"variant": o.variant.name, "seconds": o.seconds, "window_s": o.window.as_secs_f64(), "admin_after_refresh": o.after})).collect::<Vec<_>>()),
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
    fn trials_aggregate_towards_the_claims_burden_of_proof() {
        // "Refused at once in every trial" needs the slowest; one trial that
        // never refused makes it None.
        assert_eq!(slowest(&[Some(0.1), Some(0.3)]), Some(0.3));
        assert_eq!(slowest(&[Some(0.1), None]), None);
        assert_eq!(slowest(&[]), None);
        // "Accepted to the end in every trial" fails on any refusal.
        assert_eq!(fastest(&[None, Some(4.0), Some(2.0)]), Some(2.0));
        assert_eq!(fastest(&[None, None]), None);
    }

    #[test]
    fn trial_cells_say_what_happened_in_each_trial() {
        let window = Duration::from_secs(15);
        assert_eq!(show_trials(&[Some(0.01)], window), "at once (first poll)");
        assert_eq!(
            show_trials(&[None, None, None], window),
            "still accepted after 15 s, all 3 trials"
        );
        assert_eq!(
            show_trials(&[Some(1.0), Some(2.0), Some(3.0)], window),
            "2.00 s (median; 1.00–3.00 s over 3 trials)"
        );
        assert!(show_trials(&[Some(1.0), None, None], window).starts_with("refused in 1 of 3"));
        assert_eq!(bar(&[Some(1.0), None, Some(3.0)], window), (3.0, 1.0, 15.0));
    }

    fn price(plain_us: f64, denylist_us: f64, plain_max_us: f64) -> DenylistPrice {
        DenylistPrice {
            plain_us,
            denylist_us,
            plain_max_us,
        }
    }

    #[test]
    fn c7_rule() {
        let paid = price(800.0, 900.0, 820.0);
        let free = price(800.0, 810.0, 820.0);
        let at_once = Some(Some(0.06));
        let survived = Some(None);
        assert!(matches!(
            c7_verdict(None, survived, at_once, paid),
            Verdict::NotMeasured(_)
        ));
        assert_eq!(c7_verdict(at_once, survived, at_once, free), Verdict::Holds);
        assert!(matches!(
            c7_verdict(at_once, survived, Some(Some(0.49)), paid),
            Verdict::HoldsWithCaveat(m) if m.contains("900 µs vs 800 µs")
        ));
        assert!(matches!(
            c7_verdict(at_once, survived, None, paid),
            Verdict::HoldsWithCaveat(m) if m.contains("did not run")
        ));
        assert!(matches!(
            c7_verdict(Some(Some(0.5)), survived, at_once, paid),
            Verdict::DoesNotHold(m) if m.starts_with("the session")
        ));
        assert!(matches!(
            c7_verdict(Some(None), survived, at_once, paid),
            Verdict::DoesNotHold(_)
        ));
        assert!(matches!(
            c7_verdict(at_once, Some(Some(14.0)), at_once, paid),
            Verdict::DoesNotHold(m) if m.contains("14.00 s")
        ));
        // A broken set-up: the denylist does not deny. The verdict must not
        // get stronger for it (it once turned the caveat into "holds").
        assert!(matches!(
            c7_verdict(at_once, survived, Some(None), free),
            Verdict::DoesNotHold(m) if m.contains("denylist did not revoke")
        ));
        assert!(matches!(
            c7_verdict(at_once, survived, Some(Some(0.7)), paid),
            Verdict::DoesNotHold(_)
        ));
    }

    #[test]
    fn the_headline_says_how_each_set_up_ended() {
        let summary = RevocationSummary {
            setups: vec![
                RevocationSetup {
                    name: setups::SESSION.into(),
                    seconds: vec![Some(0.002), Some(0.01)],
                    window_s: 15.0,
                },
                RevocationSetup {
                    name: setups::PLAIN_JWT.into(),
                    seconds: vec![None, None],
                    window_s: 15.0,
                },
            ],
        };
        assert_eq!(
            revocation_headline(&summary, "logout"),
            "after the logout: session refused at once (first poll, 10 ms); 1 h JWT still accepted when \
             observation ended (15 s)"
        );
        assert_eq!(
            revocation_headline(&RevocationSummary { setups: Vec::new() }, "demotion"),
            "after the demotion: session not measured; 1 h JWT not measured"
        );
    }

    #[test]
    fn c8_rule() {
        let at_once = Some(Some(0.001));
        assert_eq!(c8_verdict(at_once, Some(None), false), Verdict::Holds);
        assert_eq!(
            c8_verdict(Some(Some(0.49)), Some(None), false),
            Verdict::Holds
        );
        assert!(matches!(
            c8_verdict(at_once, Some(None), true),
            Verdict::HoldsWithCaveat(m) if m.contains("reissued")
        ));
        assert!(matches!(
            c8_verdict(Some(Some(0.5)), Some(None), false),
            Verdict::DoesNotHold(m) if m.starts_with("the session")
        ));
        assert!(matches!(
            c8_verdict(Some(None), Some(None), false),
            Verdict::DoesNotHold(_)
        ));
        assert!(matches!(
            c8_verdict(at_once, Some(Some(9.0)), false),
            Verdict::DoesNotHold(m) if m.contains("9.00 s")
        ));
        assert!(matches!(
            c8_verdict(None, Some(None), false),
            Verdict::NotMeasured(_)
        ));
    }
}
