//! Prometheus metrics, served at `GET /metrics`.
//!
//! Three families matter to the experiments:
//!
//! * `authlab_http_requests_total` / `authlab_http_requests_duration_seconds`:
//!   per route pattern (`/me`, not `/me?x=1`), method and status, recorded by
//!   the `actix-web-prom` middleware. Unmatched paths are folded into one
//!   `UNKNOWN` label so a scanner cannot blow up the label set.
//! * `authlab_store_round_trip_seconds{store}`: every Redis command or
//!   pipeline, timed in the client (see [`crate::redis_client`]). Its count
//!   divided by the request count is "store operations per request", the
//!   number that separates the two designs.
//! * figures each stack owns (logins, sessions created, tokens issued...),
//!   registered by the server on the same [`Registry`].

use std::time::Duration;

use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
};

/// Buckets from 25 µs: a loopback Redis GET takes tens of microseconds, and
/// the default Prometheus buckets (from 5 ms) would put every call in the first one.
const FINE_BUCKETS: &[f64] = &[
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5,
];

#[derive(Debug, thiserror::Error)]
#[error("metrics set-up failed: {0}")]
pub struct MetricsError(String);

impl From<prometheus::Error> for MetricsError {
    fn from(error: prometheus::Error) -> Self {
        MetricsError(error.to_string())
    }
}

/// The registry of one server process plus the families shared by both stacks.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    store_round_trip: HistogramVec,
    store_errors: IntCounterVec,
}

impl Metrics {
    pub fn new(node: &str) -> Result<Self, MetricsError> {
        let labels = std::iter::once(("node".to_owned(), node.to_owned())).collect();
        let registry = Registry::new_custom(None, Some(labels))?;
        let store_round_trip = HistogramVec::new(
            HistogramOpts::new(
                "authlab_store_round_trip_seconds",
                "Time of one Redis command or pipeline, as seen by the server",
            )
            .buckets(FINE_BUCKETS.to_vec()),
            &["store"],
        )?;
        let store_errors = IntCounterVec::new(
            Opts::new("authlab_store_errors_total", "Redis commands that failed"),
            &["store"],
        )?;
        registry.register(Box::new(store_round_trip.clone()))?;
        registry.register(Box::new(store_errors.clone()))?;
        Ok(Self {
            registry,
            store_round_trip,
            store_errors,
        })
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Handles for one store, resolved once so the hot path does no label lookup.
    pub fn store(&self, store: &str) -> StoreMetrics {
        StoreMetrics {
            round_trip: self.store_round_trip.with_label_values(&[store]),
            errors: self.store_errors.with_label_values(&[store]),
        }
    }

    /// A counter family the stack owns, registered on this registry
    /// (`name` is prefixed with `authlab_`).
    pub fn counter_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<IntCounterVec, MetricsError> {
        let counter = IntCounterVec::new(Opts::new(format!("authlab_{name}"), help), labels)?;
        self.registry.register(Box::new(counter.clone()))?;
        Ok(counter)
    }

    /// A single counter the stack owns, registered on this registry.
    pub fn counter(&self, name: &str, help: &str) -> Result<IntCounter, MetricsError> {
        let counter = IntCounter::new(format!("authlab_{name}"), help)?;
        self.registry.register(Box::new(counter.clone()))?;
        Ok(counter)
    }

    /// The middleware that records per-route request metrics and serves `/metrics`.
    pub fn http_middleware(&self) -> Result<PrometheusMetrics, MetricsError> {
        PrometheusMetricsBuilder::new("authlab")
            .registry(self.registry.clone())
            .endpoint("/metrics")
            .buckets(FINE_BUCKETS)
            .mask_unmatched_patterns("UNKNOWN")
            .build()
            .map_err(|e| MetricsError(e.to_string()))
    }
}

/// Round-trip histogram and error counter of one store.
#[derive(Clone)]
pub struct StoreMetrics {
    round_trip: Histogram,
    errors: IntCounter,
}

impl StoreMetrics {
    pub fn observe(&self, elapsed: Duration, ok: bool) {
        self.round_trip.observe(elapsed.as_secs_f64());
        if !ok {
            self.errors.inc();
        }
    }
}
