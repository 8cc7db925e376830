//! `authlab fault`: the docker-compose demo's faults, through the services' own protocols.
//!
//! `authlab up` breaks its clusters by owning the processes (SIGKILL a node,
//! stop a `redis-server`). In compose the processes belong to Docker, and
//! handing a demo tool the Docker socket would hand it the machine. Redis
//! and HAProxy can be broken from their own front doors instead, each
//! published on the host's loopback only:
//!
//! * the session store: `CLIENT PAUSE … ALL` (it stops answering, the session
//!   stack answers 503 once its store timeout passes, the JWT stack goes on)
//!   and `SHUTDOWN NOSAVE` (a crash; compose's restart policy brings it back
//!   empty, so every session is gone);
//! * HAProxy's runtime API: list servers, drain one, take one out, put it back.
//!
//! There is no "resume": Redis (checked on 7.0) holds *every* command of
//! every client during a `PAUSE … ALL`, `CLIENT UNPAUSE` included, so a
//! pause ends when its duration does and not before.

use std::time::Duration;

use crate::{
    runtime_api::{AdminSocket, RuntimeApi, ServerState, ServerStats},
    HarnessError,
};

#[derive(Debug, Clone, clap::Args)]
pub struct FaultArgs {
    /// The session store (published on the host's loopback by the compose file).
    #[arg(
        long,
        env = "AUTHLAB_FAULT_STORE_URL",
        default_value = "redis://127.0.0.1:6380",
        global = true
    )]
    pub store_url: String,
    /// HAProxy's runtime API, HOST:PORT (published on the host's loopback by the compose file).
    #[arg(
        long,
        env = "AUTHLAB_FAULT_HAPROXY_API",
        default_value = "127.0.0.1:9999",
        global = true
    )]
    pub haproxy_api: String,
    #[command(subcommand)]
    pub action: FaultAction,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum FaultAction {
    /// The session store stops answering every client for DURATION (e.g. 10s).
    StorePause {
        #[arg(value_parser = humantime::parse_duration)]
        duration: Duration,
    },
    /// The session store exits at once, without saving (`SHUTDOWN NOSAVE`).
    StoreCrash,
    /// Every HAProxy server: backend/server, address, status.
    Servers {
        /// Also list template slots no replica fills.
        #[arg(long)]
        all: bool,
    },
    /// No new clients for BACKEND/SERVER; sticky ones finish (`state drain`).
    NodeDrain { server: String },
    /// BACKEND/SERVER out of rotation, health checks off (`state maint`).
    NodeMaint { server: String },
    /// BACKEND/SERVER back in rotation (`state ready`).
    NodeReady { server: String },
}

/// How long a store or runtime API call may take before it counts as no answer.
const TIMEOUT: Duration = Duration::from_secs(2);

impl FaultArgs {
    /// Carries out the action; returns the lines to print.
    pub fn run(&self) -> Result<Vec<String>, HarnessError> {
        match &self.action {
            FaultAction::StorePause { duration } => Store::new(&self.store_url)?
                .pause(*duration)
                .map(|l| vec![l]),
            FaultAction::StoreCrash => Store::new(&self.store_url)?.crash().map(|l| vec![l]),
            FaultAction::Servers { all } => Ok(server_table(&self.api().servers()?, *all)),
            FaultAction::NodeDrain { server } => self.set_state(server, ServerState::Drain),
            FaultAction::NodeMaint { server } => self.set_state(server, ServerState::Maint),
            FaultAction::NodeReady { server } => self.set_state(server, ServerState::Ready),
        }
    }

    fn api(&self) -> RuntimeApi {
        RuntimeApi::new(AdminSocket::Tcp(self.haproxy_api.clone()))
    }

    fn set_state(&self, name: &str, state: ServerState) -> Result<Vec<String>, HarnessError> {
        let (backend, server) = split_server(name)?;
        self.api()
            .set_state(backend, server, state)
            .map_err(|e| match e {
                HarnessError::Haproxy(reason) => HarnessError::Haproxy(format!(
                    "{reason} (`authlab fault servers` lists the servers HAProxy knows)"
                )),
                other => other,
            })?;
        Ok(vec![format!("{backend}/{server}: {}", state.keyword())])
    }
}

/// `session_nodes/session1` → (`session_nodes`, `session1`).
pub fn split_server(name: &str) -> Result<(&str, &str), HarnessError> {
    match name.split_once('/') {
        Some((backend, server)) if !backend.is_empty() && !server.is_empty() => {
            Ok((backend, server))
        }
        _ => Err(HarnessError::Config(format!(
            "{name:?}: name a server as BACKEND/SERVER, e.g. session_nodes/session1 (see `authlab fault servers`)"
        ))),
    }
}

