//! The `token_verifier` target: tokens built from fuzz input, checked by the
//! server's one-pass verifier and by the jsonwebtoken reference path.
//!
//! # Input
//!
//! Byte 0 picks the mode, byte 1 the algorithm (HS256, RS256, ES256, EdDSA);
//! each algorithm has a key set of two trusted keys (active and staged) and
//! a stranger key of the same algorithm that the set does not hold.
//!
//! * even mode byte — **raw**: the rest of the input, as text, is the token;
//! * odd — **structured**: the rest is read with `arbitrary` as a
//!   [`TokenSpec`]: a header segment (the server's own header bytes, a JSON
//!   header with fuzzed members, fuzzed bytes, or verbatim text), a payload
//!   segment (fuzzed claims, fuzzed bytes, or verbatim text), a signature
//!   (really signed by a trusted, stranger or other-algorithm key; a signature
//!   over some other message; fuzzed bytes), each segment base64url-encoded
//!   canonically or not, and an optional edit of the finished token. Really
//!   signed tokens are what carry the fuzzer past the signature into the
//!   claims checks.
//!
//! # Properties
//!
//! 1. Neither path panics.
//! 2. **Only what a trusted key signed is accepted**, by either path: an
//!    accepted token has exactly three canonical base64url segments, a header
//!    naming the configured `alg`, `typ: at+jwt`, no `crit`, and the `kid` of
//!    a trusted key whose signature over the first two segments the harness
//!    verifies itself; its claims are the payload's, with our `iss` and
//!    `aud`, inside `exp`/`nbf` with the leeway.
//! 3. **The paths agree** (as `tests/verifier_agreement.rs` requires): the
//!    same verdict and, on acceptance, the same claims. One difference is
//!    allowed: jsonwebtoken types header members the one-pass path never
//!    reads (`jwk`, `x5c`, `cty`, …), so for a token a trusted key signed
//!    with such a header, jsonwebtoken may refuse what the one-pass path
//!    accepts, as long as the two agree once the header keeps only `alg`,
//!    `typ`, `kid` and `crit`. Only the key holder can write such a header,
//!    and the server never does.
//! 4. **Genuine tokens pass**: when the structured input is a canonically
//!    encoded token really signed by a trusted key, with a well-formed
//!    header naming that key, the one-pass verdict is exactly "the claims
//!    deserialize and `exp`, `nbf`, `iss`, `aud` hold".
//!
//! Verdicts that depend on the clock are not compared within two seconds of
//! the `exp`/`nbf` limits: the two paths read the clock at different moments.

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use aws_lc_rs::{
    hmac,
    rand::SystemRandom,
    signature::{
        EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey,
        ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519,
        RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256,
    },
};
use base64::{
    engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD},
    Engine,
};
use jwt_server::{
    keys::{KeyEntry, KeySet, KeySetFile, KeyStatus},
    tokens::{now_unix, AccessClaims, TokenService, TokenSettings, ACCESS_TOKEN_TYPE},
    SigningAlgorithm,
};
use serde_json::{Map, Value};

use crate::{json::JsonValue, Outcome};

/// Per algorithm, in `SigningAlgorithm::ALL` order: the key set under test
/// (an active and a staged key) and a key of the same algorithm it does not hold.
const KEY_FILES: [(&str, &str); 4] = [
    (
        include_str!("../keys/hs256.json"),
        include_str!("../keys/hs256-stranger.json"),
    ),
    (
        include_str!("../keys/rs256.json"),
        include_str!("../keys/rs256-stranger.json"),
    ),
    (
        include_str!("../keys/es256.json"),
        include_str!("../keys/es256-stranger.json"),
    ),
    (
        include_str!("../keys/eddsa.json"),
        include_str!("../keys/eddsa-stranger.json"),
    ),
];

/// Mode byte of a raw input (any even byte works; seeds use this one).
pub const RAW: u8 = 0;
/// Mode byte of a structured input (any odd byte works).
pub const STRUCTURED: u8 = 1;

