//! The measurements: a victim, a thief, and what the thief gets away with.
//!
//! Two reqwest clients that share nothing: the victim on 127.0.0.1, the thief
//! bound to 127.0.0.2 with a User-Agent of his own, neither with a cookie
//! store. Whatever the victim's credential is, the thief only ever has a copy
//! of its bytes, as a thief who read it from a log or a proxy would. Both talk
//! to HAProxy's frontends, except the timed cost loops, which go straight to
//! one node so that nothing but that node is measured.
//!
//! [`run`] is the whole measurement, phase by phase: a phase that fails is
//! named in [`Raw::failed`] and the others still run, so the rule can tell
//! "refused" from "never tried".

use harness::spec::flag_value;
use jwt_server::{DpopMode, ReplayCacheMode};
use std::{
    net::{IpAddr, Ipv4Addr},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use authlab_client::{
    dpop::{DpopAlg, DpopKey},
    node_of, session_cookie,
};
use authlab_core::directory::DEMO_PASSWORD;
use base64::{
    engine::general_purpose::{STANDARD, URL_SAFE},
    Engine,
};
use jwt_server::RevocationMode;
use reqwest::{RequestBuilder, Response};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::{
    experiment::RunContext,
    kit::{
        cpu::cpu_time,
        err, load_check,
        schedule::{self, Measured, Trials},
    },
    summaries::{BearerReplay, CapturedReplay, CookieReplay, DpopRound, PayloadReading, Tally},
    Cluster, ClusterSpec, LabError, Stack,
};

/// Cost trials; the replay phases run once (their outcomes are statuses).
const TRIALS: Trials = Trials::new(1, 5);

/// Everything c11 measured, phase by phase; a phase that could not run is
/// `None` (or empty) and named in `failed`.
#[derive(Debug, Serialize)]
pub struct Raw {
    /// The JWT nodes' `--dpop` mode.
    pub dpop_mode: String,
    pub access_ttl_s: u64,
    /// Requests per timed cost loop, and the time each loop may take (s).
    pub cost_requests: usize,
    pub cost_limit_s: u64,
    /// Cost trials.
    pub trials: usize,
    pub session: Option<CookieReplay>,
    pub bearer: Option<BearerReplay>,
    /// One round per key algorithm that ran.
    pub dpop: Vec<DpopRound>,
    pub payload: Option<PayloadReading>,
    /// The cost variants as `(name, node)`, the first the baseline.
    pub cost_names: Vec<(String, String)>,
    pub cost_trials: Vec<CostTrial>,
    /// What did not run or was refused by a load check, and why.
    pub failed: Vec<String>,
}

/// One timed loop of `GET /me` straight to one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostTrial {
    pub variant: String,
    pub node: String,
    pub trial: usize,
    pub requests: u64,
    pub p50_us: f64,
    pub p99_us: f64,
    /// The node's CPU time (user + system, /proc/<pid>/stat) per request.
    pub cpu_us: f64,
}

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

