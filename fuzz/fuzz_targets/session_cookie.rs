//! Cookie headers from fuzz input through the session server's session
//! middleware; input format and properties:
//! `crates/fuzz-harness/src/session_cookie.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_harness::session_cookie::check(data);
});
