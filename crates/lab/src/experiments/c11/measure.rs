//! The measurements: a victim, a thief, and what the thief gets away with.
//!
//! Two reqwest clients that share nothing: the victim on 127.0.0.1, the thief
//! bound to 127.0.0.2 with a User-Agent of his own, neither with a cookie
//! store. Whatever the victim's credential is, the thief only ever has a copy
//! of its bytes, as a thief who read it from a log or a proxy would. Both talk
//! to HAProxy's frontends, except the timed cost loops, which go straight to
//! one node so that nothing but that node is measured.

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
use reqwest::{RequestBuilder, Response};
use serde_json::{json, Value};

use super::analysis::CostTrial;
use crate::{
    kit::{cpu::cpu_time, err, load_check},
    summaries::{BearerReplay, CapturedReplay, CookieReplay, DpopRound, Tally},
    Cluster, LabError, Stack,
};

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
    let cookie = session_cookie(&login, session_server::COOKIE_NAME)
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
    cluster: &Cluster,
    alg: DpopAlg,
) -> Result<(DpopRound, String), LabError> {
    let alg_name = match alg {
        DpopAlg::Es256 => "ES256",
        DpopAlg::EdDsa => "EdDSA",
    };
    let key = DpopKey::generate(alg).map_err(err)?;
    let thief_key = DpopKey::generate(alg).map_err(err)?;
    let base = cluster.url(Stack::Jwt, "")?;
    let (login_url, me) = (format!("{base}/login"), format!("{base}/me"));
    let login_proof = key.proof("POST", &login_url, None).map_err(err)?;
    let login = p
        .victim
        .post(&login_url)
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
    let t0 = Instant::now();
    let (token, token_type) = token_of(login).await?;
    let bound = decode_payload(&token)
        .is_some_and(|claims| claims["cnf"]["jkt"].as_str() == Some(key.jkt()));
    let dpop = |client: &reqwest::Client, proof: Option<String>| {
        let request = client
            .get(&me)
            .header("authorization", format!("DPoP {token}"));
        match proof {
            Some(proof) => request.header("DPoP", proof),
            None => request,
        }
    };
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

    let mut captured = Vec::new();
    for (cache, active, drained) in [
        ("node", NODE_CACHE, SHARED_CACHE),
        ("shared", SHARED_CACHE, NODE_CACHE),
    ] {
        for i in drained {
            cluster.set_maintenance(Stack::Jwt, i, true)?;
        }
        let proof = key.proof("GET", &me, Some(&token)).map_err(err)?;
        let (victim_status, victim_node) = send(dpop(&p.victim, Some(proof.clone()))).await;
        let t = Instant::now();
        let replays = attempts(CAPTURED_REPLAYS, t, || {
            Ok(dpop(&p.thief, Some(proof.clone())))
        })
        .await;
        for i in drained {
            cluster.set_maintenance(Stack::Jwt, i, false)?;
        }
        captured.push(CapturedReplay {
            cache: cache.into(),
            nodes: active
                .iter()
                .filter_map(|i| cluster.nodes(Stack::Jwt).get(*i))
                .map(|n| n.name.clone())
                .collect(),
            victim_status,
            victim_node,
            replays: replays?,
        });
    }
    cluster.wait_all_up(Duration::from_secs(10)).await?;
    let mut captured = captured.into_iter();
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
            node_cache: captured.next(),
            shared_cache: captured.next(),
        },
        token,
    ))
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
    crate::quantile::nearest_rank(sorted, q).unwrap_or(0.0)
}

/// One timed loop: a fresh login (and, for DPoP, every proof signed before
/// the clock starts: the client's signing is not the server's cost), a few
/// warm-up requests, then `requests` sequential `GET /me`, bounded by
/// `limit`; its errors are checked before its numbers are used.
pub async fn cost_trial(
    p: &Parties,
    cluster: &Cluster,
    variant: &CostSetup,
    key: &DpopKey,
    requests: usize,
    limit: Duration,
    trial: usize,
) -> Result<CostTrial, LabError> {
    const WARM_UP: usize = 20;
    let node = cluster
        .nodes(Stack::Jwt)
        .get(variant.node)
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
