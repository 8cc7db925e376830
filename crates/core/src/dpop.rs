//! DPoP proofs (RFC 9449): checking that the sender of a request holds a key.
//!
//! A bearer token works for whoever holds it; copy it out of a log or a
//! browser and it is yours until it expires. DPoP binds a token to a key pair
//! the client made: at login the server puts the key's thumbprint in the
//! token (`cnf.jkt`), and with every request the client sends a fresh,
//! short-lived *proof*, a JWT it signs with the private key, naming the
//! request it belongs to. A thief with the token but not the key cannot make
//! the proof, and a proof captured in transit is good only for its own method
//! and URL, for a minute, once.
//!
//! A proof is a JWS whose header carries the public key itself (`jwk`) and
//! `typ: dpop+jwt`; its claims are `jti` (unique), `htm` and `htu` (the HTTP
//! method and URL), `iat`, and with an access token `ath`, the token's
//! SHA-256. [`verify`] runs every check of RFC 9449 §4.3 that needs nothing
//! but the proof and the request, and returns the key's RFC 7638 thumbprint
//! and the `jti`. Two checks are left to the caller because they need state:
//! that the `jti` was not seen before (a replay cache, node-local or shared)
//! and that the thumbprint equals the token's `cnf.jkt`.
//!
//! Only asymmetric algorithms make sense (the server must not know the key):
//! ES256 and EdDSA ([`DpopAlg`]), the two the JWT server signs with as well.
//!
//! Both halves of the protocol share this module, so the format is written
//! down once: the JWT server checks proofs with [`verify`], and a client
//! makes its key with [`ProofKeyPair::generate`] and fills a proof's header
//! and `ath` with [`PROOF_TYPE`] and [`access_token_hash`]
//! (`authlab_client::dpop` makes whole proofs from them).

use std::time::Duration;

use aws_lc_rs::{
    digest::{digest, SHA256},
    rand::SystemRandom,
    signature::{EcdsaKeyPair, Ed25519KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING},
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{
    jwk::{Jwk, ThumbprintHash},
    Algorithm, DecodingKey, EncodingKey, Validation,
};
use serde::Deserialize;

/// The `typ` every proof carries, so no other JWT can pass for one.
pub const PROOF_TYPE: &str = "dpop+jwt";

/// The algorithms a proof may be signed with. [`crate::error::DPOP_ALGS`]
/// lists the same two in the server's challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DpopAlg {
    Es256,
    EdDsa,
}

impl DpopAlg {
    pub fn jwt(self) -> Algorithm {
        match self {
            Self::Es256 => Algorithm::ES256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }

    /// The JOSE name (`alg`) of the algorithm.
    pub fn name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// The accepted algorithm a proof header's `alg` names, if it names one.
    fn from_name(name: &str) -> Option<Self> {
        [Self::Es256, Self::EdDsa]
            .into_iter()
            .find(|alg| alg.name() == name)
    }
}

impl std::fmt::Display for DpopAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A client's proof key could not be made: the OS random source or the
/// crypto library failed, which only a broken system does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key generation failed for {alg}: {reason}")]
pub struct KeyGenerationError {
    pub alg: DpopAlg,
    pub reason: String,
}

/// A key pair a client signs its proofs with. The private key never leaves
/// the client; the public half travels in every proof's header.
pub struct ProofKeyPair {
    pub alg: DpopAlg,
    pub private: EncodingKey,
    /// The public key only: `Jwk::from_encoding_key` writes no private member.
    pub jwk: Jwk,
    /// Its RFC 7638 thumbprint, what the server binds tokens to (`cnf.jkt`).
    pub jkt: String,
}

impl ProofKeyPair {
    pub fn generate(alg: DpopAlg) -> Result<Self, KeyGenerationError> {
        let failed = |reason: String| KeyGenerationError { alg, reason };
        let random = SystemRandom::new();
        // PKCS#8 DER is what jsonwebtoken's `from_*_pem` would extract from a PEM file.
        let private = match alg {
            DpopAlg::Es256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &random)
                    .map(|pkcs8| EncodingKey::from_ec_der(pkcs8.as_ref()))
            }
            DpopAlg::EdDsa => Ed25519KeyPair::generate_pkcs8v1(&random)
                .map(|pkcs8| EncodingKey::from_ed_der(pkcs8.as_ref())),
        }
        .map_err(|e| failed(e.to_string()))?;
        let jwk = Jwk::from_encoding_key(&private, alg.jwt()).map_err(|e| failed(e.to_string()))?;
        let jkt = thumbprint(&jwk).map_err(|e| failed(e.to_string()))?;
        Ok(Self {
            alg,
            private,
            jwk,
            jkt,
        })
    }
}

