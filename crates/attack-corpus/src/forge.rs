//! Minting tokens with a key set's private keys, as an issuer (or an
//! attacker holding the key) would.
//!
//! The corpus forges most of its tokens by signing something a careful
//! verifier must still refuse (expired, wrong audience, `typ: JWT`), so it
//! needs the same signing steps as the real issuer; [`genuine`] is the
//! positive control that proves these steps make tokens the server accepts.

use base64::{engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use jwt_server::{
    keys::{KeyEntry, KeySet, KeySetFile},
    tokens::now_unix,
    SigningAlgorithm,
};
use serde_json::{json, Value};

use crate::{error::err, CorpusError};

/// Claims a real token for alice would carry, with admin roles the attacker wants.
pub fn claims() -> Value {
    let now = now_unix();
    json!({
        "iss": "authlab", "aud": "authlab-api", "sub": "alice",
        "exp": now + 300, "iat": now, "nbf": now,
        "jti": "attack-jti", "roles": ["user", "admin"], "name": "Alice", "sid": "attack-sid"
    })
}

/// base64url of the JSON of `value`: a token segment, signed or not.
pub(crate) fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

/// The private signing key of a key-set entry.
pub fn encoding_key(alg: SigningAlgorithm, entry: &KeyEntry) -> Result<EncodingKey, CorpusError> {
    let pem = || {
        entry
            .private_pem
            .as_deref()
            .map(str::as_bytes)
            .ok_or_else(|| err("no private_pem"))
    };
    Ok(match alg {
        SigningAlgorithm::Hs256 => {
            let secret = entry
                .secret_b64
                .as_deref()
                .ok_or_else(|| err("no secret"))?;
            EncodingKey::from_secret(&STANDARD.decode(secret).map_err(err)?)
        }
        SigningAlgorithm::Rs256 => EncodingKey::from_rsa_pem(pem()?).map_err(err)?,
        SigningAlgorithm::Es256 => EncodingKey::from_ec_pem(pem()?).map_err(err)?,
        SigningAlgorithm::EdDsa => EncodingKey::from_ed_pem(pem()?).map_err(err)?,
    })
}

/// The header of a real access token: `alg`, `typ: at+jwt`, `kid`.
pub fn header(alg: Algorithm, kid: &str) -> Header {
    let mut header = Header::new(alg);
    header.typ = Some("at+jwt".into());
    header.kid = Some(kid.into());
    header
}

/// A JWS of `claims` under `header`, signed with `key` (whatever the header says).
pub fn sign(header: &Header, claims: &Value, key: &EncodingKey) -> Result<String, CorpusError> {
    jsonwebtoken::encode(header, claims, key).map_err(err)
}

/// A token the server must accept (the corpus's positive control).
pub fn genuine(keys: &KeySetFile) -> Result<String, CorpusError> {
    let entry = keys.keys.first().ok_or_else(|| err("an empty key set"))?;
    sign(
        &header(keys.alg.jwt(), &entry.kid),
        &claims(),
        &encoding_key(keys.alg, entry)?,
    )
}

/// The bytes a naive verifier holds as "the key": the HMAC secret of an HS256
/// set, or the public JWK as published at `/.well-known/jwks.json`. Handing
/// those public bytes to an HMAC is exactly the key-confusion mistake: the
/// corpus signs its key-confusion token with them, and the lab's naive
/// verifier checks HS256 with them.
pub fn naive_key_bytes(keys: &KeySet) -> Vec<u8> {
    match keys
        .jwks()
        .keys
        .iter()
        .find(|k| k.common.key_id.as_deref() == Some(keys.active_kid()))
    {
        Some(jwk) => serde_json::to_vec(jwk).unwrap_or_default(),
        None => keys.hmac_secret().map(<[u8]>::to_vec).unwrap_or_default(),
    }
}
