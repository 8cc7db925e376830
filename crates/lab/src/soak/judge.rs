//! The soak's rules: pure functions of the record, each with a test per branch.
//!
//! A soak passes only when all three hold, because each one alone can be
//! met by a broken run: zero errors at a load nobody offered, a held load
//! with errors, flat memory in a run too short to grow.

use serde::{Deserialize, Serialize};

use super::{SoakRecord, StackWindow};

/// How much a process's resident memory may grow from the end of the
/// warm-up to the end of the soak: allocator and page-cache noise stays
/// well inside it, a leak over half an hour does not.
pub const RSS_TOLERANCE: f64 = 0.10;

/// A window must serve this share of the requests per second goose's
/// throttle was set to, or the soak did not run at the load it claims.
/// Not 100%: the throttle itself delivers about 90% of its setting here
/// (it sleeps ~10 ms between token batches, and tokio's timer rounds each
/// sleep up to the next millisecond), measured at 89.6–90.0% with both
/// stacks 30% below capacity. A stack that falls behind drops below 85%.
pub const HELD_SHARE: f64 = 0.85;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    /// The run cannot answer this check (too short, nothing to read).
    NotJudged,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::NotJudged => "not judged",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub what: String,
    pub status: Status,
    pub detail: String,
}

/// Every failed request counts, logins and logouts included: a soak's
/// promise is none at all.
pub fn errors(stack: &str, windows: &[&StackWindow]) -> Check {
    let requests: u64 = windows.iter().map(|w| w.requests).sum();
    let errors: u64 = windows.iter().map(|w| w.errors).sum();
    let what = format!("{stack}: no failed request");
    let (status, detail) = match (requests, errors) {
        (0, _) => (Status::Fail, "no request was answered".to_owned()),
        (_, 0) => (Status::Pass, format!("0 errors in {requests} requests")),
        (_, e) => {
            let worst = windows.iter().max_by_key(|w| w.errors).map(|w| w.minute);
            (
                Status::Fail,
                format!(
                    "{e} errors in {requests} requests (most in minute {})",
                    worst.unwrap_or(0)
                ),
            )
        }
    };
    Check {
        what,
        status,
        detail,
    }
}

/// The worst window's served rate against the offered one.
pub fn held_load(stack: &str, windows: &[&StackWindow]) -> Check {
    let what = format!(
        "{stack}: every minute served at least {:.0}% of the offered load",
        HELD_SHARE * 100.0
    );
    let worst = windows
        .iter()
        .filter(|w| w.offered_rps > 0.0)
        .min_by(|a, b| (a.served_rps / a.offered_rps).total_cmp(&(b.served_rps / b.offered_rps)));
    let (status, detail) = match worst {
        None => (
            Status::NotJudged,
            "no minute had an offered load".to_owned(),
        ),
        Some(w) => {
            let share = w.served_rps / w.offered_rps;
            let said = format!(
                "worst minute {}: {:.0} of {:.0} req/s offered ({:.0}%)",
                w.minute,
                w.served_rps,
                w.offered_rps,
                share * 100.0
            );
            if share >= HELD_SHARE {
                (Status::Pass, said)
            } else {
                (Status::Fail, said)
            }
        }
    };
    Check {
        what,
        status,
        detail,
    }
}

