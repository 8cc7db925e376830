//! An HTTP client for tests that keeps credentials explicit.
//!
//! A browser's cookie jar would send the session cookie to every
//! `127.0.0.1` port, hiding which node saw which credential. Here a login
//! returns a [`Credential`] and each request says which one it carries.

use authlab_core::{api::LoginRequest, directory::DEMO_PASSWORD, http::NODE_HEADER};
use reqwest::{Method, Response, StatusCode};
use serde::de::DeserializeOwned;

/// What a client presents after logging in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// `name=value` of the session cookie.
    Cookie(String),
    /// A bearer token.
    Bearer(String),
}

impl Credential {
    fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Credential::Cookie(cookie) => request.header("cookie", cookie),
            Credential::Bearer(token) => request.bearer_auth(token),
        }
    }
}

/// The session cookie (`name=value`) a response sets, if any.
pub fn session_cookie(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .find(|pair| pair.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// The node that answered.
pub fn node_of(response: &Response) -> String {
    response
        .headers()
        .get(NODE_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// A reqwest client without a cookie store, plus shortcuts.
#[derive(Clone)]
pub struct TestClient {
    inner: reqwest::Client,
}

impl Default for TestClient {
    fn default() -> Self {
        Self::new()
    }
}

impl TestClient {
    pub fn new() -> Self {
        Self {
            inner: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .expect("reqwest client"),
        }
    }

    pub fn raw(&self) -> &reqwest::Client {
        &self.inner
    }

    pub async fn request(
        &self,
        method: Method,
        url: &str,
        credential: Option<&Credential>,
        body: Option<&serde_json::Value>,
    ) -> Response {
        let mut request = self.inner.request(method, url);
        if let Some(credential) = credential {
            request = credential.apply(request);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request
            .send()
            .await
            .expect("request reaches the test server")
    }

    pub async fn get(&self, url: &str, credential: Option<&Credential>) -> Response {
        self.request(Method::GET, url, credential, None).await
    }

    pub async fn post(
        &self,
        url: &str,
        credential: Option<&Credential>,
        body: Option<&serde_json::Value>,
    ) -> Response {
        self.request(Method::POST, url, credential, body).await
    }

    /// `POST {base}/login`; the raw response, for tests of login itself.
    pub async fn login_response(&self, base: &str, username: &str, password: &str) -> Response {
        self.inner
            .post(format!("{base}/login"))
            .json(&LoginRequest {
                username: username.into(),
                password: password.into(),
            })
            .send()
            .await
            .expect("login request reaches the test server")
    }

    /// Logs a demo user in on a session node and returns its cookie.
    pub async fn session_login(&self, base: &str, username: &str) -> Credential {
        let response = self.login_response(base, username, DEMO_PASSWORD).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "login of {username} failed"
        );
        let cookie = session_cookie(&response, session_server::COOKIE_NAME)
            .expect("a successful login sets the session cookie");
        Credential::Cookie(cookie)
    }
}

impl TestClient {
    /// Logs a demo user in on a JWT node; returns the bearer credential and the whole token response.
    pub async fn jwt_login(
        &self,
        base: &str,
        username: &str,
    ) -> (Credential, jwt_server::routes::TokenResponse) {
        let response = self.login_response(base, username, DEMO_PASSWORD).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "login of {username} failed"
        );
        let tokens: jwt_server::routes::TokenResponse =
            response.json().await.expect("token response");
        (Credential::Bearer(tokens.access_token.clone()), tokens)
    }

    /// `POST {base}/token/refresh`.
    pub async fn refresh(&self, base: &str, refresh_token: &str) -> Response {
        self.inner
            .post(format!("{base}/token/refresh"))
            .json(&serde_json::json!({ "refresh_token": refresh_token }))
            .send()
            .await
            .expect("refresh request reaches the test server")
    }
}

/// Status and decoded JSON body.
pub async fn json<T: DeserializeOwned>(response: Response) -> (StatusCode, T) {
    let status = response.status();
    let text = response.text().await.expect("response body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("body is not the expected JSON ({e}): {text}"));
    (status, body)
}
