//! Test support: real processes on free loopback ports, cleaned up on drop.
//!
//! Every integration test in authlab talks to a real `redis-server`, never to
//! a mock, because the behaviour under test (a shared store, an outage, a
//! restart that loses data) *is* the store's behaviour. This crate makes that
//! cheap:
//!
//! * [`redis::RedisServer`] starts `redis-server` on a free port in a temp
//!   dir, can stop and restart it on the same port (outage tests), and kills
//!   it on drop;
//! * [`nodes`] spawns the real servers in-process via `Application::build`
//!   on port 0 and seeds users;
//! * [`http`] is a small client that keeps credentials explicit, so a test
//!   can carry a cookie from one node to another on purpose;
//! * [`suite`] holds the checks both stacks must pass alike (throttling, bad
//!   input, logout-all, store faults), written once and run by each server's
//!   tests through [`shared_suite!`].
//!
//! [`redis`] and [`http`] wrap code that is not test-only: the `authlab`
//! binary starts its Redis with the `supervise` crate and sends its requests
//! with `authlab-client`. This crate re-exports both, with the shorthand
//! tests want: where `supervise` returns an error, testkit panics with it. A
//! missing `redis-server` is thus a failure with the install command in the
//! message, never a silently skipped test.

pub mod http;
pub mod nodes;
pub mod proxy;
pub mod redis;
pub mod suite;

pub use http::{Credential, TestClient};
pub use nodes::{TestEnv, TestNode};
pub use proxy::DelayProxy;
pub use redis::{RedisOptions, RedisServer};
