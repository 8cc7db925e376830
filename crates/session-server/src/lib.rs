//! The stateful stack: a session id in a cookie, the session in a store.
//!
//! A login checks the password against the user directory and creates a
//! session record in the store; the browser gets back only a signed cookie
//! holding a random 64-character id. Every authenticated request sends the
//! cookie, and the server looks the id up: one store round trip, whatever
//! node answers, as long as the nodes share the store. That lookup is the
//! whole price of the design, and its whole power: logout, logout-everywhere
//! and role changes take effect on the very next request, because the truth
//! lives on the server.
//!
//! * [`configuration`] — flags, and the start-up checks (a cluster needs a shared cookie secret);
//! * [`store`] — the Redis and per-node memory session stores, with a user → sessions index;
//! * [`session`] — the typed session and the `AuthenticatedUser` extractor;
//! * [`introspect`] — `POST /introspect` (RFC 7662): is this cookie a live session? Read-only;
//! * [`routes`] — the application API;
//! * [`startup`] — `Application::build`, middleware order, and store outages as 503s.

pub mod configuration;
pub mod introspect;
pub mod routes;
pub mod session;
pub mod startup;
pub mod store;

pub use configuration::{SessionServerConfig, StoreMode};
pub use startup::{session_middleware, Application, StartupError};
