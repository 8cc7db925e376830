//! The stateless stack: the credential *is* the state.
//!
//! A login returns a signed access token that carries who the user is and
//! what they may do. Any node holding the verification key can check it with
//! no call to anyone: no store round trip per request, which is the whole
//! promise of the design (claims C5, C6, C14). The price is everything a
//! server can no longer do once the token is out: recall it (C7), update the
//! roles inside it (C8), or keep it small (C9). This server makes that price
//! visible, and offers the usual machinery to lower it: short access tokens,
//! rotating refresh tokens with reuse detection, and an optional denylist.
//!
//! * [`keys`] — key generation, the shared key-set file, rotation, JWKS;
//! * [`tokens`] — claims, signing, and every verification check (RFC 8725);
//! * [`refresh`] — stateful refresh tokens: hashed, rotated, reuse-detected;
//! * [`revocation`] — the optional denylist;
//! * [`auth`] — the bearer-token extractor;
//! * [`introspect`] — `POST /introspect` (RFC 7662): `/me`'s checks, asked for by another service;
//! * [`routes`] — the application API;
//! * [`startup`] — `Application::build`.

pub mod auth;
pub mod configuration;
pub mod dpop;
pub mod dpop_replay;
pub mod introspect;
pub mod keys;
pub mod refresh;
pub mod revocation;
pub mod routes;
pub mod startup;
pub mod tokens;

pub use configuration::{JwtServerConfig, RevocationMode};
pub use keys::SigningAlgorithm;
pub use startup::{Application, StartupError};
