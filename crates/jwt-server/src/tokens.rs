//! Access tokens: what is in them, how they are signed, and every check a
//! token must pass before its claims are believed.
//!
//! An access token here follows RFC 9068 (JWT profile for OAuth 2.0 access
//! tokens): header `typ: at+jwt`, and claims `iss`, `aud`, `sub`, `exp`,
//! `iat`, `nbf`, `jti` plus the application's `roles` and `name`. The roles
//! are a *copy* taken at login or refresh; that copy is what claim C8 is about.
//!
//! # Verification, in order (RFC 8725, JWT best current practices)
//!
//! 1. **Size first.** A token longer than `--max-token-bytes` is refused
//!    before a single byte is decoded.
//! 2. **Header.** It must parse; `alg` must be *the* configured algorithm
//!    (an allow-list of one, never taken from the token, so `none` and
//!    HS256-signed-with-the-public-key "key confusion" fail here); `typ` must
//!    be `at+jwt` (a different kind of JWT cannot pose as an access token);
//!    `crit` is refused (we implement no extensions); `kid` must name a key
//!    in our key set. `jku`, `jwk`, `x5u` and `x5c` are never read: keys come
//!    from the key set only.
//! 3. **Signature**, with the key the `kid` named.
//! 4. **Claims.** `exp`, `nbf`, `iss`, `aud`, `sub` are required; `exp` and
//!    `nbf` are checked with a small leeway (jsonwebtoken's default of 60 s
//!    would add a minute to every revocation window); `iss` and `aud` must
//!    equal ours.

use std::{
    borrow::Cow,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use authlab_core::directory::User;
use aws_lc_rs::{rand::SystemRandom, signature::RsaKeyPair};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{errors::ErrorKind, Header, Validation};
use serde::{de::IgnoredAny, Deserialize, Serialize};

use crate::keys::{KeySet, SigningAlgorithm};

/// `typ` of every access token (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub exp: u64,
    pub iat: u64,
    pub nbf: u64,
    pub jti: String,
    pub roles: Vec<String>,
    pub name: String,
    /// The login (refresh-token family) this token belongs to, as OIDC's
    /// `sid`: logout revokes the family by it, no refresh token needed.
    pub sid: String,
    /// Present when the token is bound to a key (DPoP, RFC 9449 §6): only a
    /// request that proves possession of that key may use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// The `cnf` claim (RFC 7800) as DPoP uses it: the key's thumbprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// RFC 7638 SHA-256 thumbprint, base64url.
    pub jkt: String,
}

impl AccessClaims {
    pub fn user(&self) -> User {
        User {
            username: self.sub.clone(),
            name: self.name.clone(),
            roles: self.roles.clone(),
        }
    }
}

/// Why a token was refused. The `reason` label goes into metrics and the
/// `error_description` of the `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("token larger than {0} bytes")]
    TooLarge(usize),
    #[error("malformed token or unsupported algorithm")]
    Malformed,
    #[error("algorithm {0} is not accepted")]
    AlgorithmNotAllowed(String),
    #[error("token type must be at+jwt")]
    WrongType,
    #[error("critical header extensions are not supported")]
    CriticalHeader,
    #[error("token has no kid")]
    MissingKid,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("signature does not verify")]
    BadSignature,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("wrong issuer")]
    WrongIssuer,
    #[error("wrong audience")]
    WrongAudience,
    #[error("required claim missing: {0}")]
    MissingClaim(String),
    #[error("invalid claims")]
    InvalidClaims,
    #[error("token revoked")]
    Revoked,
}

impl Rejection {
    /// A short stable label, for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::TooLarge(_) => "too_large",
            Self::Malformed => "malformed",
            Self::AlgorithmNotAllowed(_) => "algorithm",
            Self::WrongType => "type",
            Self::CriticalHeader => "crit",
            Self::MissingKid => "missing_kid",
            Self::UnknownKey => "unknown_kid",
            Self::BadSignature => "signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::WrongIssuer => "issuer",
            Self::WrongAudience => "audience",
            Self::MissingClaim(_) => "missing_claim",
            Self::InvalidClaims => "claims",
            Self::Revoked => "revoked",
        }
    }
}

