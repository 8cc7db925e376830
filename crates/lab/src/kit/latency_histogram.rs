//! Latency distributions that merge: what several load generators measured,
//! pooled as if one generator had seen every request.
//!
//! A percentile does not add up. Two generators whose p99s are 2 ms and
//! 40 ms do not make a run whose p99 is 21 ms: the pooled p99 depends on how
//! many requests each saw and on the shape of both tails, and it can be
//! anywhere between the two. What does add up is a histogram: the count of
//! requests at each latency. So each generator hands over its whole
//! distribution (wrk's, printed by [`wrk::script`](crate::wrk::script)), the
//! counts are summed bucket by bucket, and the quantiles are read from the
//! sum.
//!
//! The buckets are an HdrHistogram's with four significant figures: every
//! latency below 32.768 ms (nearly all the lab's) is kept to the microsecond
//! wrk recorded it with, and a longer one to within 0.01%, in at most a
//! megabyte per histogram (for wrk's 2 s range) whatever the run's length.
//! A quantile is the nearest rank, as
//! [`stats::nearest_rank`](super::stats::nearest_rank) defines it for every
//! other quantile the lab prints.

use hdrhistogram::Histogram;

use crate::LabError;

/// Significant figures the buckets keep (see the module doc).
const SIGNIFICANT_FIGURES: u8 = 4;

/// Request latencies in microseconds, with how many requests took each.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    counts: Histogram<u64>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram that grows to hold any latency recorded.
    pub fn new() -> Self {
        Self {
            counts: Histogram::new(SIGNIFICANT_FIGURES)
                .expect("four significant figures are within HdrHistogram's 0 to 5"),
        }
    }

    /// `count` more requests took `micros` µs.
    pub fn record(&mut self, micros: u64, count: u64) -> Result<(), LabError> {
        self.counts
            .record_n(micros, count)
            .map_err(|e| LabError::Io(format!("latency histogram: {micros} µs: {e}")))
    }

    /// Adds every count of `other` to this one.
    pub fn add(&mut self, other: &LatencyHistogram) -> Result<(), LabError> {
        self.counts
            .add(&other.counts)
            .map_err(|e| LabError::Io(format!("latency histogram: {e}")))
    }

    /// The histograms' counts summed: one histogram of every request.
    pub fn pooled<'a>(
        histograms: impl IntoIterator<Item = &'a LatencyHistogram>,
    ) -> Result<Self, LabError> {
        let mut pooled = Self::new();
        for histogram in histograms {
            pooled.add(histogram)?;
        }
        Ok(pooled)
    }

    /// How many latencies were recorded.
    pub fn count(&self) -> u64 {
        self.counts.len()
    }

    /// The smallest latency, in ms, with at least `q` (0–1) of all recorded
    /// at or below it (nearest rank); `None` when nothing was recorded.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        (!self.counts.is_empty()).then(|| self.counts.value_at_quantile(q) as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::stats::nearest_rank;

    fn histogram(samples: &[(u64, u64)]) -> LatencyHistogram {
        let mut h = LatencyHistogram::new();
        for &(micros, count) in samples {
            h.record(micros, count).unwrap();
        }
        h
    }

    fn expanded(samples: &[(u64, u64)]) -> Vec<f64> {
        samples
            .iter()
            .flat_map(|&(micros, count)| (0..count).map(move |_| micros as f64 / 1000.0))
            .collect()
    }

    #[test]
    fn merged_quantiles_are_the_pooled_samples_not_averaged_percentiles() {
        // A generator close to the nodes, fast and busy, and one across a
        // slower path that saw fewer requests and a long tail.
        let near = [(800, 9_000), (1_200, 900), (3_000, 100)];
        let far = [(2_500, 800), (9_000, 150), (30_000, 50)];
        let (a, b) = (histogram(&near), histogram(&far));
        let (a99, b99) = (a.quantile_ms(0.99).unwrap(), b.quantile_ms(0.99).unwrap());
        assert_eq!((a99, b99), (1.2, 30.0));

        let merged = LatencyHistogram::pooled([&a, &b]).unwrap();
        let mut pooled = expanded(&near);
        pooled.extend(expanded(&far));
        pooled.sort_by(f64::total_cmp);
        assert_eq!(merged.count(), pooled.len() as u64);
        for q in [0.5, 0.75, 0.9, 0.99] {
            assert_eq!(merged.quantile_ms(q), nearest_rank(&pooled, q), "q {q}");
        }
        let p99 = merged.quantile_ms(0.99).unwrap();
        assert_eq!(p99, 9.0);
        assert!(
            (p99 - (a99 + b99) / 2.0).abs() > 1.0,
            "{p99} vs {a99}, {b99}"
        );
    }

    #[test]
    fn latencies_under_32_ms_are_kept_to_the_microsecond() {
        let h = histogram(&[(32_767, 1)]);
        assert_eq!(h.quantile_ms(1.0), Some(32.767));
        let long = histogram(&[(1_999_999, 1)]).quantile_ms(1.0).unwrap();
        assert!((long - 1999.999).abs() / 1999.999 < 1e-4, "{long}");
    }

    #[test]
    fn an_empty_histogram_has_no_quantiles() {
        assert_eq!(LatencyHistogram::new().quantile_ms(0.5), None);
        assert_eq!(LatencyHistogram::new().count(), 0);
    }
}
