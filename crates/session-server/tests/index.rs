//! The user → sessions index: logout-all cannot miss a racing login, and the
//! index holds live sessions only.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::{net::SocketAddr, time::Duration};

use reqwest::StatusCode;
use testkit::{redis::command, DelayProxy, TestClient, TestEnv};

async fn index_size(store_url: &str, user: &str) -> usize {
    command(
        store_url,
        &["SCARD", &format!("authlab:user-sessions:{user}")],
    )
    .await
}

/// Node `slow` sees every Redis reply 400 ms late, so its logout-all reads
/// the index at ~400 ms and, if it takes two round trips, deletes at ~800 ms.
/// A login on `fast` lands at ~450 ms: inside that window every round.
#[tokio::test]
async fn logout_all_ends_a_login_that_races_it() {
    let env = TestEnv::start().await;
    let upstream = SocketAddr::from(([127, 0, 0, 1], env.store.port()));
    let proxy = DelayProxy::start(upstream, Duration::from_millis(400)).await;
    let slow = env
        .spawn_node_with(|c| {
            c.session_store_url = proxy.url(0);
            c.redis.redis_timeout = Duration::from_secs(10);
        })
        .await;
    let fast = env.spawn_node().await;
    let client = TestClient::new();
    // Connect the slow node to its store first (/ready pings it), so every
    // round races the same way.
    assert_eq!(
        client.get(&slow.url("/ready"), None).await.status(),
        StatusCode::OK
    );
    for round in 0..3 {
        let ender = client.session_login(&fast.base(), "alice").await;
        let slow_logout_all = slow.url("/logout/all");
        let logout_all = client.post(&slow_logout_all, Some(&ender), None);
        let racer = async {
            tokio::time::sleep(Duration::from_millis(450)).await;
            client.session_login(&fast.base(), "alice").await
        };
        let (response, racer) = tokio::join!(logout_all, racer);
        assert_eq!(response.status(), StatusCode::OK, "round {round}");

        // Whichever came first, the next logout-all must end the racing login.
        let closer = client.session_login(&fast.base(), "alice").await;
        assert_eq!(
            client
                .post(&fast.url("/logout/all"), Some(&closer), None)
                .await
                .status(),
            StatusCode::OK
        );
        assert_eq!(
            client.get(&fast.url("/me"), Some(&racer)).await.status(),
            StatusCode::UNAUTHORIZED,
            "round {round}: a login that raced logout-all survived the next logout-all"
        );
    }
}

#[tokio::test]
async fn the_index_holds_only_live_sessions() {
    let env = TestEnv::start().await;
    let node = env
        .spawn_node_with(|c| {
            c.idle_ttl = Duration::from_millis(300);
            c.absolute_ttl = Duration::from_millis(300);
        })
        .await;
    let client = TestClient::new();
    let store = env.store.url(0);
    for _ in 0..20 {
        client.session_login(&node.base(), "alice").await;
    }
    assert_eq!(index_size(&store, "alice").await, 20);

    tokio::time::sleep(Duration::from_millis(600)).await;
    let alice = client.session_login(&node.base(), "alice").await;

    assert_eq!(
        index_size(&store, "alice").await,
        1,
        "the expired sessions are pruned from the index at the next login"
    );
    assert_eq!(
        client.get(&node.url("/me"), Some(&alice)).await.status(),
        StatusCode::OK
    );
}
