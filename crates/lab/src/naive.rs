//! A deliberately naive JWT verifier. Teaching code: it is never served.
//!
//! Each check a careful verifier makes can be switched off here, so the
//! attack corpus ([`attack_corpus`]) can show what every single check
//! prevents (claim C12). With every switch off it behaves like the classic
//! broken verifiers: it believes the token's own `alg` (so `none` needs no
//! signature, and `HS256` is checked with the *public* key used as an HMAC
//! secret — "key confusion"), takes a key the token itself embeds (`jwk`),
//! ignores `exp`, `nbf`, `iss`, `aud` and `typ`, and reads any size.
//!
//! The real verifier is `jwt_server::tokens::TokenService::verify`.

use attack_corpus::naive_key_bytes;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{jwk::Jwk, Algorithm, DecodingKey};
use jwt_server::{
    keys::{KeySet, KeySetFile},
    tokens::{now_unix, AccessClaims},
};
use serde_json::Value;

/// The checks a verifier can make; `true` means "make it".
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checks {
    /// Refuse tokens over 8 KiB before parsing.
    pub size_limit: bool,
    /// Accept only the configured algorithm, never the token's choice.
    pub algorithm_allow_list: bool,
    /// Verify the signature at all.
    pub signature: bool,
    /// Take the key from our key set by `kid`, never from the token (`jwk`, `jku`).
    pub trusted_keys_only: bool,
    /// Check `exp` and `nbf`.
    pub expiry: bool,
    /// Check `iss` and `aud`.
    pub issuer_audience: bool,
    /// Require `typ: at+jwt`, refuse `crit` extensions, require well-typed claims.
    pub token_type_and_schema: bool,
}

impl Checks {
    pub const NONE: Checks = Checks {
        size_limit: false,
        algorithm_allow_list: false,
        signature: false,
        trusted_keys_only: false,
        expiry: false,
        issuer_audience: false,
        token_type_and_schema: false,
    };

    /// The name of every check, with the set that turns on that one alone.
    pub fn each() -> Vec<(&'static str, Checks)> {
        let one = |f: fn(&mut Checks)| {
            let mut checks = Checks::NONE;
            f(&mut checks);
            checks
        };
        vec![
            ("size limit", one(|c| c.size_limit = true)),
            (
                "algorithm allow-list",
                one(|c| c.algorithm_allow_list = true),
            ),
            ("signature", one(|c| c.signature = true)),
            ("trusted keys only", one(|c| c.trusted_keys_only = true)),
            ("exp/nbf", one(|c| c.expiry = true)),
            ("iss/aud", one(|c| c.issuer_audience = true)),
            (
                "typ, crit and claim types",
                one(|c| c.token_type_and_schema = true),
            ),
        ]
    }
}

pub struct NaiveVerifier {
    keys: KeySet,
    issuer: String,
    audience: String,
    checks: Checks,
}

fn part(segment: &str) -> Result<Value, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| "not base64url".to_owned())?;
    serde_json::from_slice(&bytes).map_err(|_| "not JSON".to_owned())
}

impl NaiveVerifier {
    pub fn new(keys: &KeySetFile, checks: Checks) -> Result<Self, String> {
        Ok(Self {
            keys: KeySet::from_file(keys).map_err(|e| e.to_string())?,
            issuer: "authlab".into(),
            audience: "authlab-api".into(),
            checks,
        })
    }

    /// The claims if the token passes the enabled checks, else why not.
    pub fn verify(&self, token: &str) -> Result<Value, String> {
        let c = self.checks;
        if c.size_limit && token.len() > 8192 {
            return Err("too large".into());
        }
        let segments: Vec<&str> = token.split('.').collect();
        let [header_b64, claims_b64, signature] = segments.as_slice() else {
            return Err("not three segments".into());
        };
        let header = part(header_b64)?;
        let claims = part(claims_b64)?;
        let alg_name = header["alg"].as_str().unwrap_or("");
        let configured = self.keys.alg().name();
        if c.algorithm_allow_list && alg_name != configured {
            return Err(format!("algorithm {alg_name} not allowed"));
        }
        if c.token_type_and_schema
            && (header["typ"].as_str() != Some("at+jwt") || !header["crit"].is_null())
        {
            return Err("wrong typ or unsupported crit".into());
        }
        if c.signature && !alg_name.eq_ignore_ascii_case("none") {
            // The naive path: whatever the header says, with whatever key is at hand.
            let alg: Algorithm = alg_name
                .parse()
                .map_err(|_| format!("unknown algorithm {alg_name}"))?;
            let key = self.key_for(&header, alg)?;
            let message = format!("{header_b64}.{claims_b64}");
            let valid = jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key, alg)
                .unwrap_or(false);
            if !valid {
                return Err("bad signature".into());
            }
        }
        // `alg: none` with the signature check on still passes here: a verifier
        // that trusts the header has nothing to verify. Only the allow-list stops it.
        if c.trusted_keys_only {
            let kid = header["kid"].as_str().unwrap_or("");
            if self.keys.verifying_key(kid).is_none() {
                return Err("unknown kid".into());
            }
            if !header["jwk"].is_null() || !header["jku"].is_null() || !header["x5u"].is_null() {
                // Ignored, never fetched; but the signature must then verify with our key.
                let alg: Algorithm = alg_name
                    .parse()
                    .map_err(|_| "unknown algorithm".to_owned())?;
                let key = self.keys.verifying_key(kid).ok_or("unknown kid")?;
                let message = format!("{header_b64}.{claims_b64}");
                if !jsonwebtoken::crypto::verify(signature, message.as_bytes(), key, alg)
                    .unwrap_or(false)
                {
                    return Err("signature does not verify with our key".into());
                }
            }
        }
        let now = now_unix();
        if c.expiry {
            let exp = claims["exp"].as_u64().ok_or("no exp")?;
            let nbf = claims["nbf"].as_u64().ok_or("no nbf")?;
            if exp <= now || nbf > now {
                return Err("outside its validity window".into());
            }
        }
        if c.issuer_audience
            && (claims["iss"] != self.issuer.as_str() || claims["aud"] != self.audience.as_str())
        {
            return Err("wrong iss/aud".into());
        }
        if c.token_type_and_schema
            && serde_json::from_value::<AccessClaims>(claims.clone()).is_err()
        {
            return Err("claims of the wrong shape".into());
        }
        Ok(claims)
    }

    fn key_for(&self, header: &Value, alg: Algorithm) -> Result<DecodingKey, String> {
        if !self.checks.trusted_keys_only {
            if let Ok(jwk) = serde_json::from_value::<Jwk>(header["jwk"].clone()) {
                return DecodingKey::from_jwk(&jwk).map_err(|e| e.to_string());
            }
            if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
                return Ok(DecodingKey::from_secret(&naive_key_bytes(&self.keys)));
            }
            return self
                .keys
                .verifying_key(self.keys.active_kid())
                .cloned()
                .ok_or_else(|| "no key".into());
        }
        let kid = header["kid"].as_str().unwrap_or("");
        self.keys
            .verifying_key(kid)
            .cloned()
            .ok_or_else(|| "unknown kid".into())
    }
}
