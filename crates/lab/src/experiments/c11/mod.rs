//! c11 — a stolen credential in another client's hands.
//!
//! Whoever holds a bearer credential is its owner as far as the server can
//! tell. The experiment makes that concrete with two clients that share
//! nothing but the bytes of one credential: the victim logs in, the thief
//! (another address, another User-Agent, his own client) sends a copy.
//!
//! * **session cookie**: the copy works until the victim logs out, then
//!   stops at once, because the server forgets the session;
//! * **bearer JWT** (revocation `none`): the copy works after the logout
//!   too, until the token's own `exp`: in this mode the logout cannot reach
//!   it (c7 measures the denylist that can); and its payload reads with a
//!   base64 decoder, no key needed;
//! * **DPoP-bound JWT** (RFC 9449): the token names the victim's key, and
//!   every request needs a fresh proof signed with it; without the key the
//!   copy is refused however it is sent. What is left is the replay of a
//!   whole captured request, token and proof, within the proof's minute:
//!   a per-node replay cache stops it only on the node that saw the
//!   original, a shared one everywhere. Four JWT nodes in one cluster, two
//!   of each kind, with HAProxy's rotation narrowed to one pair at a time.
//!
//! And the price of DPoP per request, against bearer, straight to one node.
//!
//! [`measure`] talks to the cluster, [`analysis`] holds the figures and the
//! rule, [`report`] turns them into tables, a chart and the lesson.

pub mod analysis;
mod measure;
mod report;

use std::time::{Duration, Instant};

use authlab_client::dpop::{DpopAlg, DpopKey};
use jwt_server::RevocationMode;
use serde_json::json;

use self::{
    analysis::{c11_verdict, cost_summary, RULE},
    measure::{Parties, COST_SETUPS, NODE_CACHE, SHARED_CACHE, USERNAME, USER_DATA},
};
use crate::experiment::Outcome;
use crate::experiment::RunContext;
use crate::experiment::Runnable;
use crate::kit::err;
use crate::kit::schedule::{self, Trials};
use crate::{
    results::{ClaimVerdict, ExperimentResult},
    summaries::{PayloadReading, StolenSummary, Summary},
    Cluster, ClusterSpec, LabError, Stack,
};

pub struct StolenToken {
    /// The JWT nodes' `--dpop` mode: `optional`, except in the test that
    /// breaks the set-up on purpose (`off`: the "bound" token is a plain
    /// bearer token, and the verdict must turn).
    pub dpop: &'static str,
}

impl Default for StolenToken {
    fn default() -> Self {
        Self { dpop: "optional" }
    }
}

/// Cost trials; the replay phases run once (their outcomes are statuses).
const TRIALS: Trials = Trials::new(1, 5);

struct Settings {
    access_ttl: Duration,
    cost_requests: usize,
    /// Each timed loop stops here whatever its count: well inside a
    /// proof's 60 s and the access token's lifetime.
    cost_limit: Duration,
}

fn settings(quick: bool) -> Settings {
    if quick {
        Settings {
            access_ttl: Duration::from_secs(15),
            cost_requests: 500,
            cost_limit: Duration::from_secs(10),
        }
    } else {
        Settings {
            access_ttl: Duration::from_secs(30),
            cost_requests: 2_000,
            cost_limit: Duration::from_secs(20),
        }
    }
}

fn spec(ctx: &RunContext, dpop: &str, access_ttl: Duration) -> ClusterSpec {
    let mut spec = ClusterSpec::new(ctx.launcher.clone());
    // Four JWT nodes, two per replay cache; ClusterSpec.nodes counts per
    // stack, so the session stack gets four as well.
    spec.nodes = 4;
    spec.seed_users = 0;
    spec.revocation = RevocationMode::None;
    spec.jwt_args = [
        "--dpop",
        dpop,
        "--access-ttl",
        &format!("{}s", access_ttl.as_secs()),
        // No grace after exp, so "accepted until exp" means exp.
        "--leeway",
        "0s",
    ]
    .map(String::from)
    .to_vec();
    let cache = |kind: &str| vec!["--dpop-replay-cache".to_owned(), kind.to_owned()];
    spec.jwt_node_args = (0..4)
        .map(|i| {
            cache(if NODE_CACHE.contains(&i) {
                "node"
            } else {
                "shared"
            })
        })
        .collect();
    debug_assert!(SHARED_CACHE.iter().all(|i| !NODE_CACHE.contains(i)));
    spec
}

