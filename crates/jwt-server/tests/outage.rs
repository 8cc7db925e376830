//! The token store goes away: verification goes on, state-changing calls wait (claim C3).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use authlab_core::error::ErrorBody;
use jwt_server::RevocationMode;
use reqwest::StatusCode;
use testkit::{http::json as read_json, TestClient, TestEnv};

#[tokio::test]
async fn stateless_verification_survives_the_store_and_logins_heal() {
    let mut env = TestEnv::start().await;
    let node = env.spawn_jwt_node_with(|_| {}).await;
    let client = TestClient::new();
    let (alice, tokens) = client.jwt_login(&node.base(), "alice").await;

    env.store.stop();

    assert_eq!(
        client.get(&node.url("/me"), Some(&alice)).await.status(),
        StatusCode::OK,
        "no store needed to verify"
    );
    let (status, ready): (_, serde_json::Value) =
        read_json(client.get(&node.url("/ready"), None).await).await;
    assert_eq!(status, StatusCode::OK, "mode none stays ready: {ready}");
    assert!(ready["checks"]["token_store"]
        .as_str()
        .unwrap()
        .starts_with("degraded"));

    let (status, body): (_, ErrorBody) = read_json(
        client
            .login_response(&node.base(), "bob", "authlab-demo")
            .await,
    )
    .await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
    );
    let (status, body): (_, ErrorBody) =
        read_json(client.refresh(&node.base(), &tokens.refresh_token).await).await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
    );

    env.store.restart();

    let (bob, _) = client.jwt_login(&node.base(), "bob").await;
    assert_eq!(
        client.get(&node.url("/me"), Some(&bob)).await.status(),
        StatusCode::OK
    );
    // The store restarted empty: alice's refresh token was lost with it.
    assert_eq!(
        client
            .refresh(&node.base(), &tokens.refresh_token)
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn with_the_denylist_every_request_needs_the_store() {
    let mut env = TestEnv::start().await;
    let node = env
        .spawn_jwt_node_with(|c| c.revocation = RevocationMode::Denylist)
        .await;
    let client = TestClient::new();
    let (alice, _) = client.jwt_login(&node.base(), "alice").await;

    env.store.stop();
    let (status, body): (_, ErrorBody) =
        read_json(client.get(&node.url("/me"), Some(&alice)).await).await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
    );
    assert_eq!(
        client.get(&node.url("/ready"), None).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );

    env.store.restart();
    assert_eq!(
        client.get(&node.url("/me"), Some(&alice)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        client.get(&node.url("/ready"), None).await.status(),
        StatusCode::OK
    );
}
