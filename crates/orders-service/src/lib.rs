//! The orders service: a second service that must trust the auth stacks' credentials (claim C14).
//!
//! `GET /orders` returns the orders of whoever the request's credential
//! names. The service has no users, no passwords and no sessions of its own,
//! so everything it knows about the caller comes from the credential, and
//! the question of C14 is how it gets to believe it:
//!
//! * [`jwks`] — verify a JWT here with the issuer's published public keys:
//!   no call per request, but a logout or a role change does not reach this
//!   service until the token expires;
//! * [`introspection`] — ask the auth service (`POST /introspect`) every
//!   time: always current, a call per request, and down when it is down;
//!   an optional cache buys the call back with staleness;
//! * [`gateway`] — a verifying gateway in front did the work; the node only
//!   decodes the payload, and must never be reachable around the gateway.
//!
//! * [`configuration`] — flags (`AUTHLAB_ORDERS_*`) and start-up checks;
//! * [`credential`] — the credential of a request, the two kinds of failure, the counters;
//! * [`routes`] — `/orders`, `/ready`;
//! * [`startup`] — `Application::build`.

pub mod configuration;
pub mod credential;
pub mod gateway;
pub mod introspection;
pub mod jwks;
pub mod routes;
pub mod startup;

pub use configuration::{Mode, OrdersConfig};
pub use startup::{Application, StartupError};
