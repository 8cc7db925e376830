//! The corpus: every hostile token, each named after the mistake it exploits.
//!
//! A verifier is only as safe as the checks it makes, and every check
//! exists because a real library or service once skipped it: trusting the
//! token's own `alg` (`none`, or HS256 keyed with the *public* key), taking
//! a key the token offers (`jwk`, `jku`, `x5u`), ignoring `exp`, `aud` or
//! `typ`. The corpus holds one token per mistake, so a verifier that
//! refuses all of them makes none of those mistakes.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{jwk::Jwk, Algorithm, EncodingKey, Header};
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
///
/// Experiments and reports list the cases in the order built here, family
/// by family; the snapshot test at the end of this file pins that order.
pub fn corpus(keys: &KeySetFile, valid: &str, lure_url: &str) -> Result<Vec<Attack>, CorpusError> {
    let issuer = Issuer::new(keys)?;
    let mut out = claims_tricks(&issuer)?;
    out.extend(alg_none(issuer.kid));
    out.extend(key_confusion(keys, issuer.kid)?);
    let genuine = Genuine::split(valid)?;
    out.extend(tampering(&genuine)?);
    out.extend(header_tricks(&issuer)?);
    out.extend(embedded_keys(issuer.kid, lure_url)?);
    out.extend(malformed(&genuine));
    Ok(out)
}

fn attack(class: &str, name: impl Into<String>, token: String) -> Attack {
    Attack {
        name: name.into(),
        class: class.into(),
        token,
    }
}

/// Our active key, held as the issuer holds it. Most attacks are correctly
/// signed: what must fail them is a check on what was signed.
struct Issuer<'a> {
    alg: SigningAlgorithm,
    kid: &'a str,
    key: EncodingKey,
}

impl<'a> Issuer<'a> {
    fn new(keys: &'a KeySetFile) -> Result<Self, CorpusError> {
        let entry = keys
            .keys
            .iter()
            .find(|k| k.status == jwt_server::keys::KeyStatus::Active)
            .ok_or_else(|| err("no active key"))?;
        Ok(Self {
            alg: keys.alg,
            kid: entry.kid.as_str(),
            key: encoding_key(keys.alg, entry)?,
        })
    }

    /// The header the issuer puts on its own tokens.
    fn header(&self) -> Header {
        header(self.alg.jwt(), self.kid)
    }

    fn sign_claims(&self, claims: &Value) -> Result<String, CorpusError> {
        sign(&self.header(), claims, &self.key)
    }

    fn sign_header(&self, header: &Header) -> Result<String, CorpusError> {
        sign(header, &claims(), &self.key)
    }

    /// Genuine claims with `field` set to `value`.
    fn with(&self, field: &str, value: Value) -> Result<String, CorpusError> {
        let mut c = claims();
        c[field] = value;
        self.sign_claims(&c)
    }

    /// Genuine claims with `field` left out.
    fn without(&self, field: &str) -> Result<String, CorpusError> {
        let mut c = claims();
        if let Some(map) = c.as_object_mut() {
            map.remove(field);
        }
        self.sign_claims(&c)
    }
}

/// Claims a careful verifier must refuse although the signature is ours.
fn claims_tricks(issuer: &Issuer) -> Result<Vec<Attack>, CorpusError> {
    let now = now_unix();
    let mut out = vec![
        attack("validity", "expired", issuer.with("exp", json!(now - 60))?),
        attack(
            "validity",
            "not yet valid",
            issuer.with("nbf", json!(now + 60))?,
        ),
        attack(
            "audience",
            "wrong audience",
            issuer.with("aud", json!("someone-else"))?,
        ),
        attack(
            "audience",
            "wrong issuer",
            issuer.with("iss", json!("evil"))?,
        ),
    ];
    for field in ["exp", "nbf", "aud", "iss", "sub"] {
        out.push(attack(
            "required claims",
            format!("missing {field}"),
            issuer.without(field)?,
        ));
    }
    out.push(attack(
        "claim types",
        "roles of the wrong type",
        issuer.with("roles", json!("admin"))?,
    ));
    out.push(attack(
        "size",
        "oversized (9 KB claim)",
        issuer.with("name", json!("x".repeat(9_000)))?,
    ));
    Ok(out)
}

