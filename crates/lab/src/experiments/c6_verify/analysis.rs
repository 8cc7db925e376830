//! What c6's figures say: each algorithm's per-trial ratio to the lookup,
//! in two dimensions, and the rule that turns the ratios into a verdict.
//!
//! A ratio is taken within a trial, never across trials (see the module
//! docs of [`super`]): each algorithm becomes a [`Judged`], which says per
//! dimension whether it was faster, slower or within noise in every trial.
//! [`c6_verdict`] and [`c6_headline`] read nothing else.

use serde::{Serialize, Serializer};

use super::connection_cost::{Connection, ConnectionCosts};
use super::measure::Raw;
use crate::kit::stats::{per_trial_ratios, Comparison, Versus};
use crate::{results::Verdict, summaries::Spread};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Waiting,
    Cpu,
}

impl Dimension {
    pub const BOTH: [Dimension; 2] = [Dimension::Waiting, Dimension::Cpu];

    pub fn label(self) -> &'static str {
        match self {
            Dimension::Waiting => "waiting time",
            Dimension::Cpu => "CPU",
        }
    }
}

/// One algorithm against the lookup, in both dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Judged<'a> {
    pub alg: &'a str,
    /// Isolated wall time.
    #[serde(serialize_with = "comparison")]
    pub waiting: Option<Comparison>,
    /// CPU per operation under load.
    #[serde(serialize_with = "comparison")]
    pub cpu: Option<Comparison>,
}

impl Judged<'_> {
    pub fn get(&self, dimension: Dimension) -> Option<Comparison> {
        match dimension {
            Dimension::Waiting => self.waiting,
            Dimension::Cpu => self.cpu,
        }
    }

    fn faster_in(&self, dimension: Dimension) -> bool {
        self.get(dimension)
            .is_some_and(|c| c.versus == Versus::Faster)
    }
}

/// `0.49x (0.36–1.48x)`: the median ratio over trials and its range.
pub fn times(ratio: &Spread) -> String {
    if (ratio.max - ratio.min).abs() < 0.005 {
        format!("{:.2}x", ratio.median)
    } else {
        format!("{:.2}x ({:.2}–{:.2}x)", ratio.median, ratio.min, ratio.max)
    }
}

/// `ratio 0.49x, 0.36–1.48x across trials`: [`times`] inside a sentence.
fn ratio_note(ratio: &Spread) -> String {
    if (ratio.max - ratio.min).abs() < 0.005 {
        format!("ratio {:.2}x in every trial", ratio.median)
    } else {
        format!(
            "ratio {:.2}x, {:.2}–{:.2}x across trials",
            ratio.median, ratio.min, ratio.max
        )
    }
}

/// `35.7 (33.9–38.2)` µs.
pub fn micros(spread: &Spread) -> String {
    if (spread.max - spread.min).abs() < 0.05 {
        format!("{:.1}", spread.median)
    } else {
        format!("{:.1} ({:.1}–{:.1})", spread.median, spread.min, spread.max)
    }
}

/// What every algorithm did in one dimension, for the verdict's note.
fn dimension_note(judged: &[Judged], dimension: Dimension) -> String {
    if judged.iter().all(|j| j.faster_in(dimension)) {
        return format!(
            "{}: every algorithm cost less than one lookup in every trial",
            dimension.label()
        );
    }
    let parts: Vec<String> = judged
        .iter()
        .filter_map(|j| match j.get(dimension) {
            Some(Comparison {
                versus: Versus::Faster,
                ..
            }) => None,
            Some(Comparison {
                versus: Versus::Slower,
                ratio,
            }) => Some(format!(
                "{} costs more than one lookup in every trial ({})",
                j.alg,
                ratio_note(&ratio)
            )),
            Some(Comparison {
                versus: Versus::WithinNoise,
                ratio,
            }) => Some(format!(
                "within this machine's noise, {} costs about one loopback lookup ({})",
                j.alg,
                ratio_note(&ratio)
            )),
            None => Some(format!("{} not measured", j.alg)),
        })
        .collect();
    format!("{}: {}", dimension.label(), parts.join("; "))
}

