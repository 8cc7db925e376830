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

use jsonwebtoken::{jwk::Jwk, EncodingKey, Header};
use jwt_server::{
    dpop::{access_token_hash, thumbprint, PROOF_TYPE},
    keys::{generate_key, KeyStatus, SigningAlgorithm},
};
use serde_json::json;

/// The proof algorithms the JWT server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpopAlg {
    Es256,
    EdDsa,
}

impl DpopAlg {
    fn signing(self) -> SigningAlgorithm {
        match self {
            DpopAlg::Es256 => SigningAlgorithm::Es256,
            DpopAlg::EdDsa => SigningAlgorithm::EdDsa,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DpopKeyError {
    #[error("cannot generate a DPoP key: {0}")]
    Generate(String),
    #[error("cannot sign a DPoP proof: {0}")]
    Sign(String),
}

/// A client's DPoP key pair.
pub struct DpopKey {
    alg: DpopAlg,
    key: EncodingKey,
    jwk: Jwk,
    jkt: String,
}

impl DpopKey {
    pub fn generate(alg: DpopAlg) -> Result<Self, DpopKeyError> {
        let generate = |e: String| DpopKeyError::Generate(e);
        let entry =
            generate_key(alg.signing(), KeyStatus::Active).map_err(|e| generate(e.to_string()))?;
        let pem = entry
            .private_pem
            .ok_or_else(|| generate("no private key".into()))?;
        let key = match alg {
            DpopAlg::Es256 => EncodingKey::from_ec_pem(pem.as_bytes()),
            DpopAlg::EdDsa => EncodingKey::from_ed_pem(pem.as_bytes()),
        }
        .map_err(|e| generate(e.to_string()))?;
        // The public half only: `from_encoding_key` writes no private member.
        let jwk = Jwk::from_encoding_key(&key, alg.signing().jwt())
            .map_err(|e| generate(e.to_string()))?;
        let jkt = thumbprint(&jwk).map_err(|e| generate(e.to_string()))?;
        Ok(Self { alg, key, jwk, jkt })
    }

    pub fn alg(&self) -> DpopAlg {
        self.alg
    }

    /// The RFC 7638 thumbprint the server binds tokens to (`cnf.jkt`).
    pub fn jkt(&self) -> &str {
        &self.jkt
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
        let mut header = Header::new(self.alg.signing().jwt());
        header.typ = Some(PROOF_TYPE.into());
        header.jwk = Some(self.jwk.clone());
        let mut claims = json!({ "jti": new_jti(), "htm": method, "htu": url, "iat": iat });
        if let Some(token) = access_token {
            claims["ath"] = json!(access_token_hash(token));
        }
        jsonwebtoken::encode(&header, &claims, &self.key)
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
    use jwt_server::dpop::{verify, ProofRequest, ProofWindow};

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
