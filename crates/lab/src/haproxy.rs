//! HAProxy: the configuration we render, the process we run, and the stats
//! socket we read.
//!
//! The load balancer is HAProxy, not code of ours, so that "round-robin",
//! "sticky" or "a node died" mean exactly what they mean in production. The
//! lab only renders `docker/haproxy/haproxy.cfg.j2` (the file the
//! docker-compose set-up uses too), runs `haproxy` on it, and asks its admin
//! socket two things: per-server counters (`show stat`, the experiments'
//! source of truth for how traffic was spread) and maintenance switches
//! (`set server … state maint|ready`).

use std::{
    io::{Read, Write},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde::Serialize;

use crate::LabError;

/// The address HAProxy connects to the nodes from. Clients (wrk, goose,
/// curl) come from 127.0.0.1, so a node trusting only this address with
/// `X-Forwarded-For` (`--trusted-proxies`) believes HAProxy and no client.
pub const SOURCE_ADDRESS: &str = "127.0.0.2";

/// The template, compiled in so the binary works from any directory.
pub const TEMPLATE: &str = include_str!("../../../docker/haproxy/haproxy.cfg.j2");

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Balance {
    /// Each request to the next node in turn.
    Roundrobin,
    /// Each request to the node with the fewest open connections.
    Leastconn,
    /// HAProxy inserts a cookie naming the node; a client stays on it.
    Sticky,
    /// Hash of the client's IP address picks the node.
    Source,
}

impl Balance {
    fn algorithm(self) -> &'static str {
        match self {
            Balance::Roundrobin | Balance::Sticky => "roundrobin",
            Balance::Leastconn => "leastconn",
            Balance::Source => "source",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerEntry {
    pub name: String,
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, Serialize)]
pub struct StackEntry {
    /// `session` or `jwt`: names the frontend (`session_front`) and backend (`session_nodes`).
    pub name: String,
    pub port: u16,
    pub servers: Vec<ServerEntry>,
}

/// Everything the template needs.
#[derive(Debug, Clone, Serialize)]
pub struct HaproxyConfig {
    pub bind_host: String,
    pub stats_port: u16,
    pub stats_socket: PathBuf,
    pub balance: String,
    pub sticky: bool,
    pub threads: usize,
    pub check_interval_ms: u64,
    /// Source address of HAProxy's connections to the nodes (`None`: the kernel's choice).
    pub source_address: Option<String>,
    pub stacks: Vec<StackEntry>,
}

impl HaproxyConfig {
    pub fn new(
        balance: Balance,
        stats_port: u16,
        stats_socket: PathBuf,
        stacks: Vec<StackEntry>,
    ) -> Self {
        Self {
            bind_host: "127.0.0.1".into(),
            stats_port,
            stats_socket,
            balance: balance.algorithm().into(),
            sticky: balance == Balance::Sticky,
            threads: 1,
            check_interval_ms: 500,
            source_address: Some(SOURCE_ADDRESS.into()),
            stacks,
        }
    }

    pub fn render(&self) -> Result<String, LabError> {
        let mut env = minijinja::Environment::new();
        // Block tags take whole lines, so the template reads like the config it makes.
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        env.add_template("haproxy.cfg", TEMPLATE)
            .and_then(|_| env.get_template("haproxy.cfg"))
            .and_then(|template| template.render(self))
            .map_err(|e| LabError::Haproxy(format!("rendering the config: {e}")))
    }
}

/// A running `haproxy -db -f <config>`.
pub struct Haproxy {
    child: Option<Child>,
    socket: PathBuf,
}

impl Haproxy {
    /// Checks the config with `haproxy -c`, then starts it and waits for its socket.
    pub fn start(config: &HaproxyConfig, dir: &Path) -> Result<Self, LabError> {
        let path = dir.join("haproxy.cfg");
        std::fs::write(&path, config.render()?)
            .map_err(|e| LabError::Io(format!("writing {}: {e}", path.display())))?;
        let check = Command::new("haproxy")
            .arg("-c")
            .arg("-f")
            .arg(&path)
            .output()
            .map_err(|e| {
                LabError::Missing(format!(
                    "haproxy ({e}); install it with: sudo apt-get install -y haproxy"
                ))
            })?;
        if !check.status.success() {
            return Err(LabError::Haproxy(format!(
                "config {} rejected: {}{}",
                path.display(),
                String::from_utf8_lossy(&check.stdout).trim(),
                String::from_utf8_lossy(&check.stderr).trim()
            )));
        }
        let log = std::fs::File::create(dir.join("haproxy.log"))
            .map_err(|e| LabError::Io(e.to_string()))?;
        let mut command = Command::new("haproxy");
        command
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        supervise::die_with_parent(&mut command);
        let child = command
            .spawn()
            .map_err(|e| LabError::Haproxy(e.to_string()))?;
        let mut haproxy = Haproxy {
            child: Some(child),
            socket: config.stats_socket.clone(),
        };
        let mut last_error = String::new();
        for _ in 0..200 {
            match haproxy.command("show info") {
                Ok(_) => return Ok(haproxy),
                Err(error) => last_error = error.to_string(),
            }
            if let Some(status) = haproxy.exited() {
                let log = std::fs::read_to_string(dir.join("haproxy.log")).unwrap_or_default();
                return Err(LabError::Haproxy(format!(
                    "exited with {status}: {}",
                    log.trim()
                )));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Err(LabError::Haproxy(format!(
            "the stats socket never answered: {last_error}"
        )))
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Exited by itself? Returns its status if so.
    pub fn exited(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            _ => None,
        }
    }

    /// One command on the admin socket; the socket closes after each answer.
    pub fn command(&self, line: &str) -> Result<String, LabError> {
        let fail = |e: std::io::Error| LabError::Haproxy(format!("stats socket: {e}"));
        let mut stream = UnixStream::connect(&self.socket).map_err(fail)?;
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .map_err(fail)?;
        stream
            .write_all(format!("{line}\n").as_bytes())
            .map_err(fail)?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).map_err(fail)?;
        Ok(answer)
    }

    /// Per-server rows of `show stat`.
    pub fn servers(&self) -> Result<Vec<ServerStats>, LabError> {
        parse_stats(&self.command("show stat")?)
    }

    /// Takes a server out of rotation (`maint`) or puts it back (`ready`).
    pub fn set_maintenance(&self, backend: &str, server: &str, on: bool) -> Result<(), LabError> {
        let state = if on { "maint" } else { "ready" };
        let answer = self.command(&format!("set server {backend}/{server} state {state}"))?;
        if answer.trim().is_empty() {
            Ok(())
        } else {
            Err(LabError::Haproxy(answer.trim().to_owned()))
        }
    }

    /// SIGTERM, then SIGKILL if HAProxy has not exited within a second.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            supervise::process::terminate(&mut child, Duration::from_secs(1));
        }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One server line of HAProxy's stats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ServerStats {
    pub backend: String,
    pub server: String,
    /// `UP`, `DOWN`, `MAINT`, `UP 1/2`, ...
    pub status: String,
    /// Times HAProxy chose this server (`lbtot`).
    pub selected: u64,
    /// HTTP responses it returned, all classes (`hrsp_*`).
    pub responses: u64,
    pub responses_5xx: u64,
}

impl ServerStats {
    pub fn is_up(&self) -> bool {
        self.status.starts_with("UP")
    }
}

/// Parses `show stat` CSV by column name, keeping server rows only.
pub fn parse_stats(csv_text: &str) -> Result<Vec<ServerStats>, LabError> {
    let text = csv_text.trim_start_matches("# ");
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| LabError::Haproxy(e.to_string()))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| LabError::Haproxy(format!("stats have no column {name}")))
    };
    let (px, sv, status, lbtot) = (
        column("pxname")?,
        column("svname")?,
        column("status")?,
        column("lbtot")?,
    );
    let classes: Vec<usize> = [
        "hrsp_1xx",
        "hrsp_2xx",
        "hrsp_3xx",
        "hrsp_4xx",
        "hrsp_5xx",
        "hrsp_other",
    ]
    .iter()
    .map(|c| column(c))
    .collect::<Result<_, _>>()?;
    let number = |record: &csv::StringRecord, i: usize| {
        record
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let mut servers = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| LabError::Haproxy(e.to_string()))?;
        let name = record.get(sv).unwrap_or("");
        if matches!(name, "FRONTEND" | "BACKEND" | "") {
            continue;
        }
        servers.push(ServerStats {
            backend: record.get(px).unwrap_or("").to_owned(),
            server: name.to_owned(),
            status: record.get(status).unwrap_or("").to_owned(),
            selected: number(&record, lbtot),
            responses: classes.iter().map(|&i| number(&record, i)).sum(),
            responses_5xx: number(&record, classes[4]),
        });
    }
    Ok(servers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(balance: Balance) -> HaproxyConfig {
        HaproxyConfig::new(
            balance,
            9000,
            "/tmp/x.sock".into(),
            vec![StackEntry {
                name: "session".into(),
                port: 9001,
                servers: (1..=2)
                    .map(|i| ServerEntry {
                        name: format!("session-{i}"),
                        host: "127.0.0.1".into(),
                        port: 9010 + i,
                    })
                    .collect(),
            }],
        )
    }

    #[test]
    fn renders_a_config_haproxy_accepts() {
        for balance in [
            Balance::Roundrobin,
            Balance::Leastconn,
            Balance::Sticky,
            Balance::Source,
        ] {
            let text = config(balance).render().unwrap();
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("haproxy.cfg");
            std::fs::write(&path, &text).unwrap();
            let check = Command::new("haproxy")
                .arg("-c")
                .arg("-f")
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                check.status.success(),
                "{balance:?}:\n{text}\n{}{}",
                String::from_utf8_lossy(&check.stdout),
                String::from_utf8_lossy(&check.stderr)
            );
            assert_eq!(
                text.contains("cookie AUTHLAB_NODE insert"),
                balance == Balance::Sticky
            );
            // The nodes learn the client's address, from HAProxy only.
            assert!(text.contains("option forwardfor"), "{text}");
            assert!(text.contains(&format!("source {SOURCE_ADDRESS}")), "{text}");
            // HAProxy's own errors are JSON like the nodes'.
            for status in [400, 408, 429, 500, 502, 503, 504] {
                assert!(
                    text.contains(&format!(
                        "http-error status {status} content-type application/json string '{{\"error\":"
                    )),
                    "{balance:?}: no JSON error for {status}"
                );
            }
        }
    }

    #[test]
    fn parses_server_rows_of_show_stat() {
        let csv = "# pxname,svname,status,lbtot,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,\n\
                   session_front,FRONTEND,OPEN,,0,9,0,0,0,0,\n\
                   session_nodes,session-1,UP,4,0,3,0,1,0,0,\n\
                   session_nodes,session-2,DOWN,5,0,4,0,0,1,0,\n\
                   session_nodes,BACKEND,UP,9,0,7,0,1,1,0,\n";
        let servers = parse_stats(csv).unwrap();
        assert_eq!(servers.len(), 2);
        assert_eq!(
            (
                servers[0].selected,
                servers[0].responses,
                servers[0].is_up()
            ),
            (4, 4, true)
        );
        assert_eq!((servers[1].responses_5xx, servers[1].is_up()), (1, false));
    }
}
