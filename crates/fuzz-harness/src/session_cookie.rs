//! The `session_cookie` target: `Cookie` headers built from fuzz input, sent
//! through the session middleware every session node runs, down to the
//! session key it asks the store for.
//!
//! The server does not parse cookies itself: actix-web splits the `Cookie`
//! headers at `;` and percent-decodes each `name=value` (a segment that does
//! not parse is skipped), actix-session takes the first cookie named
//! `authlab_session`, checks its HMAC in a signed jar with the key derived
//! from `--cookie-secret`, and refuses a session key over 4064 bytes; the
//! server adds no check of its own before the store lookup. So the harness
//! builds that middleware with [`session_server::session_middleware`] and the
//! key from [`SessionServerConfig::validate`], in front of a store that only
//! records which keys it is asked to load.
//!
//! # Input
//!
//! Byte 0 picks the mode:
//!
//! * even — **raw**: the rest of the input, split at newlines, is one
//!   `Cookie` header per line (lines that are not a valid header value are
//!   dropped: the HTTP parser refuses those before any middleware runs);
//! * odd — **structured**: the rest is read with `arbitrary` as a
//!   [`CookieSpec`]: cookies spread over one to three headers, each a genuine
//!   session cookie (signed with the server's key), one signed with another
//!   key, a damaged genuine one, a forged or unsigned value under the session
//!   cookie's name, another site's cookie, or a raw segment; written quoted
//!   or not, partly percent-encoded, with whitespace around `=`.
//!
//! # Properties
//!
//! 1. No panic.
//! 2. **No key without its signature**: the store is asked at most once, and
//!    only for a key `k` whose signed value (HMAC tag, then `k`) is in the
//!    percent-decoded headers. The fuzzer cannot compute an HMAC, so such a
//!    value only appears if the harness (or a seed) signed it.
//! 3. **Genuine cookies round-trip**: when the input has no raw segments,
//!    the harness knows which cookie actix-session looks at (the first named
//!    `authlab_session`, in header order) and its decoded value `v`; the store
//!    is asked for `k` exactly when `v` is `k` correctly signed and `k` fits
//!    in 4064 bytes, and for nothing otherwise.

use std::{cell::RefCell, collections::HashMap, future::Future, pin::Pin, rc::Rc};

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::{
    cookie::{time::Duration as CookieDuration, Cookie, CookieJar, Key},
    dev::{Service, ServiceRequest, Transform},
    http::header::{HeaderValue, COOKIE},
    rt::SystemRunner,
    test::{ok_service, TestRequest},
};
use arbitrary::{Arbitrary, Unstructured};
use authlab_core::wire::SESSION_COOKIE;
use base64::{engine::general_purpose::STANDARD, Engine};
use session_server::{session::SessionSettings, SessionServerConfig};

use crate::Outcome;

/// The fuzzing cookie secret (public: this key signs nothing real).
pub const COOKIE_SECRET: &str = "authlab-fuzz-cookie-secret-0123456789abcdef";
/// actix-session's limit on a session key (`SessionKey::try_from`).
pub const MAX_SESSION_KEY_BYTES: usize = 4064;

/// Mode byte of a raw input (any even byte works; seeds use this one).
pub const RAW: u8 = 0;
/// Mode byte of a structured input (any odd byte works).
pub const STRUCTURED: u8 = 1;

type Loads = Rc<RefCell<Vec<String>>>;
type Call = Box<dyn Fn(ServiceRequest) -> Pin<Box<dyn Future<Output = bool>>>>;

/// A store that answers every load with "no such session" and remembers
/// which keys it was asked for.
#[derive(Clone, Default)]
struct RecordingStore(Loads);

impl SessionStore for RecordingStore {
    async fn load(
        &self,
        session_key: &SessionKey,
    ) -> Result<Option<HashMap<String, String>>, LoadError> {
        self.0.borrow_mut().push(session_key.as_ref().to_owned());
        Ok(None)
    }

    async fn save(
        &self,
        _: HashMap<String, String>,
        _: &CookieDuration,
    ) -> Result<SessionKey, SaveError> {
        unreachable!("the harness's handler never writes a session")
    }

    async fn update(
        &self,
        _: SessionKey,
        _: HashMap<String, String>,
        _: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        unreachable!("the harness's handler never writes a session")
    }

    async fn update_ttl(&self, _: &SessionKey, _: &CookieDuration) -> anyhow::Result<()> {
        unreachable!("the TTL policy is OnStateChanges and no state changes")
    }

