//! Signing keys: generation, the key-set file every node shares, rotation,
//! and the public JWKS.
//!
//! A JWT is only as stateless as its keys are shared: every node must be able
//! to verify what any other node signed. So keys live in one *key set* that
//! all nodes load (a file, or the same JSON in an environment variable):
//!
//! ```json
//! { "alg": "EdDSA",
//!   "keys": [ { "kid": "eddsa-7c1f…", "status": "active",      "private_pem": "-----BEGIN PRIVATE KEY-----…" },
//!             { "kid": "eddsa-02ab…", "status": "verify-only", "not_after": 1795000000, "private_pem": "…" } ] }
//! ```
//!
//! Exactly one key is `active`: it signs new tokens. `verify-only` keys are
//! accepted for verification: either the previous key, until `not_after`
//! (its grace period, at least one access-token lifetime, so tokens it
//! signed can run out), or the *next* key, staged on every node before it
//! becomes active. Rotation without downtime is therefore two steps: stage the
//! new key everywhere, then activate it everywhere; at no moment does a node
//! see a token whose `kid` it does not know.
//!
//! Every token names its key in `kid`; verification looks the `kid` up in
//! this set and nowhere else — never in a URL or key embedded in the token.

use std::{
    collections::HashMap,
    fs::{OpenOptions, Permissions},
    io::{Read, Write},
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::Path,
    time::Duration,
};

use aws_lc_rs::{
    encoding::AsDer,
    hmac,
    rand::SystemRandom,
    rsa::KeySize,
    signature::{
        EcdsaKeyPair, Ed25519KeyPair, KeyPair, ParsedPublicKey, RsaKeyPair,
        ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519,
        RSA_PKCS1_2048_8192_SHA256,
    },
};
use base64::{engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{
    jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse},
    Algorithm, DecodingKey, EncodingKey,
};
use serde::{Deserialize, Serialize};

use crate::tokens::now_unix;

/// Shortest HS256 secret accepted: RFC 7518 §3.2 asks for a key at least as
/// long as the hash output (256 bits).
pub const MIN_HS256_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
pub enum SigningAlgorithm {
    #[serde(rename = "HS256")]
    #[value(name = "HS256")]
    Hs256,
    #[serde(rename = "RS256")]
    #[value(name = "RS256")]
    Rs256,
    #[serde(rename = "ES256")]
    #[value(name = "ES256")]
    Es256,
    #[serde(rename = "EdDSA")]
    #[value(name = "EdDSA")]
    EdDsa,
}

impl SigningAlgorithm {
    pub const ALL: [SigningAlgorithm; 4] = [Self::Hs256, Self::Rs256, Self::Es256, Self::EdDsa];

    pub fn jwt(self) -> Algorithm {
        match self {
            Self::Hs256 => Algorithm::HS256,
            Self::Rs256 => Algorithm::RS256,
            Self::Es256 => Algorithm::ES256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    pub fn is_symmetric(self) -> bool {
        self == Self::Hs256
    }
}

impl std::fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyStatus {
    Active,
    VerifyOnly,
}

/// One key as stored in the key-set file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyEntry {
    pub kid: String,
    pub status: KeyStatus,
    /// Unix time after which a verify-only key is no longer accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<u64>,
    /// PKCS#8 PEM of an asymmetric private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_pem: Option<String>,
    /// Base64 of an HS256 secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_b64: Option<String>,
}

/// The key-set file: what `jwt-server keys` writes and every node reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeySetFile {
    pub alg: SigningAlgorithm,
    pub keys: Vec<KeyEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key set {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("cannot write key set {path}: {reason}")]
    Write { path: String, reason: String },
    #[error(
        "key set {path} holds private keys but group or others can read it (mode {mode:03o}); \
         run `chmod 600 {path}`, or pass --allow-insecure-key-file \
         (AUTHLAB_ALLOW_INSECURE_KEY_FILE=true) to load it anyway"
    )]
    InsecureFile { path: String, mode: u32 },
    #[error("key set is not valid JSON: {0}")]
    Parse(String),
    #[error("key {kid}: {reason}")]
    BadKey { kid: String, reason: String },
    #[error("key set must have exactly one active key, found {0}")]
    ActiveCount(usize),
    #[error(
        "HS256 secret is {0} bytes; at least {MIN_HS256_SECRET_BYTES} are required (RFC 7518 §3.2)"
    )]
    WeakSecret(usize),
    #[error("the key set is {found} but --alg says {expected}")]
    WrongAlgorithm {
        expected: SigningAlgorithm,
        found: SigningAlgorithm,
    },
    #[error("key generation failed for {0}")]
    Generate(SigningAlgorithm),
    #[error("no staged (verify-only, not expiring) key to activate")]
    NothingStaged,
}