/// A template slot DNS has not given an address: there is no replica behind it.
pub fn is_empty_slot(server: &ServerStats) -> bool {
    server.status.contains("(resolution)")
}

pub fn server_table(servers: &[ServerStats], all: bool) -> Vec<String> {
    let shown: Vec<&ServerStats> = servers
        .iter()
        .filter(|s| all || !is_empty_slot(s))
        .collect();
    let width = shown
        .iter()
        .map(|s| s.backend.len() + 1 + s.server.len())
        .chain([14])
        .max()
        .unwrap_or(14);
    let mut lines = vec![format!(
        "{:<width$}  {:<22} STATUS",
        "BACKEND/SERVER", "ADDRESS"
    )];
    for server in &shown {
        lines.push(format!(
            "{:<width$}  {:<22} {}",
            format!("{}/{}", server.backend, server.server),
            if server.address.is_empty() {
                "-"
            } else {
                &server.address
            },
            server.status
        ));
    }
    let hidden = servers.len() - shown.len();
    if hidden > 0 {
        lines.push(format!(
            "({hidden} template slots without a replica not shown; --all shows them)"
        ));
    }
    lines
}

/// The session store, reached as any Redis client would.
pub struct Store {
    client: redis::Client,
    /// `host:port`, never the URL: it may hold a password.
    address: String,
}

impl Store {
    pub fn new(url: &str) -> Result<Self, HarnessError> {
        let client = redis::Client::open(url)
            .map_err(|e| HarnessError::Config(format!("--store-url is not a Redis URL: {e}")))?;
        let address = client.get_connection_info().addr.to_string();
        Ok(Self { client, address })
    }

    fn fail(&self, e: redis::RedisError) -> HarnessError {
        HarnessError::Io(format!("session store at {}: {e}", self.address))
    }

    fn connect(&self) -> Result<redis::Connection, HarnessError> {
        let connection = self
            .client
            .get_connection_with_timeout(TIMEOUT)
            .map_err(|e| self.fail(e))?;
        connection
            .set_read_timeout(Some(TIMEOUT))
            .map_err(|e| self.fail(e))?;
        Ok(connection)
    }

    pub fn pause(&self, duration: Duration) -> Result<String, HarnessError> {
        let millis = duration.as_millis();
        if millis == 0 {
            return Err(HarnessError::Config(
                "a pause must last at least 1ms".to_owned(),
            ));
        }
        redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(u64::try_from(millis).unwrap_or(u64::MAX))
            .arg("ALL")
            .query::<()>(&mut self.connect()?)
            .map_err(|e| self.fail(e))?;
        Ok(format!(
            "session store at {} paused for {}: every command waits, the session stack answers 503 once its store timeout passes",
            self.address,
            humantime::format_duration(duration)
        ))
    }

    pub fn crash(&self) -> Result<String, HarnessError> {
        match redis::cmd("SHUTDOWN")
            .arg("NOSAVE")
            .query::<()>(&mut self.connect()?)
        {
            // Redis exits without answering: the connection dropping is the crash.
            Err(e) if e.is_io_error() || e.is_connection_dropped() => {}
            Ok(()) => {}
            Err(e) => return Err(self.fail(e)),
        }
        Ok(format!(
            "session store at {} shut down without saving; a restart policy brings it back empty",
            self.address
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_is_named_backend_slash_server() {
        assert_eq!(
            split_server("session_nodes/session1").unwrap(),
            ("session_nodes", "session1")
        );
        for bad in ["session1", "/session1", "session_nodes/", ""] {
            let error = split_server(bad).unwrap_err().to_string();
            assert!(error.contains("BACKEND/SERVER"), "{bad}: {error}");
        }
    }

    #[test]
    fn the_table_hides_empty_template_slots_unless_asked() {
        let row = |server: &str, address: &str, status: &str| ServerStats {
            backend: "session_nodes".into(),
            server: server.into(),
            address: address.into(),
            status: status.into(),
            selected: 0,
            responses: 0,
            responses_5xx: 0,
        };
        let servers = [
            row("session1", "172.18.0.5:8080", "UP"),
            row("session2", "", "MAINT (resolution)"),
        ];
        let table = server_table(&servers, false);
        assert_eq!(table.len(), 3, "{table:#?}");
        assert!(table[1].starts_with("session_nodes/session1  172.18.0.5:8080"));
        assert!(table[1].ends_with(" UP"));
        assert!(table[2].contains("1 template slots"));
        let table = server_table(&servers, true);
        assert_eq!(table.len(), 3);
        assert!(table[2].contains("session_nodes/session2"));
        assert!(table[2].ends_with("MAINT (resolution)"));
    }
}