fn spec(ctx: &RunContext, dpop: DpopMode, access_ttl: Duration) -> ClusterSpec {
    let mut spec = ctx.spec();
    // Four JWT nodes, two per replay cache; ClusterSpec.nodes counts per
    // stack, so the session stack gets four as well.
    spec.nodes = 4;
    spec.seed_users = 0;
    spec.revocation = RevocationMode::None;
    spec.jwt.dpop = Some(dpop);
    spec.jwt.access_ttl = Some(Duration::from_secs(access_ttl.as_secs()));
    // No grace after exp, so "accepted until exp" means exp.
    spec.jwt.leeway = Some(Duration::ZERO);
    spec.dpop_replay_cache = (0..4)
        .map(|i| {
            if NODE_CACHE.contains(&i) {
                ReplayCacheMode::Node
            } else {
                ReplayCacheMode::Shared
            }
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

/// The whole measurement: one cluster, the replay phases, the payloads, then
/// the cost loops. Only a cluster that cannot start (or a Ctrl-C) fails it.
pub async fn run(ctx: &RunContext, dpop: DpopMode) -> Result<Raw, LabError> {
    let set = settings(ctx.quick);
    ctx.variant("starting a cluster: 4 JWT nodes with DPoP (2 per-node, 2 shared replay caches)");
    let cluster = ctx.cluster(spec(ctx, dpop, set.access_ttl)).await?;
    let parties = Parties::new()?;
    let mut raw = Raw {
        dpop_mode: flag_value(&dpop),
        access_ttl_s: set.access_ttl.as_secs(),
        cost_requests: set.cost_requests,
        cost_limit_s: set.cost_limit.as_secs(),
        trials: TRIALS.count(ctx.quick),
        session: None,
        bearer: None,
        dpop: Vec::new(),
        payload: None,
        cost_names: Vec::new(),
        cost_trials: Vec::new(),
        failed: Vec::new(),
    };
    let cookie = session_phase(ctx, &parties, &*cluster, &mut raw).await?;
    let bearer_token = bearer_phase(ctx, &parties, &*cluster, set.access_ttl, &mut raw).await?;
    let dpop_token = dpop_phase(ctx, &parties, &*cluster, &mut raw).await;
    if let (Some(cookie), Some(token)) = (&cookie, &bearer_token) {
        raw.payload = Some(payload_reading(cookie, token, dpop_token.as_deref()));
    }
    let measured = cost_phase(ctx, &parties, &*cluster, &set, raw.trials).await?;
    raw.cost_names = cost_names(&*cluster);
    cluster.shutdown();
    raw.cost_trials = match measured {
        Ok(measured) => measured.into_iter().map(|m| m.value).collect(),
        Err(LabError::Interrupted) => return Err(LabError::Interrupted),
        Err(e) => {
            raw.failed.push(format!("cost of DPoP: {e}"));
            Vec::new()
        }
    };
    Ok(raw)
}

/// Phase 1 into `raw`; the victim's cookie (`name=value`) when it ran.
async fn session_phase(
    ctx: &RunContext,
    parties: &Parties,
    cluster: &dyn Cluster,
    raw: &mut Raw,
) -> Result<Option<String>, LabError> {
    ctx.variant("session cookie: the thief replays it, the victim logs out");
    let base = cluster.url(Stack::Session, "")?;
    let phase = keep(
        &mut raw.failed,
        "session cookie phase",
        cookie_replay(parties, &base).await,
    );
    Ok(phase.map(|(replay, cookie)| {
        raw.session = Some(replay);
        cookie
    }))
}

/// Phase 2 into `raw`; the bearer token when it ran.
async fn bearer_phase(
    ctx: &RunContext,
    parties: &Parties,
    cluster: &dyn Cluster,
    access_ttl: Duration,
    raw: &mut Raw,
) -> Result<Option<String>, LabError> {
    ctx.variant("bearer JWT: the thief replays it until it expires");
    let base = cluster.url(Stack::Jwt, "")?;
    let phase = keep(
        &mut raw.failed,
        "bearer JWT phase",
        bearer_replay(parties, &base, access_ttl).await,
    );
    Ok(phase.map(|(replay, token)| {
        raw.bearer = Some(replay);
        token
    }))
}

/// Phase 3, once per key algorithm, into `raw`; the first DPoP-bound token.
async fn dpop_phase(
    ctx: &RunContext,
    parties: &Parties,
    cluster: &dyn Cluster,
    raw: &mut Raw,
) -> Option<String> {
    let mut dpop_token = None;
    for alg in [DpopAlg::Es256, DpopAlg::EdDsa] {
        ctx.variant(format!(
            "DPoP-bound JWT ({alg:?}): the thief without the key, then a captured proof"
        ));
        if let Some((round, token)) = keep(
            &mut raw.failed,
            &format!("DPoP phase ({alg:?})"),
            dpop_round(parties, cluster, alg).await,
        ) {
            raw.dpop.push(round);
            dpop_token.get_or_insert(token);
        }
    }
    dpop_token
}

/// What the captured credentials tell whoever holds them, read with base64.
fn payload_reading(cookie: &str, bearer_token: &str, dpop_token: Option<&str>) -> PayloadReading {
    let value = cookie.split_once('=').map_or(cookie, |(_, v)| v);
    PayloadReading {
        username: USERNAME.into(),
        bearer_claims: decode_payload(bearer_token),
        dpop_claims: dpop_token.and_then(decode_payload),
        cookie_bytes: value.len(),
        cookie_user_data: user_data_in(value, &USER_DATA),
    }
}

/// The timed cost loops, every variant per trial. The outer error is one
/// that stops the experiment; the inner one is the loops' own, for `failed`.
async fn cost_phase(
    ctx: &RunContext,
    parties: &Parties,
    cluster: &dyn Cluster,
    set: &Settings,
    trials: usize,
) -> Result<Result<Vec<Measured<CostTrial>>, LabError>, LabError> {
    let key = DpopKey::generate(DpopAlg::Es256).map_err(err)?;
    Ok(schedule::run(
        ctx,
        &COST_SETUPS,
        trials,
        |v| format!("cost: GET /me, {}", v.name),
        async |setup, trial| {
            cost_trial(
                parties,
                cluster,
                setup,
                &key,
                set.cost_requests,
                set.cost_limit,
                trial,
            )
            .await
        },
    )
    .await)
}

/// The cost variants as `(name, node)`, in [`COST_SETUPS`]' order.
fn cost_names(cluster: &dyn Cluster) -> Vec<(String, String)> {
    COST_SETUPS
        .iter()
        .map(|v| {
            let node = cluster
                .nodes(Stack::Jwt)
                .get(v.node)
                .map(|n| n.name.clone());
            (v.name.to_owned(), node.unwrap_or_default())
        })
        .collect()
}

/// The victim: a demo user, so her name and roles are known to look for.
pub const USERNAME: &str = "alice";
/// What the directory holds about her (crates/core/src/directory.rs).
pub const USER_DATA: [&str; 3] = ["alice", "Alice", "user"];
/// Attempts per replay; a small fixed number, spaced a little.
const ATTEMPTS: usize = 5;
const GAP: Duration = Duration::from_millis(100);
/// Exact copies of a captured proof sent through a pair of nodes: enough for
/// round-robin to land several on each.
pub const CAPTURED_REPLAYS: usize = 6;

pub struct Parties {
    pub victim: reqwest::Client,
    pub thief: reqwest::Client,
}

fn client(user_agent: &str, address: Ipv4Addr) -> Result<reqwest::Client, LabError> {
    reqwest::Client::builder()
        .user_agent(user_agent)
        .local_address(IpAddr::V4(address))
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(err)
}

impl Parties {
    pub fn new() -> Result<Self, LabError> {
        Ok(Self {
            victim: client("authlab-victim", Ipv4Addr::new(127, 0, 0, 1))?,
            thief: client("authlab-thief", Ipv4Addr::new(127, 0, 0, 2))?,
        })
    }
}

/// Status and `x-node` of an answer; status 0 when none came.
async fn send(request: RequestBuilder) -> (u16, String) {
    match request.send().await {
        Ok(response) => (response.status().as_u16(), node_of(&response)),
        Err(_) => (0, String::new()),
    }
}

/// `n` attempts, `GAP` apart, each built by `make`, timed from `t0`.
async fn attempts(
    n: usize,
    t0: Instant,
    mut make: impl FnMut() -> Result<RequestBuilder, LabError>,
) -> Result<Tally, LabError> {
    let mut tally = Tally::default();
    for i in 0..n {
        if i > 0 {
            tokio::time::sleep(GAP).await;
        }
        let (status, node) = send(make()?).await;
        tally.record(status, t0.elapsed().as_secs_f64(), &node);
    }
    Ok(tally)
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn login_body() -> Value {
    json!({"username": USERNAME, "password": DEMO_PASSWORD})
}

async fn expect_ok(what: &str, request: RequestBuilder) -> Result<Response, LabError> {
    let response = request
        .send()
        .await
        .map_err(|e| err(format!("{what}: {e}")))?;
    if !response.status().is_success() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        return Err(err(format!("{what} answered {status}: {body}")));
    }
    Ok(response)
}

/// The token response's access token and type.
async fn token_of(response: Response) -> Result<(String, String), LabError> {
    let body: Value = response.json().await.map_err(err)?;
    let token = body["access_token"]
        .as_str()
        .ok_or_else(|| err("the login answered no access_token"))?;
    Ok((
        token.to_owned(),
        body["token_type"].as_str().unwrap_or_default().to_owned(),
    ))
}

/// Phase 1: the session cookie; also returns the cookie (`name=value`).
pub async fn cookie_replay(p: &Parties, base: &str) -> Result<(CookieReplay, String), LabError> {
    let login = expect_ok(
        "session login",
        p.victim.post(format!("{base}/login")).json(&login_body()),
    )
    .await?;
    let t0 = Instant::now();
    let cookie = session_cookie(&login, authlab_core::wire::SESSION_COOKIE)
        .ok_or_else(|| err("the session login set no cookie"))?;
    let me = format!("{base}/me");
    let thief = || Ok(p.thief.get(&me).header("cookie", &cookie));
    let before_logout = attempts(ATTEMPTS, t0, thief).await?;
    let (logout_status, _) = send(
        p.victim
            .post(format!("{base}/logout"))
            .header("cookie", &cookie),
    )
    .await;
    let t1 = Instant::now();
    let after_logout = attempts(ATTEMPTS, t1, thief).await?;
    Ok((
        CookieReplay {
            before_logout,
            logout_status,
            after_logout,
        },
        cookie,
    ))
}

/// Phase 2: a plain bearer JWT, then the victim's logout, then the thief
/// polling every second until refused; also returns the token.
pub async fn bearer_replay(
    p: &Parties,
    base: &str,
    access_ttl: Duration,
) -> Result<(BearerReplay, String), LabError> {
    let login = expect_ok(
        "JWT login (no DPoP)",
        p.victim.post(format!("{base}/login")).json(&login_body()),
    )
    .await?;
    let t0 = Instant::now();
    let (token, _) = token_of(login).await?;
    let exp = decode_payload(&token)
        .and_then(|claims| claims["exp"].as_u64())
        .ok_or_else(|| err("the bearer token's payload has no exp"))?;
    let me = format!("{base}/me");
    let before_logout = attempts(ATTEMPTS, t0, || Ok(p.thief.get(&me).bearer_auth(&token))).await?;
    let (logout_status, _) =
        send(p.victim.post(format!("{base}/logout")).bearer_auth(&token)).await;
    let (t1, logout_at) = (Instant::now(), unix_now());
    // Bounded: to exp and 5 s more, never more than the lifetime and 5 s.
    let window = (exp as f64 - logout_at + 5.0).clamp(1.0, access_ttl.as_secs_f64() + 5.0);
    let mut after_logout = Tally::default();
    while t1.elapsed().as_secs_f64() < window {
        let (status, node) = send(p.thief.get(&me).bearer_auth(&token)).await;
        after_logout.record(status, t1.elapsed().as_secs_f64(), &node);
        if status == 401 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok((
        BearerReplay {
            access_ttl_s: access_ttl.as_secs(),
            exp,
            before_logout,
            logout_status,
            logout_at,
            after_logout,
            poll_window_s: window,
        },
        token,
    ))
}

/// JWT nodes by replay cache, as the experiment configures them.
pub const NODE_CACHE: [usize; 2] = [0, 1];
pub const SHARED_CACHE: [usize; 2] = [2, 3];

/// Phase 3 for one key algorithm; also returns the DPoP-bound token.
pub async fn dpop_round(
    p: &Parties,
    cluster: &dyn Cluster,
    alg: DpopAlg,
) -> Result<(DpopRound, String), LabError> {
    let alg_name = match alg {
        DpopAlg::Es256 => "ES256",
        DpopAlg::EdDsa => "EdDSA",
    };
    let key = DpopKey::generate(alg).map_err(err)?;
    let thief_key = DpopKey::generate(alg).map_err(err)?;
    let base = cluster.url(Stack::Jwt, "")?;
    let me = format!("{base}/me");
    let login = dpop_login(p, &format!("{base}/login"), &key, alg_name).await?;
    let login_status = login.status().as_u16();
    let t0 = Instant::now();
    let (token, token_type) = token_of(login).await?;
    let bound = decode_payload(&token)
        .is_some_and(|claims| claims["cnf"]["jkt"].as_str() == Some(key.jkt()));
    let dpop = |client: &reqwest::Client, proof| dpop_request(client, &me, &token, proof);
    let victim = attempts(3, t0, || {
        Ok(dpop(
            &p.victim,
            Some(key.proof("GET", &me, Some(&token)).map_err(err)?),
        ))
    })
    .await?;
    let thief_bearer = attempts(3, t0, || Ok(p.thief.get(&me).bearer_auth(&token))).await?;
    let thief_own_key = attempts(3, t0, || {
        Ok(dpop(
            &p.thief,
            Some(thief_key.proof("GET", &me, Some(&token)).map_err(err)?),
        ))
    })
    .await?;
    let thief_no_proof = attempts(3, t0, || Ok(dpop(&p.thief, None))).await?;
    let replay = |cache, active, drained| {
        captured_replay(p, cluster, &key, &me, &token, (cache, active, drained))
    };
    let node_cache = replay("node", NODE_CACHE, SHARED_CACHE).await?;
    let shared_cache = replay("shared", SHARED_CACHE, NODE_CACHE).await?;
    cluster.wait_all_up(Duration::from_secs(10)).await?;
    Ok((
        DpopRound {
            alg: alg_name.into(),
            login_status,
            token_type,
            bound,
            victim,
            thief_bearer,
            thief_own_key,
            thief_no_proof,
            node_cache: Some(node_cache),
            shared_cache: Some(shared_cache),
        },
        token,
    ))
}

/// The victim's login with a proof of `key`; an answer other than 200 ends
/// the round.
async fn dpop_login(
    p: &Parties,
    login_url: &str,
    key: &DpopKey,
    alg_name: &str,
) -> Result<Response, LabError> {
    let login_proof = key.proof("POST", login_url, None).map_err(err)?;
    let login = p
        .victim
        .post(login_url)
        .header("DPoP", login_proof)
        .json(&login_body())
        .send()
        .await
        .map_err(err)?;
    let login_status = login.status().as_u16();
    if login_status != 200 {
        return Err(err(format!(
            "the DPoP login ({alg_name}) answered {login_status}"
        )));
    }
    Ok(login)
}

/// `GET /me` with the token as `Authorization: DPoP`, and `proof` if any.
fn dpop_request(
    client: &reqwest::Client,
    me: &str,
    token: &str,
    proof: Option<String>,
) -> RequestBuilder {
    let request = client
        .get(me)
        .header("authorization", format!("DPoP {token}"));
    match proof {
        Some(proof) => request.header("DPoP", proof),
        None => request,
    }
}

/// The victim sends one request with a fresh proof, the thief exact copies
/// of it, with only the `active` pair of JWT nodes in HAProxy's rotation
/// (the `drained` pair in maintenance meanwhile).
async fn captured_replay(
    p: &Parties,
    cluster: &dyn Cluster,
    key: &DpopKey,
    me: &str,
    token: &str,
    (cache, active, drained): (&str, [usize; 2], [usize; 2]),
) -> Result<CapturedReplay, LabError> {
    for i in drained {
        cluster.set_maintenance(Stack::Jwt, i, true)?;
    }
    let proof = key.proof("GET", me, Some(token)).map_err(err)?;
    let (victim_status, victim_node) =
        send(dpop_request(&p.victim, me, token, Some(proof.clone()))).await;
    let t = Instant::now();
    let replays = attempts(CAPTURED_REPLAYS, t, || {
        Ok(dpop_request(&p.thief, me, token, Some(proof.clone())))
    })
    .await;
    for i in drained {
        cluster.set_maintenance(Stack::Jwt, i, false)?;
    }
    Ok(CapturedReplay {
        cache: cache.into(),
        nodes: active
            .iter()
            .filter_map(|i| cluster.nodes(Stack::Jwt).into_iter().nth(*i))
            .map(|n| n.name.clone())
            .collect(),
        victim_status,
        victim_node,
        replays: replays?,
    })
}

/// A JWT's payload decoded with base64 alone: no key, no signature check.
pub fn decode_payload(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Which of `needles` appear in a cookie's value, as it is or in any base64
/// decoding of it or of its `.`/`-`-separated parts.
pub fn user_data_in(cookie_value: &str, needles: &[&str]) -> Vec<String> {
    let mut texts = vec![cookie_value.to_owned()];
    let parts = std::iter::once(cookie_value).chain(cookie_value.split(['.', '-', '|']));
    for part in parts {
        for engine in [&STANDARD, &URL_SAFE] {
            // Padding or not: try the part as it is and padded to 4.
            let padded = format!("{part}{}", "=".repeat((4 - part.len() % 4) % 4));
            if let Ok(bytes) = engine.decode(padded.trim_end_matches("====")) {
                texts.push(String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    needles
        .iter()
        .filter(|needle| texts.iter().any(|text| text.contains(*needle)))
        .map(|needle| needle.to_string())
        .collect()
}

/// A cost variant: `GET /me` straight to one JWT node.
#[derive(Debug, Clone)]
pub struct CostSetup {
    pub name: &'static str,
    /// Index into the JWT nodes.
    pub node: usize,
    pub dpop: bool,
}

pub const COST_SETUPS: [CostSetup; 3] = [
    CostSetup {
        name: "bearer",
        node: 0,
        dpop: false,
    },
    CostSetup {
        name: "DPoP, per-node replay cache",
        node: 0,
        dpop: true,
    },
    CostSetup {
        name: "DPoP, shared replay cache",
        node: 2,
        dpop: true,
    },
];

/// The `q` quantile (0–1) of sorted samples, nearest rank; 0 for none.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    crate::kit::stats::nearest_rank(sorted, q).unwrap_or(0.0)
}

/// One timed loop: a fresh login (and, for DPoP, every proof signed before
/// the clock starts: the client's signing is not the server's cost), a few
/// warm-up requests, then `requests` sequential `GET /me`, bounded by
/// `limit`; its errors are checked before its numbers are used.
pub async fn cost_trial(
    p: &Parties,
    cluster: &dyn Cluster,
    variant: &CostSetup,
    key: &DpopKey,
    requests: usize,
    limit: Duration,
    trial: usize,
) -> Result<CostTrial, LabError> {
    const WARM_UP: usize = 20;
    let node = cluster
        .nodes(Stack::Jwt)
        .into_iter()
        .nth(variant.node)
        .ok_or_else(|| err(format!("no JWT node #{}", variant.node + 1)))?;
    let pid = node
        .pid()
        .ok_or_else(|| err(format!("{} is not running", node.name)))?;
    let (login_url, me) = (node.url("/login"), node.url("/me"));
    let mut login = p.victim.post(&login_url).json(&login_body());
    if variant.dpop {
        login = login.header("DPoP", key.proof("POST", &login_url, None).map_err(err)?);
    }
    let (token, _) = token_of(expect_ok(&format!("{} login", variant.name), login).await?).await?;
    let requests_built: Vec<RequestBuilder> = (0..WARM_UP + requests)
        .map(|_| {
            Ok(if variant.dpop {
                p.victim
                    .get(&me)
                    .header("authorization", format!("DPoP {token}"))
                    .header("DPoP", key.proof("GET", &me, Some(&token)).map_err(err)?)
            } else {
                p.victim.get(&me).bearer_auth(&token)
            })
        })
        .collect::<Result<_, LabError>>()?;
    let mut built = requests_built.into_iter();
    for request in built.by_ref().take(WARM_UP) {
        send(request).await;
    }
    let (mut samples, mut non_2xx, mut socket_errors) = (Vec::with_capacity(requests), 0u64, 0u64);
    let cpu_before = cpu_time(pid);
    let deadline = Instant::now() + limit;
    for request in built {
        if Instant::now() > deadline {
            break;
        }
        let started = Instant::now();
        let answer = request.send().await;
        samples.push(started.elapsed().as_secs_f64() * 1e6);
        match answer {
            Ok(response) if response.status().is_success() => {}
            Ok(_) => non_2xx += 1,
            Err(_) => socket_errors += 1,
        }
    }
    let cpu = cpu_time(pid).saturating_sub(cpu_before);
    let sent = samples.len() as u64;
    load_check::check(
        &format!("{} on {}, trial {}", variant.name, node.name, trial + 1),
        load_check::Answers {
            requests: sent,
            non_2xx,
            socket_errors,
        },
    )?;
    samples.sort_by(f64::total_cmp);
    Ok(CostTrial {
        variant: variant.name.into(),
        node: node.name.clone(),
        trial,
        requests: sent,
        p50_us: percentile(&samples, 0.50),
        p99_us: percentile(&samples, 0.99),
        cpu_us: cpu.as_secs_f64() * 1e6 / sent.max(1) as f64,
    })
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    #[test]
    fn a_payload_reads_without_any_key() {
        let payload = URL_SAFE_NO_PAD.encode(r#"{"sub":"alice","name":"Alice","roles":["user"]}"#);
        let token = format!("eyJhbGciOiJFZERTQSJ9.{payload}.c2lnbmF0dXJl");
        let claims = decode_payload(&token).unwrap();
        assert_eq!(claims["name"], "Alice");
        assert_eq!(decode_payload("not-a-token"), None);
        assert_eq!(decode_payload("a.!!!.c"), None);
    }

    #[test]
    fn user_data_is_found_in_a_cookie_plain_or_encoded() {
        let random = "Xk2fQ9Lr7pZs1VbN3mYt8WcA4dHe6JgK";
        assert!(user_data_in(random, &USER_DATA).is_empty());
        let encoded = URL_SAFE_NO_PAD.encode(r#"{"user":"alice"}"#);
        assert_eq!(
            user_data_in(&format!("sig.{encoded}"), &USER_DATA),
            ["alice", "user"]
        );
        assert_eq!(user_data_in("name=Alice", &USER_DATA), ["Alice"]);
    }
}
