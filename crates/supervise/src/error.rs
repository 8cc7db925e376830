//! Why a child process could not be had.

/// A child process (or what it needs: a port, a directory) could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The program is not installed; the message says how to install it.
    #[error("{program} was not found on PATH. Install it with: {install}")]
    Missing {
        program: &'static str,
        install: &'static str,
    },
    #[error("no free loopback port: {0}")]
    NoFreePort(#[source] std::io::Error),
    #[error("a private directory for {program}: {source}")]
    TempDir {
        program: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// Spawned, but it never became ready (or exited); `reason` has its last log line.
    #[error("{program} did not start: {reason}")]
    DidNotStart {
        program: &'static str,
        reason: String,
    },
}
