//! The lab: everything `authlab` does besides serving requests.
//!
//! It starts clusters of real processes on loopback ([`cluster`]), puts
//! HAProxy in front of them ([`haproxy`]), breaks them on purpose (the fault
//! methods of [`cluster::Cluster`], and the [`latency`] proxy), and checks the
//! machine has what all that needs ([`doctor`]). The experiments build on it.

pub mod charts;
pub mod claims;
pub mod cluster;
pub mod compose_init;
pub mod console;
pub mod doctor;
pub mod experiment;
pub mod experiments;
pub mod fault;
pub mod first_screen;
pub mod flood;
pub mod glossary;
pub mod h2load;
pub mod haproxy;
pub mod kit;
pub mod latency;
pub mod load;
pub mod naive;
pub mod orders;
pub mod probe;
pub mod process;
pub mod quantile;
pub mod report;
pub mod results;
pub mod runtime_api;
pub mod soak;
pub mod summaries;
#[cfg(test)]
mod test_net;
pub mod tls;
pub mod wire;
pub mod wire_cost;
pub mod wrk;

pub use cluster::{Cluster, ClusterSpec};
pub use haproxy::Balance;
pub use latency::Latency;
pub use orders::OrdersVariant;
pub use process::Stack;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("{0}")]
    Config(String),
    #[error("missing program: {0}")]
    Missing(String),
    #[error("haproxy: {0}")]
    Haproxy(String),
    #[error("a node died: {0}")]
    NodeDied(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("{0}")]
    Io(String),
    /// A load run whose errors make its figures meaningless.
    #[error("invalid load run: {0}")]
    InvalidRun(String),
    #[error("interrupted (Ctrl-C)")]
    Interrupted,
    /// A child process (Redis, its port or its directory) could not be had.
    #[error(transparent)]
    Process(#[from] supervise::ProcessError),
    #[error(transparent)]
    Corpus(#[from] attack_corpus::CorpusError),
}
