//! The session store goes away and comes back; the server never restarts.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use authlab_core::wire::ErrorBody;
use reqwest::StatusCode;
use testkit::{
    http::{assert_store_unavailable, json as read_json, node_of},
    suite::outage,
    RedisOptions, RedisServer, TestClient, TestEnv,
};

#[tokio::test]
async fn store_down_is_503_and_ready_false_then_heals_by_itself() {
    let mut env = TestEnv::start().await;
    let node = env.spawn_node().await;
    let client = TestClient::new();
    let alice = client.session_login(&node.base(), "alice").await;

    env.store.stop();

    let response = client.get(&node.url("/me"), Some(&alice)).await;
    assert_eq!(
        node_of(&response),
        node.node,
        "even the outage answer names its node"
    );
    let (status, body): (_, ErrorBody) = read_json(response).await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
    );

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

    let (status, ready): (_, serde_json::Value) =
        read_json(client.get(&node.url("/ready"), None).await).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready["ready"], false);
    assert_eq!(
        ready["checks"]["user_directory"], "ok",
        "the directory is a separate Redis"
    );

    assert_eq!(
        client.get(&node.url("/health"), None).await.status(),
        StatusCode::OK,
        "liveness is not readiness"
    );

    env.store.restart();

    let (status, _): (_, serde_json::Value) =
        read_json(client.get(&node.url("/ready"), None).await).await;
    assert_eq!(status, StatusCode::OK);
    // Restarted without persistence: the session is gone, the server is fine.
    let (status, body): (_, ErrorBody) =
        read_json(client.get(&node.url("/me"), Some(&alice)).await).await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::UNAUTHORIZED, "no_session")
    );
    let alice = client.session_login(&node.base(), "alice").await;
    assert_eq!(
        client.get(&node.url("/me"), Some(&alice)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_persistent_store_keeps_sessions_across_a_restart() {
    let directory = RedisServer::start();
    let mut store = RedisServer::start_with(RedisOptions { persistence: true });
    testkit::nodes::seed(&directory.url(0), 0).await;
    let node = testkit::nodes::spawn_session_node(session_server::SessionServerConfig::local(
        &directory.url(0),
        &store.url(0),
    ))
    .await;
    let client = TestClient::new();
    let alice = client.session_login(&node.base(), "alice").await;

    store.restart();

    assert_eq!(
        client.get(&node.url("/me"), Some(&alice)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_node_started_while_its_store_is_down_becomes_ready_when_it_appears() {
    let mut env = TestEnv::start().await;
    env.store.stop();
    let node = env.spawn_node().await;
    let client = TestClient::new();
    assert_eq!(
        client.get(&node.url("/ready"), None).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    env.store.restart();
    assert_eq!(
        client.get(&node.url("/ready"), None).await.status(),
        StatusCode::OK
    );
    let bob = client.session_login(&node.base(), "bob").await;
    assert_eq!(
        client.get(&node.url("/me"), Some(&bob)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn every_redis_client_kind_heals_after_an_outage() {
    use authlab_core::redis_client::RedisClientKind;
    let mut env = TestEnv::start().await;
    let client = TestClient::new();
    for kind in [
        RedisClientKind::Multiplexed,
        RedisClientKind::Pool,
        RedisClientKind::PoolFast,
    ] {
        let node = env.spawn_node_with(|c| c.redis.redis_client = kind).await;
        let alice = client.session_login(&node.base(), "alice").await;
        assert_eq!(
            client.get(&node.url("/me"), Some(&alice)).await.status(),
            StatusCode::OK,
            "{kind:?}"
        );

        env.store.stop();
        let status = client.get(&node.url("/me"), Some(&alice)).await.status();
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{kind:?} during the outage"
        );
        env.store.restart();

        let alice = client.session_login(&node.base(), "alice").await;
        assert_eq!(
            client.get(&node.url("/me"), Some(&alice)).await.status(),
            StatusCode::OK,
            "{kind:?} after"
        );
    }
}

#[tokio::test]
async fn a_store_that_refuses_to_serve_is_503_not_500() {
    use reqwest::Method;
    let env = TestEnv::start().await;
    let node = env.spawn_node().await;
    let client = TestClient::new();
    let store = env.store.url(0);
    let carol = client.session_login(&node.base(), "carol").await;
    client.session_login(&node.base(), "bob").await;
    let roles = serde_json::json!({ "roles": ["user"] });
    let bob_roles = node.url("/admin/users/bob/roles");
    let change_roles = || client.request(Method::PUT, &bob_roles, Some(&carol), Some(&roles));

    // OOM: writes refused under noeviction; reads still work.
    outage::fill_memory(&store).await;
    assert_store_unavailable(change_roles().await, "role change, OOM").await;
    assert_store_unavailable(
        client
            .login_response(&node.base(), "alice", "authlab-demo")
            .await,
        "login, OOM",
    )
    .await;
    outage::free_memory(&store).await;
    assert_eq!(change_roles().await.status(), StatusCode::OK, "healed");

    // A replica of a master that is not there: READONLY, then MASTERDOWN.
    outage::demote_to_orphan_replica(&store).await;
    assert_store_unavailable(
        client
            .post(&node.url("/logout/all"), Some(&carol), None)
            .await,
        "logout-all, READONLY",
    )
    .await;
    outage::refuse_stale_reads(&store).await;
    assert_store_unavailable(
        client
            .post(&node.url("/logout/all"), Some(&carol), None)
            .await,
        "logout-all, MASTERDOWN",
    )
    .await;
    assert_store_unavailable(change_roles().await, "role change, MASTERDOWN").await;
    outage::promote(&store).await;

    assert_eq!(change_roles().await.status(), StatusCode::OK, "healed");
    assert_eq!(
        client
            .post(&node.url("/logout/all"), Some(&carol), None)
            .await
            .status(),
        StatusCode::OK
    );
    client.session_login(&node.base(), "alice").await;
}

#[tokio::test]
async fn garbage_in_a_session_is_no_session_not_an_outage() {
    let env = TestEnv::start().await;
    let node = env.spawn_node().await;
    let client = TestClient::new();
    let alice = client.session_login(&node.base(), "alice").await;
    let store = redis::Client::open(env.store.url(0)).unwrap();
    let mut connection = store.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("SMEMBERS")
        .arg("authlab:user-sessions:alice")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
    let _: () = redis::cmd("SET")
        .arg(format!("authlab:session:{}", keys[0]))
        .arg("not json {")
        .query_async(&mut connection)
        .await
        .unwrap();

    let (status, body): (_, ErrorBody) =
        read_json(client.get(&node.url("/me"), Some(&alice)).await).await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::UNAUTHORIZED, "no_session")
    );
}