/// Signs and verifies with one key, through aws-lc directly: the harness's
/// own judgement of "signed by this key", independent of the `KeySet`
/// lookups and the base64 handling both verifiers share.
enum SigningKey {
    // Boxed: aws-lc's HMAC key holds its precomputed states inline.
    Hmac(Box<hmac::Key>),
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

pub struct Signer {
    kid: String,
    key: SigningKey,
}

impl Signer {
    fn from_entry(alg: SigningAlgorithm, entry: &KeyEntry) -> Self {
        let key = match alg {
            SigningAlgorithm::Hs256 => {
                let secret = STANDARD
                    .decode(entry.secret_b64.as_deref().expect("HS256 key has a secret"))
                    .expect("fuzz key secret is base64");
                SigningKey::Hmac(Box::new(hmac::Key::new(hmac::HMAC_SHA256, &secret)))
            }
            _ => {
                let pem = entry
                    .private_pem
                    .as_deref()
                    .expect("asymmetric key has a PEM");
                let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
                let der = STANDARD.decode(body).expect("fuzz key PEM body is base64");
                match alg {
                    SigningAlgorithm::Rs256 => {
                        SigningKey::Rsa(RsaKeyPair::from_pkcs8(&der).expect("RSA PKCS#8"))
                    }
                    SigningAlgorithm::Es256 => SigningKey::Ecdsa(
                        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                            .expect("P-256 PKCS#8"),
                    ),
                    _ => SigningKey::Ed25519(
                        Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).expect("Ed25519 PKCS#8"),
                    ),
                }
            }
        };
        Self {
            kid: entry.kid.clone(),
            key,
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.key {
            SigningKey::Hmac(key) => hmac::sign(key, message).as_ref().to_vec(),
            SigningKey::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .expect("RSA signing");
                signature
            }
            SigningKey::Ecdsa(pair) => pair
                .sign(&rng, message)
                .expect("ECDSA signing")
                .as_ref()
                .to_vec(),
            SigningKey::Ed25519(pair) => pair.sign(message).as_ref().to_vec(),
        }
    }

    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.key {
            SigningKey::Hmac(key) => hmac::verify(key, message, signature).is_ok(),
            SigningKey::Rsa(pair) => {
                UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, pair.public_key().as_ref())
                    .verify(message, signature)
                    .is_ok()
            }
            SigningKey::Ecdsa(pair) => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, pair.public_key().as_ref())
                    .verify(message, signature)
                    .is_ok()
            }
            SigningKey::Ed25519(pair) => {
                UnparsedPublicKey::new(&ED25519, pair.public_key().as_ref())
                    .verify(message, signature)
                    .is_ok()
            }
        }
    }
}

/// One algorithm's set-up.
pub struct AlgFixture {
    pub alg: SigningAlgorithm,
    pub service: TokenService,
    /// The keys the set holds: active first, then the staged one.
    pub trusted: Vec<Signer>,
    pub stranger: Signer,
}

impl AlgFixture {
    fn new(alg: SigningAlgorithm, set_json: &str, stranger_json: &str) -> Self {
        let file = KeySetFile::parse(set_json).expect("fuzz key set parses");
        assert_eq!(
            file.alg, alg,
            "keys/ files are in SigningAlgorithm::ALL order"
        );
        let stranger = KeySetFile::parse(stranger_json).expect("stranger key set parses");
        let mut entries: Vec<&KeyEntry> = file.keys.iter().collect();
        entries.sort_by_key(|entry| entry.status != KeyStatus::Active);
        assert!(
            entries.len() == 2 && entries.iter().all(|entry| entry.not_after.is_none()),
            "an active and a staged key, neither expiring"
        );
        let trusted = entries
            .into_iter()
            .map(|entry| Signer::from_entry(alg, entry))
            .collect();
        let service = TokenService::new(
            KeySet::from_file(&file).expect("fuzz key set loads"),
            TokenSettings::default(),
        );
        let fixture = Self {
            alg,
            service,
            trusted,
            stranger: Signer::from_entry(alg, &stranger.keys[0]),
        };
        // The harness writes the server's own header itself (`own_header`);
        // if the server ever writes another, the harness must follow.
        let genuine = fixture
            .service
            .sign(&long_lived_claims())
            .expect("the server signs");
        assert_eq!(
            genuine.split('.').next(),
            Some(fixture.own_header(fixture.trusted[0].kid()).as_str()),
            "own_header no longer matches the header the server writes"
        );
        fixture
    }

    /// The header segment the server writes for `kid`, byte for byte.
    pub fn own_header(&self, kid: &str) -> String {
        let kid = serde_json::to_string(kid).expect("a string serializes");
        URL_SAFE_NO_PAD.encode(format!(
            r#"{{"typ":"{ACCESS_TOKEN_TYPE}","alg":"{}","kid":{kid}}}"#,
            self.alg.name()
        ))
    }