/// Unsigned tokens, in every spelling a case-insensitive check would let by.
fn alg_none(kid: &str) -> Vec<Attack> {
    ["none", "None", "NONE", "nOnE"]
        .into_iter()
        .map(|none| {
            let header = json!({"alg": none, "typ": "at+jwt", "kid": kid});
            attack(
                "alg none",
                format!("alg {none}"),
                format!("{}.{}.", b64(&header), b64(&claims())),
            )
        })
        .collect()
}

/// The public key, as anyone can fetch it, used as an HMAC secret. An HS256
/// set has no public key to confuse, so it gets no case.
fn key_confusion(keys: &KeySetFile, kid: &str) -> Result<Option<Attack>, CorpusError> {
    if keys.alg.is_symmetric() {
        return Ok(None);
    }
    let set = KeySet::from_file(keys).map_err(err)?;
    let public = naive_key_bytes(&set);
    let token = sign(
        &header(Algorithm::HS256, kid),
        &claims(),
        &EncodingKey::from_secret(&public),
    )?;
    Ok(Some(attack(
        "key confusion",
        "HS256 signed with the public key",
        token,
    )))
}

/// The genuine token, cut into its three segments, for attacks that reuse
/// a real signature or a real segment.
struct Genuine<'a> {
    whole: &'a str,
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
}

impl<'a> Genuine<'a> {
    fn split(valid: &'a str) -> Result<Self, CorpusError> {
        let parts: Vec<&str> = valid.split('.').collect();
        let [header, payload, signature] = parts.as_slice() else {
            return Err(err("the genuine token is not a JWS"));
        };
        Ok(Self {
            whole: valid,
            header,
            payload,
            signature,
        })
    }
}

/// A real signature over something it was not made for, or no signature.
fn tampering(genuine: &Genuine) -> Result<Vec<Attack>, CorpusError> {
    let Genuine {
        header: h,
        payload: p,
        signature: s,
        ..
    } = genuine;
    let mut elevated: Value = URL_SAFE_NO_PAD
        .decode(p)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| err("genuine payload unreadable"))?;
    // Become someone else, with admin rights: never the same bytes as the original.
    elevated["sub"] = json!("mallory");
    elevated["roles"] = json!(["user", "admin"]);
    let mut other = claims();
    other["jti"] = json!("another-token");
    let mut flipped = URL_SAFE_NO_PAD.decode(s).map_err(err)?;
    if let Some(first) = flipped.first_mut() {
        *first ^= 1;
    }
    Ok(vec![
        attack(
            "tampering",
            "payload changed, signature kept",
            format!("{h}.{}.{s}", b64(&elevated)),
        ),
        attack("tampering", "signature stripped", format!("{h}.{p}.")),
        attack(
            "tampering",
            "another token's signature",
            format!("{h}.{}.{s}", b64(&other)),
        ),
        attack(
            "tampering",
            "one signature bit flipped",
            format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(flipped)),
        ),
    ])
}

/// Signed by us, with a header that should stop the token before any key
/// is looked up: the wrong `typ`, a missing or hostile `kid`, `crit`.
fn header_tricks(issuer: &Issuer) -> Result<Vec<Attack>, CorpusError> {
    let mut wrong_type = issuer.header();
    wrong_type.typ = Some("JWT".into());
    let mut no_kid = issuer.header();
    no_kid.kid = None;
    let mut out = vec![
        attack(
            "token type",
            "typ JWT instead of at+jwt",
            issuer.sign_header(&wrong_type)?,
        ),
        attack("kid", "no kid", issuer.sign_header(&no_kid)?),
    ];
    for bad_kid in [
        "unknown-kid",
        "../../../../etc/passwd",
        "' OR '1'='1' --",
        "",
    ] {
        out.push(attack(
            "kid",
            format!("kid {bad_kid:?}"),
            issuer.sign_header(&header(issuer.alg.jwt(), bad_kid))?,
        ));
    }
    let mut critical = issuer.header();
    critical.crit = Some(vec!["exp".into()]);
    out.push(attack(
        "token type",
        "crit header",
        issuer.sign_header(&critical)?,
    ));
    Ok(out)
}

