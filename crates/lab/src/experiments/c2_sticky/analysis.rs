//! What c2's runs mean: how evenly each balancing spread the requests over
//! the nodes (max/mean and the coefficient of variation of the per-node
//! counts, per trial), what a dead sticky node cost its users, and C2's rule.

use std::collections::BTreeSet;

use serde::Serialize;

use super::measure::{StickyRun, STICKY_VARIANTS};
use crate::{
    kit::{behaviour::summed, stats::median},
    results::{ClaimVerdict, Verdict},
    summaries::Spread,
};

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

/// Per variant, in the order of [`STICKY_VARIANTS`] (the verdict reads
/// them by position).
#[derive(Serialize)]
pub struct Summary {
    pub trials: usize,
    pub variants: Vec<Variant>,
}

/// One variant over its trials.
#[derive(Serialize)]
pub struct Variant {
    pub label: &'static str,
    /// "node: requests, …" from x-node, summed over the trials.
    pub per_node: String,
    /// "server: responses, …" from HAProxy, summed over the trials.
    pub haproxy_responses: String,
    /// Per trial: max/mean, coefficient of variation, forced re-logins.
    pub ratios: Vec<f64>,
    pub cvs: Vec<f64>,
    pub relogins: Vec<f64>,
    /// The nodes killed in any trial, by name.
    pub killed: BTreeSet<String>,
    /// Per rank (busiest first), each trial's count for the node of that
    /// rank in that trial.
    pub by_rank: Vec<Vec<f64>>,
}

impl Variant {
    pub fn ratio(&self) -> f64 {
        median(&self.ratios)
    }

    pub fn cv(&self) -> f64 {
        median(&self.cvs)
    }

    /// The median of whole counts is one of them, so the cast is exact.
    pub fn relogins_median(&self) -> u64 {
        median(&self.relogins) as u64
    }
}

fn variant(label: &'static str, runs: &[StickyRun]) -> Variant {
    let of_variant: Vec<&StickyRun> = runs.iter().filter(|r| r.variant == label).collect();
    let (ratios, cvs): (Vec<f64>, Vec<f64>) = of_variant.iter().map(|r| r.imbalance()).unzip();
    // Ranked per trial, busiest first: with stickiness, *which* node gets
    // the heavy users changes from trial to trial, and a median by node
    // name would mix busy and idle trials.
    let ranked: Vec<Vec<f64>> = of_variant
        .iter()
        .map(|r| {
            let mut counts: Vec<f64> = r.per_node.iter().map(|(_, c)| *c as f64).collect();
            counts.sort_by(|a, b| b.total_cmp(a));
            counts
        })
        .collect();
    let ranks = ranked.iter().map(Vec::len).max().unwrap_or(0);
    Variant {
        label,
        per_node: summed(
            of_variant
                .iter()
                .flat_map(|r| r.per_node.iter().map(|(n, c)| (n.as_str(), *c))),
        ),
        haproxy_responses: summed(
            of_variant
                .iter()
                .flat_map(|r| r.haproxy_responses.iter().map(|(n, c)| (n.as_str(), *c))),
        ),
        ratios,
        cvs,
        relogins: of_variant.iter().map(|r| r.relogins() as f64).collect(),
        killed: of_variant.iter().filter_map(|r| r.killed.clone()).collect(),
        by_rank: (0..ranks)
            .map(|rank| ranked.iter().filter_map(|c| c.get(rank).copied()).collect())
            .collect(),
    }
}

pub fn summarize(trials: usize, runs: &[StickyRun]) -> Summary {
    Summary {
        trials,
        variants: STICKY_VARIANTS
            .iter()
            .map(|(label, ..)| variant(label, runs))
            .collect(),
    }
}

/// C2's verdict: round-robin, sticky and sticky with a dead node are
/// [`STICKY_VARIANTS`] 0, 1 and 2.
pub fn verdict(s: &Summary) -> ClaimVerdict {
    let (rr, sticky, killed) = (&s.variants[0], &s.variants[1], &s.variants[2]);
    ClaimVerdict {
        headline: c2_headline(rr.cv(), sticky.cv(), killed.relogins_median()),
        by_design: None,
        claim: "C2".into(),
        verdict: c2_verdict(&sticky.cvs, &rr.cvs, killed.relogins_median()),
        rule: format!(
            "not measured when the sticky or round-robin variant did not run. Does not hold when, in some trial, \
             the per-node coefficient of variation with stickiness is less than {CV_MARGIN:.2} above the \
             highest round-robin CV of any trial. Otherwise holds when killing a sticky node forced its users \
             to log in again (median across trials), and holds with a caveat when nobody had to."
        ),
        evidence: format!(
            "medians of {} trial(s): {}",
            s.trials,
            s.variants
                .iter()
                .map(|v| format!(
                    "{}: max/mean {:.2}, CV {:.2}, re-logins {}",
                    v.label,
                    v.ratio(),
                    v.cv(),
                    v.relogins_median()
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ),
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
    fn imbalance_is_max_over_mean_and_coefficient_of_variation() {
        assert_eq!(imbalance(&[10.0, 10.0, 10.0]), (1.0, 0.0));
        let (max_over_mean, cv) = imbalance(&[30.0, 0.0, 0.0]);
        assert!((max_over_mean - 3.0).abs() < 1e-9 && (cv - 2f64.sqrt()).abs() < 1e-9);
    }
}
