//! `POST /introspect` (RFC 7662) on the session server, against a real Redis:
//! what another service learns about a cookie, and that asking changes nothing.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::Duration;

use actix_web::cookie::{Cookie, CookieJar, Key};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use testkit::{http::json as read_json, redis::command, Credential, TestClient, TestEnv, TestNode};

const CLIENT_ID: &str = "orders";
const CLIENT_SECRET: &str = "orders-secret-0123456789";

async fn node(env: &TestEnv) -> TestNode {
    env.spawn_node_with(|config| {
        config.introspection_client = Some(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    })
    .await
}

/// The cookie's value exactly as the server set it.
fn token(credential: &Credential) -> String {
    match credential {
        Credential::Cookie(cookie) => cookie.split_once('=').unwrap().1.to_owned(),
        Credential::Bearer(_) => panic!("not a session"),
    }
}

/// The store key of a session: the signed value ends with the 64-character id.
fn store_key(credential: &Credential) -> String {
    let value = token(credential);
    format!("authlab:session:{}", &value[value.len() - 64..])
}

async fn introspect(
    client: &TestClient,
    node: &TestNode,
    form: &[(&str, &str)],
    auth: Option<(&str, &str)>,
) -> Response {
    let mut request = client.raw().post(node.url("/introspect")).form(form);
    if let Some((id, secret)) = auth {
        request = request.basic_auth(id, Some(secret));
    }
    request.send().await.unwrap()
}

async fn ask(client: &TestClient, node: &TestNode, token: &str) -> Value {
    let response = introspect(
        client,
        node,
        &[("token", token)],
        Some((CLIENT_ID, CLIENT_SECRET)),
    )
    .await;
    assert_eq!(
        response.headers()["cache-control"],
        "no-store",
        "introspection answers are never cached"
    );
    let (status, body): (_, Value) = read_json(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn a_live_session_is_active_with_its_user_and_deadlines() {
    let env = TestEnv::start().await;
    let node = node(&env).await;
    let client = TestClient::new();
    let alice = client.session_login(&node.base(), "alice").await;

    let body = ask(&client, &node, &token(&alice)).await;
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["name"], "Alice");
    assert_eq!(body["roles"], serde_json::json!(["user"]));
    assert_eq!(body["token_type"], "session");
    assert_eq!(body["node"], node.node.as_str());
    let (exp, iat) = (body["exp"].as_u64().unwrap(), body["iat"].as_u64().unwrap());
    assert!(iat <= now() && iat + 5 >= now(), "iat is the login: {body}");
    // The idle TTL (30 min) comes before the absolute one (12 h).
    assert!(
        exp > now() + 25 * 60 && exp <= now() + 30 * 60 + 1,
        "{body}"
    );

    let metrics = client
        .get(&node.url("/metrics"), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("introspection_requests_total{") && metrics.contains("result=\"active\""),
        "{metrics}"
    );
}

#[tokio::test]
async fn logged_out_forged_tampered_expired_and_garbage_are_inactive() {
    let env = TestEnv::start().await;
    let node = node(&env).await;
    let client = TestClient::new();

    let alice = client.session_login(&node.base(), "alice").await;
    assert_eq!(ask(&client, &node, &token(&alice)).await["active"], true);
    client.post(&node.url("/logout"), Some(&alice), None).await;
    assert_eq!(
        ask(&client, &node, &token(&alice)).await,
        serde_json::json!({"active": false}),
        "logged out, and an inactive answer says nothing more"
    );

    // Tampered: one character of the id changed, the signature kept.
    let bob = client.session_login(&node.base(), "bob").await;
    let value = token(&bob);
    let last = value.chars().last().unwrap();
    let tampered = format!(
        "{}{}",
        &value[..value.len() - 1],
        if last == 'a' { 'b' } else { 'a' }
    );
    assert_eq!(ask(&client, &node, &tampered).await["active"], false);
    // Forged: bob's id, signed with a key that is not the server's.
    let mut jar = CookieJar::new();
    jar.signed_mut(&Key::generate()).add(Cookie::new(
        "authlab_session",
        value[value.len() - 64..].to_owned(),
    ));
    let forged = jar.delta().next().unwrap().encoded().to_string();
    let forged = forged.split_once('=').unwrap().1;
    assert_eq!(ask(&client, &node, forged).await["active"], false);
    // The bare id, unsigned.
    assert_eq!(
        ask(&client, &node, &value[value.len() - 64..]).await["active"],
        false
    );
    assert_eq!(
        ask(&client, &node, &value).await["active"],
        true,
        "bob is still in"
    );

    for garbage in ["garbage", "a;b=c", "%%%", &"x".repeat(5000)] {
        assert_eq!(
            ask(&client, &node, garbage).await["active"],
            false,
            "{garbage}"
        );
    }

    // Past its absolute lifetime (login time moved back 13 h in the store):
    // inactive, as /me would say.
    let key = store_key(&bob);
    let raw: String = command(&env.store.url(0), &["GET", &key]).await;
    let mut state: serde_json::Map<String, Value> = serde_json::from_str(&raw).unwrap();
    let old = (now() - 13 * 3600) * 1000;
    state.insert("login_at_ms".into(), Value::String(old.to_string()));
    let _: () = command(
        &env.store.url(0),
        &[
            "SET",
            &key,
            &serde_json::to_string(&state).unwrap(),
            "KEEPTTL",
        ],
    )
    .await;
    assert_eq!(ask(&client, &node, &value).await["active"], false);
    assert_eq!(
        client.get(&node.url("/me"), Some(&bob)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_idle_expired_session_is_inactive() {
    let env = TestEnv::start().await;
    let node = env
        .spawn_node_with(|config| {
            config.introspection_client = Some(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
            config.idle_ttl = Duration::from_millis(400);
        })
        .await;
    let client = TestClient::new();
    let alice = client.session_login(&node.base(), "alice").await;
    assert_eq!(ask(&client, &node, &token(&alice)).await["active"], true);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(ask(&client, &node, &token(&alice)).await["active"], false);
}

async fn assert_invalid_client(response: Response) {
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

#[tokio::test]
async fn without_the_client_credentials_the_answer_is_401_and_without_a_token_400() {
    let env = TestEnv::start().await;
    let node = node(&env).await;
    let client = TestClient::new();
    let alice = client.session_login(&node.base(), "alice").await;
    let form = [("token", token(&alice))];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();

    assert_invalid_client(introspect(&client, &node, &form, None).await).await;
    assert_invalid_client(
        introspect(
            &client,
            &node,
            &form,
            Some((CLIENT_ID, "wrong-secret-0123456789")),
        )
        .await,
    )
    .await;
    assert_invalid_client(introspect(&client, &node, &form, Some(("other", CLIENT_SECRET))).await)
        .await;

    let (status, body): (_, Value) = read_json(
        introspect(
            &client,
            &node,
            &[("token_type_hint", "session")],
            Some((CLIENT_ID, CLIENT_SECRET)),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );

    // No client configured: nobody may ask, whatever they send.
    let closed = env.spawn_node().await;
    assert_invalid_client(
        introspect(&client, &closed, &form, Some((CLIENT_ID, CLIENT_SECRET))).await,
    )
    .await;

    let metrics = client
        .get(&node.url("/metrics"), None)
        .await
        .text()
        .await
        .unwrap();
    let unauthorized = metrics
        .lines()
        .find(|line| line.starts_with("introspection_requests_total{result=\"unauthorized\""))
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(unauthorized.ends_with(" 3"), "{unauthorized}");
}

#[tokio::test]
async fn introspection_does_not_extend_the_idle_ttl() {
    let env = TestEnv::start().await;
    let node = node(&env).await;
    let client = TestClient::new();
    let alice = client.session_login(&node.base(), "alice").await;
    let key = store_key(&alice);
    let pttl = || async { command::<i64>(&env.store.url(0), &["PTTL", &key]).await };

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = pttl().await;
    for _ in 0..3 {
        assert_eq!(ask(&client, &node, &token(&alice)).await["active"], true);
    }
    let after = pttl().await;
    assert!(
        after <= before,
        "introspection slid the TTL: {before} -> {after} ms"
    );
    assert!(
        before < 30 * 60 * 1000 - 1000,
        "the TTL was running: {before}"
    );

    // A real use of the session does slide it: the measurement can tell.
    client.get(&node.url("/me"), Some(&alice)).await;
    assert!(pttl().await > before + 900);
}

#[tokio::test]
async fn a_store_outage_is_503_and_heals_by_itself() {
    let mut env = TestEnv::start().await;
    let node = node(&env).await;
    let client = TestClient::new();
    let alice = client.session_login(&node.base(), "alice").await;

    env.store.stop();
    let response = introspect(
        &client,
        &node,
        &[("token", &token(&alice))],
        Some((CLIENT_ID, CLIENT_SECRET)),
    )
    .await;
    let (status, body): (_, Value) = read_json(response).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("store_unavailable")),
        "never 'inactive' for a store we cannot read"
    );

    env.store.restart();
    // Restarted without persistence: the session is gone; a new one is active.
    assert_eq!(ask(&client, &node, &token(&alice)).await["active"], false);
    let alice = client.session_login(&node.base(), "alice").await;
    assert_eq!(ask(&client, &node, &token(&alice)).await["active"], true);
}
