//! The user → refresh families index: revoke-all cannot miss a racing login
//! or a long-lived one, and the index holds live families only.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::{net::SocketAddr, time::Duration};

use authlab_core::wire::TokenResponse;
use reqwest::StatusCode;
use testkit::{
    http::json as read_json, redis::command, Credential, DelayProxy, TestClient, TestEnv,
};

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

/// Node `slow` sees every Redis reply 300 ms late: its revoke-all reads the
/// index at ~0 ms and, if it takes two round trips, deletes at ~300 ms. A
/// login on `fast` lands at ~100 ms: inside that window every round.
#[tokio::test]
async fn logout_all_ends_a_login_that_races_it() {
    let env = TestEnv::start().await;
    let upstream = SocketAddr::from(([127, 0, 0, 1], env.store.port()));
    let proxy = DelayProxy::start(upstream, Duration::from_millis(300)).await;
    let slow = env
        .spawn_jwt_node_with(|c| {
            c.token_store_url = proxy.url(0);
            c.redis.redis_timeout = Duration::from_secs(10);
        })
        .await;
    let fast = env.spawn_jwt_node_with(|_| {}).await;
    let client = TestClient::new();
    // Connect the slow node to its store first (/ready pings it), so every
    // round races the same way.
    assert_eq!(
        client.get(&slow.url("/ready"), None).await.status(),
        StatusCode::OK
    );
    for round in 0..3 {
        let (ender, _) = client.jwt_login(&fast.base(), "alice").await;
        let slow_logout_all = slow.url("/logout/all");
        let logout_all = client.post(&slow_logout_all, Some(&ender), None);
        let racer = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            client.jwt_login(&fast.base(), "alice").await.1
        };
        let (response, racer) = tokio::join!(logout_all, racer);
        assert_eq!(response.status(), StatusCode::OK, "round {round}");

        let (closer, _) = client.jwt_login(&fast.base(), "alice").await;
        assert_eq!(
            client
                .post(&fast.url("/logout/all"), Some(&closer), None)
                .await
                .status(),
            StatusCode::OK
        );
        assert_ne!(
            client
                .refresh(&fast.base(), &racer.refresh_token)
                .await
                .status(),
            StatusCode::OK,
            "round {round}: a login that raced logout-all survived the next logout-all"
        );
    }
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
