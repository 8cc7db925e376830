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
    orders_waiting(jwt, cooldown, None).await
}

/// An orders node whose unknown-kid wait is `wait` (`None`: the default, the cooldown).
async fn orders_waiting(jwt: &TestNode, cooldown: Duration, wait: Option<Duration>) -> OrdersNode {
    let mut config = config(Mode::Jwks);
    config.jwks_url = Some(jwt.url("/.well-known/jwks.json"));
    config.jwks_refetch_cooldown = cooldown;
    config.jwks_unknown_kid_wait = wait;
    spawn(config).await
}

/// Rotates as an operator would: stage, activate, restart the issuer on
/// the same port with the new file. Returns the new node and the new kid.
async fn rotate(env: &TestEnv, keys: &mut KeySetFile, jwt: TestNode) -> (TestNode, String) {
    keys.stage().unwrap();
    let kid = keys.activate_staged(Duration::from_secs(600)).unwrap();
    let port = jwt.port;
    jwt.stop().await;
    (jwt_node(env, keys, port).await, kid)
}

/// A fresh access token of `user`, checked to carry `kid`.
async fn token_with_kid(client: &TestClient, jwt: &TestNode, user: &str, kid: &str) -> String {
    let (_, tokens) = client.jwt_login(&jwt.base(), user).await;
    let header = jsonwebtoken::decode_header(&tokens.access_token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(kid));
    tokens.access_token
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

/// A flood of made-up kids costs at most one fetch per cooldown, and every
/// flooding request still gets its 401 from a fetch that started after it
/// arrived: the second flood, right after the first, waits for one more
/// fetch instead of being refused on the strength of an older one.
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

    let flood_started = std::time::Instant::now();
    let mut fetched_before = 1;
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
        let fetched = orders.upstream(&client, "jwks", "ok").await;
        assert!(
            fetched > fetched_before,
            "round {round}: answered by a fetch that started after it arrived"
        );
        fetched_before = fetched;
    }
    // The bound: fetches start a cooldown apart, so over the flood's
    // duration there were at most duration / cooldown + 1 of them.
    let bound = (flood_started.elapsed().as_secs_f64() / cooldown.as_secs_f64()).floor() as u64 + 1;
    let flood_fetches = fetched_before - 1;
    assert!(
        flood_fetches <= bound,
        "{flood_fetches} fetches for 100 made-up kids in {:?}, at most {bound} allowed",
        flood_started.elapsed()
    );
    assert_eq!(orders.upstream(&client, "jwks", "error").await, 0);
}

/// The defect c14 found: trials run back to back, so the first new-key token
/// of a rotation arrived within a cooldown of the previous rotation's fetch
/// and was refused as "unknown signing key". Now it waits for the next
/// allowed fetch and gets its orders.
#[tokio::test]
async fn back_to_back_rotations_within_one_cooldown_accept_every_new_key() {
    let env = TestEnv::start().await;
    let client = TestClient::new();
    let mut keys = key_set(SigningAlgorithm::EdDsa);
    let jwt = jwt_node(&env, &keys, 0).await;
    let cooldown = Duration::from_secs(2);
    // The start-up fetch starts the cooldown; both rotations fall inside one.
    let orders = orders_for_jwt(&jwt, cooldown).await;
    let started = std::time::Instant::now();
    let (jwt, first) = rotate(&env, &mut keys, jwt).await;
    let token = token_with_kid(&client, &jwt, "bob", &first).await;
    assert_orders_of(orders.orders(&client, &token).await, "bob").await;
    let (jwt, second) = rotate(&env, &mut keys, jwt).await;
    let token = token_with_kid(&client, &jwt, "carol", &second).await;
    assert_orders_of(orders.orders(&client, &token).await, "carol").await;
    assert_eq!(
        orders.upstream(&client, "jwks", "ok").await,
        3,
        "the start-up fetch and one per rotation"
    );
    assert!(
        started.elapsed() >= cooldown,
        "the second rotation's token waited for a fetch the cooldown allowed"
    );
}

