//! `POST /introspect` (RFC 7662) on the JWT server: `/me`'s verdict, asked for by another service.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::Duration;

use jwt_server::{
    keys::KeySetFile, tokens::now_unix, JwtServerConfig, RevocationMode, SigningAlgorithm,
};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use testkit::{
    http::json as read_json,
    nodes::{key_set, signed_with, spawn_jwt_node},
    TestClient, TestEnv, TestNode,
};

const CLIENT_ID: &str = "orders";
const CLIENT_SECRET: &str = "orders-secret-0123456789";

async fn node(env: &TestEnv, keys: &KeySetFile, revocation: RevocationMode) -> TestNode {
    let mut config: JwtServerConfig = env.jwt_config_for(keys);
    config.revocation = revocation;
    config.introspection_client = Some(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    spawn_jwt_node(config).await
}

async fn introspect(
    client: &TestClient,
    node: &TestNode,
    token: Option<&str>,
    auth: Option<(&str, &str)>,
) -> Response {
    let form: Vec<(&str, &str)> = token.map(|t| ("token", t)).into_iter().collect();
    let mut request = client.raw().post(node.url("/introspect")).form(&form);
    if let Some((id, secret)) = auth {
        request = request.basic_auth(id, Some(secret));
    }
    request.send().await.unwrap()
}

async fn ask(client: &TestClient, node: &TestNode, token: &str) -> Value {
    let response = introspect(client, node, Some(token), Some((CLIENT_ID, CLIENT_SECRET))).await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    let (status, body): (_, Value) = read_json(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn a_valid_access_token_is_active_with_its_claims() {
    let env = TestEnv::start().await;
    let keys = key_set(SigningAlgorithm::EdDsa);
    let node = node(&env, &keys, RevocationMode::None).await;
    let client = TestClient::new();
    let (_, tokens) = client.jwt_login(&node.base(), "alice").await;

    let body = ask(&client, &node, &tokens.access_token).await;
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["name"], "Alice");
    assert_eq!(body["roles"], serde_json::json!(["user"]));
    assert_eq!(body["token_type"], "access_token");
    assert_eq!(body["node"], node.node.as_str());
    let exp = body["exp"].as_u64().unwrap();
    assert!(exp > now_unix() + 200 && exp <= now_unix() + 300, "{body}");
    assert!(body["iat"].as_u64().unwrap() <= now_unix());
}

#[tokio::test]
async fn tampered_forged_expired_and_garbage_tokens_are_inactive() {
    let env = TestEnv::start().await;
    let keys = key_set(SigningAlgorithm::EdDsa);
    let node = node(&env, &keys, RevocationMode::None).await;
    let client = TestClient::new();
    let (_, tokens) = client.jwt_login(&node.base(), "alice").await;

    let (message, signature) = tokens.access_token.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{message}.{flipped}{}", &signature[1..]);
    let forged = signed_with(&key_set(SigningAlgorithm::EdDsa), |_| {});
    let expired = signed_with(&keys, |claims| claims.exp = now_unix() - 60);
    let other_audience = signed_with(&keys, |claims| claims.aud = "elsewhere".into());
    for (what, token) in [
        ("tampered", tampered.as_str()),
        ("forged", &forged),
        ("expired", &expired),
        ("wrong audience", &other_audience),
        ("garbage", "garbage"),
    ] {
        assert_eq!(
            ask(&client, &node, token).await,
            serde_json::json!({"active": false}),
            "{what}"
        );
    }
    assert_eq!(
        ask(&client, &node, &signed_with(&keys, |_| {})).await["active"],
        true,
        "the helper signs valid tokens"
    );
}

#[tokio::test]
async fn a_logout_makes_a_token_inactive_only_with_the_denylist() {
    let env = TestEnv::start().await;
    let keys = key_set(SigningAlgorithm::EdDsa);
    let client = TestClient::new();

    let stateless = node(&env, &keys, RevocationMode::None).await;
    let (alice, tokens) = client.jwt_login(&stateless.base(), "alice").await;
    client
        .post(&stateless.url("/logout"), Some(&alice), None)
        .await;
    // Mode none: the issuer itself cannot tell a logged-out token from a
    // live one (claim C7); introspection only relays that.
    assert_eq!(
        ask(&client, &stateless, &tokens.access_token).await["active"],
        true
    );

    let denylist = node(&env, &keys, RevocationMode::Denylist).await;
    let (bob, tokens) = client.jwt_login(&denylist.base(), "bob").await;
    assert_eq!(
        ask(&client, &denylist, &tokens.access_token).await["active"],
        true
    );
    client
        .post(&denylist.url("/logout"), Some(&bob), None)
        .await;
    assert_eq!(
        ask(&client, &denylist, &tokens.access_token).await["active"],
        false
    );
}

#[tokio::test]
async fn client_authentication_and_the_token_are_required() {
    let env = TestEnv::start().await;
    let keys = key_set(SigningAlgorithm::Es256);
    let node = node(&env, &keys, RevocationMode::None).await;
    let client = TestClient::new();
    let (_, tokens) = client.jwt_login(&node.base(), "alice").await;
    let token = Some(tokens.access_token.as_str());

    let closed = spawn_jwt_node(env.jwt_config_for(&keys)).await;
    for response in [
        introspect(&client, &node, token, None).await,
        introspect(
            &client,
            &node,
            token,
            Some((CLIENT_ID, "not-the-secret-0123")),
        )
        .await,
        introspect(&client, &closed, token, Some((CLIENT_ID, CLIENT_SECRET))).await,
    ] {
        assert_eq!(
            response.headers()["www-authenticate"],
            "Basic realm=\"introspection\""
        );
        let (status, body): (_, Value) = read_json(response).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_client"))
        );
    }
    let (status, body): (_, Value) =
        read_json(introspect(&client, &node, None, Some((CLIENT_ID, CLIENT_SECRET))).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
}

#[tokio::test]
async fn with_the_denylist_a_store_outage_is_503_and_heals() {
    let mut env = TestEnv::start().await;
    let keys = key_set(SigningAlgorithm::EdDsa);
    let node = node(&env, &keys, RevocationMode::Denylist).await;
    let client = TestClient::new();
    let (_, tokens) = client.jwt_login(&node.base(), "alice").await;

    env.store.stop();
    let (status, body): (_, Value) = read_json(
        introspect(
            &client,
            &node,
            Some(&tokens.access_token),
            Some((CLIENT_ID, CLIENT_SECRET)),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("store_unavailable"))
    );
    env.store.restart();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        ask(&client, &node, &tokens.access_token).await["active"],
        true
    );
}
