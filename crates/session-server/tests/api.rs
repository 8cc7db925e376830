//! Every route's success path and its client-error paths, on one node with a
//! real Redis. The bad input both stacks answer alike (malformed logins,
//! wrong passwords, unknown routes, invalid role changes) is checked on both:
//! `tests/shared.rs`.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use authlab_core::{
    api::{MeResponse, OrdersResponse},
    directory::DEMO_PASSWORD,
    wire::SESSION_COOKIE,
};
use reqwest::StatusCode;
use serde_json::json;
use testkit::{
    http::{error_of, json as read_json, node_of, session_cookie},
    Credential, TestClient, TestEnv,
};

#[tokio::test]
async fn health_names_the_node_and_ready_checks_both_stores() {
    let env = TestEnv::start().await;
    let node = env
        .spawn_node_with(|c| c.node.node_id = Some("s1".into()))
        .await;
    let client = TestClient::new();

    let response = client.get(&node.url("/health"), None).await;
    assert_eq!(node_of(&response), "s1");
    let (status, body): (_, serde_json::Value) = read_json(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["node"], "s1");

    let (status, body): (_, serde_json::Value) =
        read_json(client.get(&node.url("/ready"), None).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["checks"]["session_store"], "ok");
    assert_eq!(body["checks"]["user_directory"], "ok");
}

