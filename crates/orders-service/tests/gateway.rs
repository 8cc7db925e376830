//! Gateway mode: the node decodes what the gateway verified, and refuses what
//! is not even a JWT. (That it would accept a forged one is the point of its
//! module docs: it must be reachable only through the gateway.)

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use common::{assert_orders_of, assert_unauthorized, config, spawn};
use orders_service::Mode;
use testkit::{nodes::key_set, TestClient, TestEnv};

#[tokio::test]
async fn the_payload_names_the_user_and_garbage_is_401() {
    let orders = spawn(config(Mode::Gateway)).await;
    let client = TestClient::new();

    // A real token from a real JWT node, as the gateway would forward it.
    let env = TestEnv::start().await;
    let jwt = testkit::nodes::spawn_jwt_node(
        env.jwt_config_for(&key_set(jwt_server::SigningAlgorithm::Es256)),
    )
    .await;
    let (_, tokens) = client.jwt_login(&jwt.base(), "alice").await;
    assert_orders_of(orders.orders(&client, &tokens.access_token).await, "alice").await;

    let payload = URL_SAFE_NO_PAD.encode(r#"{"sub":"bob"}"#);
    assert_orders_of(
        orders.orders(&client, &format!("x.{payload}.y")).await,
        "bob",
    )
    .await;

    for garbage in [
        "garbage",
        "a.b",
        "a.!!!.c",
        &format!("x.{}.y", URL_SAFE_NO_PAD.encode("{}")),
    ] {
        assert_eq!(
            assert_unauthorized(orders.orders(&client, garbage).await).await,
            "invalid_token",
            "{garbage}"
        );
    }
    let missing = client.get(&orders.url("/orders"), None).await;
    assert_eq!(assert_unauthorized(missing).await, "missing_token");
    assert_eq!(
        client.get(&orders.url("/health"), None).await.status(),
        reqwest::StatusCode::OK
    );
}