/// `Ok` or the phase's error in `failed`.
fn keep<T>(failed: &mut Vec<String>, phase: &str, outcome: Result<T, LabError>) -> Option<T> {
    match outcome {
        Ok(value) => Some(value),
        Err(e) => {
            failed.push(format!("{phase}: {e}"));
            None
        }
    }
}

fn evidence(s: &StolenSummary) -> String {
    let mut parts = Vec::new();
    if let Some(c) = &s.session {
        parts.push(format!(
            "cookie: thief accepted {} before the logout, {} after",
            c.before_logout.share_text(),
            c.after_logout.share_text()
        ));
    }
    if let Some(b) = &s.bearer {
        parts.push(format!(
            "bearer JWT: accepted {} before the logout, {} polls after it; first 401 {}",
            b.before_logout.share_text(),
            b.after_logout.share_text(),
            b.refused_after_exp_s()
                .map_or("never".into(), |v| format!("{v:+.1} s from exp"))
        ));
    }
    for round in &s.dpop {
        let without: Vec<String> = round
            .without_key()
            .iter()
            .map(|(how, t)| format!("{how} {}", t.share_text()))
            .collect();
        let captured: Vec<String> = [&round.node_cache, &round.shared_cache]
            .into_iter()
            .flatten()
            .map(|r| {
                format!(
                    "captured replay, {} cache {}",
                    r.cache,
                    r.replays.share_text()
                )
            })
            .collect();
        parts.push(format!(
            "{} DPoP: victim {}; thief {}; {}",
            round.alg,
            round.victim.share_text(),
            without.join(", "),
            captured.join(", ")
        ));
    }
    if let Some(p) = &s.payload {
        parts.push(format!(
            "payload named the user: {}; cookie held user data: {}",
            if p.readable() { "yes" } else { "no" },
            if p.cookie_user_data.is_empty() {
                "none".into()
            } else {
                p.cookie_user_data.join(", ")
            }
        ));
    }
    parts.join("; ")
}

