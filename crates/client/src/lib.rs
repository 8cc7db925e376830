//! An HTTP client of both stacks' API that keeps credentials explicit.
//!
//! A browser's cookie jar sends a cookie to every server of its host, and
//! every authlab node is `127.0.0.1`: with a jar, a session cookie obtained
//! from one node would silently travel to all the others, hiding exactly
//! what the project measures (which node saw which credential). So this
//! client has no cookie store. A login returns a [`Credential`], a cookie or
//! a bearer token, and each request names the one it carries, if any;
//! carrying a cookie from one node to another is then something a caller
//! does on purpose.
//!
//! The lab's experiments drive clusters with it and the tests drive single
//! nodes with it (`testkit` re-exports it), which is why it lives in a crate
//! of its own rather than in test support. The servers never depend on it.
//!
//! [`dpop`] holds a client's DPoP key and makes its proofs, so a test or an
//! experiment can use a proof-of-possession token as a real client would.
//!
//! [`response`] reads what an answer says about the credential and the
//! node: the session cookie it sets, the `x-node` that served it.

mod client;
mod credential;
pub mod dpop;
pub mod response;

pub use client::ApiClient;
pub use credential::Credential;
pub use response::{node_of, session_cookie};
