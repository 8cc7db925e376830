//! Whole clusters of real processes behind a real HAProxy.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use lab::{haproxy::ServerStats, Balance, ClusterSpec, Latency, Stack};
use lab::{Engine, Local};
use reqwest::StatusCode;
use session_server::StoreMode;
use testkit::{http::node_of, Credential, TestClient};

fn spec(stacks: Vec<Stack>) -> ClusterSpec {
    let mut spec = ClusterSpec::new(env!("CARGO_BIN_EXE_authlab").into());
    spec.stacks = stacks;
    spec.seed_users = 0;
    spec
}

fn selected(stats: &[ServerStats], stack: Stack) -> BTreeMap<String, u64> {
    stats
        .iter()
        .filter(|s| s.backend == stack.backend())
        .map(|s| (s.server.clone(), s.selected))
        .collect()
}

fn alive(pid: u32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok()
}

async fn me_nodes(
    client: &TestClient,
    url: &str,
    who: &Credential,
    n: usize,
) -> (HashMap<String, usize>, usize) {
    let mut nodes = HashMap::new();
    let mut failures = 0;
    for _ in 0..n {
        let response = client.get(url, Some(who)).await;
        if response.status() == StatusCode::OK {
            *nodes.entry(node_of(&response)).or_insert(0) += 1;
        } else {
            failures += 1;
        }
    }
    (nodes, failures)
}

async fn median_latency(client: &TestClient, url: &str, who: &Credential) -> Duration {
    let mut samples = Vec::new();
    for _ in 0..7 {
        let started = Instant::now();
        assert_eq!(client.get(url, Some(who)).await.status(), StatusCode::OK);
        samples.push(started.elapsed());
    }
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test]
async fn a_round_robin_cluster_of_both_stacks_and_its_faults() {
    let mut spec = spec(vec![Stack::Session, Stack::Jwt]);
    spec.store_latency = Some(Latency::default());
    let mut cluster = Local.start(spec).await.unwrap();
    let client = TestClient::new();
    let session_base_url = cluster.url(Stack::Session, "").unwrap();
    let jwt_base_url = cluster.url(Stack::Jwt, "").unwrap();
    let session = |path: &str| format!("{session_base_url}{path}");
    let jwt = |path: &str| format!("{jwt_base_url}{path}");

    // Round-robin spreads requests evenly, by HAProxy's own counters.
    let alice = client.session_login(&session(""), "alice").await;
    let (bearer, _) = client.jwt_login(&jwt(""), "alice").await;
    for (stack, url, who) in [
        (Stack::Session, session("/me"), &alice),
        (Stack::Jwt, jwt("/me"), &bearer),
    ] {
        let before = selected(&cluster.stats().unwrap(), stack);
        let (nodes, failures) = me_nodes(&client, &url, who, 30).await;
        assert_eq!(failures, 0, "{stack}: every node knows the credential");
        assert_eq!(
            nodes.len(),
            3,
            "{stack}: all three nodes answered: {nodes:?}"
        );
        let after = selected(&cluster.stats().unwrap(), stack);
        for (server, count) in &after {
            let delta = count - before[server];
            assert!(
                (9..=11).contains(&delta),
                "{stack}: {server} got {delta} of 30: {after:?}"
            );
        }
    }

    // Added store latency shows in the session stack's /me, not in JWT's.
    let session_base = median_latency(&client, &session("/me"), &alice).await;
    cluster
        .set_store_latency(Latency {
            delay: Duration::from_millis(25),
            jitter: Duration::ZERO,
        })
        .unwrap();
    let session_slow = median_latency(&client, &session("/me"), &alice).await;
    let jwt_slow = median_latency(&client, &jwt("/me"), &bearer).await;
    assert!(
        session_slow >= Duration::from_millis(25),
        "session /me {session_slow:?} (was {session_base:?})"
    );
    assert!(
        jwt_slow < Duration::from_millis(25),
        "JWT /me {jwt_slow:?} pays no store latency"
    );
    cluster.set_store_latency(Latency::default()).unwrap();

    // Session store down: sessions 503, JWT verification unaffected.
    cluster.stop_store();
    assert_eq!(
        client.get(&session("/me"), Some(&alice)).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        client.get(&jwt("/me"), Some(&bearer)).await.status(),
        StatusCode::OK
    );
    cluster.start_store().unwrap();
    let alice = client.session_login(&session(""), "alice").await;

    // A node dies: HAProxy marks it down and requests keep succeeding on both stacks.
    cluster.kill_node(Stack::Session, 1).unwrap();
    cluster.kill_node(Stack::Jwt, 1).unwrap();
    cluster
        .wait_node_health(Stack::Session, 1, false, Duration::from_secs(5))
        .await
        .unwrap();
    cluster
        .wait_node_health(Stack::Jwt, 1, false, Duration::from_secs(5))
        .await
        .unwrap();
    for (url, who) in [(session("/me"), &alice), (jwt("/me"), &bearer)] {
        let (nodes, failures) = me_nodes(&client, &url, who, 12).await;
        assert_eq!(failures, 0, "{url}: the survivors serve everyone");
        assert_eq!(nodes.len(), 2, "{url}: {nodes:?}");
    }
    cluster.restart_node(Stack::Session, 1).await.unwrap();
    cluster
        .wait_node_health(Stack::Session, 1, true, Duration::from_secs(5))
        .await
        .unwrap();

    // Maintenance drains a node without killing it.
    cluster.set_maintenance(Stack::Session, 0, true).unwrap();
    let (nodes, _) = me_nodes(&client, &session("/me"), &alice, 6).await;
    assert!(!nodes.contains_key("session-1"), "{nodes:?}");
    cluster.set_maintenance(Stack::Session, 0, false).unwrap();

    // Dropping the cluster leaves no process behind.
    let pids = cluster.pids();
    assert!(pids.len() >= 8, "{pids:?}");
    assert!(cluster.crashed().is_none());
    drop(cluster);
    let survivors: Vec<u32> = pids.into_iter().filter(|pid| alive(*pid)).collect();
    assert!(survivors.is_empty(), "orphans: {survivors:?}");
}

