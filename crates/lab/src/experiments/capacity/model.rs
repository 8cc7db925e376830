//! c5's model of scaling out, for the machine this run did not have.
//!
//! On a machine without a core for every process, more nodes only share the
//! same cores, so c5 projects instead: each stack's request path is a chain
//! of tiers (HAProxy, the nodes, and for sessions one Redis), each with the
//! CPU per request measured on it; given N whole cores, the stack passes
//! what its slowest tier passes. One Redis executes commands on one thread,
//! so it takes one core at most, and the cores it cannot use stay idle.

use crate::summaries::CapacitySummary;

/// A kind of process every request of a stack passes through, in c5's model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tier {
    pub name: &'static str,
    /// Measured CPU per request (µs).
    pub cpu_us: f64,
    /// Redis executes commands on one thread: a second core does not make it
    /// faster. `None`: the tier uses every core it gets (node processes,
    /// HAProxy's threads).
    pub max_cores: Option<usize>,
}

/// What a stack passes with a number of whole cores for its request path.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub rps: f64,
    /// Whole cores per tier, in the order of the tiers.
    pub cores: Vec<usize>,
    /// The slowest tier: its pass rate is the projection.
    pub limit: &'static str,
    /// Cores no tier could use, because the slowest one cannot take more.
    pub idle: usize,
}

/// The most requests/s `tiers` pass with `cores` whole cores between them:
/// every tier gets a core, then each further core goes to the tier that
/// passes the fewest requests/s, until the cores run out or that tier cannot
/// use another (one Redis). The projection is the slowest tier's pass rate,
/// never more. `None` with fewer cores than tiers, or a tier without a
/// measured cost.
pub fn project(tiers: &[Tier], cores: usize) -> Option<Projection> {
    if tiers.is_empty() || cores < tiers.len() || tiers.iter().any(|t| t.cpu_us <= 0.0) {
        return None;
    }
    let pass = |i: usize, n: usize| n as f64 * 1e6 / tiers[i].cpu_us;
    let mut given = vec![1; tiers.len()];
    let mut left = cores - tiers.len();
    loop {
        let slowest = (0..tiers.len())
            .min_by(|&a, &b| pass(a, given[a]).total_cmp(&pass(b, given[b])))
            .unwrap_or(0);
        let full = tiers[slowest]
            .max_cores
            .is_some_and(|most| given[slowest] >= most);
        if left == 0 || full {
            return Some(Projection {
                rps: pass(slowest, given[slowest]),
                limit: tiers[slowest].name,
                cores: given,
                idle: left,
            });
        }
        given[slowest] += 1;
        left -= 1;
    }
}

pub const HAPROXY: &str = "HAProxy";
pub const NODES: &str = "the nodes";
pub const STORE: &str = "the store (one Redis core)";

/// Each stack's request path as c5 measured it at the largest node count:
/// HAProxy (when recorded), the nodes, and for sessions one Redis.
pub fn model_tiers(c: &CapacitySummary) -> (Vec<Tier>, Vec<Tier>) {
    let tier = |name, cpu_us, max_cores| Tier {
        name,
        cpu_us,
        max_cores,
    };
    let (mut session, mut jwt) = (Vec::new(), Vec::new());
    if let Some((session_haproxy, jwt_haproxy)) = c.haproxy_cpu_us() {
        session.push(tier(HAPROXY, session_haproxy, None));
        jwt.push(tier(HAPROXY, jwt_haproxy, None));
    }
    session.push(tier(NODES, c.session_node_cpu_us, None));
    session.push(tier(STORE, c.redis_cpu_us, Some(1)));
    jwt.push(tier(NODES, c.jwt_node_cpu_us, None));
    (session, jwt)
}

/// Core counts the model projects to.
pub const MODEL_CORES: [usize; 5] = [4, 8, 16, 32, 64];

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(name: &'static str, cpu_us: f64, max_cores: Option<usize>) -> Tier {
        Tier {
            name,
            cpu_us,
            max_cores,
        }
    }

    /// The sample run's defect: JWT nodes at 19.6 µs projected 3.26 M req/s
    /// on 64 cores of nodes, leaving out HAProxy at 22.6 µs per request,
    /// which would have needed ~68 more cores.
    #[test]
    fn haproxy_is_a_tier_and_can_be_the_limit() {
        let jwt = [tier(HAPROXY, 22.6, None), tier(NODES, 19.6, None)];
        let p = project(&jwt, 64).unwrap();
        assert_eq!(p.cores, vec![34, 30]);
        assert_eq!(p.limit, HAPROXY);
        assert!((p.rps - 34e6 / 22.6).abs() < 1.0);
        assert!(p.rps < 64e6 / 19.6 / 2.0);
        // The projection never exceeds what any tier passes with its cores.
        for cores in [2, 3, 4, 8, 16, 32, 64] {
            let p = project(&jwt, cores).unwrap();
            assert_eq!(p.cores.iter().sum::<usize>() + p.idle, cores);
            for (t, n) in jwt.iter().zip(&p.cores) {
                assert!(p.rps <= *n as f64 * 1e6 / t.cpu_us + 1e-6, "{cores}: {p:?}");
            }
        }
        // A load balancer four times as dear as a node: most cores go to it.
        let heavy = project(&[tier(HAPROXY, 80.0, None), tier(NODES, 20.0, None)], 10).unwrap();
        assert_eq!((heavy.cores.clone(), heavy.limit), (vec![8, 2], HAPROXY));
        assert!((heavy.rps - 100_000.0).abs() < 1e-6);
    }

    #[test]
    fn one_redis_caps_the_session_stack_and_leaves_cores_idle() {
        let session = [
            tier(HAPROXY, 21.2, None),
            tier(NODES, 30.0, None),
            tier(STORE, 6.3, Some(1)),
        ];
        let p = project(&session, 64).unwrap();
        assert_eq!(p.limit, STORE);
        assert_eq!(p.cores[2], 1);
        assert!((p.rps - 1e6 / 6.3).abs() < 1.0);
        assert_eq!(p.cores, vec![4, 5, 1]);
        assert_eq!(p.idle, 54);
        // Few cores: the nodes or HAProxy, not the store, limit.
        let small = project(&session, 4).unwrap();
        assert_eq!(small.cores, vec![1, 2, 1]);
        assert_eq!(small.limit, HAPROXY);
        assert_eq!(project(&session, 2), None);
        assert_eq!(project(&[tier(NODES, 0.0, None)], 4), None);
    }
}
