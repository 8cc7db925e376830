//! The corpus: every hostile token, each named after the mistake it exploits.
//!
//! A verifier is only as safe as the checks it makes, and every check
//! exists because a real library or service once skipped it: trusting the
//! token's own `alg` (`none`, or HS256 keyed with the *public* key), taking
//! a key the token offers (`jwk`, `jku`, `x5u`), ignoring `exp`, `aud` or
//! `typ`. The corpus holds one token per mistake, so a verifier that
//! refuses all of them makes none of those mistakes.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{jwk::Jwk, Algorithm, EncodingKey};
use jwt_server::{
    keys::{KeySet, KeySetFile},
    tokens::now_unix,
    SigningAlgorithm,
};
use serde_json::{json, Value};

use crate::{
    error::err,
    forge::{b64, claims, encoding_key, header, naive_key_bytes, sign},
    CorpusError,
};

/// One hostile token and the mistake it exploits.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Attack {
    pub name: String,
    /// The class of mistake, for grouping in the report.
    pub class: String,
    pub token: String,
}

/// Every attack against `keys`. `valid` is a genuine token to tamper with;
/// `lure_url` is where a `jku`/`x5u` header points (a listener that must
/// never be contacted).
pub fn corpus(keys: &KeySetFile, valid: &str, lure_url: &str) -> Result<Vec<Attack>, CorpusError> {
    let alg = keys.alg;
    let entry = keys
        .keys
        .iter()
        .find(|k| k.status == jwt_server::keys::KeyStatus::Active)
        .ok_or_else(|| err("no active key"))?;
    let kid = entry.kid.as_str();
    let key = encoding_key(alg, entry)?;
    let ours = |claims: &Value| sign(&header(alg.jwt(), kid), claims, &key);
    let with = |field: &str, value: Value| {
        let mut c = claims();
        c[field] = value;
        ours(&c)
    };
    let without = |field: &str| {
        let mut c = claims();
        if let Some(map) = c.as_object_mut() {
            map.remove(field);
        }
        ours(&c)
    };
    let attack = |class: &str, name: String, token: String| Attack {
        name,
        class: class.into(),
        token,
    };
    let now = now_unix();
    let mut out = vec![
        attack("validity", "expired".into(), with("exp", json!(now - 60))?),
        attack(
            "validity",
            "not yet valid".into(),
            with("nbf", json!(now + 60))?,
        ),
        attack(
            "audience",
            "wrong audience".into(),
            with("aud", json!("someone-else"))?,
        ),
        attack(
            "audience",
            "wrong issuer".into(),
            with("iss", json!("evil"))?,
        ),
    ];
    for field in ["exp", "nbf", "aud", "iss", "sub"] {
        out.push(attack(
            "required claims",
            format!("missing {field}"),
            without(field)?,
        ));
    }
    out.push(attack(
        "claim types",
        "roles of the wrong type".into(),
        with("roles", json!("admin"))?,
    ));
    out.push(attack(
        "size",
        "oversized (9 KB claim)".into(),
        with("name", json!("x".repeat(9_000)))?,
    ));

    for none in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"alg": none, "typ": "at+jwt", "kid": kid});
        out.push(attack(
            "alg none",
            format!("alg {none}"),
            format!("{}.{}.", b64(&header), b64(&claims())),
        ));
    }

    if !alg.is_symmetric() {
        // The public key, as anyone can fetch it, used as an HMAC secret.
        let set = KeySet::from_file(keys).map_err(err)?;
        let public = naive_key_bytes(&set);
        let token = sign(
            &header(Algorithm::HS256, kid),
            &claims(),
            &EncodingKey::from_secret(&public),
        )?;
        out.push(attack(
            "key confusion",
            "HS256 signed with the public key".into(),
            token,
        ));
    }

    let parts: Vec<&str> = valid.split('.').collect();
    let [h, p, s] = parts.as_slice() else {
        return Err(err("the genuine token is not a JWS"));
    };
    let mut elevated: Value = URL_SAFE_NO_PAD
        .decode(p)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| err("genuine payload unreadable"))?;
    // Become someone else, with admin rights: never the same bytes as the original.
    elevated["sub"] = json!("mallory");
    elevated["roles"] = json!(["user", "admin"]);
    out.push(attack(
        "tampering",
        "payload changed, signature kept".into(),
        format!("{h}.{}.{s}", b64(&elevated)),
    ));
    out.push(attack(
        "tampering",
        "signature stripped".into(),
        format!("{h}.{p}."),
    ));
    let mut other = claims();
    other["jti"] = json!("another-token");
    out.push(attack(
        "tampering",
        "another token's signature".into(),
        format!("{h}.{}.{s}", b64(&other)),
    ));
    let mut flipped = URL_SAFE_NO_PAD.decode(s).map_err(err)?;
    if let Some(first) = flipped.first_mut() {
        *first ^= 1;
    }
    out.push(attack(
        "tampering",
        "one signature bit flipped".into(),
        format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(flipped)),
    ));

    let mut wrong_type = header(alg.jwt(), kid);
    wrong_type.typ = Some("JWT".into());
    out.push(attack(
        "token type",
        "typ JWT instead of at+jwt".into(),
        sign(&wrong_type, &claims(), &key)?,
    ));
    let mut no_kid = header(alg.jwt(), kid);
    no_kid.kid = None;
    out.push(attack(
        "kid",
        "no kid".into(),
        sign(&no_kid, &claims(), &key)?,
    ));
    for bad_kid in [
        "unknown-kid",
        "../../../../etc/passwd",
        "' OR '1'='1' --",
        "",
    ] {
        out.push(attack(
            "kid",
            format!("kid {bad_kid:?}"),
            sign(&header(alg.jwt(), bad_kid), &claims(), &key)?,
        ));
    }
    let mut critical = header(alg.jwt(), kid);
    critical.crit = Some(vec!["exp".into()]);
    out.push(attack(
        "token type",
        "crit header".into(),
        sign(&critical, &claims(), &key)?,
    ));

    // A key the attacker made, offered inside the token or by URL.
    let attacker = KeySetFile::generate(SigningAlgorithm::EdDsa).map_err(err)?;
    let attacker_entry = attacker
        .keys
        .first()
        .ok_or_else(|| err("the attacker's key set is empty"))?;
    let attacker_key = encoding_key(SigningAlgorithm::EdDsa, attacker_entry)?;
    let attacker_jwk = Jwk::from_encoding_key(&attacker_key, Algorithm::EdDSA).map_err(err)?;
    for (name, forged_kid) in [
        ("embedded jwk, attacker's kid", attacker_entry.kid.as_str()),
        ("embedded jwk, our kid", kid),
    ] {
        let mut forged = header(Algorithm::EdDSA, forged_kid);
        forged.jwk = Some(attacker_jwk.clone());
        out.push(attack(
            "embedded key",
            name.into(),
            sign(&forged, &claims(), &attacker_key)?,
        ));
    }
    let mut jku = header(Algorithm::EdDSA, kid);
    jku.jku = Some(lure_url.into());
    out.push(attack(
        "embedded key",
        "jku pointing at the attacker's keys".into(),
        sign(&jku, &claims(), &attacker_key)?,
    ));
    let mut x5u = header(Algorithm::EdDSA, kid);
    x5u.x5u = Some(lure_url.into());
    out.push(attack(
        "embedded key",
        "x5u pointing at the attacker's certificate".into(),
        sign(&x5u, &claims(), &attacker_key)?,
    ));

    for (name, token) in [
        ("bad base64", "!!!.@@@.###".to_owned()),
        (
            "header not JSON",
            format!(
                "{}.{}.sig",
                URL_SAFE_NO_PAD.encode("not json"),
                b64(&claims())
            ),
        ),
        ("two segments", format!("{h}.{p}")),
        ("four segments", format!("{valid}.extra")),
    ] {
        out.push(attack("malformed", name.into(), token));
    }
    Ok(out)
}
