//! What a response says besides its body: the cookie it sets, the node that answered.

use authlab_core::http::NODE_HEADER;
use reqwest::Response;

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

/// The node that answered (its `x-node` header), or `""` when none did.
pub fn node_of(response: &Response) -> String {
    response
        .headers()
        .get(NODE_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}
