//! How a run tells the person waiting for it what it is doing.
//!
//! On a terminal that is indicatif's bar: the experiment, the time left and
//! the variant now running, redrawn in place. A bar draws nothing when the
//! output goes to a file or a pipe (CI logs, `| tee`, `nohup`), and a run of
//! 25 minutes that prints nothing until the end looks hung. So when stdout is
//! not a terminal the run prints one plain line when an experiment starts
//! and one when it finishes, with the elapsed time and what it found.

use std::{
    io::IsTerminal,
    time::{Duration, Instant},
};

use indicatif::{ProgressBar, ProgressStyle};

use crate::results::ExperimentResult;

/// The run's progress display: a bar on a terminal, lines elsewhere.
pub(crate) struct Progress {
    bar: ProgressBar,
    lines: bool,
    started: Instant,
    total: usize,
}

impl Progress {
    /// `estimate` is the sum of the experiments' rough wall times; `total`
    /// how many experiments the run has.
    pub(crate) fn new(estimate: Duration, total: usize) -> Self {
        let lines = !std::io::stdout().is_terminal();
        let bar = if lines {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::new(estimate.as_secs().max(1));
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:.bold} [{elapsed_precise} elapsed, ~{eta} left] {bar:30} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        };
        Self {
            bar,
            lines,
            started: Instant::now(),
            total,
        }
    }

    /// The bar experiments name their variants on (hidden in line mode:
    /// a line per variant would drown the two that matter).
    pub(crate) fn bar(&self) -> ProgressBar {
        self.bar.clone()
    }

    pub(crate) fn note(&self, text: &str) {
        if self.lines {
            println!("{}", stamp(self.started.elapsed(), text));
        } else {
            self.bar.println(text);
        }
    }

    /// The `index`-th experiment (from 0) starts.
    pub(crate) fn started(&self, index: usize, id: &str, title: &str, estimate: Duration) {
        self.bar.set_prefix(format!("{id} {title}"));
        if self.lines {
            println!(
                "{}",
                stamp(
                    self.started.elapsed(),
                    &started_line(index, self.total, id, title, estimate)
                )
            );
        }
    }

    /// An experiment finished; `done` is the sum of the estimates so far.
    pub(crate) fn finished(&self, result: &ExperimentResult, done: Duration) {
        self.bar.set_position(done.as_secs());
        if self.lines {
            println!("{}", stamp(self.started.elapsed(), &finished_line(result)));
        }
    }

    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// `[0:03:07] text`: the run's elapsed time before a line.
fn stamp(elapsed: Duration, text: &str) -> String {
    let s = elapsed.as_secs();
    format!("[{}:{:02}:{:02}] {text}", s / 3600, s / 60 % 60, s % 60)
}

fn started_line(index: usize, total: usize, id: &str, title: &str, estimate: Duration) -> String {
    format!(
        "{id} started ({} of {total}, about {} s): {title}",
        index + 1,
        estimate.as_secs()
    )
}

fn finished_line(result: &ExperimentResult) -> String {
    let found = result
        .verdicts
        .iter()
        .map(|v| format!("{} {}", v.claim, v.verdict.label()))
        .collect::<Vec<_>>()
        .join(", ");
    match &result.error {
        Some(error) => format!(
            "{} failed after {:.1} s: {error}",
            result.id, result.seconds
        ),
        None => format!("{} finished in {:.1} s: {found}", result.id, result.seconds),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{ClaimVerdict, Verdict};

    fn result(error: Option<&str>) -> ExperimentResult {
        let mut result = crate::results::tests::sample().experiments.remove(0);
        result.seconds = 22.84;
        result.verdicts = vec![ClaimVerdict {
            claim: "C12".into(),
            verdict: Verdict::Holds,
            rule: String::new(),
            evidence: String::new(),
            headline: String::new(),
            by_design: None,
        }];
        result.error = error.map(str::to_owned);
        result
    }

    #[test]
    fn a_line_says_which_experiment_of_how_many_and_what_it_found() {
        assert_eq!(
            stamp(
                Duration::from_secs(3727),
                &started_line(2, 14, "c3", "Store outage", Duration::from_secs(32))
            ),
            "[1:02:07] c3 started (3 of 14, about 32 s): Store outage"
        );
        assert_eq!(
            finished_line(&result(None)),
            "c12 finished in 22.8 s: C12 holds"
        );
        assert_eq!(
            finished_line(&result(Some("redis-server did not start"))),
            "c12 failed after 22.8 s: redis-server did not start"
        );
    }
}
