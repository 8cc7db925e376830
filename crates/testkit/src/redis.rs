//! A `redis-server` child process owned by a test.

use std::{
    io::{Read, Write},
    net::{Ipv4Addr, TcpListener, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use tempfile::TempDir;

const INSTALL_HINT: &str =
    "redis-server was not found on PATH. Install it with: sudo apt-get install -y redis-server";

/// How a test wants its Redis.
#[derive(Debug, Clone, Copy, Default)]
pub struct RedisOptions {
    /// Append-only file on: a restart keeps the data (and `stop` is a clean
    /// SIGTERM). Off (the default): a restart starts empty, like a cache
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

/// A port nobody listens on right now. The kernel picks it; a tiny race
/// remains until redis binds it, which `start` covers by retrying.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("the OS always has a free loopback port")
}

/// Fails with the install command when `redis-server` is missing.
pub fn require_redis_server() -> String {
    match Command::new("redis-server").arg("--version").output() {
        Ok(output) if output.status.success() => {
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        }
        _ => panic!("{INSTALL_HINT}"),
    }
}

impl RedisServer {
    /// Starts a throwaway Redis without persistence.
    pub fn start() -> Self {
        Self::start_with(RedisOptions::default())
    }

    pub fn start_with(options: RedisOptions) -> Self {
        require_redis_server();
        let mut last_error = String::new();
        for _ in 0..5 {
            let mut server = RedisServer {
                port: free_port(),
                dir: tempfile::tempdir().expect("temp dir for redis"),
                options,
                child: None,
            };
            match server.spawn() {
                Ok(()) => return server,
                Err(error) => last_error = error,
            }
        }
        panic!("redis-server did not start: {last_error}");
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
        if self.options.persistence {
            if let Some(child) = &mut self.child {
                let pid = nix::unistd::Pid::from_raw(child.id() as i32);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
                let deadline = Instant::now() + Duration::from_secs(5);
                while Instant::now() < deadline {
                    if let Ok(Some(_)) = child.try_wait() {
                        self.child = None;
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        self.kill();
    }

    /// Starts it again on the same port (after [`stop`](Self::stop)).
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.spawn() {
                Ok(()) => return,
                // The old socket may linger for a moment; the port is ours to reuse.
                Err(error) if Instant::now() > deadline => {
                    panic!("redis-server did not restart: {error}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut command = Command::new("redis-server");
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
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        crate::process::die_with_parent(&mut command);
        let child = command
            .spawn()
            .map_err(|e| format!("{INSTALL_HINT} ({e})"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(child) = &mut self.child {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    let log = std::fs::read_to_string(self.dir.path().join("redis.log"))
                        .unwrap_or_default();
                    return Err(format!(
                        "exited with {status}: {}",
                        log.lines().last().unwrap_or("")
                    ));
                }
            }
            if ping(self.port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kill();
        Err("no PONG within 10s".into())
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
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
