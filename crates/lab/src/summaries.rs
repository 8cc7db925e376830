//! The figures experiments hand to each other, typed.
//!
//! An experiment's tables and prose are for people; its [`Summary`] is for
//! the rest of authlab: the c15 overview, the console, a later experiment.
//! Each summary holds medians over the experiment's trials (the spread stays
//! in the experiment's own tables), under names that say their unit. Because
//! they are Rust types, a figure that is renamed or changes shape breaks the
//! build instead of silently turning into "not measured" or, worse, into
//! another number.

use serde::{Deserialize, Serialize};

pub use crate::kit::stats::Spread;

/// One experiment's summary, tagged by what it measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Summary {
    /// c4.
    Latency(LatencySummary),
    /// c5.
    Capacity(CapacitySummary),
    /// c7 (after logout) and c8 (after a demotion).
    Revocation(RevocationSummary),
    /// c9.
    Size(SizeSummary),
    /// c11.
    Stolen(Box<crate::experiments::c11::analysis::StolenSummary>),
    /// c12.
    Attacks(AttackSummary),
    /// c13.
    Memory(MemorySummary),
    /// c14.
    Downstream(DownstreamSummary),
}

/// c4: `/me` at a fixed offered load, per store delay setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// In the order of the settings, smallest first; the first is loopback.
    pub settings: Vec<DelaySetting>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DelaySetting {
    /// What the latency proxy was asked to add (ms).
    pub setting_ms: f64,
    /// Median store round trip measured through the proxy (PINGs, ms).
    pub store_rtt_ms: f64,
    pub session_p50_ms: f64,
    pub jwt_p50_ms: f64,
}

/// What the largest setting added over loopback (ms).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Added {
    pub setting_ms: f64,
    /// The store round trip it added, as measured.
    pub store_rtt_ms: f64,
    pub session_p50_ms: f64,
    pub jwt_p50_ms: f64,
}

impl LatencySummary {
    /// The largest setting against the first (loopback); `None` with fewer
    /// than two settings.
    pub fn added(&self) -> Option<Added> {
        let (base, far) = (self.settings.first()?, self.settings.last()?);
        (self.settings.len() > 1).then_some(Added {
            setting_ms: far.setting_ms,
            store_rtt_ms: far.store_rtt_ms - base.store_rtt_ms,
            session_p50_ms: far.session_p50_ms - base.session_p50_ms,
            jwt_p50_ms: far.jwt_p50_ms - base.jwt_p50_ms,
        })
    }
}

/// c5: per-request costs at the largest node count, and throughput per node count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacitySummary {
    pub cores: usize,
    /// Whether the machine had the cores to run the largest node count as
    /// more capacity (nodes, HAProxy, Redis and the load generator each on a
    /// core of their own); when not, the scale-out is c5's model.
    pub scale_out_measured: bool,
    pub session_node_cpu_us: f64,
    pub jwt_node_cpu_us: f64,
    /// Redis CPU per session request.
    pub redis_cpu_us: f64,
    pub session_store_ops: f64,
    pub jwt_store_ops: f64,
    pub points: Vec<CapacityPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityPoint {
    pub nodes: usize,
    pub ceiling_rps: Spread,
    pub session_rps: Spread,
    pub jwt_rps: Spread,
    /// The run reached 90% of the `/health` ceiling through the same path:
    /// the load generator (or HAProxy), not the stack, set its throughput,
    /// so its req/s is a lower bound, not the stack's capacity. `false` in
    /// results written before it was recorded.
    #[serde(default)]
    pub session_generator_bound: bool,
    #[serde(default)]
    pub jwt_generator_bound: bool,
    /// HAProxy's CPU per request of each stack's `/me` run (µs): a process
    /// on the request path like the nodes, so c5's model counts it (0 in
    /// results written before it was recorded).
    #[serde(default)]
    pub session_haproxy_cpu_us: f64,
    #[serde(default)]
    pub jwt_haproxy_cpu_us: f64,
}

impl CapacitySummary {
    /// The share of a session request's CPU that the store spends.
    pub fn store_share(&self) -> Option<f64> {
        let total = self.session_node_cpu_us + self.redis_cpu_us;
        (total > 0.0).then(|| self.redis_cpu_us / total)
    }

    /// Cores of session nodes that one Redis core keeps up with, by the model.
    pub fn store_ceiling_cores(&self) -> Option<f64> {
        (self.redis_cpu_us > 0.0).then(|| self.session_node_cpu_us / self.redis_cpu_us)
    }

    /// HAProxy's CPU per `/me` request at the largest node count (session,
    /// JWT): the costs c5's model takes with the nodes' and Redis'. `None`
    /// when the run did not record them.
    pub fn haproxy_cpu_us(&self) -> Option<(f64, f64)> {
        let last = self.points.last()?;
        (last.session_haproxy_cpu_us > 0.0 && last.jwt_haproxy_cpu_us > 0.0)
            .then_some((last.session_haproxy_cpu_us, last.jwt_haproxy_cpu_us))
    }
}

/// c7 and c8: seconds until every node refused, per set-up and trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevocationSummary {
    pub setups: Vec<RevocationSetup>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevocationSetup {
    pub name: String,
    /// Seconds from the change until every node refused, per trial; `None`:
    /// some node still accepted when the window closed.
    pub seconds: Vec<Option<f64>>,
    pub window_s: f64,
}

