//! The client's half of DPoP (RFC 9449): a key pair that never leaves the
//! client, and a fresh proof for every request.
//!
//! A proof is a JWT signed with the private key, carrying the public key in
//! its header, and naming one request: `htm` (method), `htu` (URL without
//! query), `iat`, a unique `jti`, and with an access token `ath`, the token's
//! SHA-256. The server puts the key's thumbprint ([`DpopKey::jkt`]) in the
//! tokens it issues to this client; a copy of the token is useless without
//! the key, because nobody else can sign the next proof.

use std::time::{SystemTime, UNIX_EPOCH};

// Re-exported because `DpopKey::generate` takes one: callers name the
// algorithm without reaching into core.
pub use authlab_core::dpop::DpopAlg;
use authlab_core::dpop::{access_token_hash, KeyGenerationError, ProofKeyPair, PROOF_TYPE};
use jsonwebtoken::Header;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum DpopKeyError {
    #[error("cannot generate a DPoP key: {0}")]
    Generate(#[from] KeyGenerationError),
    #[error("cannot sign a DPoP proof: {0}")]
    Sign(String),
}

/// A client's DPoP key pair.
pub struct DpopKey {
    pair: ProofKeyPair,
}

impl DpopKey {
    pub fn generate(alg: DpopAlg) -> Result<Self, DpopKeyError> {
        Ok(Self {
            pair: ProofKeyPair::generate(alg)?,
        })
    }

    pub fn alg(&self) -> DpopAlg {
        self.pair.alg
    }

    /// The RFC 7638 thumbprint the server binds tokens to (`cnf.jkt`).
    pub fn jkt(&self) -> &str {
        &self.pair.jkt
    }

    /// A proof for one request: `url` as the client addresses the server
    /// (its query is ignored by the server), `access_token` for requests that
    /// carry one.
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
    ) -> Result<String, DpopKeyError> {
        let iat = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.proof_at(method, url, access_token, iat)
    }

    /// [`Self::proof`] with a chosen `iat` (tests of the server's window).
    pub fn proof_at(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        iat: u64,
    ) -> Result<String, DpopKeyError> {
        let mut header = Header::new(self.pair.alg.jwt());
        header.typ = Some(PROOF_TYPE.into());
        header.jwk = Some(self.pair.jwk.clone());
        let mut claims = json!({ "jti": new_jti(), "htm": method, "htu": url, "iat": iat });
        if let Some(token) = access_token {
            claims["ath"] = json!(access_token_hash(token));
        }
        jsonwebtoken::encode(&header, &claims, &self.pair.private)
            .map_err(|e| DpopKeyError::Sign(e.to_string()))
    }
}

/// 128 random bits, base64url: unique per proof without coordination.
fn new_jti() -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    let bytes: [u8; 16] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use authlab_core::dpop::{verify, ProofRequest, ProofWindow};

    use super::*;

    #[test]
    fn proofs_verify_on_the_server_side_for_both_algorithms() {
        for alg in [DpopAlg::Es256, DpopAlg::EdDsa] {
            let key = DpopKey::generate(alg).unwrap();
            let url = "http://127.0.0.1:8081/me";
            let proof = key.proof("GET", url, Some("token")).unwrap();
            let request = ProofRequest {
                method: "GET",
                url,
                access_token: Some("token"),
            };
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let verified = verify(&proof, &request, ProofWindow::default(), now).unwrap();
            assert_eq!(verified.jkt, key.jkt(), "{alg:?}");
            let other = key.proof("GET", url, Some("token")).unwrap();
            assert_ne!(
                verify(&other, &request, ProofWindow::default(), now)
                    .unwrap()
                    .jti,
                verified.jti,
                "every proof has its own jti"
            );
        }
    }
}
