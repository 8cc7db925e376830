//! `redis-server` as an owned child process on a free loopback port.
//!
//! Both the tests and the lab's clusters talk to a real Redis, never to a
//! stand-in, because what they observe (a shared store, an outage, a restart
//! that loses data) *is* Redis's behaviour. A [`RedisServer`] is one such
//! process in a private temp dir. It can be stopped and restarted on the
//! same port, so clients configured with its URL see an outage and a
//! recovery rather than a new server; without persistence a restart starts
//! empty, like a cache that lost power. It dies with the thread that started
//! it ([`die_with_parent`](crate::die_with_parent)) and is killed on drop.

use std::{
    io::{Read, Write},
    net::{Ipv4Addr, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use tempfile::TempDir;

use crate::{free_port, process, ProcessError};

const PROGRAM: &str = "redis-server";

fn missing() -> ProcessError {
    ProcessError::Missing {
        program: PROGRAM,
        install: "sudo apt-get install -y redis-server",
    }
}

fn did_not_start(reason: impl Into<String>) -> ProcessError {
    ProcessError::DidNotStart {
        program: PROGRAM,
        reason: reason.into(),
    }
}

/// How the server should keep its data.
#[derive(Debug, Clone, Copy, Default)]
pub struct RedisOptions {
    /// Append-only file on, fsynced every second: a restart keeps the data
    /// (and `stop` is a clean SIGTERM, which Redis handles as SHUTDOWN). Off (the default): a restart starts empty, like a cache
    /// that lost power.
    pub persistence: bool,
}

/// A running (or stopped) redis-server on a fixed loopback port.
pub struct RedisServer {
    port: u16,
    dir: TempDir,
    options: RedisOptions,
    child: Option<Child>,
}

/// The installed `redis-server --version`, or [`ProcessError::Missing`]
/// with the install command.
pub fn require_redis_server() -> Result<String, ProcessError> {
    match Command::new(PROGRAM).arg("--version").output() {
        Ok(output) if output.status.success() => {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
        }
        _ => Err(missing()),
    }
}

impl RedisServer {
    /// Starts a throwaway Redis without persistence.
    pub fn start() -> Result<Self, ProcessError> {
        Self::start_with(RedisOptions::default())
    }

    /// Starts Redis on a free port; tries a few ports in case another
    /// process takes the one picked before Redis binds it.
    pub fn start_with(options: RedisOptions) -> Result<Self, ProcessError> {
        require_redis_server()?;
        let mut last_error = did_not_start("no attempt made");
        for _ in 0..5 {
            let mut server = RedisServer {
                port: free_port()?,
                dir: tempfile::tempdir().map_err(|source| ProcessError::TempDir {
                    program: PROGRAM,
                    source,
                })?,
                options,
                child: None,
            };
            match server.spawn() {
                Ok(()) => return Ok(server),
                Err(error @ ProcessError::Missing { .. }) => return Err(error),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/<db>`
    pub fn url(&self, db: u8) -> String {
        format!("redis://127.0.0.1:{}/{db}", self.port)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Stops the server: SIGKILL without persistence (all data gone, like a
    /// crash), SIGTERM with it (Redis flushes its append-only file).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if self.options.persistence {
                process::terminate(&mut child, Duration::from_secs(5));
            } else {
                process::kill(&mut child);
            }
        }
    }

    /// Starts it again on the same port (after [`stop`](Self::stop), or
    /// stopping it first).
    pub fn restart(&mut self) -> Result<(), ProcessError> {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.spawn() {
                Ok(()) => return Ok(()),
                Err(error @ ProcessError::Missing { .. }) => return Err(error),
                // The old socket may linger for a moment; the port is ours to reuse.
                Err(error) if Instant::now() > deadline => return Err(error),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn spawn(&mut self) -> Result<(), ProcessError> {
        let mut command = Command::new(PROGRAM);
        command
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--save")
            .arg("")
            .arg("--daemonize")
            .arg("no")
            .arg("--protected-mode")
            .arg("yes")
            .arg("--logfile")
            .arg(self.dir.path().join("redis.log"))
            .arg("--appendonly")
            .arg(if self.options.persistence {
                "yes"
            } else {
                "no"
            })
            // Redis's default, spelled out because c3 reports what it keeps:
            // a crash may lose the last second, a clean shutdown nothing.
            .arg("--appendfsync")
            .arg("everysec")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        process::die_with_parent(&mut command);
        let child = command.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => missing(),
            _ => did_not_start(e.to_string()),
        })?;
        let child = self.child.insert(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                let log =
                    std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
                return Err(did_not_start(format!(
                    "exited with {status}: {}",
                    log.lines().last().unwrap_or("")
                )));
            }
            if ping(self.port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        process::kill(child);
        self.child = None;
        Err(did_not_start("no PONG within 10s"))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            process::kill(&mut child);
        }
    }
}

/// A PING over a raw socket: no client library, no runtime needed.
pub fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(
        &(Ipv4Addr::LOCALHOST, port).into(),
        Duration::from_millis(200),
    ) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}
