//! Login throttling, held to the same behaviour on both stacks: per
//! username, per client, and `X-Forwarded-For` only from a trusted proxy.
//!
//! Each check needs a node started with the limits its `*_limits` function
//! sets (small bursts, one-second periods, so a test takes about a second);
//! the suite's tests at the end start that node on a stack and run the check.

use std::time::Duration;

use authlab_core::{
    config::NodeArgs,
    directory::DEMO_PASSWORD,
    throttle::{LoginThrottleArgs, Switch},
};
use reqwest::{Response, StatusCode};

use super::Stack;
use crate::{http::json, TestClient, TestEnv, TestNode};

/// Attempts a username (or a client) gets in the checks below.
pub const BURST: u32 = 3;
/// One attempt comes back per this period.
pub const PERIOD: Duration = Duration::from_secs(1);
const HIGH: u32 = 10_000;
const WRONG: &str = "not-the-password";

fn base() -> LoginThrottleArgs {
    LoginThrottleArgs {
        login_throttle: Switch::On,
        login_client_burst: HIGH,
        login_client_period: PERIOD,
        login_user_burst: HIGH,
        login_user_period: PERIOD,
        ..LoginThrottleArgs::default()
    }
}

/// Per-username limit of [`BURST`] per [`PERIOD`]; clients unlimited in practice.
pub fn username_limits(node: &mut NodeArgs) {
    node.throttle = LoginThrottleArgs {
        login_user_burst: BURST,
        ..base()
    };
}

/// Per-client limit of [`BURST`] per [`PERIOD`]; `trusted` proxies may name the client.
pub fn client_limits(node: &mut NodeArgs, trusted: &[&str]) {
    node.throttle = LoginThrottleArgs {
        login_client_burst: BURST,
        ..base()
    };
    node.trusted_proxies = trusted
        .iter()
        .map(|range| range.parse().expect("a valid address range"))
        .collect();
}

/// `POST /login`, optionally with an `X-Forwarded-For` header.
async fn login(
    node: &TestNode,
    username: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> Response {
    let mut request = TestClient::new()
        .raw()
        .post(node.url("/login"))
        .json(&serde_json::json!({"username": username, "password": password}));
    if let Some(value) = forwarded_for {
        request = request.header("x-forwarded-for", value);
    }
    request.send().await.expect("POST /login answered")
}

/// Asserts `429 too_many_attempts` with a JSON body and a whole-second
/// `Retry-After` of at least 1; returns it.
async fn assert_too_many_attempts(response: Response, what: &str) -> Duration {
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (status, body): (_, serde_json::Value) = json(response).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("too_many_attempts")),
        "{what}: {body}"
    );
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {body}"
    );
    let seconds: u64 = retry_after
        .as_deref()
        .unwrap_or_else(|| panic!("{what}: 429 without Retry-After"))
        .parse()
        .unwrap_or_else(|e| panic!("{what}: Retry-After is not whole seconds ({e})"));
    assert!(seconds >= 1, "{what}: Retry-After {seconds}");
    Duration::from_secs(seconds)
}

async fn assert_status(response: Response, expected: StatusCode, what: &str) {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert_eq!(status, expected, "{what}: {body}");
}