    async fn delete(&self, _: &SessionKey) -> anyhow::Result<()> {
        unreachable!("the harness's handler never ends a session")
    }
}

struct Harness {
    runner: SystemRunner,
    call: Call,
    loads: Loads,
    key: Key,
    foreign_key: Key,
}

impl Harness {
    fn new() -> Self {
        let mut config = SessionServerConfig::local("redis://127.0.0.1:1", "redis://127.0.0.1:2");
        config.cookie_secret = Some(COOKIE_SECRET.into());
        let key = config.validate().expect("the fuzz configuration is valid");
        let settings = SessionSettings {
            idle_ttl: config.idle_ttl,
            absolute_ttl: config.absolute_ttl,
        };
        let loads = Loads::default();
        let runner = actix_web::rt::System::new();
        let middleware = session_server::session_middleware(
            RecordingStore(loads.clone()),
            key.clone(),
            settings,
            false,
        );
        let service = runner
            .block_on(middleware.new_transform(ok_service()))
            .expect("the session middleware builds");
        let call: Call = Box::new(move |request| {
            let response = service.call(request);
            Box::pin(async move { response.await.is_ok() })
        });
        Self {
            runner,
            call,
            loads,
            key,
            foreign_key: Key::derive_from(b"another-node's-secret-that-is-not-ours-0123"),
        }
    }

    /// The session keys the middleware asked the store for, for these headers.
    fn loads_for(&self, headers: &[HeaderValue]) -> Vec<String> {
        let mut request = TestRequest::default();
        for header in headers {
            request = request.append_header((COOKIE, header.clone()));
        }
        self.loads.borrow_mut().clear();
        let ok = self.runner.block_on((self.call)(request.to_srv_request()));
        assert!(
            ok,
            "the session middleware failed a request whose store never fails"
        );
        self.loads.borrow().clone()
    }
}

thread_local! {
    static HARNESS: Harness = Harness::new();
}

/// `value` signed with `key` as actix-session signs a session cookie: the
/// base64 HMAC tag, then the value.
pub fn signed_value(key: &Key, value: &str) -> String {
    let mut jar = CookieJar::new();
    jar.signed_mut(key)
        .add(Cookie::new(SESSION_COOKIE, value.to_owned()));
    jar.get(SESSION_COOKIE)
        .map(|cookie| cookie.value().to_owned())
        .expect("the jar holds the cookie just added")
}

/// `value` signed with the server's cookie key.
pub fn genuine_value(value: &str) -> String {
    HARNESS.with(|harness| signed_value(&harness.key, value))
}

