//! What a cluster is to be: the same description whatever engine starts it.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use authlab_core::password::HashCost;
use jwt_server::{
    keys::KeySetFile, DpopMode, JwtServerConfig, ReplayCacheMode, RevocationMode, SigningAlgorithm,
};
use serde::Serialize;
use session_server::{SessionServerConfig, StoreMode};

use crate::{
    haproxy::Balance, latency::Latency, orders::OrdersVariant, process::Stack, tls::Frontend,
    HarnessError,
};

/// A mode's value on a node's command line: clap's own name for it, so a
/// mode is spelled where the server parses it and nowhere else.
pub fn flag_value<E: clap::ValueEnum>(mode: &E) -> String {
    mode.to_possible_value()
        .map(|value| value.get_name().to_owned())
        .unwrap_or_default()
}

/// `--flag value` for each setting that is set, durations as humantime
/// writes them (`2s`, `1h`), which is how the nodes parse them.
fn flags(settings: &[(&str, Option<String>)]) -> Vec<String> {
    settings
        .iter()
        .filter_map(|(flag, value)| Some([flag.to_string(), value.clone()?]))
        .flatten()
        .collect()
}

fn duration(d: Option<Duration>) -> Option<String> {
    d.map(|d| humantime::format_duration(d).to_string())
}

/// A node's flags parsed as the node parses them (its environment and
/// defaults included): what `C` it runs with.
fn parse_node<C: clap::Args>(args: Vec<String>) -> Result<C, clap::Error> {
    #[derive(clap::Parser)]
    #[command(no_binary_name = true)]
    struct Node<C: clap::Args> {
        #[command(flatten)]
        config: C,
    }
    <Node<C> as clap::Parser>::try_parse_from(args).map(|node| node.config)
}

/// What the session nodes run with besides what the cluster sets; `None`
/// keeps the node's default.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SessionOptions {
    pub idle_ttl: Option<Duration>,
    pub absolute_ttl: Option<Duration>,
    /// Login throttling per client address (with [`ClusterSpec::login_throttle`]).
    pub login_client_burst: Option<u32>,
    pub login_client_period: Option<Duration>,
}

impl SessionOptions {
    /// The one place these settings become flags.
    pub fn args(&self) -> Vec<String> {
        flags(&[
            ("--idle-ttl", duration(self.idle_ttl)),
            ("--absolute-ttl", duration(self.absolute_ttl)),
            (
                "--login-client-burst",
                self.login_client_burst.map(|n| n.to_string()),
            ),
            ("--login-client-period", duration(self.login_client_period)),
        ])
    }

    /// The configuration a session node started with these options runs with.
    pub fn node_config(&self) -> Result<SessionServerConfig, clap::Error> {
        parse_node(self.args())
    }
}

/// What the JWT nodes run with besides what the cluster sets; `None` keeps
/// the node's default.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JwtOptions {
    pub access_ttl: Option<Duration>,
    /// Grace after `exp` (0 makes "accepted until exp" mean exp).
    pub leeway: Option<Duration>,
    pub dpop: Option<DpopMode>,
    /// The largest token a node reads (c9's limit).
    pub max_token_bytes: Option<usize>,
}

impl JwtOptions {
    /// The one place these settings become flags.
    pub fn args(&self) -> Vec<String> {
        flags(&[
            ("--access-ttl", duration(self.access_ttl)),
            ("--leeway", duration(self.leeway)),
            ("--dpop", self.dpop.as_ref().map(flag_value)),
            (
                "--max-token-bytes",
                self.max_token_bytes.map(|n| n.to_string()),
            ),
        ])
    }

    /// The configuration a JWT node started with these options runs with:
    /// what an experiment reads a default it did not set from.
    pub fn node_config(&self) -> Result<JwtServerConfig, clap::Error> {
        parse_node(self.args())
    }
}

/// What to start.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterSpec {
    /// Nodes per stack.
    pub nodes: usize,
    pub stacks: Vec<Stack>,
    pub balance: Balance,
    pub session_store: StoreMode,
    pub alg: SigningAlgorithm,
    pub revocation: RevocationMode,
    /// Put the latency proxy between the nodes and the session store (needed
    /// to change latency later); `None` connects the nodes to Redis directly.
    pub store_latency: Option<Latency>,
    /// Session store with an append-only file: a restart keeps the sessions.
    pub store_persistence: bool,
    /// Load users to seed besides the demo users.
    pub seed_users: usize,
    pub seed_cost: HashCost,
    pub workers_per_node: usize,
    /// Login throttling on the nodes (their production defaults). Off for the
    /// experiments, which log in thousands of users from one address.
    pub login_throttle: bool,
    /// The `authlab` binary that runs `authlab node …`.
    #[serde(skip)]
    pub launcher: PathBuf,
    /// The session nodes' own settings (experiments tune TTLs this way).
    pub session: SessionOptions,
    /// The JWT nodes' own settings.
    pub jwt: JwtOptions,
    /// Where each JWT node remembers DPoP proofs (index 0 is `jwt-1`; a node
    /// past the end keeps its default): an experiment that compares node
    /// configurations side by side in one cluster (c11's replay caches).
    pub dpop_replay_cache: Vec<ReplayCacheMode>,
    /// Orders services to run, one node each, behind their own frontends.
    /// They need their auth stack in `stacks` (the session stack for the
    /// introspection variants, the JWT stack for the others) and, for the
    /// gateway, an ES256 or RS256 key set.
    pub orders: Vec<OrdersVariant>,
    /// What HAProxy's frontends speak to clients: clear text, or TLS with a
    /// certificate from a CA the cluster generates (ALPN `h2,http/1.1` with
    /// `h2`). The nodes always get HTTP/1.1 in clear text; with TLS the
    /// session cookie is marked `Secure`.
    pub frontend: Frontend,
}

