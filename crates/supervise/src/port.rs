//! Free loopback ports, picked by the kernel.
//!
//! Nothing in authlab listens on a fixed port: two runs, or a run and a
//! test, would collide. Binding port 0 lets the kernel choose one nobody
//! uses; the listener is closed at once so the child can bind it. A small
//! race remains until the child does, which callers cover by retrying with
//! a fresh port (as [`RedisServer`](crate::RedisServer) does).
//!
//! One race is closed here instead: the kernel may offer a port it just
//! offered, before the first taker has bound it, and tests start clusters
//! on parallel threads of one process. Two HAProxy processes would then
//! *both* bind it, as HAProxy sets `SO_REUSEPORT`, and the kernel would
//! share one port's connections between two clusters (a TLS client of one
//! reaching the clear-text frontend of the other). So a process never hands
//! out the same port twice.

use std::{
    collections::HashSet,
    net::{Ipv4Addr, TcpListener},
    sync::{Mutex, PoisonError},
};

use crate::ProcessError;

/// Ports this process has handed out. Bounded: past this many it forgets
/// them all and starts again (far more than any run holds at once).
static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
const REMEMBERED: usize = 8_192;
/// Kernel offers tried before giving up on a port not handed out yet.
const TRIES: usize = 64;

fn kernel_port() -> Result<u16, ProcessError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(ProcessError::NoFreePort)
}

/// A loopback port nobody listens on right now, and that this process has
/// not handed out before.
pub fn free_port() -> Result<u16, ProcessError> {
    let mut given = GIVEN.lock().unwrap_or_else(PoisonError::into_inner);
    let given = given.get_or_insert_with(HashSet::new);
    if given.len() >= REMEMBERED {
        given.clear();
    }
    for _ in 0..TRIES {
        let port = kernel_port()?;
        if given.insert(port) {
            return Ok(port);
        }
    }
    Err(ProcessError::NoFreePort(std::io::Error::other(format!(
        "the kernel offered only ports already handed out, {TRIES} times"
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_port_is_handed_out_twice() {
        let ports: Vec<u16> = (0..500).map(|_| free_port().unwrap()).collect();
        let distinct: HashSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len());
    }
}