/// The header members verification reads. Everything else in the header
/// (`jku`, `jwk`, `x5u`, `x5c`, …) is skipped by serde without being looked
/// at, so no key can come from the token itself.
#[derive(Deserialize)]
struct JoseHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow, default)]
    typ: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

/// Base64url (no padding, RFC 7515 §2) of one token segment into `buffer`,
/// replacing what was there.
fn decode_segment<'b>(segment: &str, buffer: &'b mut Vec<u8>) -> Option<&'b [u8]> {
    buffer.clear();
    URL_SAFE_NO_PAD.decode_vec(segment, buffer).ok()?;
    Some(buffer.as_slice())
}

/// A claims set that does not deserialize into [`AccessClaims`]: a missing
/// required claim is named (serde reports it as "missing field `x`"), any
/// other shape is invalid claims.
fn claims_rejection(error: serde_json::Error) -> Rejection {
    let message = error.to_string();
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split_once('`'))
        .map_or(Rejection::InvalidClaims, |(field, _)| {
            Rejection::MissingClaim(field.to_owned())
        })
}

#[derive(Debug, thiserror::Error)]
#[error("signing failed: {0}")]
pub struct SignError(String);

/// Signs RS256 with a key pair parsed once. jsonwebtoken 11 re-parses the
/// RSA private key on every `encode` (a signature then takes 0.7–1.1 ms here, against 0.3–0.4 ms with the parsed key kept), which would make the
/// key parse, not the signature, the cost of an RS256 login.
struct CachedRsaSigner {
    key_pair: RsaKeyPair,
    rng: SystemRandom,
}

impl CachedRsaSigner {
    fn sign(&self, header: &Header, claims: &AccessClaims) -> Result<String, SignError> {
        let message = format!("{}.{}", b64_json(header)?, b64_json(claims)?);
        let mut signature = vec![0; self.key_pair.public_modulus_len()];
        self.key_pair
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &self.rng,
                message.as_bytes(),
                &mut signature,
            )
            .map_err(|e| SignError(e.to_string()))?;
        Ok(format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

fn b64_json<T: Serialize>(value: &T) -> Result<String, SignError> {
    serde_json::to_vec(value)
        .map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
        .map_err(|e| SignError(e.to_string()))
}

/// The JOSE header of every access token this server signs with `kid`.
fn access_header(alg: SigningAlgorithm, kid: &str) -> Header {
    let mut header = Header::new(alg.jwt());
    header.typ = Some(ACCESS_TOKEN_TYPE.into());
    header.kid = Some(kid.to_owned());
    header
}

/// Settings a [`TokenService`] needs beyond its keys.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub leeway: Duration,
    pub max_token_bytes: usize,
}

/// The server's defaults, as `jwt-server --help` gives them: issuer
/// `authlab`, audience `authlab-api`, 5 min access tokens, 2 s leeway,
/// 8 KiB tokens.
impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            issuer: "authlab".into(),
            audience: "authlab-api".into(),
            access_ttl: Duration::from_secs(300),
            leeway: Duration::from_secs(2),
            max_token_bytes: 8192,
        }
    }
}

/// Issues and verifies access tokens with one key set.
pub struct TokenService {
    keys: KeySet,
    settings: TokenSettings,
    validation: Validation,
    rsa: Option<CachedRsaSigner>,
    /// The encoded header this server writes for each of its keys, with the
    /// key's `kid`. See [`TokenService::verify`].
    own_headers: Vec<(String, String)>,
}

pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn new_jti() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), 22)
}