/// Why a proof was refused. The messages go into `error_description`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpopError {
    #[error("the DPoP proof is not a compact JWS with a JSON header")]
    Malformed,
    #[error("the DPoP proof's typ must be {PROOF_TYPE}")]
    WrongType,
    #[error("the DPoP proof's alg {0} is not accepted (ES256, EdDSA)")]
    Algorithm(String),
    #[error("the DPoP proof's header has no usable public key (jwk)")]
    MissingKey,
    #[error("the DPoP proof's jwk holds a private key")]
    PrivateKey,
    #[error("the DPoP proof's signature does not verify with its own jwk")]
    Signature,
    #[error("the DPoP proof's claim {0} is missing or malformed")]
    Claim(&'static str),
    #[error("the DPoP proof is for method {proof}, the request is {request}")]
    Method { proof: String, request: String },
    #[error("the DPoP proof is for {proof}, the request is for {request}")]
    Url { proof: String, request: String },
    #[error("the DPoP proof was issued {0} s ago, longer than allowed")]
    Stale(u64),
    #[error("the DPoP proof was issued {0} s in the future")]
    Future(u64),
    #[error("the DPoP proof has no ath, and an access token comes with it")]
    MissingAth,
    #[error("the DPoP proof's ath is not the hash of this access token")]
    AccessTokenHash,
}

/// How old and how far ahead a proof's `iat` may be: proofs are made per
/// request, so a minute back covers slow networks, and a few seconds ahead
/// covers clocks that are not quite in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofWindow {
    pub max_age: Duration,
    pub max_ahead: Duration,
}

impl Default for ProofWindow {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(60),
            max_ahead: Duration::from_secs(5),
        }
    }
}

/// The request a proof must belong to.
#[derive(Debug, Clone, Copy)]
pub struct ProofRequest<'a> {
    pub method: &'a str,
    /// The URL the client used, as the server reconstructs it.
    pub url: &'a str,
    /// The access token sent with it (`Authorization: DPoP …`), if any.
    pub access_token: Option<&'a str>,
}

/// What a valid proof proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// RFC 7638 SHA-256 thumbprint of the proof's key: compare with `cnf.jkt`.
    pub jkt: String,
    /// For the replay cache.
    pub jti: String,
    pub iat: u64,
}

#[derive(Deserialize)]
struct ProofClaims {
    jti: Option<String>,
    htm: Option<String>,
    htu: Option<String>,
    iat: Option<u64>,
    ath: Option<String>,
}

/// `ath`: base64url (no padding) of the access token's SHA-256.
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, access_token.as_bytes()))
}

/// RFC 7638 thumbprint (SHA-256, base64url) of a public key.
pub fn thumbprint(jwk: &Jwk) -> Result<String, DpopError> {
    jwk.thumbprint(ThumbprintHash::SHA256)
        .map_err(|_| DpopError::MissingKey)
}

