//! c1 — sessions kept in one node's memory, behind a round-robin balancer.
//!
//! Each node of the cluster keeps its own sessions, and HAProxy sends every
//! request to the next node: a node that did not see the login does not
//! know the session, answers 401, and the user logs in again. The same run
//! with the shared Redis store is the control.

use std::time::Duration;

use loadtests::LoadReport;
use serde::Serialize;
use session_server::StoreMode;

use crate::{
    experiment::{About, Experiment, Presentation, RunContext},
    kit::{
        behaviour::{cell, finished, plan, point, rejected, summed, trials, USERS},
        err, schedule,
        stats::median,
    },
    results::{Chart, ChartKind, ClaimVerdict, Series, Table, Verdict},
    LabError, Stack,
};

#[derive(Default)]
pub struct SessionAffinity;

const STORE_MODES: [(&str, StoreMode); 2] = [
    ("memory (per node)", StoreMode::Memory),
    ("Redis (shared)", StoreMode::Redis),
];

/// C1's rule, from the share of requests answered 401 with per-node memory
/// sessions and with the shared store.
pub fn c1_verdict(memory_rejected: f64, shared_rejected: f64) -> Verdict {
    if memory_rejected > 0.3 && shared_rejected < 0.01 {
        Verdict::Holds
    } else if memory_rejected > 0.3 {
        Verdict::HoldsWithCaveat(format!(
            "the shared store also rejected {:.1}% of requests",
            shared_rejected * 100.0
        ))
    } else {
        Verdict::DoesNotHold(format!(
            "memory sessions were rejected on only {:.1}% of requests",
            memory_rejected * 100.0
        ))
    }
}

/// The first screen's figure: the median share of requests rejected in each mode.
pub fn c1_headline(memory_rejected: f64, shared_rejected: f64) -> String {
    format!(
        "{:.1}% of requests rejected with per-node memory sessions, {:.1}% with the shared store",
        memory_rejected * 100.0,
        shared_rejected * 100.0
    )
}

/// What was run: every goose report, by trial and store mode.
#[derive(Serialize)]
pub struct Raw {
    run_s: u64,
    trials: usize,
    runs: Vec<Run>,
}

#[derive(Serialize)]
struct Run {
    trial: usize,
    mode: &'static str,
    report: LoadReport,
}

/// Per store mode, in the order of [`STORE_MODES`].
#[derive(Serialize)]
pub struct Summary {
    modes: Vec<Mode>,
}

#[derive(Serialize)]
struct Mode {
    label: &'static str,
    requests: u64,
    /// Share of requests answered 401 (0–1), per trial.
    rejected: Vec<f64>,
    relogins: u64,
    relogins_per_minute: Vec<f64>,
    /// "node: responses, …" summed over the trials.
    per_node: String,
}

impl Mode {
    fn rejected_median(&self) -> f64 {
        median(&self.rejected)
    }

    fn percent(&self) -> Vec<f64> {
        self.rejected.iter().map(|s| s * 100.0).collect()
    }
}

/// One c1 run: goose users on a fresh 3-node session cluster.
async fn affinity_run(
    ctx: &RunContext,
    mode: StoreMode,
    run_time: Duration,
) -> Result<LoadReport, LabError> {
    let mut spec = ctx.spec();
    spec.stacks = vec![Stack::Session];
    spec.nodes = 3;
    spec.seed_users = USERS;
    spec.session_store = mode;
    let cluster = ctx.cluster(spec).await?;
    let report = loadtests::run(&plan(&*cluster, Stack::Session, run_time)?)
    .await
    .map_err(err)?;
    cluster.shutdown();
    finished(report)
}

fn mode_figures(label: &'static str, runs: &[Run]) -> Mode {
    let reports: Vec<&LoadReport> = runs
        .iter()
        .filter(|r| r.mode == label)
        .map(|r| &r.report)
        .collect();
    Mode {
        label,
        requests: reports.iter().map(|r| r.requests).sum(),
        rejected: reports
            .iter()
            .map(|r| rejected(r) as f64 / r.requests.max(1) as f64)
            .collect(),
        relogins: reports.iter().map(|r| r.relogins).sum(),
        relogins_per_minute: reports
            .iter()
            .map(|r| r.relogins as f64 / USERS as f64 * 60.0 / r.duration_s.max(0.001))
            .collect(),
        per_node: summed(
            reports
                .iter()
                .flat_map(|r| r.per_node.iter().map(|(n, c)| (n.as_str(), *c))),
        ),
    }
}

impl Experiment for SessionAffinity {
    type Raw = Raw;
    type Summary = Summary;

    const ABOUT: About = About {
        id: "c1",
        title: "Per-node memory sessions behind a round-robin load balancer",
        claims: &["C1"],
        question: "Do sessions kept in one server's memory break behind a load balancer, forcing users to log in again?",
        seconds: (13, 105),
    };

