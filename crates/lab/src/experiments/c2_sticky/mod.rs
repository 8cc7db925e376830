//! c2 — sticky sessions: the fix for c1, and its price.
//!
//! HAProxy's cookie pins each user to a node, so per-node memory sessions
//! work; but a node's load is then the sum of its users' habits (a few
//! heavy users make one node hot), and the users of a node that dies lose
//! their sessions with it.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

use loadtests::{Credentials, LoadReport};
use serde::Serialize;
use serde_json::json;
use session_server::StoreMode;

use crate::experiment::Outcome;
use crate::experiment::RunContext;
use crate::experiment::Runnable;
use crate::kit::behaviour::{cell, finished, plan, point, summed, trials, USERS};
use crate::kit::err;
use crate::kit::schedule;
use crate::kit::stats::median;
use crate::{
    results::{Chart, ChartKind, ClaimVerdict, ExperimentResult, Series, Table, Verdict},
    summaries::Spread,
    Balance, Cluster, ClusterSpec, LabError, Stack,
};

/// "busiest node", "2nd busiest", …, "quietest node".
fn rank_label(rank: usize, of: usize) -> String {
    match rank {
        0 => "busiest node".into(),
        r if r + 1 == of => "quietest node".into(),
        r => format!("{} busiest", ordinal(r + 1)),
    }
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, r) if r != 11 => "st",
        (2, r) if r != 12 => "nd",
        (3, r) if r != 13 => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

pub struct Stickiness;

/// max/mean and coefficient of variation of per-node counts.
fn imbalance(counts: &[f64]) -> (f64, f64) {
    let n = counts.len().max(1) as f64;
    let mean = counts.iter().sum::<f64>() / n;
    let max = counts.iter().copied().fold(0.0, f64::max);
    let variance = counts.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / n;
    if mean > 0.0 {
        (max / mean, variance.sqrt() / mean)
    } else {
        (0.0, 0.0)
    }
}

/// How much higher the sticky CV must be than round-robin's, in every
/// trial, to count as uneven. Round-robin's CV is near 0 by construction, so
/// without a margin any noise would read as "uneven".
pub const CV_MARGIN: f64 = 0.10;

/// C2's rule, from the per-node coefficient of variation of each trial with
/// stickiness and with round-robin, and the median re-logins forced by
/// killing a sticky node.
pub fn c2_verdict(
    sticky_cvs: &[f64],
    round_robin_cvs: &[f64],
    relogins_after_kill: u64,
) -> Verdict {
    if sticky_cvs.is_empty() || round_robin_cvs.is_empty() {
        return Verdict::NotMeasured("the sticky or the round-robin variant did not run".into());
    }
    let sticky_low = Spread::of(sticky_cvs).min;
    let round_robin_high = Spread::of(round_robin_cvs).max;
    if sticky_low < round_robin_high + CV_MARGIN {
        Verdict::DoesNotHold(format!(
            "in some trial stickiness spread the load within {CV_MARGIN:.2} of round-robin's CV (lowest sticky CV \
             {sticky_low:.2}, highest round-robin CV {round_robin_high:.2})"
        ))
    } else if relogins_after_kill == 0 {
        Verdict::HoldsWithCaveat("no user lost a session when the sticky node died".into())
    } else {
        Verdict::Holds
    }
}

/// The first screen's figure: the per-node spread (CV) of each balancing,
/// and what a dead sticky node cost its users (medians across trials).
pub fn c2_headline(round_robin_cv: f64, sticky_cv: f64, relogins_after_kill: u64) -> String {
    format!(
        "per-node CV {sticky_cv:.2} with stickiness vs {round_robin_cv:.2} round-robin; {relogins_after_kill} forced \
         re-logins when the sticky node died"
    )
}

/// c2's variants: label, balancing, session store, and whether session-1 is
/// killed halfway. The verdict reads them by position.
const STICKY_VARIANTS: [(&str, Balance, StoreMode, bool); 3] = [
    (
        "round-robin, shared store",
        Balance::Roundrobin,
        StoreMode::Redis,
        false,
    ),
    (
        "sticky cookie, memory sessions",
        Balance::Sticky,
        StoreMode::Memory,
        false,
    ),
    (
        "sticky cookie, memory sessions, session-1 killed halfway",
        Balance::Sticky,
        StoreMode::Memory,
        true,
    ),
];

