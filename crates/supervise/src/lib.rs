//! Child processes that cannot outlive the program that started them.
//!
//! authlab runs real programs, never mocks: `redis-server` for the stores,
//! HAProxy in front of a cluster, and server nodes. A program that starts
//! children owes two guarantees, whether it is a test or the `authlab`
//! binary:
//!
//! * **nothing is left behind**, even when the parent is `kill -9`ed or
//!   panics. Drop handlers do not run then, so [`process::die_with_parent`]
//!   asks the kernel instead (`PR_SET_PDEATHSIG`): a child gets SIGKILL the
//!   moment the thread that spawned it dies. Owned handles still stop their
//!   child on drop, for the ordinary case;
//! * **nothing is assumed to be running or free**: ports come from the
//!   kernel ([`port::free_port`]), and each Redis gets its own temp dir.
//!
//! [`redis::RedisServer`] puts both together for the program every
//! part of authlab needs: started on a free port, stopped and restarted on
//! the *same* port (an outage the clients must ride out), with or without
//! persistence, killed and cleaned up on drop.
//!
//! Everything here returns a [`ProcessError`] rather than panicking: the
//! `authlab` binary reports a missing `redis-server` or a child that would
//! not start as an error. `testkit` wraps these calls in panicking
//! shorthands for tests.

mod error;
pub mod port;
pub mod process;
pub mod redis;

pub use error::ProcessError;
pub use port::free_port;
pub use process::die_with_parent;
pub use redis::{RedisOptions, RedisServer};
