//! The victim's and the thief's DPoP keys.
//!
//! TEMPORARY: a stand-in with the API of `authlab_client::dpop` as
//! /work/c11-contract.md describes it, until the lead's client lands on main;
//! then this file becomes `pub use authlab_client::dpop::{DpopAlg, DpopKey};`.
//! It signs proofs the way the JWT server's own tests do (a fresh key from
//! `jwt_server::keys::generate_key`, the public part in the header).

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{jwk::Jwk, EncodingKey, Header};
use jwt_server::{
    dpop::{access_token_hash, thumbprint, PROOF_TYPE},
    keys::{generate_key, KeyStatus},
    SigningAlgorithm,
};
use rand::distr::{Alphanumeric, SampleString};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpopAlg {
    Es256,
    EdDsa,
}

#[derive(Debug, thiserror::Error)]
#[error("DPoP key: {0}")]
pub struct DpopKeyError(String);

pub struct DpopKey {
    alg: SigningAlgorithm,
    key: EncodingKey,
    jwk: Jwk,
    jkt: String,
}

impl DpopKey {
    pub fn generate(alg: DpopAlg) -> Result<DpopKey, DpopKeyError> {
        let fail = |e: &dyn std::fmt::Display| DpopKeyError(e.to_string());
        let alg = match alg {
            DpopAlg::Es256 => SigningAlgorithm::Es256,
            DpopAlg::EdDsa => SigningAlgorithm::EdDsa,
        };
        let entry = generate_key(alg, KeyStatus::Active).map_err(|e| fail(&e))?;
        let pem = entry
            .private_pem
            .ok_or_else(|| DpopKeyError("no private key".into()))?;
        let key = match alg {
            SigningAlgorithm::Es256 => EncodingKey::from_ec_pem(pem.as_bytes()),
            _ => EncodingKey::from_ed_pem(pem.as_bytes()),
        }
        .map_err(|e| fail(&e))?;
        let jwk = Jwk::from_encoding_key(&key, alg.jwt()).map_err(|e| fail(&e))?;
        let jkt = thumbprint(&jwk).map_err(|e| fail(&e))?;
        Ok(Self { alg, key, jwk, jkt })
    }

    pub fn jkt(&self) -> &str {
        &self.jkt
    }

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
        let mut claims = serde_json::json!({
            "jti": Alphanumeric.sample_string(&mut rand::rng(), 22),
            "htm": method,
            "htu": url,
            "iat": iat,
        });
        if let Some(token) = access_token {
            claims["ath"] = access_token_hash(token).into();
        }
        let mut header = Header::new(self.alg.jwt());
        header.typ = Some(PROOF_TYPE.into());
        header.jwk = Some(self.jwk.clone());
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| DpopKeyError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use jwt_server::dpop::{verify, ProofRequest, ProofWindow};

    use super::*;

    /// The stand-in's proofs pass the server's own checks, and name its key.
    #[test]
    fn proofs_pass_the_servers_verification() {
        for alg in [DpopAlg::Es256, DpopAlg::EdDsa] {
            let key = DpopKey::generate(alg).unwrap();
            let url = "http://127.0.0.1:8080/me";
            let proof = key.proof("GET", url, Some("a.b.c")).unwrap();
            let request = ProofRequest {
                method: "GET",
                url,
                access_token: Some("a.b.c"),
            };
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let verified = verify(&proof, &request, ProofWindow::default(), now).unwrap();
            assert_eq!(verified.jkt, key.jkt(), "{alg:?}");
            assert_ne!(
                key.proof("GET", url, None).unwrap(),
                proof,
                "a fresh jti each time"
            );
        }
    }
}
