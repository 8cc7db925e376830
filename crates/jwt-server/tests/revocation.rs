//! Two nodes sharing keys and a store: what logout means in each revocation mode (claim C7).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::Duration;

use authlab_core::wire::ErrorBody;
use jwt_server::{RevocationMode, SigningAlgorithm};
use reqwest::StatusCode;
use testkit::{
    http::{json as read_json, node_of},
    nodes::{key_set, spawn_jwt_node},
    TestClient, TestEnv, TestNode,
};

async fn two_nodes(
    env: &TestEnv,
    mode: RevocationMode,
    access_ttl: Duration,
) -> (TestNode, TestNode) {
    let keys = key_set(SigningAlgorithm::EdDsa);
    let mut nodes = Vec::new();
    for name in ["a", "b"] {
        let mut config = env.jwt_config_for(&keys);
        config.node.node_id = Some(name.into());
        config.revocation = mode;
        config.access_ttl = access_ttl;
        config.leeway = Duration::ZERO;
        nodes.push(spawn_jwt_node(config).await);
    }
    let b = nodes.pop().unwrap();
    (nodes.pop().unwrap(), b)
}

#[tokio::test]
async fn nodes_sharing_keys_accept_each_others_tokens() {
    let env = TestEnv::start().await;
    let (a, b) = two_nodes(&env, RevocationMode::None, Duration::from_secs(300)).await;
    let client = TestClient::new();
    let (alice, _) = client.jwt_login(&a.base(), "alice").await;
    let response = client.get(&b.url("/me"), Some(&alice)).await;
    assert_eq!(
        (response.status(), node_of(&response)),
        (StatusCode::OK, "b".into())
    );
}

#[tokio::test]
async fn with_the_denylist_a_logout_is_refused_at_once_on_every_node() {
    let env = TestEnv::start().await;
    let (a, b) = two_nodes(&env, RevocationMode::Denylist, Duration::from_secs(300)).await;
    let client = TestClient::new();
    let (alice, tokens) = client.jwt_login(&a.base(), "alice").await;
    let (bob, _) = client.jwt_login(&a.base(), "bob").await;

    let (status, body): (_, serde_json::Value) =
        read_json(client.post(&a.url("/logout"), Some(&alice), None).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["access_token_valid_until"].is_null());

    for node in [&a, &b] {
        let response = client.get(&node.url("/me"), Some(&alice)).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "node {}",
            node.node
        );
        assert!(response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("revoked"));
        assert_eq!(
            client.get(&node.url("/me"), Some(&bob)).await.status(),
            StatusCode::OK
        );
    }
    let (status, body): (_, ErrorBody) =
        read_json(client.refresh(&b.base(), &tokens.refresh_token).await).await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant"),
        "the login's refresh token died too"
    );
}

#[tokio::test]
async fn without_revocation_a_logged_out_token_works_until_it_expires() {
    let env = TestEnv::start().await;
    let (a, b) = two_nodes(&env, RevocationMode::None, Duration::from_secs(2)).await;
    let client = TestClient::new();
    let (alice, tokens) = client.jwt_login(&a.base(), "alice").await;

    let (status, body): (_, serde_json::Value) =
        read_json(client.post(&a.url("/logout"), Some(&alice), None).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body["access_token_valid_until"].as_u64().is_some(),
        "the answer admits the token lives on"
    );

    // The trade-off of a stateless token, asserted: logout did not reach it.
    for node in [&a, &b] {
        assert_eq!(
            client.get(&node.url("/me"), Some(&alice)).await.status(),
            StatusCode::OK,
            "node {}",
            node.node
        );
    }
    // But the refresh token is dead, so this was the last access token of that login.
    let (status, _): (_, ErrorBody) =
        read_json(client.refresh(&b.base(), &tokens.refresh_token).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    tokio::time::sleep(Duration::from_millis(3_100)).await;
    let response = client.get(&b.url("/me"), Some(&alice)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("expired"));
}

#[tokio::test]
async fn revoke_all_ends_every_login_of_the_user() {
    let env = TestEnv::start().await;
    let (a, b) = two_nodes(&env, RevocationMode::Denylist, Duration::from_secs(300)).await;
    let client = TestClient::new();
    let (laptop, laptop_tokens) = client.jwt_login(&a.base(), "alice").await;
    let (phone, phone_tokens) = client.jwt_login(&b.base(), "alice").await;
    let (bob, _) = client.jwt_login(&b.base(), "bob").await;

    let (status, body): (_, serde_json::Value) =
        read_json(client.post(&b.url("/logout/all"), Some(&phone), None).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["logins_ended"], 2);

    for node in [&a, &b] {
        assert_eq!(
            client.get(&node.url("/me"), Some(&laptop)).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            client.get(&node.url("/me"), Some(&phone)).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            client.get(&node.url("/me"), Some(&bob)).await.status(),
            StatusCode::OK
        );
    }
    for refresh in [&laptop_tokens.refresh_token, &phone_tokens.refresh_token] {
        assert_eq!(
            client.refresh(&a.base(), refresh).await.status(),
            StatusCode::BAD_REQUEST
        );
    }
    // Token `iat` has one-second resolution: a new login works from the next second on.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (again, _) = client.jwt_login(&a.base(), "alice").await;
    assert_eq!(
        client.get(&b.url("/me"), Some(&again)).await.status(),
        StatusCode::OK
    );
}

/// A denylisted token must stay refused for as long as validation could
/// accept it, which is until `exp + leeway`, not just until `exp`.
#[tokio::test]
async fn a_denied_token_stays_refused_through_exp_plus_leeway() {
    let env = TestEnv::start().await;
    let keys = key_set(SigningAlgorithm::EdDsa);
    let mut config = env.jwt_config_for(&keys);
    config.revocation = RevocationMode::Denylist;
    config.access_ttl = Duration::from_secs(2);
    config.leeway = Duration::from_secs(2);
    let node = spawn_jwt_node(config).await;
    let client = TestClient::new();
    let logged_in = std::time::Instant::now();
    let (alice, _) = client.jwt_login(&node.base(), "alice").await;
    let (status, _): (_, serde_json::Value) =
        read_json(client.post(&node.url("/logout"), Some(&alice), None).await).await;
    assert_eq!(status, StatusCode::OK);

    // exp is at most ttl + 1 s after the login (whole seconds); poll well
    // past exp + leeway, where the token is refused as expired anyway.
    let until = logged_in + Duration::from_secs(2 + 1 + 2 + 2);
    while std::time::Instant::now() < until {
        let response = client.get(&node.url("/me"), Some(&alice)).await;
        assert_ne!(
            response.status(),
            StatusCode::OK,
            "a logged-out token was accepted again {:?} after login",
            logged_in.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
