//! HAProxy: the configuration we render and the process we run; its admin
//! socket is [`crate::runtime_api`].
//!
//! The load balancer is HAProxy, not code of ours, so that "round-robin",
//! "sticky" or "a node died" mean exactly what they mean in production. The
//! lab only renders `docker/haproxy/haproxy.cfg.j2` (the file the
//! docker-compose set-up uses too), runs `haproxy` on it, and asks its admin
//! socket two things: per-server counters (`show stat`, the experiments'
//! source of truth for how traffic was spread) and maintenance switches
//! (`set server … state maint|ready`).
//!
//! The same template has a compose mode ([`HaproxyConfig::compose`]):
//! servers found through Docker's DNS (`server-template`), every address
//! bound, and the admin socket on TCP.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde::Serialize;

pub use crate::runtime_api::{parse_stats, AdminSocket, ServerStats};
use crate::{
    runtime_api::{RuntimeApi, ServerState},
    HarnessError,
};

/// Docker's embedded DNS server, inside every container on a user-defined network.
pub const DOCKER_DNS: &str = "127.0.0.11:53";

/// The address HAProxy connects to the nodes from. Clients (wrk, goose,
/// curl) come from 127.0.0.1, so a node trusting only this address with
/// `X-Forwarded-For`, `-Proto` and `-Host` (`--trusted-proxies`) believes
/// HAProxy and no client; HAProxy sets those headers itself (the template).
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
    pub fn algorithm(self) -> &'static str {
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

