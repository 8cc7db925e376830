//! Free loopback ports, picked by the kernel.
//!
//! Nothing in authlab listens on a fixed port: two runs, or a run and a
//! test, would collide. Binding port 0 lets the kernel choose one nobody
//! uses; the listener is closed at once so the child can bind it. A small
//! race remains until the child does, which callers cover by retrying with
//! a fresh port (as [`RedisServer`](crate::RedisServer) does).

use std::net::{Ipv4Addr, TcpListener};

use crate::ProcessError;

/// A loopback port nobody listens on right now.
pub fn free_port() -> Result<u16, ProcessError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(ProcessError::NoFreePort)
}