impl TokenService {
    pub fn new(keys: KeySet, settings: TokenSettings) -> Self {
        let mut validation = Validation::new(keys.alg().jwt());
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = settings.leeway.as_secs();
        let rsa = match (keys.alg(), keys.active_pkcs8()) {
            (SigningAlgorithm::Rs256, Some(der)) => {
                RsaKeyPair::from_pkcs8(der)
                    .ok()
                    .map(|key_pair| CachedRsaSigner {
                        key_pair,
                        rng: SystemRandom::new(),
                    })
            }
            _ => None,
        };
        let own_headers = keys
            .kids()
            .filter_map(|kid| {
                let encoded = b64_json(&access_header(keys.alg(), kid)).ok()?;
                Some((encoded, kid.to_owned()))
            })
            .collect();
        Self {
            keys,
            settings,
            validation,
            rsa,
            own_headers,
        }
    }

    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// A fresh access token for `user`, valid from now for the access TTL.
    pub fn issue(&self, user: &User, sid: &str) -> Result<(String, AccessClaims), SignError> {
        self.issue_bound(user, sid, None)
    }

    /// [`Self::issue`], bound to the key with thumbprint `jkt` when one is given.
    pub fn issue_bound(
        &self,
        user: &User,
        sid: &str,
        jkt: Option<&str>,
    ) -> Result<(String, AccessClaims), SignError> {
        let now = now_unix();
        let claims = AccessClaims {
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            sub: user.username.clone(),
            exp: now + self.settings.access_ttl.as_secs(),
            iat: now,
            nbf: now,
            jti: new_jti(),
            roles: user.roles.clone(),
            name: user.name.clone(),
            sid: sid.to_owned(),
            cnf: jkt.map(|jkt| Confirmation {
                jkt: jkt.to_owned(),
            }),
        };
        let token = self.sign(&claims)?;
        Ok((token, claims))
    }

    /// Signs arbitrary claims with the active key (also used by tests to mint edge cases).
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, SignError> {
        let header = access_header(self.keys.alg(), self.keys.active_kid());
        match &self.rsa {
            Some(rsa) => rsa.sign(&header, claims),
            None => jsonwebtoken::encode(&header, claims, self.keys.signing_key())
                .map_err(|e| SignError(e.to_string())),
        }
    }

    /// Signs through jsonwebtoken even for RS256 (benchmarks compare the two paths).
    pub fn sign_uncached(&self, claims: &AccessClaims) -> Result<String, SignError> {
        let header = access_header(self.keys.alg(), self.keys.active_kid());
        jsonwebtoken::encode(&header, claims, self.keys.signing_key())
            .map_err(|e| SignError(e.to_string()))
    }

