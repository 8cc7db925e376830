//! The trial scheduler every experiment runs its measurements through.
//!
//! Two variants measured one after the other on a shared machine are not
//! compared under the same conditions: a background job, a warm cache or a
//! CPU that throttles lands on whichever ran second. So variants are
//! *interleaved* (trial 1 runs A B C, trial 2 B C A, trial 3 C A B: each
//! variant takes each position once), and the experiment reports the median
//! over trials with the spread. Quick mode runs one trial, full mode the
//! experiment's own count.
//!
//! The scheduler owns what every experiment would otherwise repeat: the
//! order, the progress line, and Ctrl-C (goose owns SIGINT once it has run,
//! and records it; a measurement cut short never counts as a trial, so the
//! experiment ends as interrupted). What one measurement does, including
//! whether it starts a fresh cluster, is the experiment's business.
//!
//! Every figure is read back one way: by the index of its variant, with
//! [`figure`] (or [`of_variant`] for whole measurements). A variant measured
//! in parts (c5's three probes on each cluster, c4's two stacks at each
//! store delay) is flattened by [`flatten`], after which part `p` of variant
//! `v` is variant [`part`]`(v, p, parts)` like any other.

use serde::Serialize;

use crate::experiment::RunContext;
use crate::LabError;

/// How many trials an experiment runs in each mode.
#[derive(Debug, Clone, Copy)]
pub struct Trials {
    pub quick: usize,
    pub full: usize,
}

impl Trials {
    pub const fn new(quick: usize, full: usize) -> Self {
        Self { quick, full }
    }

    pub fn count(self, quick: bool) -> usize {
        if quick {
            self.quick
        } else {
            self.full
        }
    }
}

/// One measurement of one variant in one trial.
#[derive(Debug, Clone, Serialize)]
pub struct Measured<M> {
    pub trial: usize,
    /// Index into the variants the scheduler was given.
    pub variant: usize,
    pub value: M,
}

/// The variant indices of `trial`, in the order they run: rotated by one
/// per trial.
pub fn order(variants: usize, trial: usize) -> Vec<usize> {
    (0..variants)
        .map(|position| (position + trial) % variants.max(1))
        .collect()
}

/// Runs `measure` for every variant in every trial, interleaved.
///
/// `name` labels a variant in the progress line. The measurements come back
/// in the order they ran; read them with [`of_variant`].
pub async fn run<V, M>(
    ctx: &RunContext,
    variants: &[V],
    trials: usize,
    name: impl Fn(&V) -> String,
    mut measure: impl AsyncFnMut(&V, usize) -> Result<M, LabError>,
) -> Result<Vec<Measured<M>>, LabError> {
    let mut measured = Vec::with_capacity(variants.len() * trials);
    for trial in 0..trials {
        for index in order(variants.len(), trial) {
            if loadtests::interrupt_requested() {
                return Err(LabError::Interrupted);
            }
            let variant = &variants[index];
            ctx.variant(format!("trial {}/{trials}: {}", trial + 1, name(variant)));
            let value = measure(variant, trial).await?;
            // A Ctrl-C during the measurement cut it short: not a trial.
            if loadtests::interrupt_requested() {
                return Err(LabError::Interrupted);
            }
            measured.push(Measured {
                trial,
                variant: index,
                value,
            });
        }
    }
    Ok(measured)
}

/// The measurements of variant `index`, in trial order.
pub fn of_variant<M>(measured: &[Measured<M>], index: usize) -> Vec<&M> {
    let mut of: Vec<&Measured<M>> = measured.iter().filter(|m| m.variant == index).collect();
    of.sort_by_key(|m| m.trial);
    of.into_iter().map(|m| &m.value).collect()
}

/// A figure of variant `index` over its trials.
pub fn figure<M>(measured: &[Measured<M>], index: usize, f: impl Fn(&M) -> f64) -> Vec<f64> {
    of_variant(measured, index).into_iter().map(f).collect()
}

/// The index part `part` of variant `variant` reads back under once the
/// measurements are [`flatten`]ed, each variant having `parts` parts.
pub const fn part(variant: usize, part: usize, parts: usize) -> usize {
    variant * parts + part
}

/// Measurements whose value is one variant's parts, each as `(part index,
/// value)` in the order they ran, as separate measurements of the same
/// trial: part `p` of variant `v` becomes variant [`part`]`(v, p, parts)`.
pub fn flatten<M>(measured: Vec<Measured<Vec<(usize, M)>>>, parts: usize) -> Vec<Measured<M>> {
    measured
        .into_iter()
        .flat_map(|m| {
            let (trial, variant) = (m.trial, m.variant);
            m.value.into_iter().map(move |(index, value)| Measured {
                trial,
                variant: part(variant, index, parts),
                value,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_takes_every_position_once() {
        assert_eq!(order(3, 0), [0, 1, 2]);
        assert_eq!(order(3, 1), [1, 2, 0]);
        assert_eq!(order(3, 2), [2, 0, 1]);
        assert_eq!(order(3, 3), [0, 1, 2]);
        assert_eq!(order(1, 5), [0]);
        assert!(order(0, 2).is_empty());
    }

    #[test]
    fn measurements_are_read_back_per_variant_in_trial_order() {
        let measured: Vec<Measured<f64>> = [(0, 0, 1.0), (0, 1, 10.0), (1, 1, 20.0), (1, 0, 2.0)]
            .into_iter()
            .map(|(trial, variant, value)| Measured {
                trial,
                variant,
                value,
            })
            .collect();
        assert_eq!(figure(&measured, 0, |v| *v), [1.0, 2.0]);
        assert_eq!(figure(&measured, 1, |v| *v), [10.0, 20.0]);
    }

    #[test]
    fn parts_read_back_as_variants_of_their_own() {
        // Two variants of two parts each, the parts' order rotating per trial.
        let measured: Vec<Measured<Vec<(usize, f64)>>> = [
            (0, 0, vec![(0, 1.0), (1, 10.0)]),
            (0, 1, vec![(0, 2.0), (1, 20.0)]),
            (1, 1, vec![(1, 21.0), (0, 3.0)]),
            (1, 0, vec![(1, 11.0), (0, 4.0)]),
        ]
        .into_iter()
        .map(|(trial, variant, value)| Measured {
            trial,
            variant,
            value,
        })
        .collect();
        let flat = flatten(measured, 2);
        assert_eq!(flat.len(), 8);
        assert_eq!(figure(&flat, part(0, 0, 2), |v| *v), [1.0, 4.0]);
        assert_eq!(figure(&flat, part(0, 1, 2), |v| *v), [10.0, 11.0]);
        assert_eq!(figure(&flat, part(1, 0, 2), |v| *v), [2.0, 3.0]);
        assert_eq!(figure(&flat, part(1, 1, 2), |v| *v), [20.0, 21.0]);
    }
}
