//! A cluster as deployed: TLS ends at HAProxy, which offers HTTP/2 in ALPN
//! and speaks HTTP/1.1 to the nodes.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use lab::{tls::Frontend, Cluster, ClusterSpec, OrdersVariant, Stack};
use lab::{Engine, Local};
use reqwest::{header::SET_COOKIE, StatusCode, Version};
use serde_json::{json, Value};

const PASSWORD: &str = authlab_core::directory::DEMO_PASSWORD;

async fn tls_cluster(h2: bool) -> Box<dyn Cluster> {
    let mut spec = ClusterSpec::new(env!("CARGO_BIN_EXE_authlab").into());
    spec.nodes = 1;
    spec.seed_users = 0;
    spec.alg = jwt_server::SigningAlgorithm::Es256;
    spec.orders = vec![OrdersVariant::Jwks, OrdersVariant::Introspection];
    spec.frontend = Frontend { tls: true, h2 };
    Local.start(spec).await.unwrap()
}

async fn login(client: &reqwest::Client, url: &str) -> reqwest::Response {
    client
        .post(url)
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
}

/// Status and HTTP version of `GET url` with a bearer token.
async fn bearer_get(client: &reqwest::Client, url: &str, token: &str) -> (StatusCode, Version) {
    let response = client.get(url).bearer_auth(token).send().await.unwrap();
    (response.status(), response.version())
}

#[tokio::test]
async fn both_stacks_answer_over_tls_and_alpn_picks_h2() {
    let cluster = tls_cluster(true).await;
    let session = cluster.url(Stack::Session, "").unwrap();
    let jwt = cluster.url(Stack::Jwt, "").unwrap();
    assert!(session.starts_with("https://") && jwt.starts_with("https://"));
    let client = cluster.client_builder().unwrap().build().unwrap();

    // Session stack: the cookie is Secure because the client's side is TLS.
    let response = login(&client, &format!("{session}/login")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), Version::HTTP_2);
    let cookie = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("authlab_session="))
        .unwrap();
    assert!(
        cookie.split(';').any(|attr| attr.trim() == "Secure"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    let me = client
        .get(format!("{session}/me"))
        .header(reqwest::header::COOKIE, pair)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (me.status(), me.version()),
        (StatusCode::OK, Version::HTTP_2)
    );

    // JWT stack.
    let body: Value = login(&client, &format!("{jwt}/login"))
        .await
        .json()
        .await
        .unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        bearer_get(&client, &format!("{jwt}/me"), &token).await,
        (StatusCode::OK, Version::HTTP_2)
    );

    // The orders services reach the stacks through the TLS frontends too:
    // they trust the cluster's CA, and nothing else.
    let orders = cluster.orders_url(OrdersVariant::Jwks, "/orders").unwrap();
    assert_eq!(bearer_get(&client, &orders, &token).await.0, StatusCode::OK);

    // ALPN offers HTTP/1.1 as well, for clients that want it.
    let h1 = cluster
        .client_builder()
        .unwrap()
        .http1_only()
        .build()
        .unwrap();
    assert_eq!(
        bearer_get(&h1, &format!("{jwt}/me"), &token).await,
        (StatusCode::OK, Version::HTTP_11)
    );

    // The certificate is the cluster's own: a client that does not trust
    // its CA refuses it.
    let stranger = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    let refused = stranger.get(format!("{jwt}/health")).send().await;
    assert!(refused.is_err(), "{refused:?}");
    cluster.shutdown();
}

#[tokio::test]
async fn without_h2_alpn_offers_only_http_1_1_and_clear_text_keeps_cookies_plain() {
    let cluster = tls_cluster(false).await;
    let client = cluster.client_builder().unwrap().build().unwrap();
    let health = client
        .get(cluster.url(Stack::Jwt, "/health").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        (health.status(), health.version()),
        (StatusCode::OK, Version::HTTP_11)
    );
    cluster.shutdown();

    let mut spec = ClusterSpec::new(env!("CARGO_BIN_EXE_authlab").into());
    spec.nodes = 1;
    spec.seed_users = 0;
    spec.stacks = vec![Stack::Session];
    let clear = Local.start(spec).await.unwrap();
    assert!(clear.ca_pem().is_none());
    let response = login(
        &reqwest::Client::new(),
        &clear.url(Stack::Session, "/login").unwrap(),
    )
    .await;
    let cookie = response
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(!cookie.contains("Secure"), "{cookie}");
    clear.shutdown();
}

#[test]
fn h2_without_tls_is_refused_before_anything_starts() {
    let mut spec = ClusterSpec::new(env!("CARGO_BIN_EXE_authlab").into());
    spec.frontend = Frontend {
        tls: false,
        h2: true,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let error = runtime.block_on(Local.start(spec)).err().unwrap();
    assert!(error.to_string().contains("needs --tls"), "{error}");
}
