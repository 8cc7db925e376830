//! The orders services in a lab cluster: real auth nodes, real orders nodes
//! (`authlab node orders`), a real HAProxy with the `jwt_verify` gateway.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use jwt_server::SigningAlgorithm;
use lab::{ClusterSpec, OrdersVariant, Stack};
use lab::{Engine, Local};
use reqwest::StatusCode;
use serde_json::Value;
use testkit::{Credential, TestClient};

fn spec(orders: Vec<OrdersVariant>) -> ClusterSpec {
    let mut spec = ClusterSpec::new(env!("CARGO_BIN_EXE_authlab").into());
    spec.nodes = 2;
    spec.seed_users = 0;
    spec.alg = SigningAlgorithm::Es256;
    spec.orders = orders;
    spec
}

/// The session cookie's value: what a service presents as the Bearer token.
fn cookie_value(credential: &Credential) -> String {
    match credential {
        Credential::Cookie(pair) => pair.split_once('=').unwrap().1.to_owned(),
        Credential::Bearer(_) => panic!("not a cookie"),
    }
}

async fn orders_of(client: &TestClient, url: &str, token: &str) -> (StatusCode, Value) {
    let response = client
        .get(url, Some(&Credential::Bearer(token.to_owned())))
        .await;
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn every_orders_variant_serves_the_logged_in_user_and_refuses_garbage() {
    let mut cluster = Local
        .start(spec(OrdersVariant::ALL.to_vec()))
        .await
        .unwrap();
    let client = TestClient::new();
    let session = client
        .session_login(&cluster.url(Stack::Session, "").unwrap(), "alice")
        .await;
    let (_, tokens) = client
        .jwt_login(&cluster.url(Stack::Jwt, "").unwrap(), "bob")
        .await;
    let session_token = cookie_value(&session);

    for variant in OrdersVariant::ALL {
        let url = cluster.orders_url(variant, "/orders").unwrap();
        let (token, user) = match variant.auth_stack() {
            Stack::Session => (session_token.as_str(), "alice"),
            Stack::Jwt => (tokens.access_token.as_str(), "bob"),
        };
        let (status, body) = orders_of(&client, &url, token).await;
        assert_eq!(status, StatusCode::OK, "{variant}: {body}");
        assert!(body.to_string().contains(user), "{variant}: {body}");

        let (status, body) = orders_of(&client, &url, "garbage").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{variant}: {body}");
        assert_eq!(body["error"], "invalid_token", "{variant}: {body}");

        let node = cluster.orders_node(variant).unwrap();
        assert_eq!(node.name, format!("orders-{variant}"));
        assert!(node.pid().is_some());
    }
    assert!(cluster.crashed().is_none());
    cluster.shutdown();
}

// Worker threads for the traffic task: the cluster's own calls block (process
// waits); the cluster is still started and changed from the test's thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_reaches_the_gateway_without_a_refused_token() {
    let mut cluster = Local
        .start(spec(vec![OrdersVariant::Gateway]))
        .await
        .unwrap();
    let client = TestClient::new();
    let jwt = cluster.url(Stack::Jwt, "").unwrap();
    let gateway = cluster
        .orders_url(OrdersVariant::Gateway, "/orders")
        .unwrap();
    let (_, old) = client.jwt_login(&jwt, "alice").await;

    // Traffic with the old token through the gateway all along the rotation
    // (bounded: it stops when told, or after 2000 requests). A request can
    // lose its keep-alive connection when the old HAProxy closes it at a
    // reload (a client retries those); a 401 would be a key the gateway lost.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let traffic = tokio::spawn({
        let (stop, client, url, token) = (
            stop.clone(),
            reqwest::Client::new(),
            gateway.clone(),
            old.access_token.clone(),
        );
        async move {
            let (mut ok, mut dropped, mut refused) = (0, 0, Vec::new());
            for _ in 0..2000 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                match client.get(&url).bearer_auth(&token).send().await {
                    Ok(response) if response.status() == StatusCode::OK => ok += 1,
                    Ok(response) => refused.push(format!(
                        "{} {}",
                        response.status(),
                        response.text().await.unwrap_or_default()
                    )),
                    Err(_) => dropped += 1,
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            (ok, dropped, refused)
        }
    });

    let staged = cluster.stage_key().await.unwrap();
    let active = cluster.activate_staged_key().await.unwrap();
    assert_eq!(staged, active);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, dropped, refused) = traffic.await.unwrap();
    eprintln!("during the rotation: {ok} answered 200, {dropped} lost their connection");
    assert!(ok > 10, "only {ok} requests during the rotation");
    // Two reloads (stage, activate), one idle connection each at most.
    assert!(dropped <= 2, "{dropped} requests lost their connection");
    assert!(
        refused.is_empty(),
        "{} of {} refused: {refused:?}",
        refused.len(),
        ok + refused.len()
    );
    let (_, new) = client.jwt_login(&jwt, "alice").await;
    let kid = jsonwebtoken::decode_header(&new.access_token)
        .unwrap()
        .kid
        .unwrap();
    assert_eq!(kid, active, "nodes sign with the new key");

    // The gateway knows the new key, and the old one during its grace period.
    for token in [&new.access_token, &old.access_token] {
        let (status, body) = orders_of(&client, &gateway, token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert!(cluster.crashed().is_none());
    cluster.shutdown();
}

#[tokio::test]
async fn a_gateway_on_an_eddsa_cluster_is_refused_before_anything_starts() {
    let mut spec = spec(vec![OrdersVariant::Gateway]);
    spec.alg = SigningAlgorithm::EdDsa;
    let error = Local.start(spec).await.err().unwrap().to_string();
    assert!(error.contains("jwt_verify"), "{error}");

    let mut spec = self::spec(vec![OrdersVariant::Introspection]);
    spec.stacks = vec![Stack::Jwt];
    let error = Local.start(spec).await.err().unwrap().to_string();
    assert!(error.contains("needs the session stack"), "{error}");
}
