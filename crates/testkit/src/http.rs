//! The HTTP client tests use: [`authlab_client`]'s, plus a JSON shorthand.
//!
//! The client keeps credentials explicit (no cookie jar), so a test can
//! carry a cookie from one node to another on purpose; it is a crate of its
//! own because the lab's experiments use it too. Tests know it by its old
//! name, [`TestClient`].

use authlab_core::wire::ErrorBody;
use reqwest::{Response, StatusCode};
use serde::de::DeserializeOwned;

pub use authlab_client::{node_of, session_cookie, ApiClient as TestClient, Credential};

/// Status and decoded JSON body; panics with the body if it is not the expected JSON.
pub async fn json<T: DeserializeOwned>(response: Response) -> (StatusCode, T) {
    let status = response.status();
    let text = response.text().await.expect("response body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("body is not the expected JSON ({e}): {text}"));
    (status, body)
}

/// Status and error body; panics if the body is not the JSON error both stacks send.
pub async fn error_of(response: Response) -> (StatusCode, ErrorBody) {
    json(response).await
}

/// Asserts the answer every stack gives while its store refuses to serve:
/// `503 store_unavailable` with a `Retry-After`.
pub async fn assert_store_unavailable(response: Response, what: &str) {
    let retry_after = response.headers().get("retry-after").cloned();
    let (status, body): (_, serde_json::Value) = json(response).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("store_unavailable")),
        "{what}: {body}"
    );
    assert!(retry_after.is_some(), "{what}: 503 without Retry-After");
}
