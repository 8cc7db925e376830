//! What can go wrong in the lab, as one error type.
//!
//! The lab's failures are mostly read by a person at the end of a run — a
//! program missing from the machine, HAProxy refusing its config, a node that
//! died, a wait that ran out — so most variants carry a sentence rather than
//! structure to branch on. Two are meant to be matched: [`LabError::InvalidRun`]
//! (a load run whose errors make its figures meaningless; the caller may add
//! what was being measured, or try again) and [`LabError::Interrupted`] (Ctrl-C:
//! stop, do not report a failure). The `authlab` binary turns a `LabError` into
//! `anyhow` at its edge, and nowhere else.

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
    /// A cluster could not be started, driven or broken as asked.
    #[error(transparent)]
    Harness(#[from] harness::HarnessError),
    #[error(transparent)]
    Corpus(#[from] attack_corpus::CorpusError),
}
