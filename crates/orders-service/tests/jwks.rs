//! JWKS mode against a real JWT node: local verification, key caching,
//! rotation, and a refetch budget an attacker cannot spend.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use common::{
    assert_orders_of, assert_unauthorized, assert_unavailable, config, spawn, OrdersNode,
};
use jwt_server::{keys::KeySetFile, tokens::now_unix, SigningAlgorithm};
use orders_service::Mode;
use testkit::{
    nodes::{key_set, signed_with, spawn_jwt_node},
    TestClient, TestEnv, TestNode,
};

async fn jwt_node(env: &TestEnv, keys: &KeySetFile, port: u16) -> TestNode {
    let mut config = env.jwt_config_for(keys);
    config.node.port = port;
    spawn_jwt_node(config).await
}

async fn orders_for_jwt(jwt: &TestNode, cooldown: Duration) -> OrdersNode {
    let mut config = config(Mode::Jwks);
    config.jwks_url = Some(jwt.url("/.well-known/jwks.json"));
    config.jwks_refetch_cooldown = cooldown;
    spawn(config).await
}

#[tokio::test]
async fn a_valid_token_gets_the_users_orders_eddsa_and_es256() {
    let env = TestEnv::start().await;
    let client = TestClient::new();
    for alg in [SigningAlgorithm::EdDsa, SigningAlgorithm::Es256] {
        let jwt = jwt_node(&env, &key_set(alg), 0).await;
        let orders = orders_for_jwt(&jwt, Duration::from_secs(5)).await;
        let (_, tokens) = client.jwt_login(&jwt.base(), "alice").await;
        let response = orders.orders(&client, &tokens.access_token).await;
        assert_eq!(testkit::http::node_of(&response), "orders-1");
        assert_orders_of(response, "alice").await;
        let (_, tokens) = client.jwt_login(&jwt.base(), "bob").await;
        assert_orders_of(orders.orders(&client, &tokens.access_token).await, "bob").await;
        assert_eq!(
            orders.upstream(&client, "jwks", "ok").await,
            1,
            "{alg}: one fetch, then none per request"
        );
        assert_eq!(
            orders
                .counter(
                    &client,
                    "orders_requests_total",
                    &[("mode", "jwks"), ("outcome", "ok")]
                )
                .await,
            2
        );
    }
}

#[tokio::test]
async fn tampered_expired_misaddressed_and_unsigned_tokens_are_401() {
    let env = TestEnv::start().await;
    let client = TestClient::new();
    let keys = key_set(SigningAlgorithm::EdDsa);
    let jwt = jwt_node(&env, &keys, 0).await;
    let orders = orders_for_jwt(&jwt, Duration::from_secs(5)).await;
    let (_, tokens) = client.jwt_login(&jwt.base(), "alice").await;
    let genuine = tokens.access_token;

    let (message, signature) = genuine.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{message}.{flipped}{}", &signature[1..]);
    let (header, payload) = message.split_once('.').unwrap();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["sub"] = "mallory".into();
    let other_sub = format!(
        "{header}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let kid = jsonwebtoken::decode_header(&genuine).unwrap().kid.unwrap();
    let none = format!(
        "{}.{payload}.",
        URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","typ":"at+jwt","kid":"{kid}"}}"#))
    );
    let hs256 = format!(
        "{}.{payload}.{signature}",
        URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"HS256","typ":"at+jwt","kid":"{kid}"}}"#))
    );
    let cases = [
        ("tampered signature", tampered),
        ("payload swapped", other_sub),
        ("expired", signed_with(&keys, |c| c.exp = now_unix() - 60)),
        (
            "wrong audience",
            signed_with(&keys, |c| c.aud = "elsewhere".into()),
        ),
        (
            "wrong issuer",
            signed_with(&keys, |c| c.iss = "evil".into()),
        ),
        ("alg none", none),
        ("alg HS256 on an EdDSA key", hs256),
        ("garbage", "garbage".into()),
    ];
    for (what, token) in cases {
        assert_eq!(
            assert_unauthorized(orders.orders(&client, &token).await).await,
            "invalid_token",
            "{what}"
        );
    }
    let missing = client.get(&orders.url("/orders"), None).await;
    assert_eq!(assert_unauthorized(missing).await, "missing_token");
    assert_orders_of(orders.orders(&client, &genuine).await, "alice").await;
}

#[tokio::test]
async fn cached_keys_keep_verifying_with_the_issuer_down() {
    let env = TestEnv::start().await;
    let client = TestClient::new();
    let jwt = jwt_node(&env, &key_set(SigningAlgorithm::Es256), 0).await;
    let orders = orders_for_jwt(&jwt, Duration::from_millis(100)).await;
    let (_, tokens) = client.jwt_login(&jwt.base(), "alice").await;
    jwt.stop().await;

    for _ in 0..3 {
        assert_orders_of(orders.orders(&client, &tokens.access_token).await, "alice").await;
    }
    assert_eq!(
        orders.upstream(&client, "jwks", "error").await,
        0,
        "no call needed"
    );
}

