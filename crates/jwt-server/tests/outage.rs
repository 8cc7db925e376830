//! The token store goes away: verification goes on, state-changing calls wait (claim C3).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use authlab_core::wire::ErrorBody;
use jwt_server::RevocationMode;
use reqwest::StatusCode;
use testkit::{
    http::{assert_store_unavailable, json as read_json},
    suite::outage,
    TestClient, TestEnv,
};

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

#[tokio::test]
async fn a_store_that_refuses_to_serve_is_503_not_500() {
    let env = TestEnv::start().await;
    let node = env.spawn_jwt_node_with(|_| {}).await;
    let client = TestClient::new();
    let store = env.store.url(0);
    let (alice, tokens) = client.jwt_login(&node.base(), "alice").await;
    let base = node.base();
    let login = || client.login_response(&base, "bob", "authlab-demo");

    // OOM: writes refused under noeviction.
    outage::fill_memory(&store).await;
    assert_store_unavailable(login().await, "login, OOM").await;
    assert_store_unavailable(
        client.refresh(&node.base(), &tokens.refresh_token).await,
        "refresh, OOM",
    )
    .await;
    outage::free_memory(&store).await;
    // The refused refresh spent nothing: the same token still rotates.
    let response = client.refresh(&node.base(), &tokens.refresh_token).await;
    assert_eq!(response.status(), StatusCode::OK, "healed");
    let tokens: authlab_core::wire::TokenResponse = response.json().await.unwrap();

    // A replica of a master that is not there: READONLY, then MASTERDOWN.
    outage::demote_to_orphan_replica(&store).await;
    assert_store_unavailable(login().await, "login, READONLY").await;
    assert_store_unavailable(
        client
            .post(&node.url("/logout/all"), Some(&alice), None)
            .await,
        "logout-all, READONLY",
    )
    .await;
    outage::refuse_stale_reads(&store).await;
    assert_store_unavailable(
        client.refresh(&node.base(), &tokens.refresh_token).await,
        "refresh, MASTERDOWN",
    )
    .await;
    assert_store_unavailable(
        client
            .post(&node.url("/logout/all"), Some(&alice), None)
            .await,
        "logout-all, MASTERDOWN",
    )
    .await;
    outage::promote(&store).await;

    assert_eq!(login().await.status(), StatusCode::OK, "healed");
    assert_eq!(
        client
            .post(&node.url("/logout/all"), Some(&alice), None)
            .await
            .status(),
        StatusCode::OK
    );
}