/// Servers HAProxy finds by name: `server-template`, one slot per address.
#[derive(Debug, Clone, Serialize)]
pub struct ServerTemplate {
    /// The name DNS answers with every replica's address (a compose service).
    pub service: String,
    /// Port every replica listens on.
    pub port: u16,
    /// Most replicas the backend can hold; slots without an address wait in maintenance.
    pub slots: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct StackEntry {
    /// `session` or `jwt`: names the frontend (`session_front`) and backend (`session_nodes`).
    pub name: String,
    pub port: u16,
    pub servers: Vec<ServerEntry>,
    /// Servers found through DNS (compose), besides any in `servers`.
    pub template: Option<ServerTemplate>,
}

/// Everything the template needs.
#[derive(Debug, Clone, Serialize)]
pub struct HaproxyConfig {
    /// `127.0.0.1` for the lab; `*` (every address) in a container.
    pub bind_host: String,
    pub stats_port: u16,
    pub stats_socket: AdminSocket,
    /// The nameserver of the `docker` resolvers section, which templated servers need.
    pub resolver: Option<String>,
    pub balance: String,
    pub sticky: bool,
    pub threads: usize,
    pub check_interval_ms: u64,
    /// Source address of HAProxy's connections to the nodes (`None`: the kernel's choice).
    pub source_address: Option<String>,
    pub stacks: Vec<StackEntry>,
    /// `jwt_verify` in front of one of the stacks (the orders gateway).
    pub gateway: Option<JwtGateway>,
    /// TLS on every stack's frontend (the stats page stays clear text).
    pub tls: Option<BindTls>,
}

/// What a TLS `bind` line needs.
#[derive(Debug, Clone, Serialize)]
pub struct BindTls {
    /// Certificate then key, one PEM file, as HAProxy sees its path.
    pub crt: String,
    /// ALPN offer, e.g. `h2,http/1.1`.
    pub alpn: String,
}

impl BindTls {
    /// The bind options of `frontend`, or `None` for clear text.
    pub fn for_frontend(frontend: crate::tls::Frontend, crt: &str) -> Option<Self> {
        frontend.alpn().map(|alpn| Self {
            crt: crt.into(),
            alpn: alpn.into(),
        })
    }
}

/// A frontend where HAProxy itself verifies the bearer JWT before any
/// server sees the request: signature (`jwt_verify` with the key file its
/// `kid` names), `alg`, `exp`, `iss` and `aud`. Anything else about the
/// token (revocation, roles, `nbf`) is not checked here.
#[derive(Debug, Clone, Serialize)]
pub struct JwtGateway {
    /// The stack (frontend `<stack>_front`) this guards.
    pub stack: String,
    /// `ES256` or `RS256`: what HAProxy 2.6 can verify of the JWT server's algorithms.
    pub alg: String,
    pub issuer: String,
    pub audience: String,
    /// One public key per `kid` that may verify (active, staged, previous).
    pub keys: Vec<GatewayKey>,
}

/// A public key file (PEM, SubjectPublicKeyInfo) HAProxy loads at start-up.
#[derive(Debug, Clone, Serialize)]
pub struct GatewayKey {
    pub kid: String,
    /// Path as HAProxy sees it (inside its container, in compose).
    pub path: String,
}

impl JwtGateway {
    /// Refuses what the template could not express safely: an algorithm
    /// HAProxy 2.6 cannot verify, no key, or a `kid`/claim that would need
    /// quoting inside the config.
    pub fn validate(&self) -> Result<(), HarnessError> {
        let refuse = |reason: String| Err(HarnessError::Config(format!("jwt gateway: {reason}")));
        if !matches!(self.alg.as_str(), "ES256" | "RS256") {
            return refuse(format!(
                "HAProxy 2.6's jwt_verify cannot verify {} here; the gateway needs an ES256 or RS256 key set",
                self.alg
            ));
        }
        if self.keys.is_empty() {
            return refuse("no verifying key".into());
        }
        let plain = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-:/".contains(&b))
        };
        for (what, value) in [("issuer", &self.issuer), ("audience", &self.audience)] {
            if !plain(value) {
                return refuse(format!(
                    "{what} {value:?} has characters the config cannot hold"
                ));
            }
        }
        for key in &self.keys {
            if !plain(&key.kid) || !plain(&key.path) {
                return refuse(format!(
                    "kid {:?} or its path has characters the config cannot hold",
                    key.kid
                ));
            }
        }
        Ok(())
    }
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
            stats_socket: AdminSocket::Unix(stats_socket),
            resolver: None,
            balance: balance.algorithm().into(),
            sticky: balance == Balance::Sticky,
            threads: 1,
            check_interval_ms: 500,
            source_address: Some(SOURCE_ADDRESS.into()),
            stacks,
            gateway: None,
            tls: None,
        }
    }

    /// HAProxy in its own container of a docker-compose project: it binds
    /// every address, finds each stack's replicas through Docker's DNS, and
    /// serves the runtime API on TCP `runtime_api_port` (the compose file
    /// publishes it on the host's loopback only). No `source` address: in
    /// a container network HAProxy's own address is what nodes trust.
    pub fn compose(
        balance: Balance,
        stats_port: u16,
        runtime_api_port: u16,
        stacks: Vec<StackEntry>,
    ) -> Self {
        Self {
            bind_host: "*".into(),
            stats_socket: AdminSocket::Tcp(format!("0.0.0.0:{runtime_api_port}")),
            resolver: Some(DOCKER_DNS.into()),
            source_address: None,
            ..Self::new(balance, stats_port, PathBuf::new(), stacks)
        }
    }

    pub fn render(&self) -> Result<String, HarnessError> {
        if let Some(gateway) = &self.gateway {
            gateway.validate()?;
            if !self.stacks.iter().any(|s| s.name == gateway.stack) {
                return Err(HarnessError::Config(format!(
                    "jwt gateway: no stack {} to guard",
                    gateway.stack
                )));
            }
        }
        if let Some(tls) = &self.tls {
            let plain = |s: &str| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-/,".contains(&b))
            };
            if !plain(&tls.crt) || !plain(&tls.alpn) {
                return Err(HarnessError::Config(format!(
                    "tls: {tls:?} has characters the config cannot hold"
                )));
            }
        }
        if self.resolver.is_none() {
            if let Some(stack) = self.stacks.iter().find(|s| s.template.is_some()) {
                return Err(HarnessError::Haproxy(format!(
                    "stack {} finds its servers through DNS, which needs a resolver",
                    stack.name
                )));
            }
        }
        let mut env = minijinja::Environment::new();
        // Block tags take whole lines, so the template reads like the config it makes.
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        env.add_template("haproxy.cfg", TEMPLATE)
            .and_then(|_| env.get_template("haproxy.cfg"))
            .and_then(|template| template.render(self))
            .map_err(|e| HarnessError::Haproxy(format!("rendering the config: {e}")))
    }
}

impl StackEntry {
    /// A compose stack: frontend `port`, replicas of `service` on `node_port`.
    pub fn templated(name: &str, port: u16, service: &str, node_port: u16, slots: usize) -> Self {
        Self {
            name: name.into(),
            port,
            servers: Vec::new(),
            template: Some(ServerTemplate {
                service: service.into(),
                port: node_port,
                slots,
            }),
        }
    }
}

