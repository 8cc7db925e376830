//! The flood's figures as text: the set-up in one paragraph, then per stack
//! a table with a row per variant. Every figure is a median over the
//! trials, with the spread beside it where one run could mislead; nothing
//! here measures.

use super::record::{FloodCounts, FloodReport, Run, Variant};
use crate::{process::Stack, summaries::Spread};

impl FloodReport {
    fn runs(&self, stack: Stack, variant: Variant) -> impl Iterator<Item = &Run> {
        self.runs
            .iter()
            .filter(move |r| r.stack == stack && r.variant == variant)
    }

    fn rps(&self, stack: Stack, variant: Variant, trial: usize) -> Option<f64> {
        self.runs(stack, variant)
            .find(|r| r.trial == trial)
            .and_then(|r| r.rps)
    }

    /// The figures as a Markdown table per stack, with the set-up above them.
    pub fn render(&self) -> String {
        let mut out = self.setup();
        for stack in &self.spec.stacks {
            out.push_str(&self.stack_table(*stack));
        }
        out.push_str(
            "\nCPU in cores (of the machine's), medians per run; \"other CPU\": processes outside the \
             measurement (above ~0.2 the run shared the machine with something else). Flood columns \
             are medians per run; \"not sent\": attempts the generator skipped because its \
             outstanding limit was reached (the node was slower than the offered rate).\n",
        );
        out
    }

    /// The paragraph that says what was run, so the table can be judged.
    fn setup(&self) -> String {
        let spec = &self.spec;
        format!(
            "login flood: {} trials x {} variants per stack, {} s per run; /me: wrk -t{} -c{}; \
             flood: {} wrong-password attempts/s offered, at most {} outstanding; \
             nodes: {} workers, users seeded at the default Argon2id cost; throttle on = defaults \
             (concurrent verifications: {})\n",
            spec.trials,
            Variant::ALL.len(),
            spec.duration.as_secs(),
            spec.threads,
            spec.connections,
            spec.rate,
            spec.in_flight,
            spec.workers,
            self.concurrency
                .map_or("unbounded".to_owned(), |n| n.to_string()),
        )
    }

    /// One stack's table, then the runs left out of it and why.
    fn stack_table(&self, stack: Stack) -> String {
        let mut out = format!(
            "\n{stack} stack\n\n\
             | variant | /me req/s, median (min–max) | / baseline (per trial) | node CPU, cores | generator CPU | other CPU | \
             flood sent | 401 | 429 | 503 login_busy | 503 store_unavailable | other + errors | not sent |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        );
        let baseline: Vec<f64> = self
            .runs(stack, Variant::Baseline)
            .filter_map(|r| r.rps)
            .collect();
        let baseline = Spread::of(&baseline);
        for variant in Variant::ALL {
            out.push_str(&self.variant_row(stack, variant, &baseline));
        }
        let invalid: Vec<&str> = self
            .runs
            .iter()
            .filter(|r| r.stack == stack)
            .filter_map(|r| r.invalid.as_deref())
            .collect();
        for reason in invalid {
            out.push_str(&format!("\ninvalid run left out: {reason}\n"));
        }
        out
    }

    /// One variant's row. The ratio to the baseline is the ratio of the
    /// medians, with the spread of the per-trial ratios beside it: trials
    /// ran at different moments, so only runs of the same trial compare.
    fn variant_row(&self, stack: Stack, variant: Variant, baseline: &Spread) -> String {
        let spec = &self.spec;
        let runs: Vec<&Run> = self.runs(stack, variant).collect();
        let rps: Vec<f64> = runs.iter().filter_map(|r| r.rps).collect();
        let ratios: Vec<f64> = (0..spec.trials)
            .filter_map(|t| {
                Some(self.rps(stack, variant, t)? / self.rps(stack, Variant::Baseline, t)?)
            })
            .collect();
        let cores: Vec<f64> = runs.iter().map(|r| r.node_cores).collect();
        let median = |f: fn(&FloodCounts) -> u64| {
            let values: Vec<f64> = runs.iter().map(|r| f(&r.flood) as f64).collect();
            format!("{:.0}", Spread::of(&values).median)
        };
        let throughput = if rps.is_empty() {
            "invalid".to_owned()
        } else {
            let s = Spread::of(&rps);
            format!("{:.0} ({:.0}–{:.0})", s.median, s.min, s.max)
        };
        let ratio = if ratios.is_empty() || baseline.median <= 0.0 {
            "—".to_owned()
        } else {
            let r = Spread::of(&ratios);
            format!(
                "{:.2}x ({:.2}–{:.2})",
                Spread::of(&rps).median / baseline.median,
                r.min,
                r.max
            )
        };
        let cores = Spread::of(&cores);
        let generator: Vec<f64> = runs.iter().map(|r| r.generator_cores).collect();
        let generator = format!("{:.2}", Spread::of(&generator).median);
        let other: Vec<f64> = runs.iter().map(|r| r.other_cores).collect();
        let other = Spread::of(&other);
        let other = format!("{:.2} (max {:.2})", other.median, other.max);
        if variant.flood().is_some() {
            format!(
                "| {} | {throughput} | {ratio} | {:.2} ({:.2}–{:.2}) | {generator} | {other} | {} | {} | {} | {} | {} | {} | {} |\n",
                variant.label(),
                cores.median,
                cores.min,
                cores.max,
                median(|c| c.sent),
                median(|c| c.unauthorized),
                median(|c| c.too_many),
                median(|c| c.busy),
                median(|c| c.store),
                median(|c| c.other + c.errors + c.ok),
                median(|c| c.not_sent),
            )
        } else {
            format!(
                "| {} | {throughput} | {ratio} | {:.2} ({:.2}–{:.2}) | {generator} | {other} | — | — | — | — | — | — | — |\n",
                variant.label(),
                cores.median,
                cores.min,
                cores.max,
            )
        }
    }
}