/// Runs one fuzz input through the session middleware and checks every
/// property of the module docs; panics when one breaks.
pub fn check(data: &[u8]) -> Outcome {
    HARNESS.with(|harness| {
        let Some((&mode, rest)) = data.split_first() else {
            return Outcome::Rejected;
        };
        let (headers, expected) = if mode % 2 == RAW {
            let headers = rest
                .split(|b| *b == b'\n')
                .filter_map(|line| HeaderValue::from_bytes(line).ok())
                .collect();
            (headers, None)
        } else {
            let Ok(spec) = CookieSpec::arbitrary_take_rest(Unstructured::new(rest)) else {
                return Outcome::Rejected;
            };
            spec.build(harness)
        };
        let loads = harness.loads_for(&headers);
        assert!(loads.len() <= 1, "the store was asked for {loads:?}");
        let decoded: Vec<Vec<u8>> = headers
            .iter()
            .map(|header| percent_decode(header.as_bytes()))
            .collect();
        for key in &loads {
            let signed = signed_value(&harness.key, key);
            assert!(
                decoded
                    .iter()
                    .any(|header| contains(header, signed.as_bytes())),
                "session key {key:?} loaded without its signature in {headers:?}"
            );
        }
        if let Some(expected) = expected {
            assert_eq!(
                loads.first(),
                expected.as_ref(),
                "wrong session key for {headers:?}"
            );
        }
        if loads.is_empty() {
            Outcome::Rejected
        } else {
            Outcome::Accepted
        }
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// `%XX` escapes decoded, anything else kept: the whole header at once. A
/// cookie's name and value are decoded the same way one by one, and an
/// escape never spans the `;`, `=`, whitespace or quotes between them
/// (none is a hex digit), so whatever a value decodes to is in the result.
fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if let (b'%', Some(hi), Some(lo)) = (
            bytes[i],
            bytes.get(i + 1).and_then(|b| hex(*b)),
            bytes.get(i + 2).and_then(|b| hex(*b)),
        ) {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// A structured input: cookies, and how many headers they are spread over.
#[derive(Debug, Arbitrary)]
pub struct CookieSpec {
    cookies: Vec<CookieItem>,
    extra_headers: u8,
}

#[derive(Debug, Arbitrary)]
struct CookieItem {
    kind: Kind,
    header: u8,
    quoted: bool,
    /// Bit `i % 64` set: the value's `i`-th byte is sent percent-encoded.
    encode_value: u64,
    encode_name: u32,
    /// Two bits each: the whitespace before the name, around `=`, after the value.
    spacing: u8,
}

#[derive(Debug, Arbitrary)]
enum Kind {
    Genuine(SessionKeySpec),
    SignedWithAnotherKey(SessionKeySpec),
    Damaged(SessionKeySpec, Damage),
    /// Under the session cookie's name: a base64 tag of these bytes, then the text.
    Forged(Vec<u8>, CookieText),
    Unsigned(CookieText),
    Other(CookieName, CookieText),
    /// Anything at all between two `;`.
    Raw(String),
}

/// A session key: `chunk` repeated (1 + `repeat`) times, so that keys around
/// actix-session's 4064-byte limit are cheap to reach.
#[derive(Debug, Arbitrary)]
struct SessionKeySpec {
    chunk: CookieText,
    repeat: u8,
}

impl SessionKeySpec {
    fn key(&self) -> String {
        self.chunk.0.repeat(usize::from(self.repeat) % 80 + 1)
    }
}

#[derive(Debug, Arbitrary)]
enum Damage {
    FlipBit { at: u16, bit: u8 },
    Remove { at: u16 },
    Insert { at: u16, byte: CookieByte },
    Truncate { at: u16 },
}

impl Damage {
    fn apply(&self, value: &str) -> String {
        let mut bytes = value.as_bytes().to_vec();
        let len = bytes.len();
        match self {
            Self::FlipBit { at, bit } if len > 0 => {
                let i = usize::from(*at) % len;
                let flipped = bytes[i] ^ (1 << (bit % 7));
                // Keep it a cookie-value byte, so the model still knows the value.
                if is_cookie_octet(flipped) {
                    bytes[i] = flipped;
                }
            }
            Self::Remove { at } if len > 0 => {
                bytes.remove(usize::from(*at) % len);
            }
            Self::Insert { at, byte } => bytes.insert(usize::from(*at) % (len + 1), byte.0),
            Self::Truncate { at } => bytes.truncate(usize::from(*at) % (len + 1)),
            _ => {}
        }
        String::from_utf8(bytes).expect("cookie octets are ASCII")
    }
}

/// RFC 6265 cookie-octet, less `%`: a value actix-web hands over unchanged
/// (no whitespace, quote, comma, semicolon or backslash; `%` would be decoded).
fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E) && b != b'%'
}

/// RFC 7230 token characters, less `%`: a cookie name that needs no encoding.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&'*+-.^_`|~".contains(&b)
}

#[derive(Debug)]
struct CookieByte(u8);

impl<'a> Arbitrary<'a> for CookieByte {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let b = u.arbitrary::<u8>()?;
        Ok(CookieByte(if is_cookie_octet(b) { b } else { b'A' }))
    }
}

/// Text made of cookie-value bytes only (others are dropped).
#[derive(Debug)]
struct CookieText(String);

impl<'a> Arbitrary<'a> for CookieText {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let bytes: Vec<u8> = u.arbitrary()?;
        Ok(CookieText(
            bytes
                .into_iter()
                .filter(|b| is_cookie_octet(*b))
                .map(char::from)
                .collect(),
        ))
    }
}

/// A cookie name made of token characters only (others are dropped).
#[derive(Debug)]
struct CookieName(String);

impl<'a> Arbitrary<'a> for CookieName {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let bytes: Vec<u8> = u.arbitrary()?;
        Ok(CookieName(
            bytes
                .into_iter()
                .filter(|b| is_token_char(*b))
                .map(char::from)
                .collect(),
        ))
    }
}

fn percent_encode(text: &str, mask: u64) -> String {
    text.bytes()
        .enumerate()
        .map(|(i, b)| {
            if mask & (1 << (i % 64)) != 0 {
                format!("%{b:02X}")
            } else {
                char::from(b).to_string()
            }
        })
        .collect()
}

