//! c14's figures: how a downstream service (orders) learns who is calling.
//!
//! Per route: latency, throughput and calls to the auth service; then what
//! each route did while the auth service it depends on was stopped, and the
//! JWKS route through a key rotation.

use serde::{Deserialize, Serialize};

use super::Spread;

/// c14: how a downstream service (orders) learns who is calling.
///
/// Figures are medians (with the range) over the trials; a route whose runs
/// were all refused by the load check has no figures and is named in
/// `invalid_runs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DownstreamSummary {
    pub trials: usize,
    /// How long `introspection-cached` keeps an active answer (s).
    pub cache_ttl_s: f64,
    /// Latency at a fixed offered load, throughput, auth-service calls per
    /// request: one entry per route that produced valid runs.
    pub routes: Vec<DownstreamRoute>,
    /// The auth services stopped under a steady request loop.
    pub outage: Vec<OutageRoute>,
    /// The stopped stacks' own `/health` during the outage: the proof that
    /// the outage was one.
    pub auth_probes: Vec<AuthProbe>,
    pub rotation: Option<RotationFigures>,
    /// Load runs the load check refused, each with its reason.
    pub invalid_runs: Vec<String>,
}

/// Where a `GET /orders` goes: the JWT stack's own route (no downstream
/// hop, the baseline) or the orders service in one of its modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrdersRoute {
    /// The JWT stack's own `/orders`: no downstream service at all.
    JwtStack,
    /// Verifies the JWT itself with keys fetched from the JWKS endpoint.
    Jwks,
    /// Asks the session server's `/introspect` on every request.
    Introspection,
    /// Asks `/introspect`, caching active answers for a few seconds.
    IntrospectionCached,
    /// Trusts HAProxy, which verified the JWT with a key file.
    Gateway,
}

impl OrdersRoute {
    pub const ALL: [OrdersRoute; 5] = [
        OrdersRoute::JwtStack,
        OrdersRoute::Jwks,
        OrdersRoute::Introspection,
        OrdersRoute::IntrospectionCached,
        OrdersRoute::Gateway,
    ];

    /// As the report names it.
    pub fn label(self) -> &'static str {
        match self {
            OrdersRoute::JwtStack => "JWT stack's own /orders (baseline)",
            OrdersRoute::Jwks => "orders, JWKS",
            OrdersRoute::Introspection => "orders, introspection",
            OrdersRoute::IntrospectionCached => "orders, introspection cached",
            OrdersRoute::Gateway => "orders behind the HAProxy gateway",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DownstreamRoute {
    pub route: OrdersRoute,
    /// `GET /orders` at a fixed offered load (ms).
    pub p50_ms: Spread,
    pub p99_ms: Spread,
    /// Requests/s at saturation (wrk).
    pub saturated_rps: Spread,
    /// Auth-service calls per `GET /orders`, as the orders node counted
    /// them (`orders_upstream_requests_total`); `None` for the baseline,
    /// which is the auth service.
    pub calls_per_request: Option<Spread>,
    /// The same, as the auth nodes counted them (introspections answered,
    /// JWKS documents served); `None` for the baseline.
    pub auth_side_per_request: Option<Spread>,
    /// Trials whose runs passed the load check.
    pub valid_trials: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutageRoute {
    pub route: OrdersRoute,
    /// The stack this route depends on, which was stopped (`jwt`, `session`).
    pub depends_on: String,
    /// % of requests failed, by when they were sent: before the kill, from
    /// the kill to the recovery (the outage: every auth node back up in
    /// HAProxy), after the recovery. One window for every outage figure.
    pub before_pct: Spread,
    pub down_pct: Spread,
    pub after_pct: Spread,
    /// Per trial: seconds from the kill to the first failed request sent
    /// in the outage; `None` when none failed. (Runs before 2026-12 wrote
    /// `first_failing_s`, the first second with half its requests failed:
    /// read so that their results still load.)
    #[serde(alias = "first_failing_s")]
    pub first_failure_s: Vec<Option<f64>>,
    /// % of requests failed among those sent from the cache TTL after the
    /// kill to the recovery, when every answer cached before the kill has
    /// expired; `None` when the outage was no longer than the TTL.
    #[serde(default)]
    pub past_ttl_pct: Option<Spread>,
    /// Per trial: seconds from the recovery to the last failed request
    /// sent after it; `None` when none failed after it.
    #[serde(default)]
    pub last_failure_after_recovery_s: Vec<Option<f64>>,
    /// Length of the outage per trial, from the kill to the recovery (s).
    pub down_s: Vec<f64>,
    /// The failed answers of the requests sent in the outage over every
    /// trial, `(status, count)` by status (`0`: no answer within the
    /// timeout, or a refused connection).
    /// Pairs, not a map: [`Summary`](super::Summary) is internally tagged, and serde reads
    /// the keys of a map inside such an enum back only as strings.
    pub failed_answers: Vec<(u16, u64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthProbe {
    pub stack: String,
    /// % of the stack's own `GET /health` (through HAProxy) that failed
    /// while it was meant to be down.
    pub down_error_pct: Spread,
}

/// The JWKS variant through a key rotation (stage, activate, new logins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RotationFigures {
    pub trials: usize,
    /// Old-kid tokens during the rotation, then new-kid tokens after it, on
    /// the JWKS variant. Only the new-kid requests can meet an unknown
    /// `kid`: failures are judged as a share of them, old ones apart.
    pub old_requests: u64,
    pub old_failed: u64,
    pub new_requests: u64,
    pub new_failed: u64,
    /// Logins after the activation, and how many carried the new kid.
    pub new_logins: usize,
    pub new_logins_with_new_kid: usize,
    /// Per trial: JWKS fetches the orders node made during the rotation.
    pub jwks_fetches: Vec<u64>,
    /// Per rotation: p99 of the new-key requests' successful answers (ms);
    /// the first of them waits for a JWKS fetch.
    #[serde(default)]
    pub new_p99_ms: Vec<f64>,
    /// The gateway variant through the same rotation (old and new tokens).
    pub gateway_requests: u64,
    pub gateway_failed: u64,
}

impl DownstreamSummary {
    pub fn route(&self, route: OrdersRoute) -> Option<&DownstreamRoute> {
        self.routes.iter().find(|r| r.route == route)
    }

    pub fn outage(&self, route: OrdersRoute) -> Option<&OutageRoute> {
        self.outage.iter().find(|r| r.route == route)
    }
}

impl RotationFigures {
    /// % of the requests made with new-key tokens that failed (0 for none made).
    pub fn new_failed_pct(&self) -> f64 {
        self.new_failed as f64 / self.new_requests.max(1) as f64 * 100.0
    }
}
