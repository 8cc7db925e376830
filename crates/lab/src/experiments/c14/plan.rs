//! What one c14 run does, in numbers: every rate, duration and count the
//! measurement follows and the report's set-up and titles quote.

use std::time::Duration;

use serde::Serialize;

use crate::kit::schedule::Trials;

const TRIALS: Trials = Trials::new(1, 3);

/// Every rate, duration and count of one run; quick mode shortens the
/// phases, never the outage below the cache TTL it has to outlast.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Plan {
    pub trials: usize,
    /// Auth nodes per stack.
    pub nodes: usize,
    /// Users logged in per stack for every run (their credentials rotate).
    pub users: usize,
    /// The fixed offered load of the latency loop: far below what any
    /// route serves, so its latency is service time, not a queue.
    pub fixed_rate: u32,
    pub fixed_time: Duration,
    pub wrk_time: Duration,
    pub wrk_connections: u32,
    /// Per route, through the outage and the rotation.
    pub outage_rate: u32,
    /// Of each stopped stack's own `/health`.
    pub probe_rate: u32,
    pub before: Duration,
    /// Longer than the cached variant's TTL plus HAProxy's detection of
    /// the dead nodes, so the cache is seen to run out.
    pub down: Duration,
    pub after: Duration,
    pub rotation_rate: u32,
    /// Back to back; two at least, so a quick run meets a rotation within
    /// the refetch cooldown of the previous one's fetch.
    pub rotations: usize,
    pub new_logins: usize,
    /// How long the new tokens are sent after the activation.
    pub after_rotation: Duration,
    /// `introspection-cached`'s TTL, as the cluster starts it (`crate::orders`).
    pub cache_ttl: Duration,
    /// Per request; above `orders`' 2 s upstream timeout, so a slow upstream
    /// shows as the orders node's 503, not as the loop giving up.
    pub timeout: Duration,
}

impl Plan {
    pub fn new(quick: bool) -> Self {
        let s = Duration::from_secs;
        Self {
            trials: TRIALS.count(quick),
            nodes: 2,
            users: 32,
            fixed_rate: 100,
            fixed_time: s(if quick { 2 } else { 4 }),
            wrk_time: s(if quick { 2 } else { 3 }),
            wrk_connections: 8,
            outage_rate: 40,
            probe_rate: 10,
            before: s(if quick { 2 } else { 3 }),
            down: s(if quick { 8 } else { 10 }),
            after: s(if quick { 3 } else { 5 }),
            rotation_rate: 40,
            rotations: TRIALS.count(quick).max(2),
            new_logins: 8,
            after_rotation: s(if quick { 2 } else { 3 }),
            cache_ttl: s(5),
            timeout: s(3),
        }
    }
}
