//! HAProxy's runtime API (the admin "stats socket"), over a unix socket or TCP.
//!
//! The protocol is the same on both: connect, write one command line, read
//! until HAProxy closes the connection. The lab's own clusters use a unix
//! socket in their temp dir (mode 600: only this user may drain a node); in
//! docker-compose HAProxy runs in a container of its own, and `authlab
//! fault` reaches it through a TCP port published on the host's loopback.
//! One client serves both, so `show stat` is parsed and `set server` is
//! checked in one place.

use std::{
    io::{Read, Write},
    net::TcpStream,
    os::unix::net::UnixStream,
    path::PathBuf,
    time::Duration,
};

use serde::Serialize;

use crate::HarnessError;

/// Where the runtime API listens: rendered into `stats socket` by the
/// config template (`kind` and `address`), and connected to by [`RuntimeApi`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "address", rename_all = "lowercase")]
pub enum AdminSocket {
    /// A unix socket path.
    Unix(PathBuf),
    /// `HOST:PORT`; an IPv4 address to bind in a config, any resolvable host to connect to.
    Tcp(String),
}

impl std::fmt::Display for AdminSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminSocket::Unix(path) => write!(f, "{}", path.display()),
            AdminSocket::Tcp(address) => f.write_str(address),
        }
    }
}

/// The administrative states `set server … state` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    /// In rotation.
    Ready,
    /// No new connections, except persistent ones (sticky cookies); health checks go on.
    Drain,
    /// Out of rotation; health checks stop.
    Maint,
}

impl ServerState {
    pub fn keyword(self) -> &'static str {
        match self {
            ServerState::Ready => "ready",
            ServerState::Drain => "drain",
            ServerState::Maint => "maint",
        }
    }
}

/// A client of one HAProxy's runtime API; every call is its own connection.
#[derive(Debug, Clone)]
pub struct RuntimeApi {
    socket: AdminSocket,
    timeout: Duration,
}

impl RuntimeApi {
    pub fn new(socket: AdminSocket) -> Self {
        Self {
            socket,
            timeout: Duration::from_secs(2),
        }
    }

    pub fn socket(&self) -> &AdminSocket {
        &self.socket
    }

    /// One command; HAProxy closes the connection after its answer.
    pub fn command(&self, line: &str) -> Result<String, HarnessError> {
        let fail =
            |e: std::io::Error| HarnessError::Haproxy(format!("runtime API {}: {e}", self.socket));
        let mut answer = String::new();
        let request = format!("{line}\n");
        match &self.socket {
            AdminSocket::Unix(path) => {
                let mut stream = UnixStream::connect(path).map_err(fail)?;
                stream.set_read_timeout(Some(self.timeout)).map_err(fail)?;
                stream.write_all(request.as_bytes()).map_err(fail)?;
                stream.read_to_string(&mut answer).map_err(fail)?;
            }
            AdminSocket::Tcp(address) => {
                let mut stream = connect_tcp(address, self.timeout).map_err(fail)?;
                stream.set_read_timeout(Some(self.timeout)).map_err(fail)?;
                stream.write_all(request.as_bytes()).map_err(fail)?;
                stream.read_to_string(&mut answer).map_err(fail)?;
            }
        }
        Ok(answer)
    }

    /// Per-server rows of `show stat`.
    pub fn servers(&self) -> Result<Vec<ServerStats>, HarnessError> {
        parse_stats(&self.command("show stat")?)
    }

    /// `set server BACKEND/SERVER state …`. HAProxy answers nothing when it
    /// obeys and a sentence when it does not ("No such server."), which
    /// becomes the error.
    pub fn set_state(
        &self,
        backend: &str,
        server: &str,
        state: ServerState,
    ) -> Result<(), HarnessError> {
        let answer = self.command(&format!(
            "set server {backend}/{server} state {}",
            state.keyword()
        ))?;
        let answer = answer.trim();
        if answer.is_empty() {
            Ok(())
        } else {
            Err(HarnessError::Haproxy(format!(
                "{backend}/{server}: {answer}"
            )))
        }
    }
}

/// A bounded connect: an unreachable published port must fail, not hang.
fn connect_tcp(address: &str, timeout: Duration) -> std::io::Result<TcpStream> {
    use std::net::ToSocketAddrs;
    let mut last = None;
    for candidate in address.to_socket_addrs()? {
        match TcpStream::connect_timeout(&candidate, timeout) {
            Ok(stream) => return Ok(stream),
            Err(error) => last = Some(error),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{address} resolves to no address"),
        )
    }))
}

/// One server line of HAProxy's stats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ServerStats {
    pub backend: String,
    pub server: String,
    /// `address:port`; empty for a templated server DNS has not filled.
    #[serde(default)]
    pub address: String,
    /// `UP`, `DOWN`, `MAINT`, `DRAIN`, `UP 1/2`, `MAINT (resolution)`, ...
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
pub fn parse_stats(csv_text: &str) -> Result<Vec<ServerStats>, HarnessError> {
    let text = csv_text.trim_start_matches("# ");
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| HarnessError::Haproxy(e.to_string()))?
        .clone();
    let position = |name: &str| headers.iter().position(|h| h == name);
    let column = |name: &str| {
        position(name).ok_or_else(|| HarnessError::Haproxy(format!("stats have no column {name}")))
    };
    let (px, sv, status, lbtot) = (
        column("pxname")?,
        column("svname")?,
        column("status")?,
        column("lbtot")?,
    );
    let addr = position("addr");
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
        let record = record.map_err(|e| HarnessError::Haproxy(e.to_string()))?;
        let name = record.get(sv).unwrap_or("");
        if matches!(name, "FRONTEND" | "BACKEND" | "") {
            continue;
        }
        servers.push(ServerStats {
            backend: record.get(px).unwrap_or("").to_owned(),
            server: name.to_owned(),
            address: addr.and_then(|i| record.get(i)).unwrap_or("").to_owned(),
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

    #[test]
    fn parses_server_rows_of_show_stat() {
        let csv = "# pxname,svname,status,lbtot,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,addr,\n\
                   session_front,FRONTEND,OPEN,,0,9,0,0,0,0,,\n\
                   session_nodes,session-1,UP,4,0,3,0,1,0,0,127.0.0.1:9011,\n\
                   session_nodes,session-2,DOWN,5,0,4,0,0,1,0,127.0.0.1:9012,\n\
                   session_nodes,BACKEND,UP,9,0,7,0,1,1,0,,\n";
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
        assert_eq!(servers[1].address, "127.0.0.1:9012");
    }

    #[test]
    fn a_socket_renders_its_kind_and_address_for_the_template() {
        let unix = serde_json::to_value(AdminSocket::Unix("/tmp/h.sock".into())).unwrap();
        assert_eq!(
            unix,
            serde_json::json!({"kind": "unix", "address": "/tmp/h.sock"})
        );
        let tcp = serde_json::to_value(AdminSocket::Tcp("0.0.0.0:9999".into())).unwrap();
        assert_eq!(
            tcp,
            serde_json::json!({"kind": "tcp", "address": "0.0.0.0:9999"})
        );
    }
}
