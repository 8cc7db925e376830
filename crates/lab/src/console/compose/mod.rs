//! The console over the docker-compose demo: no Docker socket.
//!
//! In compose the processes belong to Docker, and handing a demo tool the
//! Docker socket would hand it the machine. The console's `console` service
//! therefore breaks the demo only through the front doors the services
//! already have, as `authlab fault` does:
//!
//! * the session store's own protocol: `SHUTDOWN NOSAVE` is a crash (Docker's
//!   restart policy brings the store back, empty), `CLIENT PAUSE … ALL` a
//!   store that stops answering for [`PAUSE`];
//! * HAProxy's runtime API: a "killed" node is one taken out of rotation
//!   (`maint`), "restart" puts it back (`ready`), "drain" drains it.
//!
//! What needs a process restarted (store latency through a proxy, key
//! rotation, switching revocation) is refused with a `409` that says so;
//! `authlab up` can do all of it. The nodes are found in HAProxy's stats, and
//! found again every second: `docker compose up --scale jwt=5` shows up on
//! the page without restarting the console.

mod actions;

use std::{net::IpAddr, path::PathBuf, sync::Arc, time::Duration};

use jwt_server::RevocationMode;

pub use actions::{ComposeControls, PAUSE};

use super::{
    controller::Controller,
    facts::{ClusterFacts, NodeFacts},
};
use crate::{
    experiment::EngineChoice,
    fault::is_empty_slot,
    runtime_api::{AdminSocket, RuntimeApi, ServerStats},
    LabError, Stack,
};

/// `authlab console`: the console of a deployment it did not start (the
/// compose demo, from its `console` service or from the host).
#[derive(Debug, Clone, clap::Args)]
pub struct ComposeConsoleArgs {
    /// Address to listen on (the compose service listens on 0.0.0.0 inside
    /// its container and is published on the host's 127.0.0.1 only).
    #[arg(long, env = "AUTHLAB_CONSOLE_BIND", default_value = "127.0.0.1")]
    pub bind: IpAddr,
    #[arg(long, env = "AUTHLAB_CONSOLE_PORT", default_value_t = 8000)]
    pub port: u16,
    /// Names the console answers to besides loopback and the bind address
    /// (a `Host` naming anything else gets 421: DNS rebinding).
    #[arg(
        long = "console-host",
        env = "AUTHLAB_CONSOLE_HOSTS",
        value_delimiter = ','
    )]
    pub hosts: Vec<String>,
    /// The session stack's load balancer.
    #[arg(
        long,
        env = "AUTHLAB_CONSOLE_SESSION_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub session_url: String,
    /// The JWT stack's load balancer.
    #[arg(
        long,
        env = "AUTHLAB_CONSOLE_JWT_URL",
        default_value = "http://127.0.0.1:8081"
    )]
    pub jwt_url: String,
    /// HAProxy's runtime API, HOST:PORT.
    #[arg(
        long,
        env = "AUTHLAB_CONSOLE_HAPROXY_API",
        default_value = "127.0.0.1:9999"
    )]
    pub haproxy_api: String,
    /// The session store (sessions in db 0, refresh tokens and denylist in db 1).
    #[arg(
        long,
        env = "AUTHLAB_CONSOLE_STORE_URL",
        default_value = "redis://127.0.0.1:6380/0"
    )]
    pub store_url: String,
    /// The user directory: where "Promote carol" writes her roles back.
    #[arg(
        long,
        env = "AUTHLAB_USER_DIRECTORY_URL",
        default_value = "redis://127.0.0.1:6379/0"
    )]
    pub directory_url: String,
    /// Load users the directory was seeded with (`user0` …).
    #[arg(long, env = "AUTHLAB_LOAD_USERS", default_value_t = 1000)]
    pub users: usize,
    /// The CA to trust when the frontends speak TLS (the compose volume's tls/ca.pem).
    #[arg(long, env = "AUTHLAB_CONSOLE_CA")]
    pub ca: Option<PathBuf>,
    /// What the JWT nodes run with (compose: none, unless changed there).
    #[arg(long, env = "AUTHLAB_REVOCATION", value_enum, default_value = "none")]
    pub revocation: RevocationMode,
    /// The run whose report the controls link to.
    #[arg(long, default_value = "reports/latest")]
    pub report: PathBuf,
    /// The engine the deployment runs on. The console starts nothing on
    /// it: it says at start which hosts the engine has, and whether they
    /// share one machine, so the figures it shows are read as they should be.
    #[arg(long, value_enum, default_value = "local")]
    pub engine: EngineChoice,
}