fn random_kid(alg: SigningAlgorithm) -> String {
    use rand::distr::{Alphanumeric, SampleString};
    format!(
        "{}-{}",
        alg.name().to_ascii_lowercase(),
        Alphanumeric
            .sample_string(&mut rand::rng(), 12)
            .to_ascii_lowercase()
    )
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A fresh key of `alg`, not yet placed in a set.
pub fn generate_key(alg: SigningAlgorithm, status: KeyStatus) -> Result<KeyEntry, KeyError> {
    let failed = |_| KeyError::Generate(alg);
    let (private_pem, secret_b64) = match alg {
        SigningAlgorithm::Hs256 => {
            let mut secret = [0u8; 64];
            aws_lc_rs::rand::fill(&mut secret).map_err(failed)?;
            (None, Some(STANDARD.encode(secret)))
        }
        SigningAlgorithm::Rs256 => {
            let key = aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048).map_err(failed)?;
            let der: aws_lc_rs::encoding::Pkcs8V1Der = key.as_der().map_err(failed)?;
            (Some(pem("PRIVATE KEY", der.as_ref())), None)
        }
        SigningAlgorithm::Es256 => {
            let doc = EcdsaKeyPair::generate_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                &SystemRandom::new(),
            )
            .map_err(failed)?;
            (Some(pem("PRIVATE KEY", doc.as_ref())), None)
        }
        SigningAlgorithm::EdDsa => {
            let doc = Ed25519KeyPair::generate_pkcs8v1(&SystemRandom::new()).map_err(failed)?;
            (Some(pem("PRIVATE KEY", doc.as_ref())), None)
        }
    };
    Ok(KeyEntry {
        kid: random_kid(alg),
        status,
        not_after: None,
        private_pem,
        secret_b64,
    })
}

impl KeySetFile {
    /// A new set with one active key.
    pub fn generate(alg: SigningAlgorithm) -> Result<Self, KeyError> {
        Ok(Self {
            alg,
            keys: vec![generate_key(alg, KeyStatus::Active)?],
        })
    }