/// Set-up names c7 and c8 share, so readers find them without guessing.
pub mod setups {
    pub const SESSION: &str = "session (Redis)";
    pub const PLAIN_JWT: &str = "JWT, 1 h access token";
    pub const SHORT_JWT: &str = "JWT, short access token + refresh";
    pub const DENYLIST: &str = "JWT + denylist";
}

/// How a set-up's trials ended, in the words the report uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// Refused everywhere in every trial; the slowest trial's seconds.
    RefusedWithin(f64),
    /// Still accepted at the end of every trial's window.
    AcceptedThroughout { window_s: f64 },
    /// Refused in some trials, accepted to the end in others.
    Mixed { refused: usize, trials: usize },
}

impl RevocationSummary {
    pub fn setup(&self, name: &str) -> Option<&RevocationSetup> {
        self.setups
            .iter()
            .find(|s| s.name == name && !s.seconds.is_empty())
    }

    pub fn outcome(&self, name: &str) -> Option<Outcome> {
        let setup = self.setup(name)?;
        let refused: Vec<f64> = setup.seconds.iter().flatten().copied().collect();
        Some(if refused.len() == setup.seconds.len() {
            Outcome::RefusedWithin(refused.iter().copied().fold(0.0, f64::max))
        } else if refused.is_empty() {
            Outcome::AcceptedThroughout {
                window_s: setup.window_s,
            }
        } else {
            Outcome::Mixed {
                refused: refused.len(),
                trials: setup.seconds.len(),
            }
        })
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Outcome::RefusedWithin(s) if s < 0.05 => {
                write!(f, "at once (first poll, {:.0} ms)", s * 1e3)
            }
            Outcome::RefusedWithin(s) => write!(f, "within {s:.2} s"),
            Outcome::AcceptedThroughout { window_s } => {
                write!(f, "still accepted when observation ended ({window_s:.0} s)")
            }
            Outcome::Mixed { refused, trials } => {
                write!(
                    f,
                    "refused in {refused} of {trials} trials, accepted to the end in the others"
                )
            }
        }
    }
}

/// c9: credential bytes per request as sent at login.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizeSummary {
    /// The whole `Cookie:` header line of a fresh session.
    pub cookie_header_bytes: u64,
    /// The whole `Authorization: Bearer` header line of a fresh login's token.
    pub login_jwt_header_bytes: u64,
    /// On the wire, per protocol (empty in results written before it was measured).
    #[serde(default)]
    pub wire: Vec<WireFacts>,
}

/// A credential's bytes on the wire per request, per protocol, at login.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireFacts {
    pub protocol: String,
    pub http2: bool,
    /// Session cookie: bytes to the server per request above the same
    /// request without it.
    pub cookie: f64,
    /// The login JWT as `Authorization: Bearer`.
    pub bearer: f64,
    /// The same JWT in a cookie.
    pub jwt_cookie: f64,
    /// Bytes of the session cookie's `name=value` sent on this protocol:
    /// each cluster issues its own, and a signed cookie's length varies by
    /// a few bytes from login to login (0 in results written before it was
    /// recorded).
    #[serde(default)]
    pub cookie_value_bytes: u64,
}

/// c12: the attack corpus against the real server and the naive verifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackSummary {
    pub corpus: usize,
    /// Forged or invalid tokens the real server refused (401).
    pub server_refused: usize,
    pub naive_accepted: usize,
    pub lure_contacted: bool,
    pub weak_secret_refused: bool,
}

/// c13: store memory per logged-in user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemorySummary {
    pub session_bytes_per_login: f64,
    /// Refresh tokens: what a JWT login leaves in the store.
    pub jwt_bytes_per_login: f64,
}

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
    /// Pairs, not a map: [`Summary`] is internally tagged, and serde reads
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_follow_every_trial() {
        let summary = RevocationSummary {
            setups: vec![
                RevocationSetup {
                    name: "a".into(),
                    seconds: vec![Some(0.001), Some(0.002)],
                    window_s: 15.0,
                },
                RevocationSetup {
                    name: "b".into(),
                    seconds: vec![None, None],
                    window_s: 15.0,
                },
                RevocationSetup {
                    name: "c".into(),
                    seconds: vec![None, Some(3.0)],
                    window_s: 15.0,
                },
            ],
        };
        assert_eq!(summary.outcome("a"), Some(Outcome::RefusedWithin(0.002)));
        assert_eq!(
            summary.outcome("a").unwrap().to_string(),
            "at once (first poll, 2 ms)"
        );
        assert_eq!(
            summary.outcome("b"),
            Some(Outcome::AcceptedThroughout { window_s: 15.0 })
        );
        assert_eq!(
            summary.outcome("c"),
            Some(Outcome::Mixed {
                refused: 1,
                trials: 2
            })
        );
        assert_eq!(summary.outcome("d"), None);
    }

    #[test]
    fn added_latency_is_the_largest_setting_over_loopback() {
        let setting = |setting_ms, store_rtt_ms, session_p50_ms, jwt_p50_ms| DelaySetting {
            setting_ms,
            store_rtt_ms,
            session_p50_ms,
            jwt_p50_ms,
        };
        let summary = LatencySummary {
            settings: vec![setting(0.0, 0.05, 0.3, 0.25), setting(2.0, 2.06, 4.4, 0.26)],
        };
        let added = summary.added().unwrap();
        assert!((added.store_rtt_ms - 2.01).abs() < 1e-9);
        assert!((added.session_p50_ms - 4.1).abs() < 1e-9);
        assert_eq!(
            LatencySummary {
                settings: vec![setting(0.0, 0.05, 0.3, 0.2)]
            }
            .added(),
            None
        );
    }
}