impl ComposeConsoleArgs {
    /// What the console needs to know, once HAProxy names at least one node
    /// of each stack (it finds them by DNS, so they may take a moment).
    pub async fn facts(&self) -> Result<ClusterFacts, LabError> {
        let runtime_api = RuntimeApi::new(AdminSocket::Tcp(self.haproxy_api.clone()));
        let stacks = [Stack::Session, Stack::Jwt];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let nodes = loop {
            let api = runtime_api.clone();
            let rows = tokio::task::spawn_blocking(move || api.servers())
                .await
                .map_err(|e| LabError::Io(e.to_string()))?;
            let found = rows.as_deref().map(|r| discovered(r, &stacks));
            match found {
                Ok(nodes) if stacks.iter().all(|s| nodes.iter().any(|n| n.stack == *s)) => {
                    break nodes
                }
                _ if tokio::time::Instant::now() >= deadline => {
                    return Err(LabError::Timeout(format!(
                        "HAProxy at {} named no node of each stack within 60 s ({})",
                        self.haproxy_api,
                        match rows {
                            Ok(_) => "its backends are empty".to_owned(),
                            Err(e) => e.to_string(),
                        }
                    )))
                }
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        };
        let client = match &self.ca {
            Some(ca) => {
                let pem = std::fs::read_to_string(ca)
                    .map_err(|e| LabError::Config(format!("{}: {e}", ca.display())))?;
                crate::tls::client_trusting(&pem)?
            }
            None => reqwest::Client::builder(),
        }
        .build()
        .map_err(|e| LabError::Config(format!("building the console's client: {e}")))?;
        Ok(ClusterFacts {
            frontends: vec![
                (
                    Stack::Session,
                    self.session_url.trim_end_matches('/').to_owned(),
                ),
                (Stack::Jwt, self.jwt_url.trim_end_matches('/').to_owned()),
            ],
            nodes,
            compose: true,
            runtime_api,
            store_url: self.store_url.clone(),
            directory_url: self.directory_url.clone(),
            client,
            seeded_users: self.users,
            revocation: self.revocation,
            store_latency: Duration::ZERO,
            can_rotate: false,
        })
    }

    pub fn controller(&self) -> Controller {
        Controller::Compose(Arc::new(ComposeControls {
            api: RuntimeApi::new(AdminSocket::Tcp(self.haproxy_api.clone())),
            store_url: self.store_url.clone(),
        }))
    }
}

/// The nodes in HAProxy's stats: every server of a stack's backend that has
/// an address (a `server-template` slot no replica fills has none).
pub fn discovered(rows: &[ServerStats], stacks: &[Stack]) -> Vec<NodeFacts> {
    stacks
        .iter()
        .flat_map(|stack| {
            let backend = stack.backend();
            rows.iter()
                .filter(move |r| r.backend == backend && !r.address.is_empty() && !is_empty_slot(r))
                .map(|r| NodeFacts {
                    stack: *stack,
                    name: r.server.clone(),
                    url: format!("http://{}", r.address),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(backend: &str, server: &str, address: &str, status: &str) -> ServerStats {
        ServerStats {
            backend: backend.into(),
            server: server.into(),
            address: address.into(),
            status: status.into(),
            selected: 0,
            responses: 0,
            responses_5xx: 0,
        }
    }

    #[test]
    fn nodes_are_the_filled_slots_of_each_stacks_backend() {
        let rows = [
            row("session_nodes", "session1", "172.31.240.5:8080", "UP"),
            row("session_nodes", "session2", "", "MAINT (resolution)"),
            row("jwt_nodes", "jwt1", "172.31.240.6:8080", "DOWN"),
            row("orders_jwks_nodes", "orders1", "172.31.240.7:8080", "UP"),
        ];
        let nodes = discovered(&rows, &[Stack::Session, Stack::Jwt]);
        let names: Vec<_> = nodes
            .iter()
            .map(|n| (n.stack, n.name.as_str(), n.url.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                (Stack::Session, "session1", "http://172.31.240.5:8080"),
                (Stack::Jwt, "jwt1", "http://172.31.240.6:8080"),
            ]
        );
    }
}
