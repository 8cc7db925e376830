//! The harness: clusters of authlab nodes behind HAProxy, and the means to
//! break them.
//!
//! A claim about fifty servers and a shared store is tested on a cluster:
//! a user directory and a session store (redis-server), N nodes per stack,
//! optional orders services, HAProxy in front. This crate starts one
//! ([`cluster`]), configures and steers HAProxy ([`haproxy`], through its
//! runtime API in [`runtime_api`]), puts a latency proxy before the store
//! ([`latency`]), generates the TLS material a TLS frontend needs ([`tls`]),
//! counts the bytes a request puts on the wire ([`wire`]), and injects the
//! faults of the compose demo ([`fault`]). Experiments, the console and
//! `authlab up` (in the `lab` crate) drive clusters; nothing here knows of
//! claims or verdicts.

pub mod cluster;
pub mod cpu;
mod error;
pub mod fault;
pub mod haproxy;
pub mod host;
pub mod latency;
pub mod load;
pub mod local;
pub mod orders;
pub mod probe;
pub mod process;
pub mod runtime_api;
pub mod spec;
pub mod swarm;
#[cfg(test)]
mod test_net;
pub mod tls;
pub mod wire;

pub use cluster::{Cluster, Engine, HostFault, Node};
pub use error::HarnessError;
pub use haproxy::Balance;
pub use host::{Host, Hosts, Part, Placement};
pub use latency::Latency;
pub use load::{GeneratorRun, LoadJob};
pub use local::{Local, LocalCluster};
pub use orders::OrdersVariant;
pub use process::Stack;
pub use spec::ClusterSpec;
pub use swarm::Swarm;