    /// Reads a key set file. It holds private keys, so a file group or
    /// others can read is refused unless `allow_insecure` says otherwise:
    /// a copy someone else can read is a leaked key.
    pub fn read(path: &Path, allow_insecure: bool) -> Result<Self, KeyError> {
        let failed = |e: std::io::Error| KeyError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let mut file = std::fs::File::open(path).map_err(failed)?;
        // The mode of the file actually opened, not of whatever the path names later.
        let mode = file.metadata().map_err(failed)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            if !allow_insecure {
                return Err(KeyError::InsecureFile {
                    path: path.display().to_string(),
                    mode,
                });
            }
            tracing::warn!(
                path = %path.display(),
                mode = format_args!("{mode:03o}"),
                "loading a key set that group or others can read"
            );
        }
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(failed)?;
        Self::parse(&text)
    }

    /// Writes the set readable and writable by its owner only (0600), also
    /// when the file already exists with a looser mode.
    pub fn write(&self, path: &Path) -> Result<(), KeyError> {
        let failed = |e: std::io::Error| KeyError::Write {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(failed)?;
        // `mode` only applies to a file this call creates; an existing one
        // keeps its mode, so tighten it before any key is written into it.
        file.set_permissions(Permissions::from_mode(0o600))
            .map_err(failed)?;
        file.write_all(self.to_json().as_bytes()).map_err(failed)?;
        file.sync_all().map_err(failed)
    }

    pub fn parse(json: &str) -> Result<Self, KeyError> {
        serde_json::from_str(json).map_err(|e| KeyError::Parse(e.to_string()))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| unreachable!("plain data serializes"))
    }

    /// Step 1 of a rotation: add a key every node will accept but none signs with yet.
    pub fn stage(&mut self) -> Result<String, KeyError> {
        self.prune();
        let key = generate_key(self.alg, KeyStatus::VerifyOnly)?;
        let kid = key.kid.clone();
        self.keys.push(key);
        Ok(kid)
    }

    /// Step 2: the staged key signs from now on; the old active key stays
    /// verify-only for `grace`, so the tokens it signed can expire normally.
    pub fn activate_staged(&mut self, grace: Duration) -> Result<String, KeyError> {
        self.prune();
        let staged = self
            .keys
            .iter()
            .rposition(|k| k.status == KeyStatus::VerifyOnly && k.not_after.is_none())
            .ok_or(KeyError::NothingStaged)?;
        let not_after = now_unix() + grace.as_secs();
        for key in &mut self.keys {
            if key.status == KeyStatus::Active {
                key.status = KeyStatus::VerifyOnly;
                key.not_after = Some(not_after);
            }
        }
        self.keys[staged].status = KeyStatus::Active;
        Ok(self.keys[staged].kid.clone())
    }

    /// Drops verify-only keys whose grace period is over.
    fn prune(&mut self) {
        let now = now_unix();
        self.keys.retain(|k| k.not_after.is_none_or(|t| t > now));
    }

    /// The public half of key `kid` as PEM (`PUBLIC KEY`, X.509
    /// SubjectPublicKeyInfo): what a verifier outside this crate, such as
    /// HAProxy's `jwt_verify`, loads. `Ok(None)` for an unknown `kid`; an
    /// error for HS256, whose key is a secret with no public half.
    pub fn public_pem(&self, kid: &str) -> Result<Option<String>, KeyError> {
        let Some(entry) = self.keys.iter().find(|k| k.kid == kid) else {
            return Ok(None);
        };
        let bad = |reason: String| KeyError::BadKey {
            kid: kid.into(),
            reason,
        };
        let pkcs8 = pem_der(
            kid,
            entry
                .private_pem
                .as_deref()
                .ok_or_else(|| bad("no private_pem, so no public key".into()))?,
        )?;
        let rejected = |e: aws_lc_rs::error::KeyRejected| bad(e.to_string());
        let der = match self.alg {
            SigningAlgorithm::Rs256 => RsaKeyPair::from_pkcs8(&pkcs8)
                .map_err(rejected)?
                .public_key()
                .as_der(),
            SigningAlgorithm::Es256 => {
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8)
                    .map_err(rejected)?
                    .public_key()
                    .as_der()
            }
            SigningAlgorithm::EdDsa => Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8)
                .map_err(rejected)?
                .public_key()
                .as_der(),
            SigningAlgorithm::Hs256 => return Err(bad("HS256 has no public key".into())),
        }
        .map_err(|_| bad("cannot encode the public key".into()))?;
        Ok(Some(pem("PUBLIC KEY", der.as_ref())))
    }
}

/// A verification key parsed once, when the key set loads.
///
/// `jsonwebtoken::decode` builds its verifier from a `DecodingKey` on every
/// call: an HMAC key schedule for HS256, a public-key parse (an EC point
/// decompression, an RSA modulus) for the others. On the request path that
/// is pure waste, so the server keeps the aws-lc key object itself, the same
/// crypto library jsonwebtoken's `aws_lc_rs` backend calls.
// A key set holds a handful of keys; keeping the HMAC key inline (aws-lc's
// precomputed inner and outer states) saves a pointer chase per request.
#[allow(clippy::large_enum_variant)]
pub enum SignatureCheck {
    Hmac(hmac::Key),
    Public(ParsedPublicKey),
}

impl SignatureCheck {
    /// Whether `signature` is this key's signature over `message`
    /// (constant-time comparison for HMAC, done by aws-lc).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::Hmac(key) => hmac::verify(key, message, signature).is_ok(),
            Self::Public(key) => key.verify_sig(message, signature).is_ok(),
        }
    }

    fn hs256(secret: &[u8]) -> Self {
        Self::Hmac(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// The public half of a PKCS#8 private key, with the verification
    /// algorithm jsonwebtoken uses for `alg` (RS256 accepts 2048–8192-bit
    /// moduli, ES256 the fixed-length r||s signature of RFC 7518 §3.4).
    fn public(alg: SigningAlgorithm, pkcs8: &[u8]) -> Result<Self, String> {
        let rejected = |e: aws_lc_rs::error::KeyRejected| e.to_string();
        let parsed = match alg {
            SigningAlgorithm::Rs256 => {
                let pair = RsaKeyPair::from_pkcs8(pkcs8).map_err(rejected)?;
                ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, pair.public_key().as_ref())
            }
            SigningAlgorithm::Es256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(rejected)?;
                ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, pair.public_key().as_ref())
            }
            SigningAlgorithm::EdDsa => {
                let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(rejected)?;
                ParsedPublicKey::new(&ED25519, pair.public_key().as_ref())
            }
            SigningAlgorithm::Hs256 => return Err("HS256 has no public key".into()),
        };
        parsed.map(Self::Public).map_err(rejected)
    }
}

