//! A cluster as a Swarm stack file.
//!
//! One compose file (the format `docker stack deploy` reads; written as
//! JSON, which is YAML too) per cluster:
//!
//! ```text
//!  host ─▶ haproxy (fixed host-mode ports) ──edge──▶ generators (wrk jobs)
//!              │ backend (overlay)
//!              ├─▶ session × N ─┬─▶ store      (Redis: db 0 sessions, db 1 tokens)
//!              └─▶ jwt × N ─────┴─▶ directory  (Redis: the user directory)
//! ```
//!
//! - Every service uses `endpoint_mode: dnsrr`: its name resolves to its
//!   tasks' addresses, and HAProxy finds the nodes with `server-template`
//!   through Docker's DNS, so a scaled service shows up without a reload.
//!   (A virtual IP and the ingress mesh need IPVS, which not every kernel
//!   has; nothing here needs them.)
//! - Ports are published in host mode on the node that runs the task:
//!   HAProxy's and the stores' at fixed ports chosen per cluster (so the
//!   store comes back at the same address after a stop), the auth nodes'
//!   at ports the engine picks (several may share a host).
//! - Nodes believe `X-Forwarded-*` only from the backend network, which
//!   only HAProxy, the nodes and the stores join; generators reach HAProxy
//!   on the edge network and never a node.
//! - Secrets (the cookie secret, the key set) are Swarm secrets, readable
//!   by the node's user only.

use std::path::Path;

use serde_json::{json, Value};

use super::placement::Plan;
use crate::{
    process::Stack,
    spec::{flag_value, ClusterSpec},
    HarnessError,
};

/// The port every auth node listens on inside its container.
pub const NODE_PORT: u16 = 8080;
/// Redis inside its container.
pub const REDIS_PORT: u16 = 6379;
/// HAProxy's ports inside its container: each stack's frontend, the stats
/// page, the runtime API.
pub const FRONTEND_PORTS: [(Stack, u16); 2] = [(Stack::Session, 8080), (Stack::Jwt, 8081)];
pub const STATS_PORT: u16 = 8404;
pub const RUNTIME_API_PORT: u16 = 9999;
/// The authlab image's user (docker/offline/authlab.Dockerfile).
const UID: &str = "10001";

/// The host ports a cluster's fixed services publish, chosen per cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostPorts {
    pub session: u16,
    pub jwt: u16,
    pub stats: u16,
    pub runtime_api: u16,
    pub store: u16,
    pub directory: u16,
}

impl HostPorts {
    /// Six ports from a random base in 20000–29010: clusters started at
    /// once (c7 runs two) must not ask one host for the same port.
    pub fn random() -> Self {
        use rand::Rng;
        Self::from_base(20_000 + 10 * rand::rng().random_range(0..900u16))
    }

    /// Six consecutive ports from `base`.
    pub fn from_base(base: u16) -> Self {
        Self {
            session: base,
            jwt: base + 1,
            stats: base + 2,
            runtime_api: base + 3,
            store: base + 4,
            directory: base + 5,
        }
    }

    pub fn frontend(&self, stack: Stack) -> u16 {
        match stack {
            Stack::Session => self.session,
            Stack::Jwt => self.jwt,
        }
    }
}

/// Everything a stack file is made of.
pub struct StackFile<'a> {
    pub spec: &'a ClusterSpec,
    pub image: &'a str,
    pub plan: &'a Plan,
    pub ports: HostPorts,
    /// Created before the stack (so its subnet is known): the nodes trust it.
    pub backend_network: &'a str,
    pub backend_subnet: &'a str,
    pub edge_network: &'a str,
    pub haproxy_cfg: &'a Path,
    pub cookie_secret_file: &'a Path,
    pub keyset_file: Option<&'a Path>,
}

/// What the swarm engine does not run, with the reason a user reads.
pub fn unsupported(spec: &ClusterSpec) -> Option<String> {
    let why = if spec.store_latency.is_some() {
        "a latency proxy before the store"
    } else if !spec.orders.is_empty() {
        "orders services"
    } else if spec.frontend.tls {
        "TLS frontends"
    } else if !spec.dpop_replay_cache.is_empty() {
        "different settings per JWT node (one service runs one configuration)"
    } else {
        return None;
    };
    Some(format!(
        "the swarm engine does not run {why}; this cluster runs on the local engine only"
    ))
}

