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
//! * [`dpop_replay`], [`dpop_binding`] — proof of possession (RFC 9449):
//!   remembering proofs, and where routes ask for them (checking one proof is
//!   [`authlab_core::dpop`], shared with the clients that make them);
//! * [`state`] — what every handler reads: keys, stores, settings, counters;
//! * [`auth`] — the access-token extractor (Bearer and DPoP);
//! * [`introspect`] — `POST /introspect` (RFC 7662): `/me`'s checks, asked for by another service;
//! * [`routes`] — the application API;
//! * [`startup`] — `Application::build`: loads the keys, builds the state, mounts the routes.

pub mod auth;
pub mod configuration;
pub mod dpop_binding;
pub mod dpop_replay;
pub mod introspect;
pub mod keys;
pub mod refresh;
pub mod revocation;
pub mod routes;
pub mod startup;
pub mod state;
pub mod tokens;

pub use configuration::{DpopMode, JwtServerConfig, ReplayCacheMode, RevocationMode};
pub use keys::SigningAlgorithm;
pub use startup::{Application, StartupError};