/// The sum of a Prometheus counter's samples that carry `label` (`name="value"`).
async fn counter(node: &TestNode, name: &str, label: &str) -> u64 {
    let text = TestClient::new()
        .get(&node.url("/metrics"), None)
        .await
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")) && line.contains(label))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// On a node with [`username_limits`]: wrong passwords for alice are
/// verified [`BURST`] times, then refused with 429 and never hashed; bob is
/// still served; after `Retry-After` alice logs in again.
pub async fn a_username_over_its_limit_gets_429_until_retry_after<S: Stack>() {
    let env = TestEnv::start().await;
    let node = &S::spawn(&env, |c| username_limits(c.node)).await;
    for i in 0..BURST {
        let response = login(node, "alice", WRONG, None).await;
        assert_status(response, StatusCode::UNAUTHORIZED, &format!("attempt {i}")).await;
    }
    let mut retry_after = Duration::ZERO;
    for i in 0..5 {
        // Another spelling of the same name is the same budget.
        let name = if i % 2 == 0 { "alice" } else { "Alice" };
        retry_after = assert_too_many_attempts(
            login(node, name, WRONG, None).await,
            &format!("attempt {} for {name}", BURST + i),
        )
        .await;
    }
    // The right password is refused too: the limit comes before the check.
    assert_too_many_attempts(
        login(node, "alice", DEMO_PASSWORD, None).await,
        "alice's right password while throttled",
    )
    .await;
    assert_status(
        login(node, "bob", DEMO_PASSWORD, None).await,
        StatusCode::OK,
        "bob while alice is throttled",
    )
    .await;

    // Only the admitted attempts reached Argon2: 3 failed verifications and
    // one success (bob), while 6 attempts were refused before any hashing.
    assert_eq!(
        counter(node, "authlab_logins_total", "outcome=\"rejected\"").await,
        u64::from(BURST)
    );
    assert_eq!(
        counter(node, "authlab_login_throttled_total", "reason=\"username\"").await,
        6
    );

    assert!(retry_after <= PERIOD, "Retry-After {retry_after:?}");
    tokio::time::sleep(retry_after).await;
    assert_status(
        login(node, "alice", DEMO_PASSWORD, None).await,
        StatusCode::OK,
        "alice after Retry-After",
    )
    .await;
}

/// On a node with [`client_limits`] and no trusted proxy: one address gets
/// [`BURST`] attempts whatever names it tries, and cannot dodge the limit
/// with `X-Forwarded-For`.
pub async fn a_client_over_its_limit_gets_429_whatever_name_or_forwarded_for<S: Stack>() {
    let env = TestEnv::start().await;
    let node = &S::spawn(&env, |c| client_limits(c.node, &[])).await;
    for i in 0..BURST {
        let response = login(node, &format!("user{i}"), WRONG, None).await;
        assert_status(response, StatusCode::UNAUTHORIZED, &format!("user{i}")).await;
    }
    assert_too_many_attempts(
        login(node, "bob", DEMO_PASSWORD, None).await,
        "a fresh username from a throttled client",
    )
    .await;
    let retry_after = assert_too_many_attempts(
        login(node, "carol", DEMO_PASSWORD, Some("198.51.100.7")).await,
        "X-Forwarded-For from a peer that is not a trusted proxy",
    )
    .await;
    assert_eq!(
        counter(node, "authlab_login_throttled_total", "reason=\"client\"").await,
        2
    );
    tokio::time::sleep(retry_after).await;
    assert_status(
        login(node, "bob", DEMO_PASSWORD, None).await,
        StatusCode::OK,
        "bob after Retry-After",
    )
    .await;
}

/// On a node with [`client_limits`] trusting 127.0.0.1 (this test's own
/// address, standing in for a proxy): the client named by
/// `X-Forwarded-For` is charged, its right-most entry counts.
pub async fn forwarded_for_names_the_client_behind_a_trusted_proxy<S: Stack>() {
    let env = TestEnv::start().await;
    let node = &S::spawn(&env, |c| client_limits(c.node, &["127.0.0.1"])).await;
    let client = "198.51.100.7";
    for i in 0..BURST {
        let response = login(node, &format!("user{i}"), WRONG, Some(client)).await;
        assert_status(response, StatusCode::UNAUTHORIZED, &format!("user{i}")).await;
    }
    assert_too_many_attempts(
        login(node, "bob", DEMO_PASSWORD, Some(client)).await,
        "the forwarded client over its limit",
    )
    .await;
    // A spoofed entry left of the proxy's own does not help.
    assert_too_many_attempts(
        login(
            node,
            "bob",
            DEMO_PASSWORD,
            Some(&format!("192.0.2.1, {client}")),
        )
        .await,
        "a spoofed entry before the forwarded client",
    )
    .await;
    // Another forwarded client, and the proxy's own address, are untouched.
    assert_status(
        login(node, "bob", DEMO_PASSWORD, Some("198.51.100.8")).await,
        StatusCode::OK,
        "another forwarded client",
    )
    .await;
    assert_status(
        login(node, "carol", DEMO_PASSWORD, None).await,
        StatusCode::OK,
        "the proxy itself",
    )
    .await;
}