impl StackFile<'_> {
    pub fn render(&self) -> Result<Value, HarnessError> {
        if let Some(reason) = unsupported(self.spec) {
            return Err(HarnessError::Config(reason));
        }
        let mut services = serde_json::Map::new();
        services.insert("directory".into(), self.redis(false, self.ports.directory));
        services.insert(
            "store".into(),
            self.redis(self.spec.store_persistence, self.ports.store),
        );
        for stack in &self.spec.stacks {
            services.insert(stack.name().into(), self.auth(*stack));
        }
        services.insert("haproxy".into(), self.haproxy());
        let mut secrets = serde_json::Map::new();
        secrets.insert(
            "cookie".into(),
            json!({ "file": self.cookie_secret_file.display().to_string() }),
        );
        if let Some(keys) = self.keyset_file {
            secrets.insert("keys".into(), json!({ "file": keys.display().to_string() }));
        }
        let mut file = json!({
            "version": "3.8",
            "services": services,
            "networks": {
                "backend": { "external": true, "name": self.backend_network },
                "edge": { "external": true, "name": self.edge_network },
            },
            "configs": {
                "haproxy": { "file": self.haproxy_cfg.display().to_string() },
            },
            "secrets": secrets,
        });
        if self.spec.store_persistence {
            file["volumes"] = json!({ "store-data": {} });
        }
        Ok(file)
    }

    /// A single-replica service on the infra host, restarted when it dies.
    fn deploy_infra(&self) -> Value {
        json!({
            "endpoint_mode": "dnsrr",
            "replicas": 1,
            "placement": { "constraints": self.plan.infra_constraints() },
            "restart_policy": { "condition": "any", "delay": "1s" },
        })
    }

    fn redis(&self, persistence: bool, host_port: u16) -> Value {
        // The image's user owns its home: a volume mounted there starts
        // owned by it, so Redis may write its append-only file.
        let dir = "/home/authlab";
        let mut service = json!({
            "image": self.image,
            "command": [
                "redis-server", "--port", REDIS_PORT.to_string(), "--bind", "0.0.0.0",
                "--protected-mode", "no", "--save", "", "--dir", dir,
                "--appendonly", if persistence { "yes" } else { "no" },
                "--appendfsync", "everysec",
            ],
            "networks": ["backend"],
            "ports": [host_port_entry(REDIS_PORT, host_port)],
            "deploy": self.deploy_infra(),
        });
        if persistence {
            service["volumes"] = json!([format!("store-data:{dir}")]);
        }
        service
    }

    fn auth(&self, stack: Stack) -> Value {
        let spec = self.spec;
        let mut command: Vec<String> = [
            "authlab",
            "node",
            stack.name(),
            "--host",
            "0.0.0.0",
            "--port",
        ]
        .map(String::from)
        .to_vec();
        command.extend([
            NODE_PORT.to_string(),
            "--workers".into(),
            spec.workers_per_node.to_string(),
            "--user-directory-url".into(),
            format!("redis://directory:{REDIS_PORT}/0"),
            "--shutdown-timeout".into(),
            "2s".into(),
            "--trusted-proxies".into(),
            self.backend_subnet.into(),
        ]);
        if !spec.login_throttle {
            command.extend(["--login-throttle".into(), "off".into()]);
        }
        let mut secrets = Vec::new();
        let mut environment = json!({
            // Swarm fills the slot in: `x-node` names the replica, and a
            // replacement task keeps its predecessor's slot and name.
            "AUTHLAB_NODE_ID": format!("{}-{{{{.Task.Slot}}}}", stack.name()),
            "RUST_LOG": "info",
        });
        match stack {
            Stack::Session => {
                command.extend([
                    "--session-store".into(),
                    flag_value(&spec.session_store),
                    "--session-store-url".into(),
                    format!("redis://store:{REDIS_PORT}/0"),
                    "--cluster-nodes".into(),
                    spec.nodes.to_string(),
                ]);
                command.extend(spec.session.args());
                environment["AUTHLAB_COOKIE_SECRET_FILE"] = json!("/run/secrets/cookie");
                secrets.push(secret("cookie"));
            }
            Stack::Jwt => {
                command.extend([
                    "--token-store-url".into(),
                    format!("redis://store:{REDIS_PORT}/1"),
                    "--keyset-file".into(),
                    "/run/secrets/keys".into(),
                    "--revocation".into(),
                    flag_value(&spec.revocation),
                ]);
                command.extend(spec.jwt.args());
                secrets.push(secret("keys"));
            }
        }
        let mut constraints = self.plan.auth_constraints();
        constraints.sort();
        json!({
            "image": self.image,
            "command": command,
            "environment": environment,
            "secrets": secrets,
            "networks": ["backend"],
            // The engine picks the host port: several replicas may share a host.
            "ports": [{ "target": NODE_PORT, "mode": "host", "protocol": "tcp" }],
            "deploy": {
                "endpoint_mode": "dnsrr",
                "replicas": spec.nodes,
                "placement": {
                    "constraints": constraints,
                    "preferences": [{ "spread": "node.id" }],
                },
                "restart_policy": { "condition": "any", "delay": "1s" },
            },
        })
    }

    fn haproxy(&self) -> Value {
        let mut ports: Vec<Value> = self
            .spec
            .stacks
            .iter()
            .filter_map(|stack| {
                let (_, inside) = FRONTEND_PORTS.iter().find(|(s, _)| s == stack)?;
                Some(host_port_entry(*inside, self.ports.frontend(*stack)))
            })
            .collect();
        ports.push(host_port_entry(STATS_PORT, self.ports.stats));
        ports.push(host_port_entry(RUNTIME_API_PORT, self.ports.runtime_api));
        json!({
            "image": self.image,
            "command": ["haproxy", "-W", "-db", "-f", "/authlab/haproxy.cfg"],
            "configs": [{ "source": "haproxy", "target": "/authlab/haproxy.cfg", "mode": 0o444 }],
            "networks": ["backend", "edge"],
            "ports": ports,
            "deploy": self.deploy_infra(),
        })
    }
}

