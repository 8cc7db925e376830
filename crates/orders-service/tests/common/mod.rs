//! Orders nodes inside the test process, like testkit's auth nodes.

#![allow(dead_code)] // each test file uses its own share of the helpers

use std::time::Duration;

use actix_web::dev::ServerHandle;
use authlab_core::api::OrdersResponse;
use orders_service::{Application, Mode, OrdersConfig};
use reqwest::{Response, StatusCode};
use testkit::{Credential, TestClient};

pub const CLIENT_ID: &str = "orders";
pub const CLIENT_SECRET: &str = "orders-secret-0123456789";

pub struct OrdersNode {
    pub port: u16,
    handle: ServerHandle,
}

impl OrdersNode {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `GET /orders` with `Authorization: Bearer <token>`.
    pub async fn orders(&self, client: &TestClient, token: &str) -> Response {
        client
            .get(
                &self.url("/orders"),
                Some(&Credential::Bearer(token.into())),
            )
            .await
    }

    /// The value of one counter sample: the line of `name` whose labels
    /// include every `key="value"` of `labels` (0 when absent).
    pub async fn counter(&self, client: &TestClient, name: &str, labels: &[(&str, &str)]) -> u64 {
        let text = client
            .get(&self.url("/metrics"), None)
            .await
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|line| {
                line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} "))
            })
            .find(|line| {
                labels
                    .iter()
                    .all(|(k, v)| line.contains(&format!("{k}=\"{v}\"")))
            })
            .and_then(|line| line.rsplit_once(' '))
            .map_or(0, |(_, value)| value.parse::<f64>().unwrap() as u64)
    }

    pub async fn upstream(&self, client: &TestClient, kind: &str, outcome: &str) -> u64 {
        self.counter(
            client,
            "orders_upstream_requests_total",
            &[("kind", kind), ("outcome", outcome)],
        )
        .await
    }
}

impl Drop for OrdersNode {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

pub fn config(mode: Mode) -> OrdersConfig {
    let mut config = OrdersConfig::local(mode);
    config.upstream_timeout = Duration::from_millis(500);
    config
}

pub async fn spawn(config: OrdersConfig) -> OrdersNode {
    let app = Application::build(config)
        .await
        .expect("orders node starts");
    let node = OrdersNode {
        port: app.port(),
        handle: app.handle(),
    };
    tokio::spawn(app.run_until_stopped());
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", node.port))
            .await
            .is_ok()
        {
            return node;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("orders node never listened");
}

/// Asserts a 200 with `user`'s orders.
pub async fn assert_orders_of(response: Response, user: &str) {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    let body: OrdersResponse = serde_json::from_str(&text).unwrap();
    assert_eq!(body.user, user);
    assert_eq!(body.orders, authlab_core::api::orders_for(user));
}

/// Asserts a 401 with a JSON error and a Bearer challenge; returns the error code.
pub async fn assert_unauthorized(response: Response) -> String {
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    body["error"].as_str().unwrap().to_owned()
}

/// Asserts a 503 with a JSON error.
pub async fn assert_unavailable(response: Response) {
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        (status, body["error"].as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("upstream_unavailable")
        ),
        "{body}"
    );
}
