//! What a cluster is to be: the same description whatever engine starts it.

use std::path::PathBuf;

use authlab_core::password::HashCost;
use jwt_server::{RevocationMode, SigningAlgorithm};
use serde::Serialize;
use session_server::StoreMode;

use crate::{
    haproxy::Balance, latency::Latency, orders::OrdersVariant, process::Stack, tls::Frontend,
    HarnessError,
};

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
    /// Extra flags for every session / JWT node (experiments tune TTLs this way).
    pub session_args: Vec<String>,
    pub jwt_args: Vec<String>,
    /// Extra flags for one JWT node each (index 0 is `jwt-1`), after
    /// `jwt_args`: an experiment that compares node configurations side by
    /// side in one cluster (c11's replay caches).
    pub jwt_node_args: Vec<Vec<String>>,
    /// Orders services to run, one node each, behind their own frontends.
    /// They need their auth stack in `stacks` (the session stack for the
    /// introspection variants, the JWT stack for the others) and, for the
    /// gateway, an ES256 or RS256 key set.
    pub orders: Vec<OrdersVariant>,
    /// Extra flags for every orders node.
    pub orders_args: Vec<String>,
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
            session_args: Vec::new(),
            jwt_args: Vec::new(),
            jwt_node_args: Vec::new(),
            orders: Vec::new(),
            orders_args: Vec::new(),
            frontend: Frontend::CLEAR,
        }
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