/// Checks `proof` against `request` at time `now` (seconds since the epoch).
pub fn verify(
    proof: &str,
    request: &ProofRequest<'_>,
    window: ProofWindow,
    now: u64,
) -> Result<VerifiedProof, DpopError> {
    let (alg, jwk) = check_header(proof)?;
    let claims = check_signature(proof, alg, &jwk)?;
    let jti = claims
        .jti
        .filter(|jti| !jti.is_empty() && jti.len() <= 256)
        .ok_or(DpopError::Claim("jti"))?;
    let htm = claims.htm.ok_or(DpopError::Claim("htm"))?;
    if htm != request.method {
        return Err(DpopError::Method {
            proof: htm,
            request: request.method.to_owned(),
        });
    }
    let htu = claims.htu.ok_or(DpopError::Claim("htu"))?;
    if normalize_url(&htu)? != normalize_url(request.url)? {
        return Err(DpopError::Url {
            proof: htu,
            request: request.url.to_owned(),
        });
    }
    let iat = claims.iat.ok_or(DpopError::Claim("iat"))?;
    if iat + window.max_age.as_secs() < now {
        return Err(DpopError::Stale(now - iat));
    }
    if iat > now + window.max_ahead.as_secs() {
        return Err(DpopError::Future(iat - now));
    }
    if let Some(token) = request.access_token {
        let ath = claims.ath.ok_or(DpopError::MissingAth)?;
        if ath != access_token_hash(token) {
            return Err(DpopError::AccessTokenHash);
        }
    }
    Ok(VerifiedProof {
        jkt: thumbprint(&jwk)?,
        jti,
        iat,
    })
}

/// `typ`, `alg` and `jwk`, read from the raw header first: a typed parse
/// would drop a private key's `d` without a word, and would not name an
/// unknown `alg` such as `none`.
fn check_header(proof: &str) -> Result<(Algorithm, Jwk), DpopError> {
    let header = proof.split('.').next().ok_or(DpopError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| DpopError::Malformed)?;
    let header: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| DpopError::Malformed)?;
    if header.get("typ").and_then(|t| t.as_str()) != Some(PROOF_TYPE) {
        return Err(DpopError::WrongType);
    }
    let named = header.get("alg").and_then(|a| a.as_str()).unwrap_or("");
    let alg = DpopAlg::from_name(named)
        .ok_or_else(|| DpopError::Algorithm(named.to_owned()))?
        .jwt();
    let jwk = header.get("jwk").ok_or(DpopError::MissingKey)?;
    // `d` is the private part of EC and OKP keys (and of RSA ones); `k` a
    // symmetric key. A client that sends either has leaked its key.
    if jwk.get("d").is_some() || jwk.get("k").is_some() {
        return Err(DpopError::PrivateKey);
    }
    let jwk = serde_json::from_value(jwk.clone()).map_err(|_| DpopError::MissingKey)?;
    Ok((alg, jwk))
}

fn check_signature(proof: &str, alg: Algorithm, jwk: &Jwk) -> Result<ProofClaims, DpopError> {
    let key = DecodingKey::from_jwk(jwk).map_err(|_| DpopError::MissingKey)?;
    let mut validation = Validation::new(alg);
    // A proof has no exp, aud or iss: its lifetime is the iat window above.
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    jsonwebtoken::decode::<ProofClaims>(proof, &key, &validation)
        .map(|data| data.claims)
        .map_err(|error| match error.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature
            | jsonwebtoken::errors::ErrorKind::InvalidEcdsaKey
            | jsonwebtoken::errors::ErrorKind::InvalidKeyFormat
            | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => DpopError::Signature,
            _ => DpopError::Claim("claims"),
        })
}

