//! What can go wrong while starting, driving or breaking a cluster.
//!
//! Read by a person more often than matched by a program: a program missing
//! from the machine, HAProxy refusing its configuration, a node that died, a
//! wait that ran out. So the variants carry a sentence. The lab wraps this
//! type transparently in its own error, so a message reads the same whichever
//! layer reports it.

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
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
    /// A child process (Redis, its port or its directory) could not be had.
    #[error(transparent)]
    Process(#[from] supervise::ProcessError),
}
