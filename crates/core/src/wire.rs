//! What a client of either stack must know besides the shared routes' bodies.
//!
//! [`crate::api`] holds the bodies both stacks serve alike (`/login`'s
//! request, `/me`, `/orders`). A client needs three more things to speak to
//! a stack: the name of the cookie the session stack sets, the token
//! response the JWT stack answers a login with, and the body every failure
//! comes with. They live here, in the crate every party shares, so that a
//! client (the lab's, the load generator's, a test's) can read a login's
//! answer without linking the server that wrote it: the contract is these
//! types, not the server's code.

use serde::{Deserialize, Serialize};

/// The session stack's cookie: `authlab_session=<signed session id>`.
pub const SESSION_COOKIE: &str = "authlab_session";

/// What the JWT stack's `/login` and `/token/refresh` return (RFC 6749 §5.1
/// field names, plus who the tokens are for and which node issued them).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// `Bearer`, or `DPoP` for a token bound to the client's key (RFC 9449 §5).
    pub token_type: String,
    pub expires_in: u64,
    pub refresh_token: String,
    pub refresh_expires_in: u64,
    pub user: String,
    pub roles: Vec<String>,
    pub node: String,
}

/// The body of every error response, on both stacks:
/// `{"error": "<code>", "message": "<human text>"}` ([`crate::error`] says
/// which code goes with which status).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}