/// A key ready to verify with: jsonwebtoken's form (the reference verifier
/// and the lab's teaching verifier use it) and the parsed form the server's
/// request path uses.
struct VerifyingKey {
    decoding: DecodingKey,
    check: SignatureCheck,
    not_after: Option<u64>,
}

/// The loaded key set: one signing key and every key that may verify.
pub struct KeySet {
    alg: SigningAlgorithm,
    active_kid: String,
    active: EncodingKey,
    active_pkcs8: Option<Vec<u8>>,
    active_secret: Option<Vec<u8>>,
    verifiers: HashMap<String, VerifyingKey>,
    jwks: JwkSet,
}

fn pem_der(kid: &str, pem_text: &str) -> Result<Vec<u8>, KeyError> {
    let body: String = pem_text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    STANDARD.decode(body.trim()).map_err(|e| KeyError::BadKey {
        kid: kid.into(),
        reason: format!("PEM body is not base64: {e}"),
    })
}

impl KeySet {
    pub fn from_file(file: &KeySetFile) -> Result<Self, KeyError> {
        let now = now_unix();
        let actives = file
            .keys
            .iter()
            .filter(|k| k.status == KeyStatus::Active)
            .count();
        if actives != 1 {
            return Err(KeyError::ActiveCount(actives));
        }
        let alg = file.alg;
        let mut active = None;
        let mut verifiers = HashMap::new();
        let mut jwks = Vec::new();
        for entry in &file.keys {
            if entry.not_after.is_some_and(|t| t <= now) && entry.status != KeyStatus::Active {
                continue;
            }
            let bad = |reason: String| KeyError::BadKey {
                kid: entry.kid.clone(),
                reason,
            };
            let (encoding, decoding, check, pkcs8, secret_bytes) = match alg {
                SigningAlgorithm::Hs256 => {
                    let secret = entry
                        .secret_b64
                        .as_deref()
                        .ok_or_else(|| bad("HS256 key without secret_b64".into()))
                        .and_then(|b64| STANDARD.decode(b64).map_err(|e| bad(e.to_string())))?;
                    if secret.len() < MIN_HS256_SECRET_BYTES {
                        return Err(KeyError::WeakSecret(secret.len()));
                    }
                    (
                        EncodingKey::from_secret(&secret),
                        DecodingKey::from_secret(&secret),
                        SignatureCheck::hs256(&secret),
                        None,
                        Some(secret),
                    )
                }
                _ => {
                    let pem_text = entry
                        .private_pem
                        .as_deref()
                        .ok_or_else(|| bad("asymmetric key without private_pem".into()))?;
                    let bytes = pem_text.as_bytes();
                    let encoding = match alg {
                        SigningAlgorithm::Rs256 => EncodingKey::from_rsa_pem(bytes),
                        SigningAlgorithm::Es256 => EncodingKey::from_ec_pem(bytes),
                        _ => EncodingKey::from_ed_pem(bytes),
                    }
                    .map_err(|e| bad(e.to_string()))?;
                    let mut jwk = Jwk::from_encoding_key(&encoding, alg.jwt())
                        .map_err(|e| bad(e.to_string()))?;
                    jwk.common.key_id = Some(entry.kid.clone());
                    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
                    jwk.common.key_algorithm = Some(match alg {
                        SigningAlgorithm::Rs256 => KeyAlgorithm::RS256,
                        SigningAlgorithm::Es256 => KeyAlgorithm::ES256,
                        _ => KeyAlgorithm::EdDSA,
                    });
                    let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| bad(e.to_string()))?;
                    jwks.push(jwk);
                    let der = pem_der(&entry.kid, pem_text)?;
                    let check = SignatureCheck::public(alg, &der).map_err(bad)?;
                    (encoding, decoding, check, Some(der), None)
                }
            };
            if entry.status == KeyStatus::Active {
                active = Some((entry.kid.clone(), encoding, pkcs8, secret_bytes));
            }
            verifiers.insert(
                entry.kid.clone(),
                VerifyingKey {
                    decoding,
                    check,
                    not_after: entry.not_after,
                },
            );
        }
        let (active_kid, active, active_pkcs8, active_secret) =
            active.ok_or(KeyError::ActiveCount(0))?;
        Ok(Self {
            alg,
            active_kid,
            active,
            active_pkcs8,
            active_secret,
            verifiers,
            jwks: JwkSet { keys: jwks },
        })
    }

    /// A one-key HS256 set from a shared secret. The `kid` is derived from the
    /// secret, so every node given the same secret names the key the same way.
    pub fn from_hs256_secret(secret: &str) -> Result<Self, KeyError> {
        if secret.len() < MIN_HS256_SECRET_BYTES {
            return Err(KeyError::WeakSecret(secret.len()));
        }
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
        let kid = format!("hs256-{}", &URL_SAFE_NO_PAD.encode(digest.as_ref())[..12]);
        let file = KeySetFile {
            alg: SigningAlgorithm::Hs256,
            keys: vec![KeyEntry {
                kid,
                status: KeyStatus::Active,
                not_after: None,
                private_pem: None,
                secret_b64: Some(STANDARD.encode(secret.as_bytes())),
            }],
        };
        Self::from_file(&file)
    }

    pub fn alg(&self) -> SigningAlgorithm {
        self.alg
    }

    /// Every `kid` that may verify (active, staged and previous keys).
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.verifiers.keys().map(String::as_str)
    }

    pub fn active_kid(&self) -> &str {
        &self.active_kid
    }

    pub fn signing_key(&self) -> &EncodingKey {
        &self.active
    }

    /// PKCS#8 DER of the active private key (asymmetric sets only).
    pub fn active_pkcs8(&self) -> Option<&[u8]> {
        self.active_pkcs8.as_deref()
    }

    /// The active HMAC secret (HS256 sets only). The lab's naive verifier
    /// needs it to show key confusion; the server itself never reads it back.
    pub fn hmac_secret(&self) -> Option<&[u8]> {
        self.active_secret.as_deref()
    }

    /// The key a `kid` names, if it is in the set and inside its grace period.
    fn usable(&self, kid: &str, now: u64) -> Option<&VerifyingKey> {
        self.verifiers
            .get(kid)
            .filter(|key| key.not_after.is_none_or(|t| t > now))
    }

    /// The key a `kid` names, in jsonwebtoken's form.
    pub fn verifying_key(&self, kid: &str) -> Option<&DecodingKey> {
        self.usable(kid, now_unix()).map(|key| &key.decoding)
    }

    /// The key a `kid` names, parsed: what `TokenService::verify` checks with.
    pub fn signature_check(&self, kid: &str, now: u64) -> Option<&SignatureCheck> {
        self.usable(kid, now).map(|key| &key.check)
    }

    /// Public keys for `/.well-known/jwks.json`; empty for HS256, whose key is a secret.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_generates_a_loadable_set_with_public_jwks() {
        for alg in SigningAlgorithm::ALL {
            let file = KeySetFile::generate(alg).unwrap();
            let parsed = KeySetFile::parse(&file.to_json()).unwrap();
            let set = KeySet::from_file(&parsed).unwrap();
            assert!(set.verifying_key(set.active_kid()).is_some(), "{alg}");
            if alg.is_symmetric() {
                assert!(set.jwks().keys.is_empty(), "a secret is never published");
            } else {
                let json = serde_json::to_string(set.jwks()).unwrap();
                assert!(json.contains(set.active_kid()), "{json}");
                assert!(
                    !json.contains("\"d\""),
                    "no private component in the JWKS: {json}"
                );
            }
        }
    }

    #[test]
    fn rotation_stages_then_activates_and_keeps_the_old_key_for_its_grace() {
        let mut file = KeySetFile::generate(SigningAlgorithm::EdDsa).unwrap();
        let first = file.keys[0].kid.clone();
        let staged = file.stage().unwrap();
        let set = KeySet::from_file(&file).unwrap();
        assert_eq!(
            set.active_kid(),
            first,
            "staging does not change the signer"
        );
        assert!(
            set.verifying_key(&staged).is_some(),
            "but the staged key verifies"
        );

        assert_eq!(
            file.activate_staged(Duration::from_secs(600)).unwrap(),
            staged
        );
        let set = KeySet::from_file(&file).unwrap();
        assert_eq!(set.active_kid(), staged);
        assert!(
            set.verifying_key(&first).is_some(),
            "old key verifies during its grace"
        );

        file.stage().unwrap();
        file.activate_staged(Duration::ZERO).unwrap();
        let set = KeySet::from_file(&file).unwrap();
        assert!(
            set.verifying_key(&staged).is_none(),
            "no grace: gone at once"
        );
    }

    #[test]
    fn weak_hs256_secrets_are_refused() {
        assert!(matches!(
            KeySet::from_hs256_secret("short"),
            Err(KeyError::WeakSecret(5))
        ));
        assert!(KeySet::from_hs256_secret(&"x".repeat(32)).is_ok());
    }
}