/// `haproxy -c -f path`: HAProxy's own verdict on a config file.
pub fn check_config(path: &Path) -> Result<(), HarnessError> {
    let check = Command::new("haproxy")
        .arg("-c")
        .arg("-f")
        .arg(path)
        .output()
        .map_err(|e| {
            HarnessError::Missing(format!(
                "haproxy ({e}); install it with: sudo apt-get install -y haproxy"
            ))
        })?;
    if !check.status.success() {
        return Err(HarnessError::Haproxy(format!(
            "config {} rejected: {}{}",
            path.display(),
            String::from_utf8_lossy(&check.stdout).trim(),
            String::from_utf8_lossy(&check.stderr).trim()
        )));
    }
    Ok(())
}

/// A running `haproxy -db -f <config>`.
pub struct Haproxy {
    child: Option<Child>,
    api: RuntimeApi,
}

impl Haproxy {
    /// Checks the config with `haproxy -c`, then starts it and waits for its socket.
    pub fn start(config: &HaproxyConfig, dir: &Path) -> Result<Self, HarnessError> {
        let child = Self::spawn(config, dir, None)?;
        let mut haproxy = Haproxy {
            child: Some(child),
            api: RuntimeApi::new(config.stats_socket.clone()),
        };
        haproxy.wait_serving(dir)?;
        Ok(haproxy)
    }