/// RSS growth of one process after the warm-up. `samples` are the readings
/// after each minute and the first `warmup` minutes are warm-up. A single
/// reading is noise: a node's RSS moves by a MiB or two from one minute to
/// the next as the allocator returns and reuses pages (seen in the recorded
/// soak, with no trend). So the rule compares medians of `warmup` readings
/// each: the ones from the end of the warm-up on, and the last ones. When
/// the two groups would overlap there is nothing after the warm-up to
/// compare with, and the check says it cannot judge instead of passing.
pub fn rss_flat(name: &str, samples: &[Option<u64>], warmup: usize) -> Check {
    let k = warmup.max(1);
    let what = format!(
        "{name}: RSS within {:.0}% after the warm-up (median of minutes {k}–{} against the median of the last {k})",
        RSS_TOLERANCE * 100.0,
        2 * k - 1
    );
    let n = samples.len();
    let (status, detail) = if n < 3 * k - 1 || n < 2 {
        (
            Status::NotJudged,
            format!(
                "needs at least {} minutes for {k} minute(s) of warm-up",
                (3 * k - 1).max(2)
            ),
        )
    } else if samples[n - k..].iter().any(Option::is_none) {
        // A process whose memory cannot be read at the end is gone: that is
        // a failure of the soak, not a missing figure.
        (Status::Fail, "the process was gone at the end".to_owned())
    } else {
        match rss_medians(samples, warmup) {
            Some((start, end)) if start > 0 => {
                let growth = (end as f64 - start as f64) / start as f64;
                let said = format!(
                    "{:.1} MiB → {:.1} MiB ({:+.1}%)",
                    mib(start),
                    mib(end),
                    growth * 100.0
                );
                if growth.abs() <= RSS_TOLERANCE {
                    (Status::Pass, said)
                } else {
                    (Status::Fail, said)
                }
            }
            _ => (
                Status::NotJudged,
                "no RSS could be read after the warm-up".to_owned(),
            ),
        }
    };
    Check {
        what,
        status,
        detail,
    }
}

/// The two medians [`rss_flat`] compares: of the `warmup` readings from the
/// end of the warm-up on, and of the last `warmup` readings. `None` when
/// the groups would overlap or a reading in them is missing.
pub fn rss_medians(samples: &[Option<u64>], warmup: usize) -> Option<(u64, u64)> {
    let k = warmup.max(1);
    let n = samples.len();
    if n < 3 * k - 1 || n < 2 {
        return None;
    }
    Some((
        median_of(&samples[k - 1..2 * k - 1])?,
        median_of(&samples[n - k..])?,
    ))
}

