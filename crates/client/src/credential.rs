//! What a client presents after logging in.

/// A session cookie or a bearer token, attached to a request on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// `name=value` of the session cookie.
    Cookie(String),
    /// A bearer token.
    Bearer(String),
}

impl Credential {
    /// `request` carrying this credential: a `cookie` or an `authorization: Bearer` header.
    pub fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Credential::Cookie(cookie) => request.header("cookie", cookie),
            Credential::Bearer(token) => request.bearer_auth(token),
        }
    }
}
