//! The statistics every experiment reports with: a figure over trials as its
//! median and range ([`Spread`]), how two figures of the same trials compare
//! ([`Comparison`]), and quantiles of samples ([`nearest_rank`]).
//!
//! Trials are few (1 to 15), so the median is the middle value, not an
//! interpolation, and the spread is the whole range: with five numbers a
//! percentile band would claim more than the data holds. Ratios are taken
//! within a trial, never across trials, because a loopback round trip
//! wanders by a factor of two between runs on the same machine.

use serde::{Deserialize, Serialize};

/// A figure over trials: the median and the range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(values: &[f64]) -> Self {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        Self {
            median: sorted.get(sorted.len() / 2).copied().unwrap_or(0.0),
            min: sorted.first().copied().unwrap_or(0.0),
            max: sorted.last().copied().unwrap_or(0.0),
        }
    }

    /// Every trial of `self` below every trial of `other`.
    pub fn below(&self, other: &Spread) -> bool {
        self.max < other.min
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.min == self.max {
            write!(f, "{:.0}", self.median)
        } else {
            write!(f, "{:.0} ({:.0}–{:.0})", self.median, self.min, self.max)
        }
    }
}

/// The middle value (the upper one of an even count); 0 for no values.
pub fn median(values: &[f64]) -> f64 {
    Spread::of(values).median
}

/// (min, max) of the values: the spread the report shows beside a median.
pub fn spread(values: &[f64]) -> (f64, f64) {
    let s = Spread::of(values);
    (s.min, s.max)
}

/// (median, min, max): a figure across trials as the report shows it.
pub fn median_spread(values: &[f64]) -> (f64, f64, f64) {
    let s = Spread::of(values);
    (s.median, s.min, s.max)
}

/// How an algorithm compares with the lookup in one dimension, over trials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versus {
    /// Ratio below 1 in every trial.
    Faster,
    /// Ratio above 1 in every trial.
    Slower,
    /// On both sides of 1 (or at 1) across trials.
    WithinNoise,
}

impl Versus {
    pub fn label(self) -> &'static str {
        match self {
            Versus::Faster => "faster in every trial",
            Versus::Slower => "slower in every trial",
            Versus::WithinNoise => "within this machine's noise",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    pub versus: Versus,
    /// Verification ÷ lookup, over trials.
    pub ratio: Spread,
}

impl Comparison {
    /// Classifies per-trial ratios; `None` without any.
    pub fn of(ratios: &[f64]) -> Option<Self> {
        if ratios.is_empty() {
            return None;
        }
        let versus = if ratios.iter().all(|r| *r < 1.0) {
            Versus::Faster
        } else if ratios.iter().all(|r| *r > 1.0) {
            Versus::Slower
        } else {
            Versus::WithinNoise
        };
        Some(Self {
            versus,
            ratio: Spread::of(ratios),
        })
    }
}

/// Verification ÷ lookup for each trial (the two slices in trial order);
/// a trial without a positive figure on both sides gives no ratio.
pub fn per_trial_ratios(verify: &[f64], lookup: &[f64]) -> Vec<f64> {
    verify
        .iter()
        .zip(lookup)
        .filter(|(v, l)| v.is_finite() && l.is_finite() && **v > 0.0 && **l > 0.0)
        .map(|(v, l)| v / l)
        .collect()
}

/// The smallest of `sorted` with at least `q` (0–1) of all values at or
/// below it; `None` for no values. Nearest rank, one definition for every
/// quantile the lab prints: a p99 is always a latency that was observed,
/// never an interpolation between two.
pub fn nearest_rank(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(nearest_rank(&values, 0.5), Some(50.0));
        assert_eq!(nearest_rank(&values, 0.99), Some(99.0));
        assert_eq!(nearest_rank(&values, 1.0), Some(100.0));
        assert_eq!(nearest_rank(&values, 0.0), Some(1.0));
        assert_eq!(nearest_rank(&[7.0], 0.99), Some(7.0));
        assert_eq!(nearest_rank(&[], 0.5), None);
    }
}
