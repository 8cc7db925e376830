//! Idle (sliding) and absolute session lifetimes, on a real Redis clock.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::Duration;

use reqwest::StatusCode;
use testkit::{http::json as read_json, TestClient, TestEnv};

async fn me_error(
    client: &TestClient,
    url: &str,
    who: &testkit::Credential,
) -> (StatusCode, String) {
    let (status, body): (_, serde_json::Value) = read_json(client.get(url, Some(who)).await).await;
    (status, body["error"].as_str().unwrap_or("").to_owned())
}

#[tokio::test]
async fn an_idle_session_expires() {
    let env = TestEnv::start().await;
    let node = env
        .spawn_node_with(|c| {
            c.idle_ttl = Duration::from_millis(800);
            c.absolute_ttl = Duration::from_secs(60);
        })
        .await;
    let client = TestClient::new();
    let alice = client.session_login(&node.base(), "alice").await;
    assert_eq!(
        me_error(&client, &node.url("/me"), &alice).await.0,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        me_error(&client, &node.url("/me"), &alice).await,
        (StatusCode::UNAUTHORIZED, "no_session".into())
    );
}

#[tokio::test]
async fn activity_slides_the_idle_expiry() {
    let env = TestEnv::start().await;
    let node = env
        .spawn_node_with(|c| {
            c.idle_ttl = Duration::from_millis(1_200);
            c.absolute_ttl = Duration::from_secs(60);
        })
        .await;
    let client = TestClient::new();
    let alice = client.session_login(&node.base(), "alice").await;
    // 5 x 500 ms = 2.5 s of life for a session with a 1.2 s idle timeout.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            me_error(&client, &node.url("/me"), &alice).await.0,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn the_absolute_lifetime_ends_even_an_active_session() {
    let env = TestEnv::start().await;
    let node = env
        .spawn_node_with(|c| {
            c.idle_ttl = Duration::from_millis(1_500);
            c.absolute_ttl = Duration::from_millis(1_500);
        })
        .await;
    let client = TestClient::new();
    let alice = client.session_login(&node.base(), "alice").await;
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            me_error(&client, &node.url("/me"), &alice).await.0,
            StatusCode::OK
        );
    }
    // 2.1 s after login; last use 1.1 s ago, so only the absolute limit can end it.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(
        me_error(&client, &node.url("/me"), &alice).await,
        (StatusCode::UNAUTHORIZED, "session_expired".into())
    );
    assert_eq!(
        me_error(&client, &node.url("/me"), &alice).await,
        (StatusCode::UNAUTHORIZED, "no_session".into()),
        "the expired session was purged from the store"
    );
}