/// One c2 run on a fresh cluster.
#[derive(Serialize)]
struct StickyRun {
    trial: usize,
    variant: &'static str,
    /// Responses per node from the `x-node` header the users saw, every node
    /// listed (a node nobody reached with 0).
    per_node: Vec<(String, u64)>,
    /// HAProxy's per-server responses (`hrsp_*`).
    haproxy_responses: Vec<(String, u64)>,
    heavy: LoadReport,
    light: LoadReport,
    killed: Option<String>,
}

impl StickyRun {
    /// (max/mean, coefficient of variation) of the x-node counts.
    fn imbalance(&self) -> (f64, f64) {
        let values: Vec<f64> = self.per_node.iter().map(|(_, c)| *c as f64).collect();
        imbalance(&values)
    }

    fn relogins(&self) -> u64 {
        self.heavy.relogins + self.light.relogins
    }
}

async fn sticky_run(
    ctx: &RunContext,
    trial: usize,
    (variant, balance, store, kill): (&'static str, Balance, StoreMode, bool),
    run_time: Duration,
) -> Result<StickyRun, LabError> {
    let mut spec = ClusterSpec::new(ctx.launcher.clone());
    spec.stacks = vec![Stack::Session];
    spec.nodes = 3;
    spec.seed_users = USERS;
    spec.balance = balance;
    spec.session_store = store;
    let mut cluster = Cluster::start(spec).await?;
    let host = cluster.url(Stack::Session, "")?;
    // Skew: two users who never pause, ten who browse like people.
    let mut heavy = plan(host.clone(), loadtests::Stack::Session, run_time);
    heavy.users = 2;
    heavy.hatch_rate = 2.0;
    heavy.think_time = None;
    heavy.credentials = Credentials::LoadUsers {
        offset: 0,
        count: 2,
    };
    let mut light = plan(host, loadtests::Stack::Session, run_time);
    light.users = 10;
    light.hatch_rate = 10.0;
    light.think_time = Some((Duration::from_millis(200), Duration::from_millis(400)));
    light.credentials = Credentials::LoadUsers {
        offset: 2,
        count: 10,
    };
    let killer = async {
        if !kill {
            return Ok::<_, LabError>(None);
        }
        tokio::time::sleep(run_time / 2 + Duration::from_millis(500)).await;
        // session-1: the first logins land there, so it holds at least one heavy user.
        let index = 0;
        let busiest = cluster.nodes(Stack::Session)[index].name.clone();
        cluster.kill_node(Stack::Session, index)?;
        Ok(Some(busiest))
    };
    let (heavy_report, light_report, killed) =
        tokio::join!(loadtests::run(&heavy), loadtests::run(&light), killer);
    let (heavy_report, light_report, killed) = (
        finished(heavy_report.map_err(err)?)?,
        finished(light_report.map_err(err)?)?,
        killed?,
    );
    // HAProxy's own view, as a cross-check of the users' one: the
    // HTTP responses each server returned (`hrsp_*`). Its `lbtot`
    // would not do: it counts load-balancing decisions, and a
    // request its sticky cookie routes is not one.
    let haproxy_responses: Vec<(String, u64)> = cluster
        .stats()?
        .into_iter()
        .filter(|s| s.backend == "session_nodes")
        .map(|s| (s.server, s.responses))
        .collect();
    cluster.shutdown();
    // Per node from the `x-node` header of every response the users got.
    let mut per_node: BTreeMap<String, u64> = BTreeMap::new();
    for report in [&heavy_report, &light_report] {
        for (node, count) in &report.per_node {
            *per_node.entry(node.clone()).or_default() += *count;
        }
    }
    for i in 1..=3 {
        per_node.entry(format!("session-{i}")).or_default();
    }
    Ok(StickyRun {
        trial,
        variant,
        per_node: per_node.into_iter().collect(),
        haproxy_responses,
        heavy: heavy_report,
        light: light_report,
        killed,
    })
}

impl Runnable for Stickiness {
    fn id(&self) -> &'static str {
        "c2"
    }

    fn title(&self) -> &'static str {
        "Sticky sessions: balance with skewed users, and a node's death"
    }

    fn claims(&self) -> &'static [&'static str] {
        &["C2"]
    }

    fn estimate(&self, quick: bool) -> Duration {
        Duration::from_secs(if quick { 20 } else { 160 })
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> Outcome<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let run_time = Duration::from_secs(if ctx.quick { 4 } else { 15 });
            let trials = trials(ctx);
            let runs: Vec<StickyRun> = schedule::run(
                ctx,
                &STICKY_VARIANTS,
                trials,
                |variant| format!("{}: 2 heavy + 10 light users", variant.0),
                async |&variant, trial| sticky_run(ctx, trial, variant, run_time).await,
            )
            .await?
            .into_iter()
            .map(|m| m.value)
            .collect();

            let mut rows = Vec::new();
            let mut series = Vec::new();
            // Per variant: label and the medians of max/mean, CV and re-logins.
            let mut measured = Vec::new();
            let mut per_trial_cvs = Vec::new();
            for (label, ..) in STICKY_VARIANTS {
                let of_variant: Vec<&StickyRun> =
                    runs.iter().filter(|r| r.variant == label).collect();
                let (ratios, cvs): (Vec<f64>, Vec<f64>) =
                    of_variant.iter().map(|r| r.imbalance()).unzip();
                let relogins: Vec<f64> = of_variant.iter().map(|r| r.relogins() as f64).collect();
                let killed: BTreeSet<&str> = of_variant
                    .iter()
                    .filter_map(|r| r.killed.as_deref())
                    .collect();
                rows.push(vec![
                    label.into(),
                    summed(
                        of_variant
                            .iter()
                            .flat_map(|r| r.per_node.iter().map(|(n, c)| (n.as_str(), *c))),
                    ),
                    summed(
                        of_variant.iter().flat_map(|r| {
                            r.haproxy_responses.iter().map(|(n, c)| (n.as_str(), *c))
                        }),
                    ),
                    cell(&ratios, 2, ""),
                    cell(&cvs, 2, ""),
                    cell(&relogins, 0, ""),
                    if killed.is_empty() {
                        "—".into()
                    } else {
                        killed.into_iter().collect::<Vec<_>>().join(", ")
                    },
                ]);
                // Ranked per trial, busiest first: with stickiness, *which*
                // node gets the heavy users changes from trial to trial, and
                // a median by node name would mix busy and idle trials.
                let ranked: Vec<Vec<f64>> = of_variant
                    .iter()
                    .map(|r| {
                        let mut counts: Vec<f64> =
                            r.per_node.iter().map(|(_, c)| *c as f64).collect();
                        counts.sort_by(|a, b| b.total_cmp(a));
                        counts
                    })
                    .collect();
                let ranks = ranked.iter().map(Vec::len).max().unwrap_or(0);
                series.push(Series {
                    name: label.into(),
                    points: (0..ranks)
                        .map(|rank| {
                            let counts: Vec<f64> =
                                ranked.iter().filter_map(|c| c.get(rank).copied()).collect();
                            point(rank_label(rank, ranks), &counts)
                        })
                        .collect(),
                });
                // The median of whole counts is one of them, so the cast is exact.
                measured.push((
                    label,
                    median(&ratios),
                    median(&cvs),
                    median(&relogins) as u64,
                ));
                per_trial_cvs.push(cvs);
            }
            let (rr, sticky, killed) = (measured[0], measured[1], measured[2]);
            let verdict = c2_verdict(&per_trial_cvs[1], &per_trial_cvs[0], killed.3);
            Ok(ExperimentResult {
                id: "c2".into(),
                title: self.title().into(),
                claims: vec!["C2".into()],
                question: "Do sticky sessions fix C1 at the price of uneven load, and what happens to a node's users when it dies?".into(),
                setup: format!(
                    "3 session nodes behind HAProxy. Skewed users, as real traffic is: 2 heavy users with no think time and \
                     10 light users pausing 200–400 ms, for {} s. Per-node request counts come from the x-node header of every response the users got; HAProxy's per-server response counters (hrsp_*, logins and requests that failed on a dead node included) are shown beside them as a cross-check. \
                     Round-robin with the shared store, against HAProxy's cookie stickiness with per-node memory sessions \
                     (what stickiness is usually for); in the last variant session-1, where the first users landed, is killed halfway. \
                     {trials} trial(s), each variant on a fresh cluster, the variants interleaved and their order rotating \
                     from trial to trial; the verdict uses the medians across trials.",
                    run_time.as_secs()
                ),
                verdicts: vec![ClaimVerdict {
                    headline: c2_headline(rr.2, sticky.2, killed.3),
                    by_design: None,
                    claim: "C2".into(),
                    verdict,
                    rule: format!(
                        "not measured when the sticky or round-robin variant did not run. Does not hold when, in some trial, \
                         the per-node coefficient of variation with stickiness is less than {CV_MARGIN:.2} above the \
                         highest round-robin CV of any trial. Otherwise holds when killing a sticky node forced its users \
                         to log in again (median across trials), and holds with a caveat when nobody had to."
                    ),
                    evidence: format!(
                        "medians of {trials} trial(s): {}",
                        measured
                            .iter()
                            .map(|(l, m, c, r)| format!("{l}: max/mean {m:.2}, CV {c:.2}, re-logins {r}"))
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                }],
                tables: vec![Table {
                    title: format!(
                        "Requests per node (from x-node) and what the users felt: {trials} trial(s), per-node counts summed \
                         over the trials, the rest median (min–max) across trials"
                    ),
                    columns: [
                        "balancing",
                        "requests per node (x-node, sum)",
                        "responses per server (HAProxy, sum)",
                        "max / mean",
                        "coefficient of variation",
                        "forced re-logins",
                        "node killed",
                    ]
                    .map(String::from)
                    .to_vec(),
                    rows,
                }],
                chart: Some(Chart {
                    title: format!("Requests per node, ranked busiest first in each trial (median, min–max over {trials} trial(s))"),
                    kind: ChartKind::Bars,
                    x_label: "node, by load".into(),
                    y_label: "requests".into(),
                    series,
                }),
                lesson: format!(
                    "Stickiness pins each user to a node, so a node's load is the sum of its users' habits: with two heavy \
                     users the busiest node took {:.2}x the mean (round-robin: {:.2}x; medians). And a user's session lives \
                     and dies with the node: {} forced re-logins (median) when one node died. Round-robin over a shared \
                     store had neither problem here: its busiest node took {:.2}x the mean, with {} re-logins.",
                    sticky.1, rr.1, killed.3, rr.1, rr.3
                ),
                summary: None,
                raw: json!(runs),
                seconds: started.elapsed().as_secs_f64(),
                error: None,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_headline_quotes_the_spread_and_the_cost_of_a_dead_node() {
        assert_eq!(
            c2_headline(0.004, 0.71, 6),
            "per-node CV 0.71 with stickiness vs 0.00 round-robin; 6 forced re-logins when the sticky node died"
        );
    }

    #[test]
    fn c2_rule() {
        assert_eq!(c2_verdict(&[0.9, 0.7], &[0.0, 0.01], 5), Verdict::Holds);
        assert_eq!(
            c2_verdict(&[0.9], &[0.0], 0),
            Verdict::HoldsWithCaveat("no user lost a session when the sticky node died".into())
        );
        assert!(matches!(
            c2_verdict(&[0.1], &[0.9], 5),
            Verdict::DoesNotHold(_)
        ));
        // Round-robin's CV is ~0 by construction: a sticky CV of 0.05 is
        // noise, not "uneven".
        assert!(
            matches!(c2_verdict(&[0.05, 0.3], &[0.0, 0.0], 5), Verdict::DoesNotHold(m) if m.contains("0.05"))
        );
        assert!(matches!(
            c2_verdict(&[0.109], &[0.01], 5),
            Verdict::DoesNotHold(_)
        ));
        assert_eq!(c2_verdict(&[0.111], &[0.01], 5), Verdict::Holds);
        assert!(matches!(
            c2_verdict(&[], &[0.0], 5),
            Verdict::NotMeasured(_)
        ));
    }

    #[test]
    fn nodes_are_named_by_rank() {
        let labels: Vec<String> = (0..4).map(|r| rank_label(r, 4)).collect();
        assert_eq!(
            labels,
            [
                "busiest node",
                "2nd busiest",
                "3rd busiest",
                "quietest node"
            ]
        );
        assert_eq!(ordinal(11), "11th");
        assert_eq!(ordinal(22), "22nd");
    }

    #[test]
    fn imbalance_is_max_over_mean_and_coefficient_of_variation() {
        assert_eq!(imbalance(&[10.0, 10.0, 10.0]), (1.0, 0.0));
        let (max_over_mean, cv) = imbalance(&[30.0, 0.0, 0.0]);
        assert!((max_over_mean - 3.0).abs() < 1e-9 && (cv - 2f64.sqrt()).abs() < 1e-9);
    }
}
