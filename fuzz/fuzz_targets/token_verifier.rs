//! Tokens from fuzz input through the JWT server's one-pass verifier and the
//! jsonwebtoken reference; input format and properties:
//! `crates/fuzz-harness/src/token_verifier.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_harness::token_verifier::check(data);
});
