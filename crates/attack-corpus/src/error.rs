//! Why the corpus could not be built.

/// The key set could not mint a token (no private key, a bad PEM, ...).
#[derive(Debug, thiserror::Error)]
#[error("building the attack corpus: {0}")]
pub struct CorpusError(String);

pub(crate) fn err(e: impl std::fmt::Display) -> CorpusError {
    CorpusError(e.to_string())
}
