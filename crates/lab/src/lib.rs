//! The lab: everything `authlab` does besides serving requests.
//!
//! It starts clusters of real processes on loopback ([`cluster`]), puts
//! HAProxy in front of them ([`haproxy`]), breaks them on purpose (the fault
//! methods of [`cluster::Cluster`], and the [`latency`] proxy), and checks the
//! machine has what all that needs ([`doctor`]). The experiments build on it.

pub mod charts;
pub mod claims;
pub mod compose_init;
pub mod console;
pub mod doctor;
mod error;
pub mod experiment;
pub mod experiments;
pub mod first_screen;
pub mod flood;
pub mod glossary;
pub mod h2load;
pub mod kit;
pub mod load;
pub mod naive;
pub mod report;
pub mod results;
pub mod soak;
pub mod summaries;
pub mod wire_cost;
pub mod wrk;

// The harness's modules under their old names: the lab's code and tests
// say `crate::cluster::…`, `lab::Cluster`.
pub use error::LabError;
pub use haproxy::Balance;
pub use harness::{
    cluster, fault, haproxy, latency, local, orders, probe, process, runtime_api, spec, tls, wire,
};
pub use harness::{Cluster, ClusterSpec, Engine, HostFault, Local, LocalCluster, Node};
pub use latency::Latency;
pub use orders::OrdersVariant;
pub use process::Stack;