#[tokio::test]
async fn memory_sessions_break_behind_round_robin() {
    let mut spec = spec(vec![Stack::Session]);
    spec.session_store = StoreMode::Memory;
    let cluster = Local.start(spec).await.unwrap();
    let client = TestClient::new();
    let url = cluster.url(Stack::Session, "").unwrap();
    let alice = client.session_login(&url, "alice").await;
    let (nodes, failures) = me_nodes(&client, &format!("{url}/me"), &alice, 30).await;
    // Claim C1: only the node that saw the login knows the session.
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    assert!(
        (19..=21).contains(&failures),
        "two of three requests land elsewhere: {failures}"
    );
}

#[tokio::test]
async fn sticky_sessions_keep_a_client_on_one_node() {
    let mut spec = spec(vec![Stack::Session]);
    spec.balance = Balance::Sticky;
    spec.session_store = StoreMode::Memory;
    let cluster = Local.start(spec).await.unwrap();
    let client = TestClient::new();
    let url = cluster.url(Stack::Session, "").unwrap();
    let response = client.login_response(&url, "alice", "authlab-demo").await;
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect();
    assert!(
        cookies.iter().any(|c| c.starts_with("AUTHLAB_NODE=")),
        "HAProxy set its cookie: {cookies:?}"
    );
    let both = Credential::Cookie(cookies.join("; "));
    let (nodes, failures) = me_nodes(&client, &format!("{url}/me"), &both, 15).await;
    // Stickiness even rescues per-node memory sessions: every request finds its node.
    assert_eq!((nodes.len(), failures), (1, 0), "{nodes:?}");
}

/// HAProxy's own refusal, checked for the JSON shape every node answers with.
async fn assert_haproxy_json(response: reqwest::Response, status: StatusCode, code: &str) {
    assert_eq!(response.status(), status);
    assert!(
        response.headers().get("x-node").is_none(),
        "HAProxy answered, not a node"
    );
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{status}: content-type {content_type:?}, body {text:?}"
    );
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"], code, "{text}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("load balancer"), "{text}");
}

/// HAProxy 2.6 answers a head it cannot parse (too long, malformed, or
/// `timeout http-request`) from its HTTP/1 parser with built-in HTML pages
/// that neither `http-error` nor `errorfile` replace (docs/lab.md), so the
/// over-long-header 400 is not checked here: only the errors HAProxy
/// produces after parsing, such as a backend with no server left.
#[tokio::test]
async fn haproxy_errors_are_json_like_the_nodes() {
    let mut cluster = Local.start(spec(vec![Stack::Jwt])).await.unwrap();
    let client = reqwest::Client::new();
    let health = cluster.url(Stack::Jwt, "/health").unwrap();

    // Every node stopped: HAProxy has no server to send to.
    for index in 0..cluster.nodes(Stack::Jwt).len() {
        cluster.kill_node(Stack::Jwt, index).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let response = loop {
        let response = client.get(&health).send().await.unwrap();
        if response.status() == StatusCode::SERVICE_UNAVAILABLE || Instant::now() > deadline {
            break response;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_haproxy_json(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
}

/// Login throttling behind HAProxy: the nodes charge attempts to the client
/// HAProxy names in `X-Forwarded-For` (they trust HAProxy's source address
/// only), and a client cannot pick its own address with that header.
#[tokio::test]
async fn behind_haproxy_logins_are_charged_to_the_real_client() {
    let mut spec = spec(vec![Stack::Session]);
    spec.nodes = 1;
    spec.login_throttle = true;
    spec.session.login_client_burst = Some(3);
    spec.session.login_client_period = Some(std::time::Duration::from_secs(60));
    let cluster = Local.start(spec).await.unwrap();
    let front = cluster.url(Stack::Session, "").unwrap();
    let node = cluster.nodes(Stack::Session)[0].url("");
    let client = reqwest::Client::new();
    let attempt = |base: &str, spoof: Option<String>| {
        let mut request = client
            .post(format!("{base}/login"))
            .json(&serde_json::json!({"username": "alice", "password": "wrong"}));
        if let Some(spoof) = spoof {
            request = request.header("x-forwarded-for", spoof);
        }
        request.send()
    };

    // Each attempt claims another address; HAProxy appends the real one.
    for i in 0..3 {
        let response = attempt(&front, Some(format!("192.0.2.{i}"))).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let refused = attempt(&front, Some("192.0.2.99".into())).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().get("retry-after").is_some());
    assert_eq!(
        node_of(&refused),
        "session-1",
        "the node refused, not HAProxy"
    );

    // Those attempts were charged to 127.0.0.1, not to HAProxy's 127.0.0.2:
    // the same client going to the node directly is refused too, and its own
    // X-Forwarded-For is not believed there.
    for spoof in [None, Some("198.51.100.1".to_owned())] {
        let direct = attempt(&node, spoof.clone()).await.unwrap();
        assert_eq!(
            direct.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "direct, spoofing {spoof:?}"
        );
    }
}
