//! c5's figures: what one request costs in CPU and store operations, and
//! throughput per node count.
//!
//! The costs feed c5's model of scale-out (and c15's store ceiling); the
//! points are the measured throughput behind it.

use serde::{Deserialize, Serialize};

use super::Spread;

/// c5: per-request costs at the largest node count, and throughput per node count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacitySummary {
    /// Cores the hosts that ran c5 had, each machine's counted once.
    pub cores: usize,
    /// Hosts that ran c5's clusters (1 locally; 0 when the engine could not
    /// list them).
    #[serde(default = "one")]
    pub hosts: usize,
    /// Distinct machines among them (by boot id): hosts on one machine share
    /// its cores, so more of them add none.
    #[serde(default = "one")]
    pub machines: usize,
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

/// Results written before the hosts were recorded ran on one machine.
fn one() -> usize {
    1
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
