//! Gateway mode: a gateway in front verified the JWT; this node only reads it.
//!
//! HAProxy's `jwt_verify` checks the signature, and `jwt_payload_query`
//! checks `exp`, `iss` and `aud`, before a request is forwarded. The node
//! then decodes the payload (base64url JSON, no key, no signature check)
//! to learn the `sub`.
//!
//! **A gateway-mode node must never be reachable except through the
//! gateway.** Anyone who can send it a request directly can write any `sub`
//! into an unsigned token and read that user's orders. In the lab it listens
//! on loopback and only HAProxy is pointed at it; in a real deployment that
//! is a network policy, not a convention.
//!
//! The gateway also checks only what it is configured to check: the
//! signature and the claims it names. A logout, a revoked token, a role
//! change are invisible to it, exactly as in JWKS mode.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::Deserialize;

use crate::credential::{Principal, VerifyError};

/// Tokens longer than this are refused before decoding.
pub const MAX_TOKEN_BYTES: usize = 8192;

#[derive(Deserialize)]
struct Payload {
    sub: String,
}

/// The `sub` of a JWT's payload, unverified (the gateway verified it).
pub fn decode(token: &str) -> Result<Principal, VerifyError> {
    let refused = |why: &str| VerifyError::Unauthorized(why.to_owned());
    if token.len() > MAX_TOKEN_BYTES {
        return Err(refused("token too large"));
    }
    let mut parts = token.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(refused("not a JWT"));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| refused("payload is not base64url"))?;
    let payload: Payload =
        serde_json::from_slice(&bytes).map_err(|_| refused("payload has no sub"))?;
    if payload.sub.is_empty() {
        return Err(refused("payload has no sub"));
    }
    Ok(Principal { sub: payload.sub })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests fail loudly by design

    use super::*;

    #[test]
    fn decodes_the_sub_and_refuses_garbage() {
        let payload = URL_SAFE_NO_PAD.encode(r#"{"sub":"alice","exp":1}"#);
        assert_eq!(decode(&format!("h.{payload}.s")).unwrap().sub, "alice");
        for bad in [
            "",
            "garbage",
            "a.b",
            "a.!!!.c",
            &format!("h.{}.s", URL_SAFE_NO_PAD.encode("{}")),
            &format!("h.{}.s", URL_SAFE_NO_PAD.encode(r#"{"sub":""}"#)),
            &format!("h.{payload}.s.x"),
        ] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }
}
