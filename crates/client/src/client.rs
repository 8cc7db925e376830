//! The client itself: reqwest without a cookie store, plus the API's shortcuts.

use std::time::Duration;

use authlab_core::{
    api::LoginRequest,
    directory::DEMO_PASSWORD,
    wire::{TokenResponse, SESSION_COOKIE},
};
use reqwest::{Method, RequestBuilder, Response, StatusCode};

use crate::{response::session_cookie, Credential};

/// A reqwest client without a cookie store, with shortcuts for the calls
/// both stacks share (`/login`, `/me`, ...) and the JWT stack's refresh.
///
/// Every call expects an answer. Any HTTP status is an answer and comes back
/// as it is, for the caller to judge; a server that cannot be reached at all
/// means the set-up is broken, not that something was measured, so the
/// shortcuts panic with the method and URL instead of handing each caller an
/// error to unwrap. [`raw`](Self::raw) is the plain reqwest client for
/// requests that must handle transport failures themselves.
#[derive(Clone)]
pub struct ApiClient {
    inner: reqwest::Client,
}

impl Default for ApiClient {
    fn default() -> Self {
        Self::new()
    }
}

/// Sends `request` (`method url`); panics naming it if no answer comes back.
async fn answer(request: RequestBuilder, method: Method, url: &str) -> Response {
    request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: no answer ({e})"))
}

impl ApiClient {
    /// A client whose requests time out after 10 s.
    ///
    /// # Panics
    /// If reqwest cannot build a client at all (only a broken system would
    /// make this fail).
    pub fn new() -> Self {
        Self {
            inner: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_else(|e| panic!("building the HTTP client: {e}")),
        }
    }

    /// Wraps a client built elsewhere: one that trusts the lab's own CA
    /// when HAProxy's frontends speak TLS.
    pub fn with_client(inner: reqwest::Client) -> Self {
        Self { inner }
    }

    pub fn raw(&self) -> &reqwest::Client {
        &self.inner
    }

    /// `method url`, carrying `credential` and a JSON `body` if given.
    pub async fn request(
        &self,
        method: Method,
        url: &str,
        credential: Option<&Credential>,
        body: Option<&serde_json::Value>,
    ) -> Response {
        let mut request = self.inner.request(method.clone(), url);
        if let Some(credential) = credential {
            request = credential.apply(request);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        answer(request, method, url).await
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

    /// `POST {base}/login`; the raw response, for callers that judge the login itself.
    pub async fn login_response(&self, base: &str, username: &str, password: &str) -> Response {
        let url = format!("{base}/login");
        let request = self.inner.post(&url).json(&LoginRequest {
            username: username.into(),
            password: password.into(),
        });
        answer(request, Method::POST, &url).await
    }

    /// Logs a demo user in on a session node and returns its cookie.
    ///
    /// # Panics
    /// If the login is refused or sets no session cookie.
    pub async fn session_login(&self, base: &str, username: &str) -> Credential {
        let response = self.login_response(base, username, DEMO_PASSWORD).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "login of {username} failed"
        );
        let cookie = session_cookie(&response, SESSION_COOKIE)
            .unwrap_or_else(|| panic!("the login of {username} set no session cookie"));
        Credential::Cookie(cookie)
    }

    /// Logs a demo user in on a JWT node; returns the bearer credential and the whole token response.
    ///
    /// # Panics
    /// If the login is refused or its body is not a token response.
    pub async fn jwt_login(&self, base: &str, username: &str) -> (Credential, TokenResponse) {
        let response = self.login_response(base, username, DEMO_PASSWORD).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "login of {username} failed"
        );
        let tokens: TokenResponse = response
            .json()
            .await
            .unwrap_or_else(|e| panic!("the login of {username} answered no token response: {e}"));
        (Credential::Bearer(tokens.access_token.clone()), tokens)
    }

    /// `POST {base}/token/refresh`.
    pub async fn refresh(&self, base: &str, refresh_token: &str) -> Response {
        let url = format!("{base}/token/refresh");
        let request = self
            .inner
            .post(&url)
            .json(&serde_json::json!({ "refresh_token": refresh_token }));
        answer(request, Method::POST, &url).await
    }
}
