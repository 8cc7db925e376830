//! Introspection mode against real auth nodes: always current, a call per
//! request, down when the auth service is down; and what a cache changes.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::time::Duration;

use common::{
    assert_orders_of, assert_unauthorized, assert_unavailable, config, spawn, OrdersNode,
    CLIENT_ID, CLIENT_SECRET,
};
use orders_service::Mode;
use testkit::{
    nodes::{key_set, spawn_jwt_node, spawn_session_node},
    Credential, TestClient, TestEnv, TestNode,
};

async fn session_node(env: &TestEnv, port: u16) -> TestNode {
    let mut config = env.config();
    config.node.port = port;
    config.introspection_client = Some(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    spawn_session_node(config).await
}

async fn orders_asking(auth: &TestNode, cache_ttl: Duration) -> OrdersNode {
    let mut config = config(Mode::Introspection);
    config.introspection_url = Some(auth.url("/introspect"));
    config.introspection_client_id = Some(CLIENT_ID.into());
    config.introspection_client_secret = Some(CLIENT_SECRET.into());
    config.introspection_cache_ttl = cache_ttl;
    spawn(config).await
}

/// The session cookie's value, as the session server set it.
fn cookie_value(credential: &Credential) -> String {
    match credential {
        Credential::Cookie(cookie) => cookie.split_once('=').unwrap().1.to_owned(),
        Credential::Bearer(_) => panic!("not a session"),
    }
}

#[tokio::test]
async fn a_live_session_is_served_and_a_logout_refused_on_the_next_request() {
    let env = TestEnv::start().await;
    let session = session_node(&env, 0).await;
    let orders = orders_asking(&session, Duration::ZERO).await;
    let client = TestClient::new();
    let alice = client.session_login(&session.base(), "alice").await;
    let token = cookie_value(&alice);

    assert_orders_of(orders.orders(&client, &token).await, "alice").await;
    // The cookie itself works too, as a browser on the same site would send it.
    assert_orders_of(
        client.get(&orders.url("/orders"), Some(&alice)).await,
        "alice",
    )
    .await;

    client
        .post(&session.url("/logout"), Some(&alice), None)
        .await;
    assert_eq!(
        assert_unauthorized(orders.orders(&client, &token).await).await,
        "invalid_token"
    );
    assert_eq!(
        orders.upstream(&client, "introspection", "ok").await,
        3,
        "one call per request"
    );
    let garbage = orders.orders(&client, "garbage").await;
    assert_eq!(assert_unauthorized(garbage).await, "invalid_token");
    let missing = client.get(&orders.url("/orders"), None).await;
    assert_eq!(assert_unauthorized(missing).await, "missing_token");
}

#[tokio::test]
async fn with_a_cache_a_logged_out_session_is_still_served_until_the_ttl() {
    let env = TestEnv::start().await;
    let session = session_node(&env, 0).await;
    let ttl = Duration::from_secs(5);
    let orders = orders_asking(&session, ttl).await;
    let client = TestClient::new();
    let alice = client.session_login(&session.base(), "alice").await;
    let token = cookie_value(&alice);

    let asked_at = std::time::Instant::now();
    assert_orders_of(orders.orders(&client, &token).await, "alice").await;
    client
        .post(&session.url("/logout"), Some(&alice), None)
        .await;
    // This is the cost of the cache, and the point of measuring it: the
    // session is over at the auth service, and the orders service keeps
    // serving it from its cached "active" answer, without asking, until
    // the entry's TTL runs out. Exactly the staleness of a JWT, bounded by
    // the cache TTL instead of the token's lifetime.
    assert_orders_of(orders.orders(&client, &token).await, "alice").await;
    assert!(asked_at.elapsed() < ttl, "the test ran within the TTL");
    assert_eq!(
        orders
            .counter(&client, "orders_introspection_cache_hits_total", &[])
            .await,
        1
    );
    assert_eq!(orders.upstream(&client, "introspection", "ok").await, 1);

    tokio::time::sleep(ttl.saturating_sub(asked_at.elapsed()) + Duration::from_millis(200)).await;
    assert_unauthorized(orders.orders(&client, &token).await).await;
    assert_eq!(orders.upstream(&client, "introspection", "ok").await, 2);
}

#[tokio::test]
async fn the_session_node_down_is_503_and_back_is_200() {
    let env = TestEnv::start().await;
    let session = session_node(&env, 0).await;
    let port = session.port;
    let orders = orders_asking(&session, Duration::ZERO).await;
    let client = TestClient::new();
    let alice = client.session_login(&session.base(), "alice").await;
    let token = cookie_value(&alice);
    assert_orders_of(orders.orders(&client, &token).await, "alice").await;

    session.stop().await;
    assert_unavailable(orders.orders(&client, &token).await).await;
    assert_eq!(orders.upstream(&client, "introspection", "error").await, 1);
    assert_eq!(
        orders
            .counter(
                &client,
                "orders_requests_total",
                &[("mode", "introspection"), ("outcome", "unavailable")]
            )
            .await,
        1
    );

    // Same port, same store: the session survived, the service heals.
    let _session = session_node(&env, port).await;
    assert_orders_of(orders.orders(&client, &token).await, "alice").await;
}

#[tokio::test]
async fn refused_client_credentials_are_503_not_401() {
    let env = TestEnv::start().await;
    let session = session_node(&env, 0).await;
    let mut config = config(Mode::Introspection);
    config.introspection_url = Some(session.url("/introspect"));
    config.introspection_client_id = Some(CLIENT_ID.into());
    config.introspection_client_secret = Some("not-the-secret-0123456".into());
    let orders = spawn(config).await;
    let client = TestClient::new();
    let alice = client.session_login(&session.base(), "alice").await;
    // Our misconfiguration says nothing about the user's session.
    assert_unavailable(orders.orders(&client, &cookie_value(&alice)).await).await;
}

#[tokio::test]
async fn a_jwt_node_answers_introspection_for_access_tokens() {
    let env = TestEnv::start().await;
    let mut config = env.jwt_config_for(&key_set(jwt_server::SigningAlgorithm::EdDsa));
    config.introspection_client = Some(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    let jwt = spawn_jwt_node(config).await;
    let orders = orders_asking(&jwt, Duration::ZERO).await;
    let client = TestClient::new();
    let (_, tokens) = client.jwt_login(&jwt.base(), "bob").await;
    assert_orders_of(orders.orders(&client, &tokens.access_token).await, "bob").await;
    assert_unauthorized(orders.orders(&client, "a.b.c").await).await;
}
