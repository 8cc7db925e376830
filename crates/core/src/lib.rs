//! What the two authlab servers share, with each other and with their clients.
//!
//! authlab runs a *session* server (state on the server, an opaque cookie on
//! the client) and a *JWT* server (state in a signed token on the client)
//! side by side, so that their trade-offs can be measured instead of argued.
//! For the comparison to be fair, everything that is not the credential is
//! the same code on both sides and lives here. So does what the servers'
//! clients must agree with them on (`wire`, `dpop`), so that a client needs
//! this crate and not a server:
//!
//! * [`api`] — the routes' request and response bodies;
//! * [`config`] — flags with environment fallbacks, validated at start-up;
//! * [`directory`] — users, Argon2 password hashes and roles, kept in a Redis
//!   of their own so the session store can be stopped without stopping logins' lookups;
//! * [`dpop`] — DPoP proofs (RFC 9449): the format, a client's key pair, and
//!   the checks the JWT server runs on every proof;
//! * [`error`] — every failure as `{"error": code, "message": text}` with its status;
//! * [`forwarded`] — a request's scheme, host and client as a node may believe
//!   them: `X-Forwarded-*` only from `--trusted-proxies`;
//! * [`http`] — JSON extraction limits, 404/405 as JSON, `/health`, `/ready`, `x-node`;
//! * [`introspection`] — RFC 7662 `POST /introspect`: client authentication, the form, the answer;
//! * [`metrics`] — Prometheus families, including the store round-trip histogram;
//! * [`password`] — Argon2id with a default and a load-test cost;
//! * [`redis_client`] — the Redis client set-ups and why the choice matters;
//! * [`server`] — binding, naming and running a node, shared by both `Application`s;
//! * [`telemetry`] — `tracing` to stderr;
//! * [`throttle`] — login throttling (per client, per username, concurrent
//!   verifications), checked before any Argon2 work;
//! * [`wire`] — what a client needs besides `api` to read either stack's
//!   answers without linking a server: the session cookie's name, the token
//!   response, the error body.

pub mod api;
pub mod config;
pub mod directory;
pub mod dpop;
pub mod error;
pub mod forwarded;
pub mod http;
pub mod index;
pub mod introspection;
pub mod metrics;
pub mod password;
pub mod redis_client;
pub mod server;
pub mod telemetry;
pub mod throttle;
pub mod wire;
