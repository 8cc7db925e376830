//! Logging set-up: `tracing` events to stderr, filtered by `RUST_LOG`.
//!
//! The default filter keeps per-request noise out: under load a log line per
//! request would cost more than the request itself and distort every figure.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls (tests) are no-ops.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
