//! Starting a local cluster, step by step, in the order the parts depend on
//! each other: the stores and the seed, the latency proxy, the key set and
//! TLS material, the auth nodes, the orders services (which call the auth
//! stacks through HAProxy), HAProxy, and last the wait until HAProxy sees
//! every server up.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use authlab_core::directory::{SeedArgs, SeedCommand};
use jwt_server::tokens::TokenSettings;
use supervise::{free_port, RedisOptions, RedisServer};
use tempfile::TempDir;

use super::{gateway_for, url_for, LocalCluster};
use crate::{
    cluster::Cluster,
    haproxy::{BindTls, Haproxy, HaproxyConfig, ServerEntry, StackEntry},
    latency::LatencyProxy,
    orders::{self, OrdersUpstreams, OrdersVariant},
    process::{NodeProcess, Stack},
    spec::{flag_value, random_secret, ClusterSpec},
    tls::{LabCa, TlsFiles, SERVER_NAMES},
    HarnessError,
};

/// What every auth node of the cluster shares.
struct Shared<'a> {
    spec: &'a ClusterSpec,
    dir: &'a TempDir,
    directory_url: String,
    /// The session store as the nodes reach it (through the latency proxy).
    store_via: SocketAddr,
    keyset: Option<&'a PathBuf>,
    cookie_secret: String,
    /// The orders nodes' credential for /introspect on either stack.
    introspection_secret: &'a str,
}

impl LocalCluster {
    pub async fn start(spec: ClusterSpec) -> Result<Self, HarnessError> {
        validate(&spec)?;
        let dir = tempfile::Builder::new()
            .prefix("authlab-cluster-")
            .tempdir()
            .map_err(|e| HarnessError::Io(e.to_string()))?;
        let (directory, store) = stores(&spec).await?;
        let store_address: SocketAddr = ([127, 0, 0, 1], store.port()).into();
        let proxy = latency_proxy(&spec, store_address)?;
        let store_via = proxy
            .as_ref()
            .map(LatencyProxy::address)
            .unwrap_or(store_address);
        let keyset = spec.write_key_set(dir.path())?;
        let tls = tls_material(&spec, &dir)?;
        let introspection_secret = random_secret();
        let shared = Shared {
            spec: &spec,
            dir: &dir,
            directory_url: directory.url(0),
            store_via,
            keyset: keyset.as_ref(),
            cookie_secret: random_secret(),
            introspection_secret: &introspection_secret,
        };
        let (session_nodes, jwt_nodes) = auth_nodes(&shared).await?;

        let frontends = spec
            .stacks
            .iter()
            .map(|s| Ok((*s, free_port()?)))
            .collect::<Result<Vec<(Stack, u16)>, HarnessError>>()?;
        let orders_frontends = spec
            .orders
            .iter()
            .map(|v| Ok((*v, free_port()?)))
            .collect::<Result<Vec<(OrdersVariant, u16)>, HarnessError>>()?;
        let mut orders_nodes = orders_services(&shared, &frontends, &orders_frontends, &tls)?;
        let stats_port = free_port()?;
        let mut stacks = auth_entries(&frontends, &session_nodes, &jwt_nodes);
        stacks.extend(orders_entries(&orders_frontends, &orders_nodes));
        let mut haproxy_config = HaproxyConfig::new(
            spec.balance,
            stats_port,
            dir.path().join("haproxy.sock"),
            stacks,
        );
        haproxy_config.gateway = gateway_for(&spec, keyset.as_deref(), dir.path())?;
        haproxy_config.tls = tls.as_ref().and_then(|(_, files)| {
            BindTls::for_frontend(spec.frontend, &files.server.display().to_string())
        });
        let haproxy = Haproxy::start(&haproxy_config, dir.path())?;
        // The jwks node may wait for its first key set, which comes through HAProxy.
        let client = reqwest::Client::new();
        for (_, node) in &mut orders_nodes {
            node.wait_ready(&client, Duration::from_secs(30)).await?;
        }

        let cluster = Self {
            spec,
            session_nodes,
            jwt_nodes,
            orders_nodes,
            haproxy,
            haproxy_config,
            proxy,
            store,
            store_paused: false,
            directory,
            frontends,
            orders_frontends,
            stats_port,
            keyset,
            ca_pem: tls.map(|(ca, _)| ca.ca_pem),
            introspection_secret,
            dir,
        };
        cluster.wait_all_up(Duration::from_secs(15)).await?;
        Ok(cluster)
    }
}

