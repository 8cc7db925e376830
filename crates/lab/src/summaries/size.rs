//! c9's figures: the bytes a credential adds to every request.
//!
//! Header lengths as sent at login, and on the wire per protocol (HTTP/2's
//! header compression makes a repeated credential cheap there).

use serde::{Deserialize, Serialize};

/// c9: credential bytes per request as sent at login.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizeSummary {
    /// The whole `Cookie:` header line of a fresh session.
    pub cookie_header_bytes: u64,
    /// The whole `Authorization: Bearer` header line of a fresh login's token.
    pub login_jwt_header_bytes: u64,
    /// On the wire, per protocol (empty in results written before it was measured).
    #[serde(default)]
    pub wire: Vec<WireFacts>,
}

/// A credential's bytes on the wire per request, per protocol, at login.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireFacts {
    pub protocol: String,
    pub http2: bool,
    /// Session cookie: bytes to the server per request above the same
    /// request without it.
    pub cookie: f64,
    /// The login JWT as `Authorization: Bearer`.
    pub bearer: f64,
    /// The same JWT in a cookie.
    pub jwt_cookie: f64,
    /// Bytes of the session cookie's `name=value` sent on this protocol:
    /// each cluster issues its own, and a signed cookie's length varies by
    /// a few bytes from login to login (0 in results written before it was
    /// recorded).
    #[serde(default)]
    pub cookie_value_bytes: u64,
}