/// A key the attacker made, offered inside the token or by URL.
fn embedded_keys(kid: &str, lure_url: &str) -> Result<Vec<Attack>, CorpusError> {
    let attacker = KeySetFile::generate(SigningAlgorithm::EdDsa).map_err(err)?;
    let attacker_entry = attacker
        .keys
        .first()
        .ok_or_else(|| err("the attacker's key set is empty"))?;
    let attacker_key = encoding_key(SigningAlgorithm::EdDsa, attacker_entry)?;
    let attacker_jwk = Jwk::from_encoding_key(&attacker_key, Algorithm::EdDSA).map_err(err)?;
    let mut out = Vec::new();
    for (name, forged_kid) in [
        ("embedded jwk, attacker's kid", attacker_entry.kid.as_str()),
        ("embedded jwk, our kid", kid),
    ] {
        let mut forged = header(Algorithm::EdDSA, forged_kid);
        forged.jwk = Some(attacker_jwk.clone());
        out.push(attack(
            "embedded key",
            name,
            sign(&forged, &claims(), &attacker_key)?,
        ));
    }
    let mut jku = header(Algorithm::EdDSA, kid);
    jku.jku = Some(lure_url.into());
    out.push(attack(
        "embedded key",
        "jku pointing at the attacker's keys",
        sign(&jku, &claims(), &attacker_key)?,
    ));
    let mut x5u = header(Algorithm::EdDSA, kid);
    x5u.x5u = Some(lure_url.into());
    out.push(attack(
        "embedded key",
        "x5u pointing at the attacker's certificate",
        sign(&x5u, &claims(), &attacker_key)?,
    ));
    Ok(out)
}

/// Not a JWS at all: a parser must refuse these before anything else runs.
fn malformed(genuine: &Genuine) -> Vec<Attack> {
    let Genuine {
        whole,
        header: h,
        payload: p,
        ..
    } = genuine;
    [
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
        ("four segments", format!("{whole}.extra")),
    ]
    .into_iter()
    .map(|(name, token)| attack("malformed", name, token))
    .collect()
}

#[cfg(test)]
mod tests {
    use jwt_server::{keys::KeySetFile, SigningAlgorithm};

    use super::corpus;
    use crate::genuine;

    /// The cases as the corpus listed them before it was split into
    /// families: experiments and reports show them in this order, so any
    /// change here should be deliberate.
    const CASES: [(&str, &str); 35] = [
        ("validity", "expired"),
        ("validity", "not yet valid"),
        ("audience", "wrong audience"),
        ("audience", "wrong issuer"),
        ("required claims", "missing exp"),
        ("required claims", "missing nbf"),
        ("required claims", "missing aud"),
        ("required claims", "missing iss"),
        ("required claims", "missing sub"),
        ("claim types", "roles of the wrong type"),
        ("size", "oversized (9 KB claim)"),
        ("alg none", "alg none"),
        ("alg none", "alg None"),
        ("alg none", "alg NONE"),
        ("alg none", "alg nOnE"),
        ("key confusion", "HS256 signed with the public key"),
        ("tampering", "payload changed, signature kept"),
        ("tampering", "signature stripped"),
        ("tampering", "another token's signature"),
        ("tampering", "one signature bit flipped"),
        ("token type", "typ JWT instead of at+jwt"),
        ("kid", "no kid"),
        ("kid", "kid \"unknown-kid\""),
        ("kid", "kid \"../../../../etc/passwd\""),
        ("kid", "kid \"' OR '1'='1' --\""),
        ("kid", "kid \"\""),
        ("token type", "crit header"),
        ("embedded key", "embedded jwk, attacker's kid"),
        ("embedded key", "embedded jwk, our kid"),
        ("embedded key", "jku pointing at the attacker's keys"),
        ("embedded key", "x5u pointing at the attacker's certificate"),
        ("malformed", "bad base64"),
        ("malformed", "header not JSON"),
        ("malformed", "two segments"),
        ("malformed", "four segments"),
    ];

    #[test]
    fn every_algorithm_gets_the_same_cases_in_the_same_order() {
        for alg in SigningAlgorithm::ALL {
            let keys = KeySetFile::generate(alg).unwrap();
            let valid = genuine(&keys).unwrap();
            let cases = corpus(&keys, &valid, "http://127.0.0.1:9/jwks.json").unwrap();
            let listed: Vec<(&str, &str)> = cases
                .iter()
                .map(|a| (a.class.as_str(), a.name.as_str()))
                .collect();
            // An HMAC key has no public half to confuse it with.
            let expected: Vec<(&str, &str)> = CASES
                .into_iter()
                .filter(|(class, _)| !alg.is_symmetric() || *class != "key confusion")
                .collect();
            assert_eq!(listed, expected, "{alg}");
        }
    }
}