fn validate(spec: &ClusterSpec) -> Result<(), HarnessError> {
    if spec.nodes == 0 || spec.stacks.is_empty() {
        return Err(HarnessError::Config(
            "a cluster needs at least one node and one stack".into(),
        ));
    }
    if !spec.launcher.exists() {
        return Err(HarnessError::Config(format!(
            "launcher {} does not exist",
            spec.launcher.display()
        )));
    }
    spec.check_orders()?;
    spec.frontend.validate()
}

/// The user directory (seeded) and the session store: separate processes,
/// so stopping the store leaves logins' user lookups alone.
async fn stores(spec: &ClusterSpec) -> Result<(RedisServer, RedisServer), HarnessError> {
    let directory = RedisServer::start()?;
    let store = RedisServer::start_with(RedisOptions {
        persistence: spec.store_persistence,
    })?;
    SeedCommand {
        user_directory_url: directory.url(0),
        seed: SeedArgs {
            users: spec.seed_users,
            cost: spec.seed_cost,
        },
    }
    .run()
    .await
    .map_err(|e| HarnessError::Config(format!("seeding users: {e}")))?;
    Ok((directory, store))
}

fn latency_proxy(
    spec: &ClusterSpec,
    store: SocketAddr,
) -> Result<Option<LatencyProxy>, HarnessError> {
    spec.store_latency
        .map(|latency| {
            LatencyProxy::start(store, latency)
                .map_err(|e| HarnessError::Io(format!("latency proxy: {e}")))
        })
        .transpose()
}

fn tls_material(
    spec: &ClusterSpec,
    dir: &TempDir,
) -> Result<Option<(LabCa, TlsFiles)>, HarnessError> {
    if !spec.frontend.tls {
        return Ok(None);
    }
    let ca = LabCa::generate(&SERVER_NAMES)?;
    let files = ca.write(&dir.path().join("tls"))?;
    Ok(Some((ca, files)))
}

/// Every session and JWT node, started and ready.
async fn auth_nodes(
    shared: &Shared<'_>,
) -> Result<(Vec<NodeProcess>, Vec<NodeProcess>), HarnessError> {
    let mut session_nodes = Vec::new();
    let mut jwt_nodes = Vec::new();
    for stack in &shared.spec.stacks {
        for i in 1..=shared.spec.nodes {
            let name = format!("{stack}-{i}");
            let port = free_port()?;
            let (args, env) = auth_node_args(shared, *stack, i, &name, port);
            let mut node = NodeProcess::new(
                *stack,
                name,
                port,
                &shared.spec.launcher,
                args,
                env,
                shared.dir.path(),
            );
            node.spawn()?;
            match stack {
                Stack::Session => session_nodes.push(node),
                Stack::Jwt => jwt_nodes.push(node),
            }
        }
    }
    let client = reqwest::Client::new();
    for node in session_nodes.iter_mut().chain(jwt_nodes.iter_mut()) {
        node.wait_ready(&client, Duration::from_secs(30)).await?;
    }
    Ok((session_nodes, jwt_nodes))
}