/// The rule [`c6_verdict`] applies, as the report states it.
pub const RULE: &str = "Within each trial, every algorithm's verification and one GETEX lookup are measured back to \
    back (the order rotating per trial), and the verification's figure is divided by the lookup's from the same \
    trial, in two dimensions: waiting time (isolated wall time per operation) and CPU (CPU time per operation \
    under load, redis-server's included for lookups). In a dimension, an algorithm is faster when its ratio is \
    below 1 in every trial, slower when it is above 1 in every trial, and otherwise within this machine's noise. \
    Holds when every algorithm is faster in both dimensions; does not hold when no algorithm is faster in either; \
    otherwise holds with a caveat naming, per dimension, each algorithm that is slower, within noise or not \
    measured. Not measured when no trial gave a ratio.";

/// C6's rule (see [`RULE`]) over each algorithm's comparisons, in the order
/// the report lists the algorithms.
pub fn c6_verdict(judged: &[Judged]) -> Verdict {
    let comparisons = || judged.iter().flat_map(|j| Dimension::BOTH.map(|d| (j, d)));
    if comparisons().all(|(j, d)| j.get(d).is_none()) {
        return Verdict::NotMeasured(
            "no trial gave both a verification and a lookup figure".into(),
        );
    }
    let notes = Dimension::BOTH
        .map(|d| dimension_note(judged, d))
        .join(". ");
    if comparisons().all(|(j, d)| j.faster_in(d)) {
        Verdict::Holds
    } else if !comparisons().any(|(j, d)| j.faster_in(d)) {
        Verdict::DoesNotHold(format!(
            "no algorithm cost less than one loopback lookup in every trial, in waiting time or in CPU. {notes}"
        ))
    } else {
        let both: Vec<&str> = judged
            .iter()
            .filter(|j| Dimension::BOTH.iter().all(|d| j.faster_in(*d)))
            .map(|j| j.alg)
            .collect();
        let lead = if both.is_empty() {
            "no algorithm cost less than one loopback lookup in every trial in both waiting time and CPU"
                .to_owned()
        } else {
            format!(
                "only {} cost less than one loopback lookup in every trial in both waiting time and CPU",
                both.join(", ")
            )
        };
        Verdict::HoldsWithCaveat(format!("{lead}. {notes}"))
    }
}

/// The first screen's figure: the spread of the algorithms' median ratios
/// to the lookup, CPU first (where they part ways), then waiting time.
pub fn c6_headline(judged: &[Judged]) -> String {
    let medians = |dimension: Dimension| {
        let mut ratios: Vec<(&str, f64)> = judged
            .iter()
            .filter_map(|j| j.get(dimension).map(|c| (j.alg, c.ratio.median)))
            .collect();
        ratios.sort_by(|a, b| a.1.total_cmp(&b.1));
        ratios
    };
    let (cpu, wait) = (medians(Dimension::Cpu), medians(Dimension::Waiting));
    let cpu = match (cpu.first(), cpu.last()) {
        (Some(low), Some(high)) if low.0 != high.0 => format!(
            "a check's CPU {:.2}x ({}) to {:.2}x ({}) a lookup's",
            low.1, low.0, high.1, high.0
        ),
        (Some(only), _) => format!("a check's CPU {:.2}x ({}) a lookup's", only.1, only.0),
        _ => String::new(),
    };
    let wait = match (wait.first(), wait.last()) {
        (Some(low), Some(high)) => format!("its waiting time {:.2}x to {:.2}x", low.1, high.1),
        _ => String::new(),
    };
    [cpu, wait]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// What the later stages read of a run: each algorithm judged against the
/// lookup, the lookup's own figures, and the balancer's connection costs.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// In the order the run measured the algorithms.
    pub judged: Vec<Judged<'static>>,
    /// The lookup's isolated wall time per operation (µs), over trials.
    pub lookup_wait: Spread,
    /// The lookup's CPU per operation under load (µs); `None` when every
    /// trial read zero (no /proc).
    pub lookup_cpu: Option<Spread>,
    /// HAProxy's CPU per operation, when the connection costs were measured.
    pub balancer: Option<Balancer>,
}

/// HAProxy's median CPU per operation (µs), for the verdict's evidence.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Balancer {
    pub full_handshake: f64,
    pub resumed: f64,
    pub kept_alive_http1: f64,
}

impl Balancer {
    fn of(costs: &ConnectionCosts) -> Self {
        Self {
            full_handshake: costs.spread(Connection::FullHandshake).median,
            resumed: costs.spread(Connection::Resumed).median,
            kept_alive_http1: costs.spread(Connection::KeptAliveHttp1).median,
        }
    }
}

