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

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authlab_core::directory::User;
use aws_lc_rs::{rand::SystemRandom, signature::RsaKeyPair};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{errors::ErrorKind, Header, Validation};
use serde::{Deserialize, Serialize};

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

/// Settings a [`TokenService`] needs beyond its keys.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub leeway: Duration,
    pub max_token_bytes: usize,
}

/// Issues and verifies access tokens with one key set.
pub struct TokenService {
    keys: KeySet,
    settings: TokenSettings,
    validation: Validation,
    rsa: Option<CachedRsaSigner>,
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
        Self {
            keys,
            settings,
            validation,
            rsa,
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
        };
        let token = self.sign(&claims)?;
        Ok((token, claims))
    }

    /// Signs arbitrary claims with the active key (also used by tests to mint edge cases).
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, SignError> {
        let mut header = Header::new(self.keys.alg().jwt());
        header.typ = Some(ACCESS_TOKEN_TYPE.into());
        header.kid = Some(self.keys.active_kid().to_owned());
        match &self.rsa {
            Some(rsa) => rsa.sign(&header, claims),
            None => jsonwebtoken::encode(&header, claims, self.keys.signing_key())
                .map_err(|e| SignError(e.to_string())),
        }
    }

    /// Signs through jsonwebtoken even for RS256 (benchmarks compare the two paths).
    pub fn sign_uncached(&self, claims: &AccessClaims) -> Result<String, SignError> {
        let mut header = Header::new(self.keys.alg().jwt());
        header.typ = Some(ACCESS_TOKEN_TYPE.into());
        header.kid = Some(self.keys.active_kid().to_owned());
        jsonwebtoken::encode(&header, claims, self.keys.signing_key())
            .map_err(|e| SignError(e.to_string()))
    }

    /// Every check of the module docs, in that order.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, Rejection> {
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