    fn signer<'a>(&'a self, choice: SignerChoice, fixture: &'a Fixture) -> (&'a Signer, bool) {
        match choice {
            SignerChoice::Active => (&self.trusted[0], true),
            SignerChoice::Staged => (&self.trusted[1], true),
            SignerChoice::Stranger => (&self.stranger, false),
            SignerChoice::OtherAlgorithm(n) => {
                let index = SigningAlgorithm::ALL
                    .iter()
                    .position(|alg| *alg == self.alg)
                    .unwrap_or(0);
                let other = (index + 1 + usize::from(n) % 3) % SigningAlgorithm::ALL.len();
                (&fixture.sets[other].trusted[0], false)
            }
        }
    }

    fn kid(&self, choice: &KidChoice) -> String {
        match choice {
            KidChoice::Active => self.trusted[0].kid.clone(),
            KidChoice::Staged => self.trusted[1].kid.clone(),
            KidChoice::Stranger => self.stranger.kid.clone(),
            KidChoice::Other(kid) => kid.clone(),
        }
    }
}

pub struct Fixture {
    pub sets: Vec<AlgFixture>,
}

/// Built once per process: parsing the keys (RSA above all) would otherwise
/// dominate every execution.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| Fixture {
        sets: SigningAlgorithm::ALL
            .iter()
            .zip(KEY_FILES)
            .map(|(alg, (set, stranger))| AlgFixture::new(*alg, set, stranger))
            .collect(),
    })
}

/// Claims valid until 2100, for seeds that must stay genuine for years.
pub fn long_lived_claims() -> AccessClaims {
    AccessClaims {
        iss: "authlab".into(),
        aud: "authlab-api".into(),
        sub: "alice".into(),
        exp: 4_102_444_800,
        iat: 1_700_000_000,
        nbf: 1_700_000_000,
        jti: "fuzz-seed-jti-0000000000".into(),
        roles: vec!["user".into()],
        name: "Alice".into(),
        sid: "fuzz-seed-family".into(),
        cnf: None,
    }
}

/// Runs one fuzz input through both verifiers and checks every property of
/// the module docs; panics when one breaks.
pub fn check(data: &[u8]) -> Outcome {
    let fixture = fixture();
    let (Some(&mode), Some(&alg)) = (data.first(), data.get(1)) else {
        return Outcome::Rejected;
    };
    let set = &fixture.sets[usize::from(alg) % fixture.sets.len()];
    let rest = &data[2..];
    if mode % 2 == RAW {
        let token = String::from_utf8_lossy(rest);
        return verify_and_check(set, &token, None);
    }
    let Ok(spec) = TokenSpec::arbitrary_take_rest(Unstructured::new(rest)) else {
        return Outcome::Rejected;
    };
    let (token, expected) = spec.build(set, fixture);
    verify_and_check(set, &token, expected)
}

fn verify_and_check(set: &AlgFixture, token: &str, expected: Option<bool>) -> Outcome {
    let fast = set.service.verify(token);
    let reference = set.service.verify_with_jsonwebtoken(token);
    for (path, verdict) in [("one-pass", &fast), ("jsonwebtoken", &reference)] {
        if let Ok(claims) = verdict {
            assert_signed_and_valid(set, token, claims, path);
        }
    }
    let at_clock_limit = near_clock_limit(set, token);
    match (&fast, &reference) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "both accept but the claims differ: {token}"),
        (Err(_), Err(_)) => {}
        (Ok(_), Err(_)) if differs_only_in_unread_header_members(set, token) => {}
        _ => assert!(
            at_clock_limit,
            "verdicts differ: one-pass {fast:?}, jsonwebtoken {reference:?} for {token}"
        ),
    }
    if let (Some(expected), false) = (expected, at_clock_limit) {
        assert_eq!(
            fast.is_ok(),
            expected,
            "a genuine token's verdict is wrong: one-pass {fast:?} for {token}"
        );
    }
    if fast.is_ok() {
        Outcome::Accepted
    } else {
        Outcome::Rejected
    }
}

