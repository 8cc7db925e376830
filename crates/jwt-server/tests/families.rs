//! The user → refresh families index: revoke-all cannot miss a long-lived
//! login, and the index holds live families only. (That it cannot miss a
//! racing login is checked on both stacks: `tests/shared.rs`.)

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::Duration;

use authlab_core::wire::TokenResponse;
use reqwest::StatusCode;
use testkit::{http::json as read_json, redis::command, Credential, TestClient, TestEnv};

async fn families_of(store_url: &str, user: &str) -> (usize, usize) {
    let families: Vec<String> = command(
        store_url,
        &["SMEMBERS", &format!("authlab:user-families:{user}")],
    )
    .await;
    let mut live = 0;
    for family in &families {
        let exists: bool = command(
            store_url,
            &["EXISTS", &format!("authlab:refresh-family:{family}")],
        )
        .await;
        live += usize::from(exists);
    }
    (families.len(), live)
}

#[tokio::test]
async fn logout_all_finds_a_login_kept_alive_by_refreshing() {
    let env = TestEnv::start().await;
    let node = env
        .spawn_jwt_node_with(|c| {
            c.access_ttl = Duration::from_secs(1);
            c.refresh_ttl = Duration::from_secs(2);
        })
        .await;
    let client = TestClient::new();
    let (_, mut tokens) = client.jwt_login(&node.base(), "alice").await;
    // 3.2 s of refreshing: well past the 2 s the login itself set.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(800)).await;
        let response = client.refresh(&node.base(), &tokens.refresh_token).await;
        assert_eq!(response.status(), StatusCode::OK);
        tokens = response.json::<TokenResponse>().await.unwrap();
    }

    let access = Credential::Bearer(tokens.access_token.clone());
    let (status, ended): (_, serde_json::Value) = read_json(
        client
            .post(&node.url("/logout/all"), Some(&access), None)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ended["logins_ended"], 1, "revoke-all found the login");
    assert_ne!(
        client
            .refresh(&node.base(), &tokens.refresh_token)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_index_holds_only_live_families() {
    let env = TestEnv::start().await;
    let node = env
        .spawn_jwt_node_with(|c| {
            c.access_ttl = Duration::from_secs(1);
            c.refresh_ttl = Duration::from_secs(1);
        })
        .await;
    let client = TestClient::new();
    let store = env.store.url(0);
    // Two batches 500 ms apart, then a login 600 ms later: the first batch
    // has expired (1.1 s old), the second has not (0.6 s), and the index,
    // touched every 600 ms at most, never expired as a whole.
    for pause in [500, 600] {
        for _ in 0..10 {
            client.jwt_login(&node.base(), "alice").await;
        }
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    client.jwt_login(&node.base(), "alice").await;

    assert_eq!(
        families_of(&store, "alice").await,
        (11, 11),
        "(members, live members): the expired batch is pruned at the next login"
    );
}