/// Node `i` of `stack`: its flags, and the environment that carries its
/// secrets (in the environment, not argv: `ps` shows argv to every user).
fn auth_node_args(
    shared: &Shared<'_>,
    stack: Stack,
    i: usize,
    name: &str,
    port: u16,
) -> (Vec<String>, Vec<(String, String)>) {
    let spec = shared.spec;
    let mut args =
        crate::process::node_args(name, port, spec.workers_per_node, &shared.directory_url);
    // HAProxy's source address: the one peer whose X-Forwarded-For, -Proto
    // and -Host (login throttling, the DPoP URL) a node believes.
    args.extend([
        "--trusted-proxies".into(),
        crate::haproxy::SOURCE_ADDRESS.into(),
    ]);
    if !spec.login_throttle {
        args.extend(["--login-throttle".into(), "off".into()]);
    }
    let mut env = vec![orders::introspection_client_env(
        shared.introspection_secret,
    )];
    match stack {
        Stack::Session => {
            args.extend([
                "--session-store".into(),
                flag_value(&spec.session_store),
                "--session-store-url".into(),
                url_for(shared.store_via, 0),
                "--cluster-nodes".into(),
                spec.nodes.to_string(),
            ]);
            if spec.frontend.tls {
                // Browsers then never send it over clear text.
                args.push("--secure-cookie".into());
            }
            args.extend(spec.session.args());
            env.push(("AUTHLAB_COOKIE_SECRET".into(), shared.cookie_secret.clone()));
        }
        Stack::Jwt => {
            let keyset = shared
                .keyset
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            args.extend([
                "--token-store-url".into(),
                url_for(shared.store_via, 1),
                "--keyset-file".into(),
                keyset,
                "--revocation".into(),
                flag_value(&spec.revocation),
            ]);
            args.extend(spec.jwt.args());
            if let Some(cache) = spec.dpop_replay_cache.get(i - 1) {
                args.extend(["--dpop-replay-cache".into(), flag_value(cache)]);
            }
        }
    }
    (args, env)
}

/// One orders node per variant, started (not yet ready: the jwks variant
/// waits for a key set that only comes through HAProxy).
fn orders_services(
    shared: &Shared<'_>,
    frontends: &[(Stack, u16)],
    orders_frontends: &[(OrdersVariant, u16)],
    tls: &Option<(LabCa, TlsFiles)>,
) -> Result<Vec<(OrdersVariant, NodeProcess)>, HarnessError> {
    let spec = shared.spec;
    let front_url = |stack: Stack, path: &str| {
        frontends
            .iter()
            .find(|(s, _)| *s == stack)
            .map(|(_, port)| format!("{}://127.0.0.1:{port}{path}", spec.frontend.scheme()))
    };
    let tokens = TokenSettings::default();
    let upstreams = OrdersUpstreams {
        jwks_url: front_url(Stack::Jwt, "/.well-known/jwks.json"),
        introspection_url: front_url(Stack::Session, "/introspect"),
        issuer: tokens.issuer.clone(),
        audience: tokens.audience.clone(),
    };
    let mut orders_nodes = Vec::new();
    for (variant, _) in orders_frontends {
        let port = free_port()?;
        let mut args = orders::node_args(*variant, port, spec.workers_per_node, &upstreams)?;
        if let Some((_, files)) = tls {
            args.extend(["--upstream-ca".into(), files.ca.display().to_string()]);
        }
        let mut node = NodeProcess::with_subcommand(
            "orders",
            variant.node_name(),
            port,
            &spec.launcher,
            args,
            orders::introspection_env(*variant, shared.introspection_secret),
            shared.dir.path(),
        );
        node.spawn()?;
        orders_nodes.push((*variant, node));
    }
    Ok(orders_nodes)
}

fn server(node: &NodeProcess) -> ServerEntry {
    ServerEntry {
        name: node.name.clone(),
        host: "127.0.0.1".into(),
        port: node.port,
    }
}

/// HAProxy's frontend and backend for each auth stack.
fn auth_entries(
    frontends: &[(Stack, u16)],
    session_nodes: &[NodeProcess],
    jwt_nodes: &[NodeProcess],
) -> Vec<StackEntry> {
    frontends
        .iter()
        .map(|(stack, port)| StackEntry {
            name: stack.name().into(),
            port: *port,
            servers: match stack {
                Stack::Session => session_nodes,
                Stack::Jwt => jwt_nodes,
            }
            .iter()
            .map(server)
            .collect(),
            template: None,
        })
        .collect()
}

/// HAProxy's frontend and backend for each orders service.
fn orders_entries(
    orders_frontends: &[(OrdersVariant, u16)],
    orders_nodes: &[(OrdersVariant, NodeProcess)],
) -> Vec<StackEntry> {
    orders_frontends
        .iter()
        .map(|(variant, port)| StackEntry {
            name: variant.haproxy_name(),
            port: *port,
            servers: orders_nodes
                .iter()
                .filter(|(v, _)| v == variant)
                .map(|(_, node)| server(node))
                .collect(),
            template: None,
        })
        .collect()
}