    async fn measure(&self, ctx: &RunContext) -> Result<Raw, LabError> {
        let run_time = Duration::from_secs(if ctx.quick { 4 } else { 15 });
        let trials = trials(ctx);
        let runs = schedule::run(
            ctx,
            &STORE_MODES,
            trials,
            |(label, _)| {
                format!(
                    "{label}: {USERS} goose users for {} s through round-robin",
                    run_time.as_secs()
                )
            },
            async |&(label, mode), trial| {
                Ok(Run {
                    trial,
                    mode: label,
                    report: affinity_run(ctx, mode, run_time).await?,
                })
            },
        )
        .await?
        .into_iter()
        .map(|m| m.value)
        .collect();
        Ok(Raw {
            run_s: run_time.as_secs(),
            trials,
            runs,
        })
    }

    fn summarize(&self, raw: &Raw) -> Summary {
        Summary {
            modes: STORE_MODES
                .iter()
                .map(|(label, _)| mode_figures(label, &raw.runs))
                .collect(),
        }
    }

    fn judge(&self, summary: &Summary) -> Vec<ClaimVerdict> {
        let [memory, redis] = [&summary.modes[0], &summary.modes[1]];
        let (memory_rejected, shared_rejected) =
            (memory.rejected_median(), redis.rejected_median());
        vec![ClaimVerdict {
            headline: c1_headline(memory_rejected, shared_rejected),
            by_design: None,
            claim: "C1".into(),
            verdict: c1_verdict(memory_rejected, shared_rejected),
            rule: "holds when more than 30% of requests are rejected with per-node memory sessions and less than 1% with the shared store \
                   (medians across trials)."
                .into(),
            evidence: format!(
                "medians of {} trial(s): memory: {:.1}% rejected, {:.0} re-logins per user per minute; Redis: {:.1}% rejected",
                memory.rejected.len().max(redis.rejected.len()),
                memory_rejected * 100.0,
                median(&memory.relogins_per_minute),
                shared_rejected * 100.0
            ),
        }]
    }

    fn present(&self, raw: &Raw, summary: &Summary, _quick: bool) -> Presentation {
        let trials = raw.trials;
        let rows = summary
            .modes
            .iter()
            .map(|m| {
                vec![
                    m.label.into(),
                    m.requests.to_string(),
                    cell(&m.percent(), 1, "%"),
                    m.relogins.to_string(),
                    cell(&m.relogins_per_minute, 0, ""),
                    m.per_node.clone(),
                ]
            })
            .collect();
        let series = summary
            .modes
            .iter()
            .map(|m| Series {
                name: m.label.to_string(),
                points: vec![point("authenticated requests rejected (%)", &m.percent())],
            })
            .collect();
        let [memory, redis] = [&summary.modes[0], &summary.modes[1]];
        Presentation {
            setup: format!(
                "3 session nodes behind HAProxy round-robin, sessions either in each node's memory or in a shared Redis. \
                 {USERS} goose users log in once, then browse (/me, /orders, now and then /admin/stats) with 50–150 ms \
                 think time for {} s; a 401 sends the user back to the login, counted as a forced re-login. \
                 {trials} trial(s), each on fresh clusters, the two modes interleaved and their order alternating \
                 from trial to trial; the verdict uses the medians across trials.",
                raw.run_s
            ),
            tables: vec![Table {
                title: format!(
                    "What the users experienced: {trials} trial(s), rates as median (min–max) across trials, counts summed over the trials"
                ),
                columns: [
                    "session store",
                    "requests (sum)",
                    "rejected (401)",
                    "forced re-logins (sum)",
                    "re-logins per user per minute",
                    "responses per node (sum)",
                ]
                .map(String::from)
                .to_vec(),
                rows,
            }],
            chart: Some(Chart {
                title: format!("Share of authenticated requests rejected (median, min–max over {trials} trial(s))"),
                kind: ChartKind::Bars,
                x_label: "".into(),
                y_label: "% of requests answered 401".into(),
                series,
            }),
            lesson: format!(
                "Round-robin sends each request to the next node, and a node that did not see the login does not know the \
                 session: {:.0}% of requests bounced and every user logged in again about {:.0} times a minute (medians). \
                 With the sessions in a store every node shares, {:.1}% bounced (pinning users to a node is claim C2).",
                memory.rejected_median() * 100.0,
                median(&memory.relogins_per_minute),
                redis.rejected_median() * 100.0
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c1_rule() {
        assert_eq!(c1_verdict(0.6, 0.0), Verdict::Holds);
        assert!(matches!(c1_verdict(0.6, 0.05), Verdict::HoldsWithCaveat(_)));
        assert!(matches!(c1_verdict(0.1, 0.0), Verdict::DoesNotHold(_)));
        // Boundaries: more than 30% rejected, less than 1% with the store.
        assert!(matches!(c1_verdict(0.3, 0.0), Verdict::DoesNotHold(_)));
        assert_eq!(c1_verdict(0.31, 0.0099), Verdict::Holds);
        assert!(matches!(
            c1_verdict(0.31, 0.01),
            Verdict::HoldsWithCaveat(_)
        ));
    }

    #[test]
    fn the_headline_quotes_both_modes() {
        assert_eq!(
            c1_headline(0.399, 0.0),
            "39.9% of requests rejected with per-node memory sessions, 0.0% with the shared store"
        );
    }
}