    /// Every check of the module docs, in that order, in one pass over the
    /// token: the header and the claims are each base64-decoded and parsed
    /// at most once, and the signature is checked with a key parsed at
    /// start-up. A header identical to one this server writes is recognised
    /// instead of parsed (see `own_kid`).
    ///
    /// `jsonwebtoken::decode` does the same checks but parses the header
    /// twice and the claims twice (once into the caller's type, once for its
    /// own validation) and rebuilds the verification key on every call; for
    /// HS256 that overhead is most of the cost, and this function runs on
    /// every authenticated request. [`TokenService::verify_with_jsonwebtoken`]
    /// keeps the library's path, and the tests compare the two.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, Rejection> {
        if token.len() > self.settings.max_token_bytes {
            return Err(Rejection::TooLarge(self.settings.max_token_bytes));
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Rejection::Malformed);
        };
        let now = now_unix();
        // One buffer, reused for the three decoded segments: the header is
        // parsed (borrowing from it) and dropped before the signature and
        // then the payload overwrite it.
        let mut decoded = Vec::with_capacity(token.len());
        let key = if let Some(kid) = self.own_kid(header_b64) {
            self.keys
                .signature_check(kid, now)
                .ok_or(Rejection::UnknownKey)?
        } else {
            let header: JoseHeader = decode_segment(header_b64, &mut decoded)
                .and_then(|bytes| serde_json::from_slice(bytes).ok())
                .ok_or(Rejection::Malformed)?;
            if header.alg != self.keys.alg().name() {
                return Err(Rejection::AlgorithmNotAllowed(header.alg.into_owned()));
            }
            let typ_ok = header.typ.as_deref().is_some_and(|typ| {
                typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE)
                    || typ.eq_ignore_ascii_case("application/at+jwt")
            });
            if !typ_ok {
                return Err(Rejection::WrongType);
            }
            if header.crit.is_some() {
                return Err(Rejection::CriticalHeader);
            }
            let kid = header.kid.as_deref().ok_or(Rejection::MissingKid)?;
            self.keys
                .signature_check(kid, now)
                .ok_or(Rejection::UnknownKey)?
        };
        let signature = decode_segment(signature_b64, &mut decoded).ok_or(Rejection::Malformed)?;
        // The signed message is the first two segments exactly as sent.
        let message = &token[..header_b64.len() + 1 + payload_b64.len()];
        if !key.verify(message.as_bytes(), signature) {
            return Err(Rejection::BadSignature);
        }
        let payload = decode_segment(payload_b64, &mut decoded).ok_or(Rejection::Malformed)?;
        let claims: AccessClaims = serde_json::from_slice(payload).map_err(claims_rejection)?;
        let leeway = self.settings.leeway.as_secs();
        if claims.exp < now.saturating_sub(leeway) {
            return Err(Rejection::Expired);
        }
        if claims.nbf > now.saturating_add(leeway) {
            return Err(Rejection::NotYetValid);
        }
        if claims.iss != self.settings.issuer {
            return Err(Rejection::WrongIssuer);
        }
        if claims.aud != self.settings.audience {
            return Err(Rejection::WrongAudience);
        }
        Ok(claims)
    }

    /// The `kid` of a header segment that is byte for byte one this server
    /// writes. Such a header needs no decoding: the same bytes decode to the
    /// same JSON, which names the configured algorithm, `typ: at+jwt`, no
    /// `crit` and this `kid`. Any other header, including an equivalent one
    /// spelled differently, takes the full path.
    fn own_kid(&self, header_b64: &str) -> Option<&str> {
        self.own_headers
            .iter()
            .find(|(encoded, _)| encoded == header_b64)
            .map(|(_, kid)| kid.as_str())
    }

    /// The same checks through `jsonwebtoken::decode`, the library's own
    /// verifier. Not on the request path (see [`TokenService::verify`]): tests
    /// hold the fast path to the same verdicts on the attack corpus and on
    /// mutated tokens, and the benchmarks price the difference.
    pub fn verify_with_jsonwebtoken(&self, token: &str) -> Result<AccessClaims, Rejection> {
        if token.len() > self.settings.max_token_bytes {
            return Err(Rejection::TooLarge(self.settings.max_token_bytes));
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Malformed)?;
        if header.alg != self.keys.alg().jwt() {
            return Err(Rejection::AlgorithmNotAllowed(format!("{:?}", header.alg)));
        }
        let typ_ok = header.typ.as_deref().is_some_and(|typ| {
            typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE)
                || typ.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(Rejection::WrongType);
        }
        if header.crit.is_some() {
            return Err(Rejection::CriticalHeader);
        }
        let kid = header.kid.as_deref().ok_or(Rejection::MissingKid)?;
        let key = self.keys.verifying_key(kid).ok_or(Rejection::UnknownKey)?;
        jsonwebtoken::decode::<AccessClaims>(token, key, &self.validation)
            .map(|data| data.claims)
            .map_err(|error| match error.into_kind() {
                ErrorKind::InvalidSignature => Rejection::BadSignature,
                ErrorKind::ExpiredSignature => Rejection::Expired,
                ErrorKind::ImmatureSignature => Rejection::NotYetValid,
                ErrorKind::InvalidIssuer => Rejection::WrongIssuer,
                ErrorKind::InvalidAudience => Rejection::WrongAudience,
                ErrorKind::MissingRequiredClaim(claim) => Rejection::MissingClaim(claim),
                ErrorKind::InvalidAlgorithm => Rejection::AlgorithmNotAllowed("header".into()),
                ErrorKind::Json(_) | ErrorKind::InvalidClaimFormat(_) => Rejection::InvalidClaims,
                _ => Rejection::Malformed,
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests fail loudly by design

    use serde_json::{json, Value};

    use super::*;
    use crate::keys::KeySetFile;

    fn service() -> TokenService {
        let keys = KeySet::from_file(&KeySetFile::generate(SigningAlgorithm::Hs256).unwrap());
        TokenService::new(keys.unwrap(), TokenSettings::default())
    }

    fn claims(service: &TokenService) -> Value {
        let user = User {
            username: "alice".into(),
            name: "Alice".into(),
            roles: vec!["user".into()],
        };
        let (_, claims) = service.issue(&user, "family").unwrap();
        serde_json::to_value(claims).unwrap()
    }

    fn signed(service: &TokenService, header: &Header, claims: &Value) -> String {
        jsonwebtoken::encode(header, claims, service.keys().signing_key()).unwrap()
    }

    fn our_header(service: &TokenService) -> Header {
        let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
        header.typ = Some(ACCESS_TOKEN_TYPE.into());
        header.kid = Some(service.keys().active_kid().into());
        header
    }

    /// Each refusal names the check that failed: the label goes to metrics
    /// and the description into the `WWW-Authenticate` challenge.
    #[test]
    fn each_failed_check_has_its_own_reason() {
        let service = service();
        let header = our_header(&service);
        let with = |field: &str, value: Value| {
            let mut c = claims(&service);
            c[field] = value;
            signed(&service, &header, &c)
        };
        let now = now_unix();
        let cases = [
            (with("exp", json!(now - 10)), Rejection::Expired),
            (with("nbf", json!(now + 10)), Rejection::NotYetValid),
            (with("iss", json!("evil")), Rejection::WrongIssuer),
            (with("aud", json!("other")), Rejection::WrongAudience),
            (with("roles", json!("admin")), Rejection::InvalidClaims),
        ];
        for (token, expected) in cases {
            assert_eq!(service.verify(&token), Err(expected));
        }

        let mut missing = claims(&service);
        missing.as_object_mut().unwrap().remove("exp");
        assert_eq!(
            service.verify(&signed(&service, &header, &missing)),
            Err(Rejection::MissingClaim("exp".into()))
        );

        let mut unknown = header.clone();
        unknown.kid = Some("../../etc/passwd".into());
        let token = signed(&service, &unknown, &claims(&service));
        assert_eq!(service.verify(&token), Err(Rejection::UnknownKey));

        let mut untyped = header.clone();
        untyped.typ = Some("JWT".into());
        let token = signed(&service, &untyped, &claims(&service));
        assert_eq!(service.verify(&token), Err(Rejection::WrongType));

        let genuine = signed(&service, &header, &claims(&service));
        let (message, _) = genuine.rsplit_once('.').unwrap();
        assert_eq!(
            service.verify(&format!("{message}.")),
            Err(Rejection::BadSignature)
        );
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#),
            message.split_once('.').unwrap().1
        );
        assert_eq!(
            service.verify(&none),
            Err(Rejection::AlgorithmNotAllowed("none".into()))
        );
        assert_eq!(service.verify("a.b"), Err(Rejection::Malformed));
        assert_eq!(service.verify("a.b.c.d"), Err(Rejection::Malformed));
        assert_eq!(
            service.verify(&"x".repeat(8193)),
            Err(Rejection::TooLarge(8192))
        );
        assert!(service.verify(&genuine).is_ok());
    }

    /// The leeway widens validity on both ends by exactly its length.
    #[test]
    fn leeway_is_applied_to_exp_and_nbf() {
        let service = service();
        let header = our_header(&service);
        let now = now_unix();
        let mut c = claims(&service);
        c["exp"] = json!(now - 1);
        assert!(service.verify(&signed(&service, &header, &c)).is_ok());
        c["exp"] = json!(now + 60);
        c["nbf"] = json!(now + 1);
        assert!(service.verify(&signed(&service, &header, &c)).is_ok());
        c["nbf"] = json!(now + 5);
        assert_eq!(
            service.verify(&signed(&service, &header, &c)),
            Err(Rejection::NotYetValid)
        );
    }
}