/// Each algorithm's per-trial figures divided by the lookup's of the same
/// trial, and the lookup's own spread.
pub fn summarize(raw: &Raw) -> Summary {
    let lookup = &raw.lookup;
    let judged = raw
        .verifications
        .iter()
        .filter_map(|v| {
            v.alg.map(|alg| Judged {
                alg,
                waiting: Comparison::of(&per_trial_ratios(&v.isolated_us, &lookup.isolated_us)),
                cpu: Comparison::of(&per_trial_ratios(&v.loaded_cpu_us, &lookup.loaded_cpu_us)),
            })
        })
        .collect();
    Summary {
        judged,
        lookup_wait: Spread::of(&lookup.isolated_us),
        lookup_cpu: lookup
            .loaded_cpu_us
            .iter()
            .any(|v| *v > 0.0)
            .then(|| Spread::of(&lookup.loaded_cpu_us)),
        balancer: raw.connections.as_ref().map(Balancer::of),
    }
}

/// The verdict's evidence: the lookup's figures, each algorithm's ratios,
/// and HAProxy's connection costs when they were measured.
pub fn evidence(summary: &Summary) -> String {
    let mut evidence = vec![format!(
        "lookup waiting {} µs, CPU {}",
        micros(&summary.lookup_wait),
        summary
            .lookup_cpu
            .as_ref()
            .map_or("not measured".into(), |c| format!("{} µs", micros(c)))
    )];
    for j in &summary.judged {
        let said = |c: Option<Comparison>| {
            c.map_or("not measured".into(), |c| {
                format!("{} {}", times(&c.ratio), c.versus.label())
            })
        };
        evidence.push(format!(
            "{} waiting {}, CPU {}",
            j.alg,
            said(j.waiting),
            said(j.cpu)
        ));
    }
    if let Some(costs) = &summary.balancer {
        evidence.push(format!(
            "HAProxy CPU per new TLS connection {:.0} µs (full handshake), {:.0} µs (resumed), per \
             kept-alive request {:.0} µs (HTTP/1.1)",
            costs.full_handshake, costs.resumed, costs.kept_alive_http1
        ));
    }
    evidence.join("; ")
}

