//! The guarantees the crate's docs promise, checked by PID.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::{
    os::unix::process::ExitStatusExt,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use supervise::{die_with_parent, redis::ping, RedisOptions, RedisServer};

fn alive(pid: u32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok()
}

#[test]
fn a_child_dies_with_the_thread_that_spawned_it() {
    // The spawning thread ends without killing its child: only the kernel's
    // parent-death signal can stop it.
    let mut child = std::thread::spawn(|| {
        let mut command = Command::new("sleep");
        command.arg("60").stdin(Stdio::null());
        die_with_parent(&mut command);
        command.spawn().unwrap()
    })
    .join()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "sleep {} outlived the thread that spawned it",
            child.id()
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.signal(), Some(nix::libc::SIGKILL), "{status}");
}

#[test]
fn redis_restarts_on_the_same_port_and_dies_on_drop() {
    let mut redis = RedisServer::start().unwrap();
    let port = redis.port();
    let first = redis.pid().unwrap();
    assert!(ping(port));

    redis.stop();
    assert!(!redis.is_running());
    assert!(!ping(port), "stopped means nobody answers on the port");

    redis.restart().unwrap();
    assert_eq!(
        redis.port(),
        port,
        "clients keep their URL across a restart"
    );
    assert_ne!(redis.pid(), Some(first));
    assert!(ping(port));

    let pid = redis.pid().unwrap();
    let dir = redis.dir().to_owned();
    drop(redis);
    assert!(!alive(pid), "dropping the handle kills the server");
    assert!(!dir.exists(), "and removes its temp dir");
}

#[test]
fn persistence_decides_what_a_restart_keeps() {
    for persistence in [false, true] {
        let mut redis = RedisServer::start_with(RedisOptions { persistence }).unwrap();
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", redis.port())).unwrap();
        std::io::Write::write_all(&mut stream, b"SET kept yes\r\n").unwrap();
        let mut reply = [0u8; 5];
        std::io::Read::read_exact(&mut stream, &mut reply).unwrap();
        assert_eq!(&reply, b"+OK\r\n");
        drop(stream);

        redis.restart().unwrap();
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", redis.port())).unwrap();
        std::io::Write::write_all(&mut stream, b"EXISTS kept\r\n").unwrap();
        let mut reply = [0u8; 4];
        std::io::Read::read_exact(&mut stream, &mut reply).unwrap();
        let expected: &[u8; 4] = if persistence { b":1\r\n" } else { b":0\r\n" };
        assert_eq!(&reply, expected, "persistence {persistence}");
    }
}