/// The median reading (the lower middle one of an even count), or `None`
/// when any reading is missing.
fn median_of(samples: &[Option<u64>]) -> Option<u64> {
    let mut values: Vec<u64> = samples.iter().copied().collect::<Option<_>>()?;
    values.sort_unstable();
    values.get(values.len().saturating_sub(1) / 2).copied()
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

/// Every check of a soak, in the order the report lists them.
pub fn judge(record: &SoakRecord) -> Vec<Check> {
    let mut checks = Vec::new();
    for stack in &record.stacks {
        let windows: Vec<&StackWindow> = record
            .windows
            .iter()
            .filter_map(|w| w.stacks.iter().find(|s| &s.stack == stack))
            .collect();
        checks.push(errors(stack, &windows));
        checks.push(held_load(stack, &windows));
    }
    for name in record.judged_processes() {
        let samples = record.rss_samples(&name);
        checks.push(rss_flat(&name, &samples, record.plan.warmup_minutes()));
    }
    checks
}

/// The soak passes when no check failed and something was judged.
pub fn passed(checks: &[Check]) -> bool {
    !checks.iter().any(|c| c.status == Status::Fail)
        && checks.iter().any(|c| c.status == Status::Pass)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(minute: usize, requests: u64, errors: u64, offered: f64, served: f64) -> StackWindow {
        StackWindow {
            stack: "session".into(),
            minute,
            offered_rps: offered,
            served_rps: served,
            requests,
            errors,
            ..StackWindow::default()
        }
    }

    #[test]
    fn errors_rule() {
        let clean = [window(1, 100, 0, 10.0, 10.0), window(2, 100, 0, 10.0, 10.0)];
        let check = errors("session", &clean.iter().collect::<Vec<_>>());
        assert_eq!(check.status, Status::Pass, "{check:?}");
        // One error in 200 requests fails: the threshold is zero, not a share.
        let one = [window(1, 100, 0, 10.0, 10.0), window(2, 100, 1, 10.0, 10.0)];
        let check = errors("session", &one.iter().collect::<Vec<_>>());
        assert_eq!(check.status, Status::Fail);
        assert!(check.detail.contains("minute 2"), "{check:?}");
        // Nothing answered is no proof of no errors.
        let silent = [window(1, 0, 0, 10.0, 0.0)];
        assert_eq!(
            errors("session", &silent.iter().collect::<Vec<_>>()).status,
            Status::Fail
        );
    }

    #[test]
    fn held_load_rule() {
        let held = [window(1, 1, 0, 100.0, 99.0), window(2, 1, 0, 100.0, 85.0)];
        assert_eq!(
            held_load("jwt", &held.iter().collect::<Vec<_>>()).status,
            Status::Pass
        );
        // A stack that fell behind in one minute fails, and the minute is named.
        let behind = [window(1, 1, 0, 100.0, 99.0), window(2, 1, 0, 100.0, 84.9)];
        let check = held_load("jwt", &behind.iter().collect::<Vec<_>>());
        assert_eq!(check.status, Status::Fail);
        assert!(check.detail.contains("minute 2"), "{check:?}");
        assert_eq!(held_load("jwt", &[]).status, Status::NotJudged);
    }

    #[test]
    fn rss_rule() {
        let mb = 1_048_576;
        assert_eq!(
            rss_flat(
                "session-1",
                &[Some(100 * mb), Some(120 * mb), Some(110 * mb)],
                1
            )
            .status,
            Status::Pass
        );
        // Shrinking a lot is as suspicious as growing: the process restarted.
        assert_eq!(
            rss_flat("session-1", &[Some(100 * mb), Some(80 * mb)], 1).status,
            Status::Fail
        );
        assert_eq!(
            rss_flat("session-1", &[Some(100 * mb)], 1).status,
            Status::NotJudged
        );
        assert_eq!(rss_flat("session-1", &[], 1).status, Status::NotJudged);
        assert_eq!(
            rss_flat("session-1", &[Some(100 * mb), None], 1).status,
            Status::Fail
        );
        assert_eq!(
            rss_flat("session-1", &[None, Some(100 * mb)], 1).status,
            Status::NotJudged
        );
    }

    /// Growth during the warm-up (arenas, pools, caches filling) is not
    /// judged; growth after it is, and one odd reading does not decide.
    #[test]
    fn the_warmup_is_not_judged_and_medians_smooth_a_reading() {
        let mb = 1_048_576;
        let samples = [
            Some(50 * mb),
            Some(80 * mb),
            Some(82 * mb),
            Some(79 * mb),
            Some(95 * mb),
            Some(81 * mb),
        ];
        assert_eq!(rss_flat("jwt-1", &samples, 1).status, Status::Fail);
        // Warm-up 2: medians of minutes 2–3 (80) and of 5–6 (81); the 95 alone does not fail it.
        let check = rss_flat("jwt-1", &samples, 2);
        assert_eq!(check.status, Status::Pass, "{check:?}");
        assert!(check.detail.contains("80.0 MiB → 81.0 MiB"), "{check:?}");
        assert_eq!(rss_flat("jwt-1", &samples, 3).status, Status::NotJudged);
    }

    /// A node that leaks a little every minute: flat for a few minutes, out
    /// of bounds over a long soak. The rule must turn.
    #[test]
    fn a_leak_turns_the_rss_rule() {
        let mb = 1_048_576_u64;
        let leaking: Vec<Option<u64>> = (0..30).map(|m| Some(40 * mb + m * mb / 2)).collect();
        assert_eq!(rss_flat("jwt-1", &leaking[..5], 1).status, Status::Pass);
        let check = rss_flat("jwt-1", &leaking, 3);
        assert_eq!(check.status, Status::Fail, "{check:?}");
    }

    #[test]
    fn passing_needs_a_pass_and_no_failure() {
        let check = |status| Check {
            what: String::new(),
            status,
            detail: String::new(),
        };
        assert!(passed(&[check(Status::Pass), check(Status::NotJudged)]));
        assert!(!passed(&[check(Status::Pass), check(Status::Fail)]));
        assert!(!passed(&[check(Status::NotJudged)]));
        assert!(!passed(&[]));
    }
}