/// The requests right behind the first one with a new kid arrive while its
/// fetch is in flight: that fetch brings the key, so they use it instead of
/// waiting a cooldown for a fetch of their own.
#[tokio::test]
async fn requests_behind_the_first_new_kid_share_its_fetch() {
    let env = TestEnv::start().await;
    let client = TestClient::new();
    let mut keys = key_set(SigningAlgorithm::EdDsa);
    let jwt = jwt_node(&env, &keys, 0).await;
    let cooldown = Duration::from_secs(2);
    let orders = orders_for_jwt(&jwt, cooldown).await;
    let (jwt, kid) = rotate(&env, &mut keys, jwt).await;
    let token = token_with_kid(&client, &jwt, "bob", &kid).await;
    tokio::time::sleep(cooldown + Duration::from_millis(100)).await;

    let asked = std::time::Instant::now();
    let requests = (0..30).map(|_| {
        let (client, orders, token) = (&client, &orders, &token);
        async move { orders.orders(client, token).await.status() }
    });
    let statuses = futures::future::join_all(requests).await;
    assert!(
        statuses.iter().all(|s| *s == reqwest::StatusCode::OK),
        "{statuses:?}"
    );
    assert!(asked.elapsed() < cooldown, "none waited for a second fetch");
    assert_eq!(orders.upstream(&client, "jwks", "ok").await, 2);
}

/// A made-up kid spends the fetch the cooldown allows just before a real
/// rotation; the first real new-key token must not inherit its "unknown".
#[tokio::test]
async fn a_bogus_kid_just_before_a_rotation_does_not_refuse_the_new_key() {
    let env = TestEnv::start().await;
    let client = TestClient::new();
    let mut keys = key_set(SigningAlgorithm::EdDsa);
    let jwt = jwt_node(&env, &keys, 0).await;
    let cooldown = Duration::from_secs(2);
    let orders = orders_for_jwt(&jwt, cooldown).await;
    tokio::time::sleep(cooldown + Duration::from_millis(100)).await;

    assert_unauthorized(orders.orders(&client, &with_kid("made-up")).await).await;
    assert_eq!(orders.upstream(&client, "jwks", "ok").await, 2);
    let (jwt, kid) = rotate(&env, &mut keys, jwt).await;
    let token = token_with_kid(&client, &jwt, "bob", &kid).await;
    assert_orders_of(orders.orders(&client, &token).await, "bob").await;
    assert_eq!(orders.upstream(&client, "jwks", "ok").await, 3);
}

/// With a wait shorter than what is left of the cooldown, the new-key token
/// cannot be checked in time: 503 with the seconds until a fetch is
/// allowed, no fetch made, and after that long the same token is accepted.
#[tokio::test]
async fn a_wait_shorter_than_the_cooldown_answers_503_with_retry_after() {
    let env = TestEnv::start().await;
    let client = TestClient::new();
    let mut keys = key_set(SigningAlgorithm::EdDsa);
    let jwt = jwt_node(&env, &keys, 0).await;
    let cooldown = Duration::from_secs(3);
    let orders = orders_waiting(&jwt, cooldown, Some(Duration::from_millis(200))).await;
    let (jwt, kid) = rotate(&env, &mut keys, jwt).await;
    let token = token_with_kid(&client, &jwt, "bob", &kid).await;

    let asked = std::time::Instant::now();
    let response = orders.orders(&client, &token).await;
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("a Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_unavailable(response).await;
    assert!(asked.elapsed() < Duration::from_secs(1), "bounded wait");
    assert!((1..=3).contains(&retry_after), "{retry_after}");
    assert_eq!(orders.upstream(&client, "jwks", "ok").await, 1, "no fetch");
    assert_eq!(
        orders
            .counter(
                &client,
                "orders_requests_total",
                &[("mode", "jwks"), ("outcome", "unavailable")]
            )
            .await,
        1
    );

    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    assert_orders_of(orders.orders(&client, &token).await, "bob").await;
    assert_eq!(orders.upstream(&client, "jwks", "ok").await, 2);
}