impl ClusterSpec {
    pub fn new(launcher: PathBuf) -> Self {
        Self {
            nodes: 3,
            stacks: vec![Stack::Session, Stack::Jwt],
            balance: Balance::Roundrobin,
            session_store: StoreMode::Redis,
            alg: SigningAlgorithm::EdDsa,
            revocation: RevocationMode::None,
            store_latency: None,
            store_persistence: false,
            seed_users: 100,
            seed_cost: HashCost::LoadTest,
            workers_per_node: 1,
            login_throttle: false,
            launcher,
            session: SessionOptions::default(),
            jwt: JwtOptions::default(),
            dpop_replay_cache: Vec::new(),
            orders: Vec::new(),
            frontend: Frontend::CLEAR,
        }
    }

    /// A fresh key set for the JWT nodes in `dir` (`keys.json`), if the
    /// cluster has them.
    pub fn write_key_set(&self, dir: &Path) -> Result<Option<PathBuf>, HarnessError> {
        if !self.stacks.contains(&Stack::Jwt) {
            return Ok(None);
        }
        let path = dir.join("keys.json");
        let file =
            KeySetFile::generate(self.alg).map_err(|e| HarnessError::Config(e.to_string()))?;
        // 0600, as `jwt-server keys generate` writes it: nodes refuse looser files.
        file.write(&path)
            .map_err(|e| HarnessError::Io(e.to_string()))?;
        Ok(Some(path))
    }

    /// Why this spec's orders variants cannot run, if they cannot: checked
    /// before anything starts.
    pub fn check_orders(&self) -> Result<(), HarnessError> {
        for (i, variant) in self.orders.iter().enumerate() {
            if self.orders[..i].contains(variant) {
                return Err(HarnessError::Config(format!(
                    "orders variant {variant} listed twice"
                )));
            }
            let stack = variant.auth_stack();
            if !self.stacks.contains(&stack) {
                return Err(HarnessError::Config(format!(
                    "the {variant} orders variant needs the {stack} stack in the cluster"
                )));
            }
            if stack == Stack::Jwt {
                if let Some(reason) = variant.unsupported(self.alg) {
                    return Err(HarnessError::Config(reason));
                }
            }
        }
        Ok(())
    }
}

/// Length of a generated cookie secret, comfortably over the nodes' 32-byte minimum.
pub const COOKIE_SECRET_LEN: usize = 48;

/// A cookie secret for every node of a cluster (here or in compose) to share.
pub fn random_secret() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), COOKIE_SECRET_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mode_is_spelled_as_the_node_parses_it() {
        for mode in [RevocationMode::None, RevocationMode::Denylist] {
            let parsed: JwtServerConfig =
                parse_node(vec!["--revocation".into(), flag_value(&mode)])
                    .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(parsed.revocation, mode);
        }
        for mode in [DpopMode::Off, DpopMode::Optional, DpopMode::Required] {
            let options = JwtOptions {
                dpop: Some(mode),
                ..JwtOptions::default()
            };
            let parsed = options.node_config().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(parsed.dpop, mode);
        }
        assert_eq!(flag_value(&StoreMode::Memory), "memory");
        assert_eq!(flag_value(&ReplayCacheMode::Shared), "shared");
    }

    #[test]
    fn options_reach_the_nodes_as_set_and_unset_ones_keep_the_defaults() {
        let jwt = JwtOptions {
            access_ttl: Some(Duration::from_secs(15)),
            leeway: Some(Duration::ZERO),
            dpop: None,
            max_token_bytes: Some(4096),
        };
        let parsed = jwt.node_config().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.access_ttl, Duration::from_secs(15));
        assert_eq!(parsed.leeway, Duration::ZERO);
        assert_eq!(parsed.max_token_bytes, 4096);
        let defaults = JwtOptions::default()
            .node_config()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.dpop, defaults.dpop);
        assert!(JwtOptions::default().args().is_empty());

        let session = SessionOptions {
            idle_ttl: Some(Duration::from_secs(2)),
            absolute_ttl: Some(Duration::from_secs(3600)),
            login_client_burst: Some(3),
            login_client_period: Some(Duration::from_secs(60)),
        };
        let parsed = session.node_config().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.idle_ttl, Duration::from_secs(2));
        assert_eq!(parsed.absolute_ttl, Duration::from_secs(3600));
        assert_eq!(parsed.node.throttle.login_client_burst, 3);
        assert_eq!(
            parsed.node.throttle.login_client_period,
            Duration::from_secs(60)
        );
    }
}