    /// Writes and checks the config, then runs `haproxy -db -f` on it;
    /// `replacing` is the pid of an HAProxy the new one takes over from.
    fn spawn(
        config: &HaproxyConfig,
        dir: &Path,
        replacing: Option<u32>,
    ) -> Result<Child, HarnessError> {
        let path = dir.join("haproxy.cfg");
        let next = dir.join("haproxy.cfg.next");
        std::fs::write(&next, config.render()?)
            .map_err(|e| HarnessError::Io(format!("writing {}: {e}", next.display())))?;
        // A rejected config never replaces the running one's file.
        check_config(&next)?;
        std::fs::rename(&next, &path)
            .map_err(|e| HarnessError::Io(format!("writing {}: {e}", path.display())))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("haproxy.log"))
            .map_err(|e| HarnessError::Io(e.to_string()))?;
        let mut command = Command::new("haproxy");
        command
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(pid) = replacing {
            command.arg("-sf").arg(pid.to_string());
        }
        supervise::die_with_parent(&mut command);
        command
            .spawn()
            .map_err(|e| HarnessError::Haproxy(e.to_string()))
    }

    /// Reloads a changed config the way production does: a new HAProxy
    /// starts on it (binding the same ports alongside, SO_REUSEPORT), then
    /// tells the old one (`-sf`) to stop accepting and finish what it
    /// serves. No connection is refused in between. Key files are read at
    /// start-up, so this is how the gateway learns a new key. The
    /// per-server counters start again from zero.
    pub fn reload(&mut self, config: &HaproxyConfig, dir: &Path) -> Result<(), HarnessError> {
        let old = self.child.take();
        let child = match Self::spawn(config, dir, old.as_ref().map(Child::id)) {
            Ok(child) => child,
            Err(error) => {
                self.child = old;
                return Err(error);
            }
        };
        let new_pid = child.id();
        self.child = Some(child);
        let waited = self.wait_serving_as(dir, Some(new_pid));
        if let Some(mut old) = old {
            // Soft-stopped by the new process; bounded wait, then SIGKILL.
            supervise::process::terminate(&mut old, Duration::from_secs(2));
        }
        waited
    }

    fn wait_serving(&mut self, dir: &Path) -> Result<(), HarnessError> {
        self.wait_serving_as(dir, None)
    }

    /// Waits until the admin socket answers (from process `pid`, if given).
    fn wait_serving_as(&mut self, dir: &Path, pid: Option<u32>) -> Result<(), HarnessError> {
        let mut last_error = String::new();
        for _ in 0..200 {
            match self.command("show info") {
                Ok(info) => {
                    let answered_by = info
                        .lines()
                        .find_map(|l| l.strip_prefix("Pid: "))
                        .and_then(|p| p.trim().parse::<u32>().ok());
                    if pid.is_none() || answered_by == pid {
                        return Ok(());
                    }
                    last_error = format!("still answered by pid {answered_by:?}");
                }
                Err(error) => last_error = error.to_string(),
            }
            if let Some(status) = self.exited() {
                let log = std::fs::read_to_string(dir.join("haproxy.log")).unwrap_or_default();
                return Err(HarnessError::Haproxy(format!(
                    "exited with {status}: {}",
                    log.trim()
                )));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Err(HarnessError::Haproxy(format!(
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
    pub fn command(&self, line: &str) -> Result<String, HarnessError> {
        self.api.command(line)
    }

    /// Per-server rows of `show stat`.
    pub fn servers(&self) -> Result<Vec<ServerStats>, HarnessError> {
        self.api.servers()
    }

    pub fn api(&self) -> &RuntimeApi {
        &self.api
    }

    /// Takes a server out of rotation (`maint`) or puts it back (`ready`).
    pub fn set_maintenance(
        &self,
        backend: &str,
        server: &str,
        on: bool,
    ) -> Result<(), HarnessError> {
        let state = if on {
            ServerState::Maint
        } else {
            ServerState::Ready
        };
        self.api.set_state(backend, server, state)
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
                template: None,
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
            let (ok, output) = haproxy_check(&text);
            assert!(ok, "{balance:?}:\n{text}\n{output}");
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

    fn haproxy_check(text: &str) -> (bool, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, text).unwrap();
        match check_config(&path) {
            Ok(()) => (true, String::new()),
            Err(error) => (false, error.to_string()),
        }
    }

    fn compose(balance: Balance) -> HaproxyConfig {
        HaproxyConfig::compose(
            balance,
            8404,
            9999,
            vec![
                StackEntry::templated("session", 8080, "session", 8080, 10),
                StackEntry::templated("jwt", 8081, "jwt", 8080, 10),
            ],
        )
    }

    #[test]
    fn renders_a_compose_config_haproxy_accepts() {
        for balance in [
            Balance::Roundrobin,
            Balance::Leastconn,
            Balance::Sticky,
            Balance::Source,
        ] {
            let text = compose(balance).render().unwrap();
            let (ok, output) = haproxy_check(&text);
            assert!(ok, "{balance:?}:\n{text}\n{output}");
            for line in [
                "stats socket ipv4@0.0.0.0:9999 level admin\n",
                "resolvers docker\n",
                "nameserver dns 127.0.0.11:53\n",
                "hold valid 2s\n",
                "hold obsolete 5s\n",
                "server-template session 10 session:8080 check resolvers docker init-addr none resolve-prefer ipv4\n",
                "server-template jwt 10 jwt:8080 check resolvers docker init-addr none resolve-prefer ipv4\n",
                "bind *:8080\n",
                "bind *:8081\n",
                "bind *:8404\n",
                "monitor-uri /healthz\n",
            ] {
                assert!(text.contains(line), "{balance:?}: no {line:?} in\n{text}");
            }
            // Each frontend replaces what a client says about the scheme and
            // host it used (`haproxy_replaces_what_a_client_says_…` runs the
            // same lines in the lab's shape).
            for line in [
                "http-request del-header Forwarded\n",
                "http-request set-header X-Forwarded-Proto https if { ssl_fc }\n",
                "http-request set-header X-Forwarded-Proto http unless { ssl_fc }\n",
                "http-request del-header X-Forwarded-Host\n",
            ] {
                assert_eq!(
                    text.matches(line).count(),
                    2,
                    "{balance:?}: {line:?} in\n{text}"
                );
            }
            assert!(!text.contains("mode 600"), "{text}");
            assert!(!text.contains("\n    source "), "{text}");
            assert!(!text.contains("\n    server "), "{text}");
            assert_eq!(
                text.contains("cookie AUTHLAB_NODE insert indirect nocache dynamic"),
                balance == Balance::Sticky
            );
        }
    }

    #[test]
    fn the_lab_rendering_keeps_its_local_shape() {
        let text = config(Balance::Sticky).render().unwrap();
        for line in [
            "stats socket /tmp/x.sock mode 600 level admin\n",
            "bind 127.0.0.1:9001\n",
            "source 127.0.0.2\n",
            "cookie AUTHLAB_NODE insert indirect nocache\n",
            "server session-1 127.0.0.1:9011 check cookie session-1\n",
            "server session-2 127.0.0.1:9012 check cookie session-2\n",
            "monitor-uri /healthz\n",
        ] {
            assert!(text.contains(line), "no {line:?} in\n{text}");
        }
        for absent in ["resolvers", "server-template", "ipv4@", "dynamic", "*:"] {
            assert!(!text.contains(absent), "{absent:?} in\n{text}");
        }
    }

    #[test]
    fn a_gateway_renders_one_verify_line_per_kid_and_haproxy_loads_the_keys() {
        use jwt_server::{keys::KeySetFile, SigningAlgorithm};
        let dir = tempfile::tempdir().unwrap();
        for alg in [SigningAlgorithm::Es256, SigningAlgorithm::Rs256] {
            let mut keys = KeySetFile::generate(alg).unwrap();
            keys.stage().unwrap();
            let key_dir = dir.path().join(alg.name());
            let files =
                crate::orders::write_gateway_keys(&keys, &key_dir, &key_dir.display().to_string())
                    .unwrap();
            let mut config = config(Balance::Roundrobin);
            config.stacks[0].name = "orders_gateway".into();
            config.gateway = Some(
                crate::orders::gateway("orders_gateway", &keys, files, "authlab", "authlab-api")
                    .unwrap(),
            );
            let text = config.render().unwrap();
            let (ok, output) = haproxy_check(&text);
            assert!(ok, "{alg}:\n{text}\n{output}");
            for key in &keys.keys {
                let line = format!(
                    "jwt_verify('{}','{}/{}.pem') if {{ var(txn.jwt_kid) -m str {} }}",
                    alg.name(),
                    key_dir.display(),
                    key.kid,
                    key.kid
                );
                assert!(text.contains(&line), "no {line:?} in\n{text}");
            }
            for check in [
                "-m str authlab }",
                "-m str authlab-api }",
                "sub(txn.now) -m int gt 0",
            ] {
                assert!(text.contains(check), "no {check:?} in\n{text}");
            }
            // Only the guarded frontend verifies.
            let mut plain = config.clone();
            plain.gateway = None;
            assert!(!plain.render().unwrap().contains("jwt_verify"));
        }
    }

    #[test]
    fn a_gateway_that_the_config_could_not_hold_is_refused() {
        let gateway = JwtGateway {
            stack: "session".into(),
            alg: "ES256".into(),
            issuer: "authlab".into(),
            audience: "authlab-api".into(),
            keys: vec![GatewayKey {
                kid: "x' }".into(),
                path: "/tmp/x.pem".into(),
            }],
        };
        let mut config = config(Balance::Roundrobin);
        config.gateway = Some(gateway.clone());
        assert!(config.render().is_err());
        config.gateway = Some(JwtGateway {
            alg: "EdDSA".into(),
            ..gateway.clone()
        });
        let error = config.render().unwrap_err().to_string();
        assert!(error.contains("ES256"), "{error}");
        config.gateway = Some(JwtGateway {
            stack: "nowhere".into(),
            keys: vec![GatewayKey {
                kid: "k".into(),
                path: "/tmp/k.pem".into(),
            }],
            ..gateway
        });
        let error = config.render().unwrap_err().to_string();
        assert!(error.contains("no stack nowhere"), "{error}");
    }

    #[test]
    fn tls_frontends_bind_with_the_certificate_and_alpn_and_haproxy_loads_it() {
        use crate::tls::{Frontend, LabCa, SERVER_NAMES};
        let dir = tempfile::tempdir().unwrap();
        let files = LabCa::generate(&SERVER_NAMES)
            .unwrap()
            .write(dir.path())
            .unwrap();
        let crt = files.server.display().to_string();
        for (frontend, alpn) in [
            (
                Frontend {
                    tls: true,
                    h2: true,
                },
                "h2,http/1.1",
            ),
            (
                Frontend {
                    tls: true,
                    h2: false,
                },
                "http/1.1",
            ),
        ] {
            let mut config = config(Balance::Roundrobin);
            config.tls = BindTls::for_frontend(frontend, &crt);
            let text = config.render().unwrap();
            let (ok, output) = haproxy_check(&text);
            assert!(ok, "{text}\n{output}");
            let bind = format!("bind 127.0.0.1:9001 ssl crt {crt} alpn {alpn}\n");
            assert!(text.contains(&bind), "no {bind:?} in\n{text}");
            assert!(text.contains("http-request set-header X-Forwarded-Proto https"));
            // The stats page stays clear text.
            assert!(text.contains("bind 127.0.0.1:9000\n"), "{text}");
        }
        assert!(BindTls::for_frontend(Frontend::CLEAR, &crt).is_none());
        let mut bad = config(Balance::Roundrobin);
        bad.tls = Some(BindTls {
            crt: "/tmp/x.pem alpn h2 verify none".into(),
            alpn: "h2".into(),
        });
        assert!(bad.render().is_err());
    }

    /// A backend that answers every request with the request's own head,
    /// preceded by `peer: <address>` (the address HAProxy connected from).
    /// It serves a bounded number of connections: health checks and the
    /// test's few requests.
    fn echo_backend() -> u16 {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(500) {
                let Ok(mut stream) = stream else { continue };
                std::thread::spawn(move || {
                    stream
                        .set_read_timeout(Some(Duration::from_secs(5)))
                        .unwrap();
                    let mut head = Vec::new();
                    let mut buffer = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                        match stream.read(&mut buffer) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let peer = stream.peer_addr().map(|a| a.ip().to_string());
                    let body = format!(
                        "peer: {}\r\n{}",
                        peer.unwrap_or_default(),
                        String::from_utf8_lossy(&head)
                    );
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                });
            }
        });
        port
    }

    /// Every value of header `name` in an echoed head, in order.
    fn values<'a>(head: &'a str, name: &str) -> Vec<&'a str> {
        head.lines()
            .filter_map(|line| line.split_once(':'))
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .collect()
    }

    /// Through a real HAProxy rendered from the lab's config: whatever a
    /// client sends as `X-Forwarded-*` or `Forwarded`, the node sees
    /// HAProxy's own values, from HAProxy's own source address.
    #[tokio::test]
    async fn haproxy_replaces_what_a_client_says_in_forwarded_headers() {
        use crate::tls::{client_trusting, Frontend, LabCa, SERVER_NAMES};
        let dir = tempfile::tempdir().unwrap();
        let backend = echo_backend();
        let ca = LabCa::generate(&SERVER_NAMES).unwrap();
        let files = ca.write(dir.path()).unwrap();
        for tls in [false, true] {
            let port = supervise::free_port().unwrap();
            let mut config = HaproxyConfig::new(
                Balance::Roundrobin,
                supervise::free_port().unwrap(),
                dir.path().join(format!("admin-{tls}.sock")),
                vec![StackEntry {
                    name: "jwt".into(),
                    port,
                    servers: vec![ServerEntry {
                        name: "jwt-1".into(),
                        host: "127.0.0.1".into(),
                        port: backend,
                    }],
                    template: None,
                }],
            );
            let frontend = Frontend { tls, h2: false };
            config.tls = BindTls::for_frontend(frontend, &files.server.display().to_string());
            let run = dir.path().join(format!("run-{tls}"));
            std::fs::create_dir_all(&run).unwrap();
            let mut haproxy = Haproxy::start(&config, &run).unwrap();
            let client = if tls {
                client_trusting(&ca.ca_pem).unwrap()
            } else {
                reqwest::Client::builder()
            }
            .build()
            .unwrap();
            let scheme = frontend.scheme();
            let mut head = String::new();
            for _ in 0..20 {
                let sent = client
                    .get(format!("{scheme}://127.0.0.1:{port}/me"))
                    .header("x-forwarded-host", "evil.example")
                    .header("x-forwarded-proto", if tls { "http" } else { "https" })
                    .header("forwarded", "for=192.0.2.66;host=evil.example;proto=https")
                    .header("x-forwarded-for", "192.0.2.66")
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                if let Ok(response) = sent {
                    if response.status().is_success() {
                        head = response.text().await.unwrap();
                        break;
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            haproxy.stop();
            assert!(head.starts_with("peer:"), "tls {tls}: no answer: {head}");
            assert_eq!(values(&head, "peer"), [SOURCE_ADDRESS], "{head}");
            assert_eq!(
                values(&head, "x-forwarded-host"),
                [format!("127.0.0.1:{port}")],
                "{head}"
            );
            assert_eq!(values(&head, "x-forwarded-proto"), [scheme], "{head}");
            assert!(values(&head, "forwarded").is_empty(), "{head}");
            // The client's own entry stays left of the address HAProxy saw.
            let hops = values(&head, "x-forwarded-for").join(",");
            assert_eq!(
                hops.rsplit(',').next().map(str::trim),
                Some("127.0.0.1"),
                "{head}"
            );
        }
    }

    #[test]
    fn a_templated_stack_without_a_resolver_is_refused() {
        let mut config = compose(Balance::Roundrobin);
        config.resolver = None;
        let error = config.render().unwrap_err().to_string();
        assert!(error.contains("needs a resolver"), "{error}");
    }
}