/// Property 2, for a token `path` accepted with `claims`.
fn assert_signed_and_valid(set: &AlgFixture, token: &str, claims: &AccessClaims, path: &str) {
    let settings = set.service.settings();
    assert!(
        token.len() <= settings.max_token_bytes,
        "{path} accepted an oversized token"
    );
    let segments: Vec<&str> = token.split('.').collect();
    assert_eq!(
        segments.len(),
        3,
        "{path} accepted a token without exactly three segments: {token}"
    );
    let decoded: Vec<Vec<u8>> = segments
        .iter()
        .map(|segment| {
            let bytes = URL_SAFE_NO_PAD.decode(segment).unwrap_or_else(|_| {
                panic!("{path} accepted a segment that is not base64url: {token}")
            });
            assert_eq!(
                &URL_SAFE_NO_PAD.encode(&bytes),
                segment,
                "{path} accepted a non-canonical encoding: {token}"
            );
            bytes
        })
        .collect();
    let header: Value = serde_json::from_slice(&decoded[0])
        .unwrap_or_else(|_| panic!("{path} accepted a header that is not JSON: {token}"));
    assert_eq!(
        header.get("alg").and_then(Value::as_str),
        Some(set.alg.name()),
        "{path} accepted another alg: {token}"
    );
    let typ = header
        .get("typ")
        .and_then(Value::as_str)
        .unwrap_or_default();
    assert!(
        typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE)
            || typ.eq_ignore_ascii_case("application/at+jwt"),
        "{path} accepted typ {typ:?}: {token}"
    );
    assert!(
        header.get("crit").is_none_or(Value::is_null),
        "{path} accepted crit: {token}"
    );
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let signer = set
        .trusted
        .iter()
        .find(|signer| signer.kid == kid)
        .unwrap_or_else(|| panic!("{path} accepted kid {kid:?}, not a key of the set: {token}"));
    let message = &token[..segments[0].len() + 1 + segments[1].len()];
    assert!(
        signer.verifies(message.as_bytes(), &decoded[2]),
        "{path} accepted a token that {kid} did not sign: {token}"
    );
    let payload: AccessClaims = serde_json::from_slice(&decoded[1]).unwrap_or_else(|e| {
        panic!("{path} accepted claims that do not deserialize ({e}): {token}")
    });
    assert_eq!(
        &payload, claims,
        "{path} returned claims not in the payload"
    );
    assert_eq!(
        claims.iss, settings.issuer,
        "{path} accepted another issuer"
    );
    assert_eq!(
        claims.aud, settings.audience,
        "{path} accepted another audience"
    );
    let (now, leeway) = (now_unix(), settings.leeway.as_secs());
    // One second of slack: the verifier read the clock a moment earlier.
    assert!(
        claims.exp.saturating_add(leeway + 1) >= now,
        "{path} accepted an expired token: {token}"
    );
    assert!(
        claims.nbf <= now.saturating_add(leeway + 1),
        "{path} accepted a token not yet valid: {token}"
    );
}

/// Whether an `exp` or `nbf` in the payload is within two seconds of where
/// the verdict flips, so that two readings of the clock may disagree.
fn near_clock_limit(set: &AlgFixture, token: &str) -> bool {
    let Some(payload) = token
        .split('.')
        .nth(1)
        .and_then(|segment| URL_SAFE_NO_PAD.decode(segment).ok())
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
    else {
        return false;
    };
    let (now, leeway) = (now_unix(), set.service.settings().leeway.as_secs());
    let near = |claim: &str, limit: u64| {
        payload
            .get(claim)
            .and_then(Value::as_u64)
            .is_some_and(|value| value.abs_diff(limit) <= 2)
    };
    near("exp", now.saturating_sub(leeway)) || near("nbf", now.saturating_add(leeway))
}

/// Property 3's allowance: `token` was signed by a trusted key, and once its
/// header keeps only the members the one-pass path reads (re-signed by the
/// same key), the two paths agree.
fn differs_only_in_unread_header_members(set: &AlgFixture, token: &str) -> bool {
    let segments: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = segments[..] else {
        return false;
    };
    let (Ok(header_bytes), Ok(signature)) = (
        URL_SAFE_NO_PAD.decode(header),
        URL_SAFE_NO_PAD.decode(signature),
    ) else {
        return false;
    };
    let Ok(Value::Object(members)) = serde_json::from_slice::<Value>(&header_bytes) else {
        return false;
    };
    let message = format!("{header}.{payload}");
    let Some(signer) = set
        .trusted
        .iter()
        .find(|signer| signer.verifies(message.as_bytes(), &signature))
    else {
        return false;
    };
    let read: Map<String, Value> = members
        .into_iter()
        .filter(|(name, _)| ["alg", "typ", "kid", "crit"].contains(&name.as_str()))
        .collect();
    let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&read).expect("JSON serializes"));
    let message = format!("{header}.{payload}");
    let reduced = format!(
        "{message}.{}",
        URL_SAFE_NO_PAD.encode(signer.sign(message.as_bytes()))
    );
    match (
        set.service.verify(&reduced),
        set.service.verify_with_jsonwebtoken(&reduced),
    ) {
        (Ok(a), Ok(b)) => a == b,
        (Err(_), Err(_)) => true,
        _ => false,
    }
}

/// A structured input: the three segments and an optional final edit.
#[derive(Debug, Arbitrary)]
pub struct TokenSpec {
    header: HeaderSegment,
    payload: PayloadSegment,
    signature: SignatureSpec,
    edit: Option<Edit>,
}