fn spaces(bits: u8) -> &'static str {
    ["", " ", "\t", "  "][usize::from(bits & 3)]
}

impl CookieSpec {
    /// The header values, and the key the store must be asked for (`Some(None)`:
    /// asked for nothing) when the cookies leave no doubt (`None` otherwise).
    fn build(&self, harness: &Harness) -> (Vec<HeaderValue>, Option<Option<String>>) {
        let header_count = usize::from(self.extra_headers % 3) + 1;
        let mut headers = vec![Vec::<String>::new(); header_count];
        // Per header, in order: (name, value) as actix-session will see them.
        let mut seen = vec![Vec::<(String, String)>::new(); header_count];
        let mut predictable = true;
        for cookie in &self.cookies {
            let (name, value) = match &cookie.kind {
                Kind::Genuine(key) => (
                    SESSION_COOKIE.into(),
                    signed_value(&harness.key, &key.key()),
                ),
                Kind::SignedWithAnotherKey(key) => (
                    SESSION_COOKIE.into(),
                    signed_value(&harness.foreign_key, &key.key()),
                ),
                Kind::Damaged(key, damage) => (
                    SESSION_COOKIE.into(),
                    damage.apply(&signed_value(&harness.key, &key.key())),
                ),
                Kind::Forged(tag, text) => (
                    SESSION_COOKIE.into(),
                    format!("{}{}", STANDARD.encode(tag), text.0),
                ),
                Kind::Unsigned(text) => (SESSION_COOKIE.into(), text.0.clone()),
                Kind::Other(name, text) => (name.0.clone(), text.0.clone()),
                Kind::Raw(segment) => {
                    predictable = false;
                    headers[usize::from(cookie.header) % header_count].push(segment.clone());
                    continue;
                }
            };
            let index = usize::from(cookie.header) % header_count;
            let encoded_value = percent_encode(&value, cookie.encode_value);
            let written_value = if cookie.quoted {
                format!("\"{encoded_value}\"")
            } else {
                encoded_value
            };
            let s = cookie.spacing;
            headers[index].push(format!(
                "{}{}{}={}{}{}",
                spaces(s),
                percent_encode(&name, u64::from(cookie.encode_name)),
                spaces(s >> 2),
                spaces(s >> 4),
                written_value,
                spaces(s >> 6),
            ));
            if !name.is_empty() {
                seen[index].push((name, value));
            }
        }
        let headers = headers
            .iter()
            .filter_map(|cookies| HeaderValue::from_str(&cookies.join("; ")).ok())
            .collect::<Vec<_>>();
        if !predictable || headers.len() != header_count {
            return (headers, None);
        }
        let expected = seen
            .iter()
            .flatten()
            .find(|(name, _)| name == SESSION_COOKIE)
            .and_then(|(_, value)| {
                let key = value.get(STANDARD.encode([0; 32]).len()..)?;
                (signed_value(&harness.key, key) == *value && key.len() <= MAX_SESSION_KEY_BYTES)
                    .then(|| key.to_owned())
            });
        (headers, Some(expected))
    }
}

/// A raw-mode input sending these `Cookie` headers.
pub fn raw_input(headers: &[&str]) -> Vec<u8> {
    let mut input = vec![RAW];
    input.extend_from_slice(headers.join("\n").as_bytes());
    input
}

/// A session key as the server mints them (64 alphanumerics), fixed.
pub const SEED_SESSION_KEY: &str =
    "fuzzSeedSessionKey0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ";

#[cfg(test)]
mod tests {
    use super::*;

    /// The harness reaches a store lookup, and only with the right signature.
    #[test]
    fn a_genuine_cookie_reaches_the_store_and_a_forged_one_does_not() {
        let genuine = format!("{SESSION_COOKIE}={}", genuine_value(SEED_SESSION_KEY));
        assert_eq!(check(&raw_input(&[&genuine])), Outcome::Accepted);
        let forged = genuine.replace("fuzzSeed", "fuzzSeeD");
        assert_eq!(check(&raw_input(&[&forged])), Outcome::Rejected);
        let other_key = format!(
            "{SESSION_COOKIE}={}",
            signed_value(&Key::derive_from(&[7; 64]), SEED_SESSION_KEY)
        );
        assert_eq!(check(&raw_input(&[&other_key])), Outcome::Rejected);
    }

    #[test]
    fn percent_decoding_keeps_what_is_not_an_escape() {
        assert_eq!(percent_decode(b"a%41%4g%%2"), b"aA%4g%%2");
    }
}