#[tokio::test]
async fn login_sets_a_hardened_cookie_and_me_orders_answer_for_the_user() {
    let env = TestEnv::start().await;
    let node = env.spawn_node().await;
    let client = TestClient::new();

    let response = client
        .login_response(&node.base(), "alice", DEMO_PASSWORD)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(
        !set_cookie.contains("Secure"),
        "plain-HTTP node must not mark the cookie Secure"
    );
    let cookie = Credential::Cookie(session_cookie(&response, SESSION_COOKIE).unwrap());

    let (status, me): (_, MeResponse) =
        read_json(client.get(&node.url("/me"), Some(&cookie)).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me.user, "alice");
    assert_eq!(me.roles, vec!["user"]);
    assert_eq!(me.node, node.node);

    let (status, orders): (_, OrdersResponse) =
        read_json(client.get(&node.url("/orders"), Some(&cookie)).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(orders.user, "alice");
    assert_eq!(orders.orders.len(), 5);
}

#[tokio::test]
async fn secure_cookie_flag_is_set_when_configured() {
    let env = TestEnv::start().await;
    let node = env.spawn_node_with(|c| c.secure_cookie = true).await;
    let response = TestClient::new()
        .login_response(&node.base(), "bob", DEMO_PASSWORD)
        .await;
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(set_cookie.contains("Secure"), "{set_cookie}");
}

/// `Secure` is the --secure-cookie flag, decided once for the node: not
/// even a trusted proxy's `X-Forwarded-Proto` moves it, in either direction.
#[tokio::test]
async fn forwarded_headers_never_decide_the_secure_attribute() {
    let env = TestEnv::start().await;
    let client = reqwest::Client::new();
    for secure in [false, true] {
        for trusted in [vec![], vec!["127.0.0.1".parse().unwrap()]] {
            let node = env
                .spawn_node_with(|c| {
                    c.secure_cookie = secure;
                    c.node.trusted_proxies = trusted.clone();
                })
                .await;
            for proto in ["http", "https"] {
                let response = client
                    .post(node.url("/login"))
                    .header("x-forwarded-proto", proto)
                    .header("forwarded", format!("proto={proto}"))
                    .json(&json!({"username": "alice", "password": DEMO_PASSWORD}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                let set_cookie = response.headers()["set-cookie"].to_str().unwrap();
                assert_eq!(
                    set_cookie.contains("Secure"),
                    secure,
                    "--secure-cookie {secure}, trusted {trusted:?}, proto {proto}: {set_cookie}"
                );
            }
            node.stop().await;
        }
    }
}

#[tokio::test]
async fn missing_garbled_and_forged_cookies_are_401() {
    let env = TestEnv::start().await;
    let node = env.spawn_node().await;
    let client = TestClient::new();
    let valid = client.session_login(&node.base(), "alice").await;
    let Credential::Cookie(valid_pair) = &valid else {
        unreachable!()
    };

    let (status, body) = error_of(client.get(&node.url("/me"), None).await).await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::UNAUTHORIZED, "no_session")
    );

    let cookie_name = SESSION_COOKIE;
    let mut tampered = valid_pair.clone();
    tampered.pop();
    tampered.push(if valid_pair.ends_with('A') { 'B' } else { 'A' });
    for cookie in [
        format!("{cookie_name}=garbage"),
        format!("{cookie_name}="),
        format!("{cookie_name}=%%%%"),
        tampered,
        format!("{cookie_name}={}", "A".repeat(5000)),
    ] {
        let (status, body) = error_of(
            client
                .get(&node.url("/me"), Some(&Credential::Cookie(cookie.clone())))
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "cookie {cookie:.60}");
        assert_eq!(body.error, "no_session");
    }
}

#[tokio::test]
async fn admin_stats_needs_the_admin_role() {
    let env = TestEnv::start().await;
    let node = env.spawn_node().await;
    let client = TestClient::new();
    let alice = client.session_login(&node.base(), "alice").await;
    let carol = client.session_login(&node.base(), "carol").await;

    let (status, body) = error_of(client.get(&node.url("/admin/stats"), Some(&alice)).await).await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );

    let (status, stats): (_, serde_json::Value) =
        read_json(client.get(&node.url("/admin/stats"), Some(&carol)).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stats["stack"], "session");
    assert_eq!(stats["node"], node.node.as_str());

    let (status, _) = error_of(client.get(&node.url("/admin/stats"), None).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn login_renews_the_session_id() {
    let env = TestEnv::start().await;
    let node = env.spawn_node().await;
    let client = TestClient::new();
    let first = client.session_login(&node.base(), "alice").await;
    let Credential::Cookie(first_pair) = &first else {
        unreachable!()
    };

    // Log in again while presenting the old cookie (as a fixation attack would).
    let response = client
        .raw()
        .post(node.url("/login"))
        .header("cookie", first_pair.clone())
        .json(&json!({"username": "bob", "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let second = Credential::Cookie(session_cookie(&response, SESSION_COOKIE).unwrap());
    assert_ne!(first, second, "a login must issue a new session id");

    let (status, _) = error_of(client.get(&node.url("/me"), Some(&first)).await).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the pre-login id must be dead"
    );
    let (_, me): (_, MeResponse) =
        read_json(client.get(&node.url("/me"), Some(&second)).await).await;
    assert_eq!(me.user, "bob");
}

#[tokio::test]
async fn metrics_count_requests_per_route_and_store_round_trips() {
    let env = TestEnv::start().await;
    let node = env.spawn_node().await;
    let client = TestClient::new();
    let alice = client.session_login(&node.base(), "alice").await;
    for _ in 0..3 {
        assert_eq!(
            client.get(&node.url("/me"), Some(&alice)).await.status(),
            StatusCode::OK
        );
    }
    let text = client
        .get(&node.url("/metrics"), None)
        .await
        .text()
        .await
        .unwrap();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("authlab_http_requests_total")
                && l.contains("endpoint=\"/me\"")
                && l.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no /me counter in:\n{text}"));
    assert!(line.ends_with(" 3"), "{line}");
    assert!(
        text.contains("authlab_store_round_trip_seconds_count{"),
        "store histogram missing"
    );
    assert!(
        text.contains("authlab_logins_total{"),
        "login counter missing"
    );
    // One store operation per authenticated request: 3 /me + login's save (and its pipeline).
    let session_ops: f64 = text
        .lines()
        .find(|l| {
            l.starts_with("authlab_store_round_trip_seconds_count") && l.contains("session_store")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .expect("session store round trips");
    assert_eq!(session_ops, 4.0, "login = 1 write, each /me = 1 GETEX");
}