/// A comparison as `results.json` has always shown it: the side by name
/// and the ratio's spread.
fn comparison<S: Serializer>(c: &Option<Comparison>, s: S) -> Result<S::Ok, S::Error> {
    c.map(|c| serde_json::json!({"versus": format!("{:?}", c.versus), "ratio": c.ratio}))
        .serialize(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::c6_verify::report::lesson;

    /// One algorithm from per-trial figures (µs): its own and the lookup's,
    /// waiting time then CPU.
    fn judged<'a>(
        alg: &'a str,
        (wait, lookup_wait): (&[f64], &[f64]),
        (cpu, lookup_cpu): (&[f64], &[f64]),
    ) -> Judged<'a> {
        Judged {
            alg,
            waiting: Comparison::of(&per_trial_ratios(wait, lookup_wait)),
            cpu: Comparison::of(&per_trial_ratios(cpu, lookup_cpu)),
        }
    }

    /// The four algorithms at this machine's usual costs (µs per trial),
    /// against a lookup's per-trial waiting time and CPU.
    fn four(lookup_wait: &[f64], es256_wait: &[f64]) -> Vec<Judged<'static>> {
        let lookup_cpu: &[f64] = &[3.8, 4.6, 3.4];
        vec![
            judged(
                "HS256",
                (&[1.1, 1.0, 1.2], lookup_wait),
                (&[1.0, 1.1, 1.0], lookup_cpu),
            ),
            judged(
                "RS256",
                (&[16.2, 15.8, 16.9], lookup_wait),
                (&[16.0, 16.6, 15.9], lookup_cpu),
            ),
            judged(
                "ES256",
                (es256_wait, lookup_wait),
                (&[38.0, 41.0, 39.5], lookup_cpu),
            ),
            judged(
                "EdDSA",
                (&[33.5, 37.8, 34.0], lookup_wait),
                (&[33.0, 35.2, 34.1], lookup_cpu),
            ),
        ]
    }

    #[test]
    fn the_headline_spans_the_algorithms_in_each_dimension() {
        let judged = four(&[95.0, 90.0, 100.0], &[50.0, 52.0, 51.0]);
        let text = c6_headline(&judged);
        assert!(
            text.starts_with(
                "a check's CPU 0.26x (HS256) to 10.00x (ES256) a lookup's; its waiting time 0.01x to "
            ),
            "{text}"
        );
        assert_eq!(c6_headline(&[]), "");
    }

    #[test]
    fn every_trial_decides_a_side() {
        let versus = |ratios: &[f64]| Comparison::of(ratios).map(|c| c.versus);
        assert_eq!(versus(&[0.4, 0.9, 0.99]), Some(Versus::Faster));
        assert_eq!(versus(&[1.01, 1.5]), Some(Versus::Slower));
        assert_eq!(versus(&[0.36, 1.48, 0.49]), Some(Versus::WithinNoise));
        // At 1 it is not faster, and not slower either.
        assert_eq!(versus(&[1.0, 1.2]), Some(Versus::WithinNoise));
        assert_eq!(versus(&[]), None);
        let c = Comparison::of(&[0.36, 1.48, 0.49]).unwrap();
        assert_eq!(times(&c.ratio), "0.49x (0.36–1.48x)");
    }

    #[test]
    fn ratios_pair_each_trial_with_its_own_lookup() {
        // Medians would compare 40 with 69.8 ("faster"); per trial it is one
        // faster trial and one slower.
        assert_eq!(
            per_trial_ratios(&[40.0, 40.0], &[35.7, 80.0]),
            vec![40.0 / 35.7, 0.5]
        );
        // A trial with no figure on one side gives no ratio.
        assert_eq!(per_trial_ratios(&[1.0, 2.0, 3.0], &[0.0, 4.0]), vec![0.5]);
        assert!(per_trial_ratios(&[1.0], &[]).is_empty());
    }

    #[test]
    fn holds_when_every_algorithm_costs_less_in_both() {
        // HMAC alone: about 1 µs against a 35–95 µs wait and 3–5 µs of CPU.
        let judged = [judged(
            "HS256",
            (&[1.1, 1.0, 1.2], &[35.7, 93.9, 69.8]),
            (&[1.0, 1.1, 1.0], &[3.8, 4.6, 3.4]),
        )];
        assert_eq!(c6_verdict(&judged), Verdict::Holds);
    }

    #[test]
    fn holds_with_a_caveat_names_the_algorithm_and_the_dimension() {
        let verdict = c6_verdict(&four(&[35.7, 36.4, 34.9], &[52.9, 55.0, 50.1]));
        let Verdict::HoldsWithCaveat(note) = verdict else {
            panic!("{verdict:?}");
        };
        assert!(
            note.starts_with("only HS256 cost less than one loopback lookup"),
            "{note}"
        );
        assert!(
            note.contains("waiting time: ES256 costs more than one lookup in every trial (ratio 1.48x, 1.44–1.51x across trials)"),
            "{note}"
        );
        assert!(
            note.contains("within this machine's noise, EdDSA costs about one loopback lookup"),
            "{note}"
        );
        assert!(
            note.contains("CPU: RS256 costs more than one lookup in every trial"),
            "{note}"
        );
        assert!(!note.contains("HS256 costs"), "{note}");
    }

    #[test]
    fn does_not_hold_when_no_algorithm_costs_less() {
        // Only the elliptic-curve algorithms, against a fast loopback.
        let (lookup_wait, lookup_cpu): (&[f64], &[f64]) = (&[35.7, 35.1, 36.0], &[3.8, 4.6, 3.4]);
        let judged = [
            judged(
                "ES256",
                (&[52.9, 50.4, 58.0], lookup_wait),
                (&[52.0, 50.0, 57.0], lookup_cpu),
            ),
            judged(
                "EdDSA",
                (&[38.0, 39.5, 40.0], lookup_wait),
                (&[37.5, 39.0, 39.8], lookup_cpu),
            ),
        ];
        let verdict = c6_verdict(&judged);
        let Verdict::DoesNotHold(note) = verdict else {
            panic!("{verdict:?}");
        };
        assert!(note.contains("waiting time: ES256 costs more"), "{note}");
        assert!(
            note.contains("EdDSA costs more than one lookup in every trial"),
            "{note}"
        );
    }

    #[test]
    fn not_measured_without_figures() {
        assert!(matches!(c6_verdict(&[]), Verdict::NotMeasured(_)));
        // CPU read as zero (no /proc), and no isolated trial.
        let judged = [judged("HS256", (&[1.0], &[]), (&[1.0], &[0.0]))];
        assert!(matches!(c6_verdict(&judged), Verdict::NotMeasured(_)));
    }

    #[test]
    fn a_missing_dimension_is_a_caveat_not_a_pass() {
        let judged = [judged(
            "HS256",
            (&[1.0, 1.1], &[35.7, 69.8]),
            (&[1.0], &[0.0]),
        )];
        let verdict = c6_verdict(&judged);
        assert_eq!(
            verdict,
            Verdict::HoldsWithCaveat(
                "no algorithm cost less than one loopback lookup in every trial in both waiting time and CPU. \
                 waiting time: every algorithm cost less than one lookup in every trial. CPU: HS256 not measured"
                    .into()
            )
        );
    }

    /// The runs: one loopback GETEX at 35.7 µs with ES256 at 52.9,
    /// then 93.9 (quick) and 69.8 µs (full) with ES256 at 34. The old rule
    /// said "holds with a caveat", then "holds" twice.
    #[test]
    fn the_real_runs_no_longer_flip() {
        let fast_loopback = c6_verdict(&four(&[35.7, 36.4, 34.9], &[52.9, 55.0, 50.1]));
        let quick = c6_verdict(&four(&[93.9, 90.2, 95.0], &[34.0, 33.1, 35.2]));
        let full = c6_verdict(&four(&[69.8, 72.5, 68.0], &[34.0, 34.8, 33.5]));
        for verdict in [&fast_loopback, &quick, &full] {
            // The public-key algorithms' CPU against the lookup's 3–5 µs is
            // steady, and keeps the label.
            assert_eq!(verdict.label(), "holds with a caveat", "{verdict:?}");
            let note = verdict.note().unwrap_or_default();
            assert!(note.contains("CPU: RS256 costs more"), "{note}");
        }
        let note = quick.note().unwrap_or_default();
        assert!(
            note.contains("waiting time: every algorithm cost less than one lookup in every trial"),
            "{note}"
        );
    }

    /// The same figures met within one run: ES256's side changes between
    /// trials, so it is noise, not a side.
    #[test]
    fn a_ratio_on_both_sides_of_one_is_noise() {
        let judged = four(&[35.7, 93.9, 69.8], &[52.9, 34.0, 34.0]);
        assert_eq!(
            judged[2].waiting.map(|c| c.versus),
            Some(Versus::WithinNoise)
        );
        let note = c6_verdict(&judged).note().unwrap_or_default().to_owned();
        assert!(
            note.contains("within this machine's noise, ES256 costs about one loopback lookup (ratio 0.49x, 0.36–1.48x across trials)"),
            "{note}"
        );
    }

    #[test]
    fn the_lesson_says_only_what_the_figures_say() {
        let (lookup_wait, lookup_cpu) = (
            Spread::of(&[93.9, 90.2, 95.0]),
            Spread::of(&[3.8, 4.6, 3.4]),
        );
        let slow_loopback = lesson(
            &four(&[93.9, 90.2, 95.0], &[34.0, 33.1, 35.2]),
            &lookup_wait,
            Some(&lookup_cpu),
        );
        assert!(slow_loopback.starts_with("One loopback lookup kept its caller waiting 93.9 (90.2–95.0) µs but cost only 3.8 (3.4–4.6) µs of CPU"), "{slow_loopback}");
        assert!(slow_loopback.contains("In waiting time, HS256, RS256, ES256, EdDSA cost less than a lookup in every trial."), "{slow_loopback}");
        assert!(slow_loopback.contains("In CPU, HS256 cost less than a lookup in every trial; RS256, ES256, EdDSA cost more in every trial."), "{slow_loopback}");
        assert!(
            slow_loopback
                .ends_with("depends on the algorithm and on what you count: waiting time or CPU."),
            "{slow_loopback}"
        );

        let fast = Spread::of(&[35.7, 36.4, 34.9]);
        let fast_loopback = lesson(
            &four(&[35.7, 36.4, 34.9], &[52.9, 55.0, 50.1]),
            &fast,
            Some(&lookup_cpu),
        );
        assert!(fast_loopback.contains("In waiting time, HS256, RS256 cost less than a lookup in every trial; ES256 cost more in every trial; EdDSA cost about one lookup, within this machine's noise."), "{fast_loopback}");

        let only_hmac = [judged("HS256", (&[1.0], &[35.7]), (&[1.0], &[3.8]))];
        let hmac = lesson(&only_hmac, &Spread::of(&[35.7]), Some(&Spread::of(&[3.8])));
        assert!(!hmac.contains("depends"), "{hmac}");
        assert!(!hmac.contains("ranged"), "{hmac}");
    }
}