/// A token with a kid the cache does not know, while the issuer is down:
/// the refetch fails (twice: a fetch that got no answer is retried once),
/// so the service cannot tell a new key from a forged kid and says 503, not
/// 401. Once the issuer answers, the same kind of token gets its 401.
#[tokio::test]
async fn an_unknown_kid_the_issuer_could_not_be_asked_about_is_503() {
    let env = TestEnv::start().await;
    let client = TestClient::new();
    let keys = key_set(SigningAlgorithm::Es256);
    let jwt = jwt_node(&env, &keys, 0).await;
    let port = jwt.port;
    let orders = orders_for_jwt(&jwt, Duration::from_millis(50)).await;
    let (_, tokens) = client.jwt_login(&jwt.base(), "alice").await;
    assert_orders_of(orders.orders(&client, &tokens.access_token).await, "alice").await;
    jwt.stop().await;
    // Past the cooldown of the fetch the service made at start-up.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let stranger = signed_with(&key_set(SigningAlgorithm::Es256), |_| {});
    assert_unavailable(orders.orders(&client, &stranger).await).await;
    assert_eq!(
        orders.upstream(&client, "jwks", "error").await,
        2,
        "a fetch that got no answer is tried once more"
    );

    let _jwt = jwt_node(&env, &keys, port).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_unauthorized(orders.orders(&client, &stranger).await).await;
    assert_orders_of(orders.orders(&client, &tokens.access_token).await, "alice").await;
}

#[tokio::test]
async fn a_node_that_never_got_keys_answers_503_not_401() {
    let client = TestClient::new();
    let mut config = config(Mode::Jwks);
    config.jwks_url = Some(format!(
        "http://127.0.0.1:{}/.well-known/jwks.json",
        testkit::redis::free_port()
    ));
    config.jwks_refetch_cooldown = Duration::from_millis(50);
    let orders = spawn(config).await;
    let token = signed_with(&key_set(SigningAlgorithm::EdDsa), |_| {});
    assert_unavailable(orders.orders(&client, &token).await).await;
    assert_eq!(
        client.get(&orders.url("/ready"), None).await.status(),
        reqwest::StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_with_exactly_one_refetch() {
    let env = TestEnv::start().await;
    let client = TestClient::new();
    let mut keys = key_set(SigningAlgorithm::EdDsa);
    let jwt = jwt_node(&env, &keys, 0).await;
    let port = jwt.port;
    let cooldown = Duration::from_millis(300);
    let orders = orders_for_jwt(&jwt, cooldown).await;
    let (_, old) = client.jwt_login(&jwt.base(), "alice").await;
    assert_orders_of(orders.orders(&client, &old.access_token).await, "alice").await;
    assert_eq!(orders.upstream(&client, "jwks", "ok").await, 1);

    // Rotate, as an operator would: stage, activate, restart the issuer with the new file.
    keys.stage().unwrap();
    let new_kid = keys.activate_staged(Duration::from_secs(600)).unwrap();
    jwt.stop().await;
    let jwt = jwt_node(&env, &keys, port).await;
    tokio::time::sleep(cooldown + Duration::from_millis(50)).await;

    let (_, new) = client.jwt_login(&jwt.base(), "bob").await;
    assert_eq!(
        jsonwebtoken::decode_header(&new.access_token)
            .unwrap()
            .kid
            .unwrap(),
        new_kid
    );
    assert_orders_of(orders.orders(&client, &new.access_token).await, "bob").await;
    assert_orders_of(orders.orders(&client, &new.access_token).await, "bob").await;
    assert_orders_of(orders.orders(&client, &old.access_token).await, "alice").await;
    assert_eq!(
        orders.upstream(&client, "jwks", "ok").await,
        2,
        "exactly one refetch, for the unknown kid"
    );
}

/// A token whose header names `kid` (signature garbage: it never gets that far).
fn with_kid(kid: &str) -> String {
    format!(
        "{}.{}.c2ln",
        URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{kid}"}}"#)),
        URL_SAFE_NO_PAD.encode(r#"{"sub":"alice"}"#)
    )
}

#[tokio::test]
async fn a_flood_of_unknown_kids_refetches_at_most_once_per_cooldown() {
    let env = TestEnv::start().await;
    let client = TestClient::new();
    let jwt = jwt_node(&env, &key_set(SigningAlgorithm::EdDsa), 0).await;
    let cooldown = Duration::from_secs(2);
    let orders = orders_for_jwt(&jwt, cooldown).await;
    assert_eq!(
        orders.upstream(&client, "jwks", "ok").await,
        1,
        "the start-up fetch"
    );
    tokio::time::sleep(cooldown + Duration::from_millis(100)).await;

    for round in 0..2 {
        let requests = (0..50).map(|i| {
            let token = with_kid(&format!("made-up-{round}-{i}"));
            let (client, orders) = (&client, &orders);
            async move { orders.orders(client, &token).await.status() }
        });
        let statuses = futures::future::join_all(requests).await;
        assert!(
            statuses
                .iter()
                .all(|s| *s == reqwest::StatusCode::UNAUTHORIZED),
            "{statuses:?}"
        );
        assert_eq!(
            orders.upstream(&client, "jwks", "ok").await,
            2,
            "round {round}: one refetch shared by the first flood, none for the second"
        );
    }
}
