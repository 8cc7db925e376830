//! What c1, c2 and c3 share: goose users logging in and browsing.
//!
//! These claims are about user behaviour, not capacity, so they are
//! measured with goose (loadtests/): every simulated user logs in once,
//! browses with a little think time, and logs in again when a request
//! answers 401. goose stays far below its own ceiling here. The
//! experiments themselves are in `c1_affinity`, `c2_sticky` and `c3_outage`.
//!
//! Each experiment repeats its variants in interleaved trials (3 in full
//! mode, 1 in quick mode) through the shared scheduler, and the report gives
//! the median with the min–max across trials.

use std::{collections::BTreeMap, time::Duration};

use loadtests::{Credentials, LoadPlan, LoadReport, ScenarioKind};

use crate::experiment::RunContext;
use crate::kit::schedule::Trials;
use crate::kit::stats::median_spread;
use crate::{results::Point, Cluster, LabError, Stack};

pub const USERS: usize = 12;

/// Trials per variant. Quick mode keeps a single run so that the quick set
/// costs what it did before trials existed.
pub fn trials(ctx: &RunContext) -> usize {
    BEHAVIOUR_TRIALS.count(ctx.quick)
}

const BEHAVIOUR_TRIALS: Trials = Trials::new(1, 3);

/// A table cell "median (min–max)", with `unit` after the median and the max.
pub fn cell(values: &[f64], decimals: usize, unit: &str) -> String {
    let (mid, low, high) = median_spread(values);
    format!("{mid:.decimals$}{unit} ({low:.decimals$}–{high:.decimals$}{unit})")
}

/// A chart point at the median, its whisker the min–max across trials.
pub fn point(x: impl Into<String>, values: &[f64]) -> Point {
    let (y, low, high) = median_spread(values);
    Point {
        x: x.into(),
        y,
        low: Some(low),
        high: Some(high),
    }
}

/// Counts summed per key, as "key: sum, …".
pub fn summed<'a>(counts: impl IntoIterator<Item = (&'a str, u64)>) -> String {
    let mut sums: BTreeMap<&str, u64> = BTreeMap::new();
    for (key, count) in counts {
        *sums.entry(key).or_default() += count;
    }
    sums.iter()
        .map(|(key, sum)| format!("{key}: {sum}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A Ctrl-C stops the goose run in progress; a cut-short run would pass
/// for a trial, so the experiment stops instead.
pub fn finished(report: LoadReport) -> Result<LoadReport, LabError> {
    if report.interrupted {
        Err(LabError::Interrupted)
    } else {
        Ok(report)
    }
}

/// goose's browsing users on `stack`'s frontend of `cluster`.
///
/// The target comes from the cluster, never from a caller's string: goose
/// refuses anything but loopback unless told otherwise, and a frontend the
/// engine itself started (on loopback, or on a swarm's hosts) is the one
/// target the lab may load wherever it is.
pub fn plan(cluster: &dyn Cluster, stack: Stack, run_time: Duration) -> Result<LoadPlan, LabError> {
    let as_goose = match stack {
        Stack::Session => loadtests::Stack::Session,
        Stack::Jwt => loadtests::Stack::Jwt,
    };
    let mut plan = LoadPlan::new(cluster.url(stack, "")?, as_goose, ScenarioKind::Browse);
    plan.allow_remote = true;
    plan.users = USERS;
    plan.hatch_rate = USERS as f64;
    plan.run_time = run_time;
    plan.think_time = Some((Duration::from_millis(50), Duration::from_millis(150)));
    plan.credentials = Credentials::LoadUsers {
        offset: 0,
        count: USERS,
    };
    Ok(plan)
}

pub fn rejected(report: &LoadReport) -> u64 {
    report.status_counts.get(&401).copied().unwrap_or(0)
}