/// `htu` is compared without query and fragment (RFC 9449 §4.3, step 9),
/// after the URL parser's normalization (scheme and host case, default port).
fn normalize_url(raw: &str) -> Result<String, DpopError> {
    let mut url = url::Url::parse(raw).map_err(|_| DpopError::Claim("htu"))?;
    url.set_query(None);
    url.set_fragment(None);
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::Header;
    use serde_json::json;

    use super::*;

    const NOW: u64 = 1_800_000_000;
    const URL: &str = "https://server.example.com/me";

    struct Client {
        alg: Algorithm,
        key: EncodingKey,
        jwk: Jwk,
    }

    fn client(alg: DpopAlg) -> Client {
        let pair = ProofKeyPair::generate(alg).unwrap();
        Client {
            alg: alg.jwt(),
            key: pair.private,
            jwk: pair.jwk,
        }
    }

    impl Client {
        fn sign(&self, header_jwk: &Jwk, claims: serde_json::Value) -> String {
            let mut header = Header::new(self.alg);
            header.typ = Some(PROOF_TYPE.into());
            header.jwk = Some(header_jwk.clone());
            jsonwebtoken::encode(&header, &claims, &self.key).unwrap()
        }

        fn proof(&self, claims: serde_json::Value) -> String {
            self.sign(&self.jwk, claims)
        }
    }

    fn claims(htm: &str, htu: &str, iat: u64, token: Option<&str>) -> serde_json::Value {
        let mut claims =
            json!({ "jti": format!("jti-{iat}-{htm}"), "htm": htm, "htu": htu, "iat": iat });
        if let Some(token) = token {
            claims["ath"] = json!(access_token_hash(token));
        }
        claims
    }

    fn get(token: Option<&str>) -> ProofRequest<'_> {
        ProofRequest {
            method: "GET",
            url: URL,
            access_token: token,
        }
    }

    fn check(proof: &str, request: &ProofRequest<'_>) -> Result<VerifiedProof, DpopError> {
        verify(proof, request, ProofWindow::default(), NOW)
    }

    /// Replaces one base64url segment of a compact JWS.
    fn with_segment(jws: &str, index: usize, value: &serde_json::Value) -> String {
        let mut parts: Vec<String> = jws.split('.').map(str::to_owned).collect();
        parts[index] = URL_SAFE_NO_PAD.encode(value.to_string());
        parts.join(".")
    }

    fn header_of(jws: &str) -> serde_json::Value {
        let first = jws.split('.').next().unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(first).unwrap()).unwrap()
    }

    #[test]
    fn rfc_7638_thumbprint_example() {
        // RFC 7638 §3.1: this RSA key's SHA-256 thumbprint.
        let jwk: Jwk = serde_json::from_value(json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        }))
        .unwrap();
        assert_eq!(
            thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn rfc_9449_examples() {
        // §4.1: the example proof's public key; §6.1: its jkt.
        let jwk: Jwk = serde_json::from_value(json!({
            "kty": "EC",
            "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
            "crv": "P-256"
        }))
        .unwrap();
        assert_eq!(
            thumbprint(&jwk).unwrap(),
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
        );
        // §7.1: the example access token's ath.
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn a_valid_proof_of_either_algorithm_passes_and_names_its_key() {
        for alg in [DpopAlg::Es256, DpopAlg::EdDsa] {
            let client = client(alg);
            let token = "an.access.token";
            let proof = client.proof(claims("GET", URL, NOW - 10, Some(token)));
            let verified = check(&proof, &get(Some(token))).unwrap();
            assert_eq!(verified.jkt, thumbprint(&client.jwk).unwrap(), "{alg:?}");
            assert_eq!(verified.iat, NOW - 10);
            // At login there is no access token yet, and no ath is needed.
            let login = client.proof(claims(
                "POST",
                "https://server.example.com/login",
                NOW,
                None,
            ));
            let request = ProofRequest {
                method: "POST",
                url: "https://server.example.com/login",
                access_token: None,
            };
            assert!(check(&login, &request).is_ok(), "{alg:?}");
        }
    }

    #[test]
    fn query_and_fragment_do_not_count_but_path_and_host_do() {
        let client = client(DpopAlg::Es256);
        let proof = client.proof(claims(
            "GET",
            "https://SERVER.example.com:443/me?x=1#f",
            NOW,
            None,
        ));
        assert!(check(&proof, &get(None)).is_ok());
        for other in [
            "https://server.example.com/orders",
            "https://other.example.com/me",
            "http://server.example.com/me",
        ] {
            let proof = client.proof(claims("GET", other, NOW, None));
            assert!(
                matches!(check(&proof, &get(None)), Err(DpopError::Url { .. })),
                "{other}"
            );
        }
    }

    #[test]
    fn a_proof_for_another_method_is_refused() {
        let client = client(DpopAlg::EdDsa);
        let proof = client.proof(claims("POST", URL, NOW, None));
        assert!(matches!(
            check(&proof, &get(None)),
            Err(DpopError::Method { .. })
        ));
    }

    #[test]
    fn stale_and_future_proofs_are_refused_at_the_window_edges() {
        let client = client(DpopAlg::Es256);
        let at = |iat| check(&client.proof(claims("GET", URL, iat, None)), &get(None));
        assert!(at(NOW - 60).is_ok());
        assert_eq!(at(NOW - 61), Err(DpopError::Stale(61)));
        assert!(at(NOW + 5).is_ok());
        assert_eq!(at(NOW + 6), Err(DpopError::Future(6)));
    }

    #[test]
    fn ath_must_be_present_and_match_the_token_sent() {
        let client = client(DpopAlg::Es256);
        let without = client.proof(claims("GET", URL, NOW, None));
        assert_eq!(
            check(&without, &get(Some("token-a"))),
            Err(DpopError::MissingAth)
        );
        let for_a = client.proof(claims("GET", URL, NOW, Some("token-a")));
        assert_eq!(
            check(&for_a, &get(Some("token-b"))),
            Err(DpopError::AccessTokenHash)
        );
    }

    #[test]
    fn a_proof_signed_by_another_key_than_its_jwk_is_refused() {
        let holder = client(DpopAlg::Es256);
        let thief = client(DpopAlg::Es256);
        // The thief names the holder's key (to match cnf.jkt) but cannot sign with it.
        let proof = thief.sign(&holder.jwk, claims("GET", URL, NOW, None));
        assert_eq!(check(&proof, &get(None)), Err(DpopError::Signature));
    }

    #[test]
    fn a_tampered_claim_breaks_the_signature() {
        let client = client(DpopAlg::EdDsa);
        let proof = client.proof(claims("GET", "https://server.example.com/other", NOW, None));
        let forged = with_segment(&proof, 1, &claims("GET", URL, NOW, None));
        assert_eq!(check(&forged, &get(None)), Err(DpopError::Signature));
    }

    #[test]
    fn headers_that_are_not_a_proofs_are_refused() {
        let client = client(DpopAlg::Es256);
        let proof = client.proof(claims("GET", URL, NOW, None));
        let header = header_of(&proof);

        let mut wrong_typ = header.clone();
        wrong_typ["typ"] = json!("JWT");
        assert_eq!(
            check(&with_segment(&proof, 0, &wrong_typ), &get(None)),
            Err(DpopError::WrongType)
        );

        for alg in ["none", "HS256", "RS256", ""] {
            let mut other = header.clone();
            other["alg"] = json!(alg);
            assert_eq!(
                check(&with_segment(&proof, 0, &other), &get(None)),
                Err(DpopError::Algorithm(alg.into())),
                "{alg}"
            );
        }

        let mut no_key = header.clone();
        no_key.as_object_mut().unwrap().remove("jwk");
        assert_eq!(
            check(&with_segment(&proof, 0, &no_key), &get(None)),
            Err(DpopError::MissingKey)
        );

        let mut private = header.clone();
        private["jwk"]["d"] = json!("c2VjcmV0");
        assert_eq!(
            check(&with_segment(&proof, 0, &private), &get(None)),
            Err(DpopError::PrivateKey)
        );

        for garbage in ["", "not-a-jws", "e30", "bm90IGpzb24.e30.c2ln"] {
            assert!(check(garbage, &get(None)).is_err(), "{garbage}");
        }
    }

    #[test]
    fn missing_claims_are_named() {
        let client = client(DpopAlg::Es256);
        for missing in ["jti", "htm", "htu", "iat"] {
            let mut body = claims("GET", URL, NOW, None);
            body.as_object_mut().unwrap().remove(missing);
            let proof = client.proof(body);
            assert_eq!(
                check(&proof, &get(None)),
                Err(DpopError::Claim(missing)),
                "{missing}"
            );
        }
    }
}
