//! What the cargo-fuzz targets in `fuzz/` run, kept in the workspace so that
//! the regression tests of the owning crates replay saved inputs through the
//! very same checks (`crates/jwt-server/tests/fuzz_regressions.rs`,
//! `crates/session-server/tests/fuzz_regressions.rs`).
//!
//! * [`token_verifier`] — a token built from the input goes through
//!   `TokenService::verify` (the request path) and
//!   `TokenService::verify_with_jsonwebtoken` (the reference);
//! * [`session_cookie`] — a `Cookie` header built from the input goes through
//!   the session middleware every node runs, down to the session key it asks
//!   the store for.
//!
//! Each `check` panics when a property breaks: that panic is the crash
//! libFuzzer reports. The properties are written out in each module.
//!
//! The key sets under `keys/` exist for fuzzing only: they are public, fixed
//! so that a saved input means the same thing on every machine, and never
//! used by a server.

pub mod json;
pub mod replay;
pub mod session_cookie;
pub mod token_verifier;

/// What a checked input came to, so tests can tell that the harness reaches
/// the acceptance path at all (a harness that rejects everything would keep
/// every property vacuously).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Verified (a token) or turned into a session key the store was asked for (a cookie).
    Accepted,
    Rejected,
}
