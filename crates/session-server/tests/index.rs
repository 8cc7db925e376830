//! The user → sessions index holds live sessions only. (That logout-all
//! cannot miss a racing login is checked on both stacks: `tests/shared.rs`.)

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::Duration;

use reqwest::StatusCode;
use testkit::{redis::command, TestClient, TestEnv};

async fn index_size(store_url: &str, user: &str) -> usize {
    command(
        store_url,
        &["SCARD", &format!("authlab:user-sessions:{user}")],
    )
    .await
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