impl Runnable for StolenToken {
    fn id(&self) -> &'static str {
        "c11"
    }

    fn title(&self) -> &'static str {
        "A stolen credential replayed by another client; DPoP as the remedy"
    }

    fn claims(&self) -> &'static [&'static str] {
        &["C11"]
    }

    fn estimate(&self, quick: bool) -> Duration {
        Duration::from_secs(if quick { 25 } else { 50 })
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> Outcome<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let set = settings(ctx.quick);
            ctx.variant(
                "starting a cluster: 4 JWT nodes with DPoP (2 per-node, 2 shared replay caches)",
            );
            let cluster = Cluster::start(spec(ctx, self.dpop, set.access_ttl)).await?;
            let parties = Parties::new()?;
            let mut s = StolenSummary::default();

            ctx.variant("session cookie: the thief replays it, the victim logs out");
            let cookie = keep(
                &mut s.failed,
                "session cookie phase",
                measure::cookie_replay(&parties, &cluster.url(Stack::Session, "")?).await,
            )
            .map(|(replay, cookie)| {
                s.session = Some(replay);
                cookie
            });

            ctx.variant("bearer JWT: the thief replays it until it expires");
            let base = cluster.url(Stack::Jwt, "")?;
            let bearer_token = keep(
                &mut s.failed,
                "bearer JWT phase",
                measure::bearer_replay(&parties, &base, set.access_ttl).await,
            )
            .map(|(replay, token)| {
                s.bearer = Some(replay);
                token
            });

            let mut dpop_token = None;
            for alg in [DpopAlg::Es256, DpopAlg::EdDsa] {
                ctx.variant(format!(
                    "DPoP-bound JWT ({alg:?}): the thief without the key, then a captured proof"
                ));
                if let Some((round, token)) = keep(
                    &mut s.failed,
                    &format!("DPoP phase ({alg:?})"),
                    measure::dpop_round(&parties, &cluster, alg).await,
                ) {
                    s.dpop.push(round);
                    dpop_token.get_or_insert(token);
                }
            }

            if let (Some(cookie), Some(token)) = (&cookie, &bearer_token) {
                let value = cookie.split_once('=').map_or(cookie.as_str(), |(_, v)| v);
                s.payload = Some(PayloadReading {
                    username: USERNAME.into(),
                    bearer_claims: measure::decode_payload(token),
                    dpop_claims: dpop_token.as_deref().and_then(measure::decode_payload),
                    cookie_bytes: value.len(),
                    cookie_user_data: measure::user_data_in(value, &USER_DATA),
                });
            }

            let trials = TRIALS.count(ctx.quick);
            let key = DpopKey::generate(DpopAlg::Es256).map_err(err)?;
            let measured = schedule::run(
                ctx,
                &COST_SETUPS,
                trials,
                |v| format!("cost: GET /me, {}", v.name),
                async |setup, trial| {
                    measure::cost_trial(
                        &parties,
                        &cluster,
                        setup,
                        &key,
                        set.cost_requests,
                        set.cost_limit,
                        trial,
                    )
                    .await
                },
            )
            .await;
            let names: Vec<(String, String)> = COST_SETUPS
                .iter()
                .map(|v| {
                    let node = cluster
                        .nodes(Stack::Jwt)
                        .get(v.node)
                        .map(|n| n.name.clone());
                    (v.name.to_owned(), node.unwrap_or_default())
                })
                .collect();
            cluster.shutdown();
            let cost_trials: Vec<analysis::CostTrial> = match measured {
                Ok(measured) => measured.into_iter().map(|m| m.value).collect(),
                Err(LabError::Interrupted) => return Err(LabError::Interrupted),
                Err(e) => {
                    s.failed.push(format!("cost of DPoP: {e}"));
                    Vec::new()
                }
            };
            if !cost_trials.is_empty() {
                s.cost = Some(cost_summary(&names, &cost_trials));
            }

            let verdict = c11_verdict(&s);
            let mut tables = vec![report::replay_table(&s)];
            tables.extend(s.bearer.as_ref().map(report::expiry_table));
            if let Some(p) = &s.payload {
                tables.push(report::payload_table(p));
                tables.push(report::cookie_table(p));
            }
            tables.extend(s.cost.as_ref().map(report::cost_table));
            Ok(ExperimentResult {
                id: "c11".into(),
                title: self.title().into(),
                claims: vec!["C11".into()],
                question: "Does a stolen token work for anyone until it expires, with its payload readable, and does \
                           binding it to a key (DPoP) stop that?"
                    .into(),
                setup: format!(
                    "One cluster, 4 nodes per stack behind HAProxy (round-robin). JWT nodes: --dpop {}, access \
                     tokens of {} s, no leeway after exp, revocation none; jwt-1 and jwt-2 remember DPoP proofs in their \
                     own memory (--dpop-replay-cache node), jwt-3 and jwt-4 in Redis (shared). The victim is one client \
                     on 127.0.0.1 (User-Agent authlab-victim), the thief another bound to 127.0.0.2 (authlab-thief); \
                     neither keeps cookies, and the thief only ever has a copy of the credential's bytes. Session \
                     cookie: the thief sends GET /me with it 5 times, the victim logs out, 5 more. Bearer JWT: 5 \
                     times, the victim logs out, then once a second until the first 401. DPoP (an ES256, then an \
                     EdDSA key): the victim's own requests (control), then the thief with the token as Bearer, as DPoP \
                     with a proof of his own key, and with no proof, 3 times each; then the victim sends one request \
                     with a fresh proof and the thief sends {} exact copies of it (same token, same proof) within the \
                     proof's minute, first with only the per-node pair in HAProxy's rotation, then only the shared \
                     pair. The payloads are decoded with base64 alone. Cost: GET /me straight to jwt-1 (bearer, DPoP) \
                     and jwt-3 (DPoP, shared cache), {} sequential requests per loop (at most {} s), after a fresh login \
                     and 20 warm-up requests, proofs (ES256) signed before the clock starts; {trials} trial(s), the \
                     order rotating per trial; a loop with more than {:.1}% errors is refused.",
                    self.dpop,
                    set.access_ttl.as_secs(),
                    measure::CAPTURED_REPLAYS,
                    set.cost_requests,
                    set.cost_limit.as_secs(),
                    crate::kit::load_check::MAX_ERROR_SHARE * 100.0,
                ),
                verdicts: vec![ClaimVerdict {
                    headline: report::headline(&s),
                    by_design: None,
                    claim: "C11".into(),
                    verdict,
                    rule: RULE.into(),
                    evidence: evidence(&s),
                }],
                tables,
                chart: Some(report::chart(&s)),
                lesson: report::lesson(&s),
                summary: Some(Summary::Stolen(Box::new(s.clone()))),
                raw: json!({ "summary": s, "cost_trials": cost_trials }),
                seconds: started.elapsed().as_secs_f64(),
                error: None,
            })
        })
    }
}