// Each enum's first variant is the well-formed choice: an input that runs
// out of bytes (arbitrary then picks first variants and zeros) builds a
// genuine token, from which the fuzzer mutates away.

#[derive(Debug, Arbitrary)]
enum HeaderSegment {
    /// The server's own header bytes, with this `kid`: the path that skips parsing.
    Own(KidChoice),
    Json(HeaderSpec, Encoding),
    Bytes(Vec<u8>, Encoding),
    Verbatim(String),
}

#[derive(Debug, Arbitrary)]
enum PayloadSegment {
    Json(Box<ClaimsSpec>, Encoding),
    Bytes(Vec<u8>, Encoding),
    Verbatim(String),
}

#[derive(Debug, Arbitrary)]
enum SignatureSpec {
    /// A real signature over the first two segments.
    Sign(SignerChoice, Encoding),
    /// A real signature over something else.
    SignOther(SignerChoice, OtherMessage),
    Bytes(Vec<u8>, Encoding),
    Verbatim(String),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum SignerChoice {
    Active,
    Staged,
    Stranger,
    /// The active key of another algorithm's set.
    OtherAlgorithm(u8),
}

#[derive(Debug, Arbitrary)]
enum KidChoice {
    Active,
    Staged,
    Stranger,
    Other(String),
}

#[derive(Debug, Arbitrary)]
enum OtherMessage {
    HeaderOnly,
    PayloadOnly,
    Empty,
    Suffixed(String),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Encoding {
    Canonical,
    Padded,
    StandardAlphabet,
    /// Canonical, then the unused low bits of the last character set: a
    /// second spelling of the same bytes, which a strict decoder refuses.
    LowBitsSet,
}

impl Encoding {
    fn encode(self, bytes: &[u8]) -> String {
        match self {
            Self::Canonical => URL_SAFE_NO_PAD.encode(bytes),
            Self::Padded => URL_SAFE.encode(bytes),
            Self::StandardAlphabet => STANDARD_NO_PAD.encode(bytes),
            Self::LowBitsSet => {
                const ALPHABET: &[u8] =
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
                let mut text = URL_SAFE_NO_PAD.encode(bytes).into_bytes();
                if let Some(last) = text.last_mut() {
                    if let Some(index) = ALPHABET.iter().position(|c| c == last) {
                        *last = ALPHABET[index | 1];
                    }
                }
                String::from_utf8(text).expect("base64 is ASCII")
            }
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Edit {
    FlipBit {
        at: u16,
        bit: u8,
    },
    Remove {
        at: u16,
    },
    Insert {
        at: u16,
        byte: u8,
    },
    Truncate {
        at: u16,
    },
    Append(String),
    /// Repeats the token: crosses `--max-token-bytes` cheaply.
    Repeat {
        times: u8,
    },
}

impl Edit {
    fn apply(&self, token: String) -> String {
        let mut bytes = token.into_bytes();
        let at = |at: u16, len: usize| usize::from(at) % (len + 1);
        match self {
            Self::FlipBit { at: i, bit } if !bytes.is_empty() => {
                let i = usize::from(*i) % bytes.len();
                bytes[i] ^= 1 << (bit % 8);
            }
            Self::Remove { at: i } if !bytes.is_empty() => {
                bytes.remove(usize::from(*i) % bytes.len());
            }
            Self::Insert { at: i, byte } => bytes.insert(at(*i, bytes.len()), *byte),
            Self::Truncate { at: i } => bytes.truncate(at(*i, bytes.len())),
            Self::Append(text) => bytes.extend_from_slice(text.as_bytes()),
            Self::Repeat { times } => bytes = bytes.repeat(usize::from(*times) + 1),
            _ => {}
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// A header member: usually a meaningful value, sometimes absent, null, or
/// any JSON at all.
#[derive(Debug)]
enum Member<T> {
    Value(T),
    Absent,
    Null,
    Any(JsonValue),
}

impl<'a, T: Arbitrary<'a>> Arbitrary<'a> for Member<T> {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        // Weighted towards a real value: with many members, a uniform choice
        // would almost never build a header or claims set that passes.
        Ok(match u.arbitrary::<u8>()? {
            0..=191 => Member::Value(u.arbitrary()?),
            192..=215 => Member::Absent,
            216..=239 => Member::Null,
            _ => Member::Any(u.arbitrary()?),
        })
    }
}

impl<T> Member<T> {
    fn insert(&self, map: &mut Map<String, Value>, name: &str, value: impl FnOnce(&T) -> Value) {
        match self {
            Member::Value(v) => {
                map.insert(name.into(), value(v));
            }
            Member::Absent => {}
            Member::Null => {
                map.insert(name.into(), Value::Null);
            }
            Member::Any(any) => {
                map.insert(name.into(), any.0.clone());
            }
        }
    }
}

#[derive(Debug, Arbitrary)]
struct HeaderSpec {
    alg: Member<AlgValue>,
    typ: Member<TypValue>,
    kid: Member<KidChoice>,
    crit: Option<JsonValue>,
    extras: Vec<(HeaderName, JsonValue)>,
}

#[derive(Debug, Arbitrary)]
enum AlgValue {
    Configured,
    ConfiguredLowercase,
    Named(AlgName),
    Other(String),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum AlgName {
    Hs256,
    Rs256,
    Es256,
    EdDsa,
    None,
    NoneUpper,
    NoneMixed,
    Hs384,
    Ps256,
    Es384,
}

impl AlgName {
    fn text(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
            Self::None => "none",
            Self::NoneUpper => "NONE",
            Self::NoneMixed => "nOnE",
            Self::Hs384 => "HS384",
            Self::Ps256 => "PS256",
            Self::Es384 => "ES384",
        }
    }
}

#[derive(Debug, Arbitrary)]
enum TypValue {
    AtJwt,
    ApplicationAtJwt,
    /// `at+jwt` or `application/at+jwt` with the letters the mask names upper-cased.
    MixedCase(u32),
    Jwt,
    Other(String),
}

impl TypValue {
    fn text(&self) -> String {
        match self {
            Self::AtJwt => ACCESS_TOKEN_TYPE.into(),
            Self::ApplicationAtJwt => "application/at+jwt".into(),
            Self::MixedCase(mask) => {
                let base = if mask & (1 << 31) == 0 {
                    ACCESS_TOKEN_TYPE
                } else {
                    "application/at+jwt"
                };
                base.chars()
                    .enumerate()
                    .map(|(i, c)| {
                        if mask & (1 << (i % 31)) != 0 {
                            c.to_ascii_uppercase()
                        } else {
                            c
                        }
                    })
                    .collect()
            }
            Self::Jwt => "JWT".into(),
            Self::Other(text) => text.clone(),
        }
    }
}

#[derive(Debug, Arbitrary)]
enum HeaderName {
    Jku,
    Jwk,
    X5u,
    X5c,
    X5t,
    X5tS256,
    Cty,
    Enc,
    Zip,
    B64,
    Other(String),
}

impl HeaderName {
    fn text(&self) -> &str {
        match self {
            Self::Jku => "jku",
            Self::Jwk => "jwk",
            Self::X5u => "x5u",
            Self::X5c => "x5c",
            Self::X5t => "x5t",
            Self::X5tS256 => "x5t#S256",
            Self::Cty => "cty",
            Self::Enc => "enc",
            Self::Zip => "zip",
            Self::B64 => "b64",
            Self::Other(name) => name,
        }
    }
}

#[derive(Debug, Arbitrary)]
struct ClaimsSpec {
    iss: Member<Party>,
    aud: Member<Party>,
    sub: Member<String>,
    exp: Member<Time>,
    nbf: Member<Time>,
    iat: Member<Time>,
    jti: Member<String>,
    roles: Member<Vec<String>>,
    name: Member<String>,
    sid: Member<String>,
    extras: Vec<(String, JsonValue)>,
}

/// An `iss` or `aud` value.
#[derive(Debug, Arbitrary)]
enum Party {
    Ours,
    /// Ours, inside an array (JWT allows an array `aud`).
    OursInArray,
    Other(String),
}

#[derive(Debug, Arbitrary)]
enum Time {
    /// Seconds from now.
    Relative(i32),
    Absolute(u64),
    /// Seconds from now, as a float with a fraction.
    Fractional(i32, u16),
    /// Seconds from now, as a string of digits.
    Text(i32),
}

impl Time {
    fn json(&self, now: u64) -> Value {
        let from_now = |offset: i32| now as i64 + i64::from(offset);
        match self {
            Self::Relative(offset) => Value::from(from_now(*offset)),
            Self::Absolute(value) => Value::from(*value),
            Self::Fractional(offset, fraction) => {
                Value::from(from_now(*offset) as f64 + f64::from(*fraction) / 65536.0)
            }
            Self::Text(offset) => Value::from(from_now(*offset).to_string()),
        }
    }
}

impl TokenSpec {
    /// The token, and the one-pass verdict property 4 expects when the
    /// token is a genuine one (`None` when the input is not).
    fn build(&self, set: &AlgFixture, fixture: &Fixture) -> (String, Option<bool>) {
        // One clock reading for every time claim and for the verdict on them.
        let now = now_unix();
        let (header, header_kid) = self.header.encode(set);
        let (payload, claims_valid) = self.payload.encode(set, now);
        let message = format!("{header}.{payload}");
        let (signature, signed_by) = self.signature.encode(set, fixture, &header, &payload);

        let token = format!("{message}.{signature}");
        let expected = match (&self.edit, header_kid, claims_valid, signed_by) {
            (None, Some(kid), Some(claims_valid), Some((signer_kid, trusted)))
                if token.len() <= set.service.settings().max_token_bytes =>
            {
                Some(trusted && kid == signer_kid && claims_valid)
            }
            _ => None,
        };
        let token = match &self.edit {
            Some(edit) => edit.apply(token),
            None => token,
        };
        (token, expected)
    }
}

impl HeaderSegment {
    /// The segment, and the kid it names when it is a well-formed header
    /// (canonically encoded): only then can property 4 predict the verdict.
    fn encode(&self, set: &AlgFixture) -> (String, Option<String>) {
        match self {
            Self::Own(kid) => {
                let kid = set.kid(kid);
                (set.own_header(&kid), Some(kid))
            }
            Self::Json(spec, encoding) => {
                let members = spec.members(set);
                let bytes = serde_json::to_vec(&members).expect("JSON serializes");
                let encoded = encoding.encode(&bytes);
                let kid = well_formed_header_kid(set, &members)
                    .filter(|_| encoded == URL_SAFE_NO_PAD.encode(&bytes));
                (encoded, kid)
            }
            Self::Bytes(bytes, encoding) => (encoding.encode(bytes), None),
            Self::Verbatim(text) => (text.clone(), None),
        }
    }
}

impl HeaderSpec {
    fn members(&self, set: &AlgFixture) -> Map<String, Value> {
        let mut members = Map::new();
        self.alg.insert(&mut members, "alg", |alg| match alg {
            AlgValue::Configured => Value::from(set.alg.name()),
            AlgValue::ConfiguredLowercase => Value::from(set.alg.name().to_lowercase()),
            AlgValue::Named(name) => Value::from(name.text()),
            AlgValue::Other(text) => Value::from(text.as_str()),
        });
        self.typ
            .insert(&mut members, "typ", |typ| Value::from(typ.text()));
        self.kid
            .insert(&mut members, "kid", |kid| Value::from(set.kid(kid)));
        if let Some(crit) = &self.crit {
            members.insert("crit".into(), crit.0.clone());
        }
        for (name, value) in &self.extras {
            members.insert(name.text().into(), value.0.clone());
        }
        members
    }
}

impl PayloadSegment {
    /// The segment, and whether its claims pass when it is canonically
    /// encoded JSON (`None` otherwise: property 4 makes no prediction).
    fn encode(&self, set: &AlgFixture, now: u64) -> (String, Option<bool>) {
        match self {
            Self::Json(spec, encoding) => {
                let claims = spec.members(set, now);
                let bytes = serde_json::to_vec(&claims).expect("JSON serializes");
                let encoded = encoding.encode(&bytes);
                let valid = (encoded == URL_SAFE_NO_PAD.encode(&bytes))
                    .then(|| claims_pass(set, &bytes, now));
                (encoded, valid)
            }
            Self::Bytes(bytes, encoding) => (encoding.encode(bytes), None),
            Self::Verbatim(text) => (text.clone(), None),
        }
    }
}

impl ClaimsSpec {
    fn members(&self, set: &AlgFixture, now: u64) -> Map<String, Value> {
        let settings = set.service.settings();
        let mut claims = Map::new();
        self.iss
            .insert(&mut claims, "iss", |p| p.json(&settings.issuer));
        self.aud
            .insert(&mut claims, "aud", |p| p.json(&settings.audience));
        self.sub
            .insert(&mut claims, "sub", |s| Value::from(s.as_str()));
        self.exp.insert(&mut claims, "exp", |t| t.json(now));
        self.nbf.insert(&mut claims, "nbf", |t| t.json(now));
        self.iat.insert(&mut claims, "iat", |t| t.json(now));
        self.jti
            .insert(&mut claims, "jti", |s| Value::from(s.as_str()));
        self.roles
            .insert(&mut claims, "roles", |r| Value::from(r.clone()));
        self.name
            .insert(&mut claims, "name", |s| Value::from(s.as_str()));
        self.sid
            .insert(&mut claims, "sid", |s| Value::from(s.as_str()));
        for (name, value) in &self.extras {
            claims.insert(name.clone(), value.0.clone());
        }
        claims
    }
}

impl Party {
    fn json(&self, ours: &str) -> Value {
        match self {
            Self::Ours => Value::from(ours),
            Self::OursInArray => Value::from(vec![ours]),
            Self::Other(text) => Value::from(text.as_str()),
        }
    }
}

impl SignatureSpec {
    /// The segment over `header`.`payload`, and who signed exactly that
    /// message (the signer's kid and whether the set trusts it) when the
    /// signature is canonically encoded: property 4 needs both.
    fn encode(
        &self,
        set: &AlgFixture,
        fixture: &Fixture,
        header: &str,
        payload: &str,
    ) -> (String, Option<(String, bool)>) {
        let message = format!("{header}.{payload}");
        match self {
            Self::Sign(choice, encoding) => {
                let (signer, trusted) = set.signer(*choice, fixture);
                let signature = signer.sign(message.as_bytes());
                let encoded = encoding.encode(&signature);
                let canonical = encoded == URL_SAFE_NO_PAD.encode(&signature);
                (encoded, canonical.then_some((signer.kid.clone(), trusted)))
            }
            Self::SignOther(choice, other) => {
                let (signer, _) = set.signer(*choice, fixture);
                let signed = match other {
                    OtherMessage::HeaderOnly => header.to_owned(),
                    OtherMessage::PayloadOnly => payload.to_owned(),
                    OtherMessage::Empty => String::new(),
                    OtherMessage::Suffixed(suffix) => format!("{message}{suffix}"),
                };
                (URL_SAFE_NO_PAD.encode(signer.sign(signed.as_bytes())), None)
            }
            Self::Bytes(bytes, encoding) => (encoding.encode(bytes), None),
            Self::Verbatim(text) => (text.clone(), None),
        }
    }
}

/// The `kid` of a header the one-pass path must accept as to its form:
/// the configured `alg`, an access-token `typ`, no `crit`, a string `kid`.
/// Other members do not matter to it.
fn well_formed_header_kid(set: &AlgFixture, members: &Map<String, Value>) -> Option<String> {
    let typ = members.get("typ")?.as_str()?;
    let form_ok = members.get("alg")?.as_str()? == set.alg.name()
        && (typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE)
            || typ.eq_ignore_ascii_case("application/at+jwt"))
        && members.get("crit").is_none_or(Value::is_null);
    form_ok.then(|| members.get("kid")?.as_str().map(str::to_owned))?
}

/// Whether claims with these bytes pass: they deserialize into the server's
/// claims type and `exp`, `nbf`, `iss`, `aud` hold.
fn claims_pass(set: &AlgFixture, payload: &[u8], now: u64) -> bool {
    let settings = set.service.settings();
    let leeway = settings.leeway.as_secs();
    serde_json::from_slice::<AccessClaims>(payload).is_ok_and(|claims| {
        claims.exp >= now.saturating_sub(leeway)
            && claims.nbf <= now.saturating_add(leeway)
            && claims.iss == settings.issuer
            && claims.aud == settings.audience
    })
}

/// A raw-mode input holding `token`, verified with `alg`'s key set.
pub fn raw_input(alg: SigningAlgorithm, token: &str) -> Vec<u8> {
    let index = SigningAlgorithm::ALL
        .iter()
        .position(|a| *a == alg)
        .expect("ALL lists every algorithm");
    let mut input = vec![RAW, index as u8];
    input.extend_from_slice(token.as_bytes());
    input
}

/// A genuine token of `alg`'s set, valid until 2100: the seed every raw
/// input of that algorithm starts from.
pub fn genuine_token(alg: SigningAlgorithm) -> String {
    let set = fixture()
        .sets
        .iter()
        .find(|set| set.alg == alg)
        .expect("a fixture per algorithm");
    set.service
        .sign(&long_lived_claims())
        .expect("the server signs")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The harness reaches acceptance, and a damaged token does not.
    #[test]
    fn genuine_tokens_pass_and_damaged_ones_do_not() {
        for alg in SigningAlgorithm::ALL {
            let token = genuine_token(alg);
            assert_eq!(check(&raw_input(alg, &token)), Outcome::Accepted, "{alg}");
            let last = if token.ends_with('x') { "y" } else { "x" };
            let damaged = format!("{}{last}", &token[..token.len() - 1]);
            assert_eq!(check(&raw_input(alg, &damaged)), Outcome::Rejected, "{alg}");
        }
    }

    /// A structured input that runs out of bytes builds a genuine token:
    /// the fuzzer's starting point, and property 4's expected acceptance.
    #[test]
    fn an_empty_structured_input_is_a_genuine_token() {
        for index in 0..SigningAlgorithm::ALL.len() as u8 {
            assert_eq!(check(&[STRUCTURED, index]), Outcome::Accepted);
        }
    }
}