fn host_port_entry(target: u16, published: u16) -> Value {
    json!({ "target": target, "published": published, "mode": "host", "protocol": "tcp" })
}

/// A secret readable by the node's user only (the JWT node refuses a key
/// set others may read).
fn secret(name: &str) -> Value {
    json!({ "source": name, "target": name, "uid": UID, "gid": UID, "mode": 0o400 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{latency::Latency, spec::ClusterSpec};
    use std::path::PathBuf;

    fn file<'a>(spec: &'a ClusterSpec, plan: &'a Plan) -> StackFile<'a> {
        StackFile {
            spec,
            image: "authlab:local",
            plan,
            ports: HostPorts::from_base(21000),
            backend_network: "authlab-x-backend",
            backend_subnet: "10.9.0.0/24",
            edge_network: "authlab-x-edge",
            haproxy_cfg: Path::new("/tmp/x/haproxy.cfg"),
            cookie_secret_file: Path::new("/tmp/x/cookie"),
            keyset_file: Some(Path::new("/tmp/x/keys.json")),
        }
    }

    #[test]
    fn nodes_are_found_by_dns_spread_and_trust_only_the_backend() {
        let spec = ClusterSpec::new(PathBuf::from("/bin/true"));
        let plan = Plan {
            infra: Some("swarm-1".into()),
            auth_apart: true,
        };
        let value = file(&spec, &plan)
            .render()
            .unwrap_or_else(|e| panic!("{e}"));
        let session = &value["services"]["session"];
        assert_eq!(session["deploy"]["endpoint_mode"], "dnsrr");
        assert_eq!(session["deploy"]["replicas"], 3);
        assert_eq!(
            session["deploy"]["placement"]["constraints"][0],
            "node.hostname != swarm-1"
        );
        assert_eq!(
            session["environment"]["AUTHLAB_NODE_ID"],
            "session-{{.Task.Slot}}"
        );
        let command: Vec<&str> = session["command"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let trusted = command.iter().position(|a| *a == "--trusted-proxies");
        assert_eq!(trusted.map(|i| command[i + 1]), Some("10.9.0.0/24"));
        assert_eq!(
            value["services"]["haproxy"]["deploy"]["placement"]["constraints"][0],
            "node.hostname == swarm-1"
        );
        assert_eq!(value["services"]["haproxy"]["networks"][1], "edge");
        assert_eq!(value["services"]["store"]["ports"][0]["published"], 21004);
        assert!(value.get("volumes").is_none());
    }

    #[test]
    fn host_ports_stay_in_their_range() {
        for _ in 0..100 {
            let ports = HostPorts::random();
            assert!(ports.session >= 20_000 && ports.directory < 29_010);
        }
    }

    #[test]
    fn what_the_swarm_cannot_run_is_refused_with_its_reason() {
        let mut spec = ClusterSpec::new(PathBuf::from("/bin/true"));
        spec.store_latency = Some(Latency {
            delay: std::time::Duration::from_millis(1),
            jitter: std::time::Duration::ZERO,
        });
        let plan = Plan {
            infra: None,
            auth_apart: false,
        };
        let error = file(&spec, &plan).render().err().map(|e| e.to_string());
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e.contains("latency proxy")),
            "{error:?}"
        );
        spec.store_latency = None;
        spec.store_persistence = true;
        let value = file(&spec, &plan)
            .render()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(value["volumes"]["store-data"], json!({}));
        assert_eq!(
            value["services"]["store"]["volumes"][0],
            "store-data:/home/authlab"
        );
    }
}
