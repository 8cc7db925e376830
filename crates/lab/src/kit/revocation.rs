//! Changing something at time zero and watching every node until it
//! refuses: what c7 (a logout) and c8 (a demotion) share.
//!
//! Both ask the same question of different changes: after the server has
//! been told, how long does some node still honour the old credential? The
//! answer is read from *every node directly* (not through HAProxy, so no
//! node can hide), every 50 ms, until all of them refuse or the window
//! closes. The set-ups are the ones a deployment chooses between: sessions,
//! a plain long-lived JWT, a short access token with a refresh token, and a
//! JWT with a denylist.
//!
//! A claim about "every trial" is judged on the trial least favourable to
//! it: [`slowest`] for "refused at once", [`fastest`] for "accepted to the
//! end". The trials of a set-up are shown as one cell ([`show_trials`]) and
//! one bar ([`bar`]).

use std::time::{Duration, Instant};

use authlab_client::{ApiClient, Credential};
use jwt_server::RevocationMode;
use serde::{Serialize, Serializer};

use super::{
    schedule::{self, Trials},
    stats::{median, median_spread, spread},
};
use crate::{
    experiment::RunContext,
    results::{Point, Series},
    summaries::{setups, Outcome, RevocationSetup, RevocationSummary},
    Cluster, LabError, Stack,
};

/// Each trial on fresh clusters; the claims are about every trial.
pub const TRIALS: Trials = Trials::new(1, 3);

fn seconds<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// A set-up under test.
#[derive(Clone, Copy, Serialize)]
pub struct Variant {
    pub name: &'static str,
    pub stack: Stack,
    pub revocation: RevocationMode,
    #[serde(rename = "access_ttl_s", serialize_with = "seconds")]
    pub access_ttl: Duration,
}

/// The set-ups; `denylist` is the revocation mode of the denylist set-up
/// (a test passes `None` to see the verdict turn on a denylist that does
/// not deny).
pub fn variants(quick: bool, denylist: RevocationMode) -> Vec<Variant> {
    let short = Duration::from_secs(if quick { 3 } else { 10 });
    vec![
        Variant {
            name: setups::SESSION,
            stack: Stack::Session,
            revocation: RevocationMode::None,
            access_ttl: short,
        },
        Variant {
            name: setups::PLAIN_JWT,
            stack: Stack::Jwt,
            revocation: RevocationMode::None,
            access_ttl: Duration::from_secs(3600),
        },
        Variant {
            name: setups::SHORT_JWT,
            stack: Stack::Jwt,
            revocation: RevocationMode::None,
            access_ttl: short,
        },
        Variant {
            name: setups::DENYLIST,
            stack: Stack::Jwt,
            revocation: denylist,
            access_ttl: Duration::from_secs(3600),
        },
    ]
}

/// A fresh 3-node cluster of the set-up's stack, with no clock leeway, so
/// a token is refused the second it expires.
pub async fn cluster_for(ctx: &RunContext, variant: Variant) -> Result<Box<dyn Cluster>, LabError> {
    let mut spec = ctx.spec();
    spec.nodes = 3;
    spec.seed_users = 0;
    spec.stacks = vec![variant.stack];
    spec.revocation = variant.revocation;
    spec.jwt.access_ttl = Some(Duration::from_secs(variant.access_ttl.as_secs()));
    spec.jwt.leeway = Some(Duration::ZERO);
    ctx.cluster(spec).await
}

/// Logs `user` in through `base`: the credential, and for JWT the refresh token.
pub async fn log_in_with_refresh(
    client: &ApiClient,
    base: &str,
    stack: Stack,
    user: &str,
) -> (Credential, Option<String>) {
    match stack {
        Stack::Session => (client.session_login(base, user).await, None),
        Stack::Jwt => {
            let (bearer, tokens) = client.jwt_login(base, user).await;
            (bearer, Some(tokens.refresh_token))
        }
    }
}

/// How long to watch after the change: the access lifetime plus 2 s, so an
/// expiring token is seen to expire, capped so a 1 h token does not hold the
/// run for an hour.
pub fn window(variant: Variant, quick: bool) -> Duration {
    (variant.access_ttl + Duration::from_secs(2)).min(Duration::from_secs(if quick {
        6
    } else {
        15
    }))
}

/// Polls `path` on every node until each answer is `refused`; returns the
/// seconds until the last node refused, or `None` if one still accepted at `window`.
pub async fn until_all_refuse(
    client: &ApiClient,
    cluster: &dyn Cluster,
    stack: Stack,
    who: &Credential,
    path: &str,
    refused: fn(u16) -> bool,
    window: Duration,
) -> Option<f64> {
    let started = Instant::now();
    let urls: Vec<String> = cluster.nodes(stack).iter().map(|n| n.url(path)).collect();
    let mut done = vec![false; urls.len()];
    while started.elapsed() < window {
        for (i, url) in urls.iter().enumerate() {
            if !done[i] && refused(client.get(url, Some(who)).await.status().as_u16()) {
                done[i] = true;
            }
        }
        if done.iter().all(|d| *d) {
            return Some(started.elapsed().as_secs_f64());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

fn show(seconds: Option<f64>, window: Duration) -> String {
    match seconds {
        Some(s) if s < 0.05 => "at once (first poll)".into(),
        Some(s) => format!("{s:.2} s"),
        None => format!("still accepted after {} s", window.as_secs()),
    }
}

/// Refused everywhere within 0.5 s: a few polls, not a token lifetime.
pub fn immediate(seconds: Option<f64>) -> bool {
    seconds.is_some_and(|s| s < 0.5)
}

/// The slowest trial: `None` if any trial ended with the credential still
/// accepted. For "refused at once in every trial".
pub fn slowest(trials: &[Option<f64>]) -> Option<f64> {
    trials
        .iter()
        .try_fold(0.0f64, |worst, s| s.map(|s| worst.max(s)))
        .filter(|_| !trials.is_empty())
}

/// The fastest refusal of any trial: `None` only if every trial ended with
/// the credential still accepted. For "accepted until the end in every trial".
pub fn fastest(trials: &[Option<f64>]) -> Option<f64> {
    trials.iter().flatten().copied().reduce(f64::min)
}

/// One cell for all trials of a set-up.
pub fn show_trials(trials: &[Option<f64>], window: Duration) -> String {
    let refused: Vec<f64> = trials.iter().flatten().copied().collect();
    let n = trials.len();
    if refused.len() == n && n > 1 {
        let (lo, hi) = spread(&refused);
        format!(
            "{} (median; {lo:.2}–{hi:.2} s over {n} trials)",
            show(Some(median(&refused)), window)
        )
    } else if refused.len() == n || refused.is_empty() {
        let all = if n > 1 {
            format!(", all {n} trials")
        } else {
            String::new()
        };
        format!("{}{all}", show(trials.first().copied().flatten(), window))
    } else {
        format!(
            "refused in {} of {n} trials (median {:.2} s); still accepted after {} s in the others",
            refused.len(),
            median(&refused),
            window.as_secs()
        )
    }
}

/// A bar for all trials: the median of the measured times, a trial that
/// ended with the credential still accepted counting as the whole window.
pub fn bar(trials: &[Option<f64>], window: Duration) -> (f64, f64, f64) {
    let values: Vec<f64> = trials
        .iter()
        .map(|s| s.unwrap_or(window.as_secs_f64()))
        .collect();
    median_spread(&values)
}

/// The trials of one set-up.
#[derive(Serialize)]
pub struct Observed {
    pub variant: Variant,
    #[serde(rename = "window_s", serialize_with = "seconds")]
    pub window: Duration,
    pub seconds: Vec<Option<f64>>,
    /// What the check after the measurement answered, per trial.
    pub after: Vec<String>,
}

impl Observed {
    /// The table row: set-up, lifetime, what the trials saw, the follow-up check.
    pub fn row(&self) -> Vec<String> {
        vec![
            self.variant.name.into(),
            if self.variant.stack == Stack::Session {
                "— (server-side)".into()
            } else {
                format!("{} s", self.variant.access_ttl.as_secs())
            },
            show_trials(&self.seconds, self.window),
            distinct(&self.after),
        ]
    }

    /// One bar: the median across trials, min–max as the whisker.
    pub fn series(&self, x: &str) -> Series {
        let (y, low, high) = bar(&self.seconds, self.window);
        Series {
            name: self.variant.name.into(),
            points: vec![Point {
                x: x.into(),
                y,
                low: Some(low),
                high: Some(high),
            }],
        }
    }
}

/// The trials of the set-up called `name`, if it ran.
pub fn trials_of<'s>(summary: &'s RevocationSummary, name: &str) -> Option<&'s [Option<f64>]> {
    summary.setup(name).map(|s| s.seconds.as_slice())
}

/// "set-up: what its trials saw; …", the cells of the table's third column.
pub fn evidence(summary: &RevocationSummary) -> String {
    summary
        .setups
        .iter()
        .map(|s| {
            format!(
                "{}: {}",
                s.name,
                show_trials(&s.seconds, Duration::from_secs_f64(s.window_s))
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Distinct answers, in order of first appearance.
pub fn distinct(answers: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for a in answers {
        if !seen.contains(&a.as_str()) {
            seen.push(a);
        }
    }
    seen.join(" / ")
}

/// The revocation summary of `observed`, for c15 and the lessons.
pub fn revocation_summary(observed: &[Observed]) -> RevocationSummary {
    RevocationSummary {
        setups: observed
            .iter()
            .map(|o| RevocationSetup {
                name: o.variant.name.into(),
                seconds: o.seconds.clone(),
                window_s: o.window.as_secs_f64(),
            })
            .collect(),
    }
}

/// The trials of every set-up, in the set-ups' own order.
pub fn collect(
    variants: &[Variant],
    quick: bool,
    measured: &[schedule::Measured<(Option<f64>, String)>],
) -> Vec<Observed> {
    variants
        .iter()
        .enumerate()
        .map(|(i, variant)| {
            let trials = schedule::of_variant(measured, i);
            Observed {
                variant: *variant,
                window: window(*variant, quick),
                seconds: trials.iter().map(|t| t.0).collect(),
                after: trials.iter().map(|t| t.1.clone()).collect(),
            }
        })
        .collect()
}

/// The first screen's figure for c7 and c8: how the session and the 1 h
/// JWT ended after `event` ("logout", "demotion").
pub fn revocation_headline(summary: &RevocationSummary, event: &str) -> String {
    let show = |name: &str, what: &str| {
        summary.outcome(name).map_or_else(
            || format!("{what} not measured"),
            |o| match o {
                Outcome::AcceptedThroughout { .. } => format!("{what} {o}"),
                _ => format!("{what} refused {o}"),
            },
        )
    };
    format!(
        "after the {event}: {}; {}",
        show(setups::SESSION, "session"),
        show(setups::PLAIN_JWT, "1 h JWT")
    )
}

/// How the set-up called `name` ended, "not measured" if it did not run.
pub fn outcome_text(summary: &RevocationSummary, name: &str) -> String {
    summary
        .outcome(name)
        .map_or_else(|| "not measured".to_owned(), |o| o.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trials_aggregate_towards_the_claims_burden_of_proof() {
        // "Refused at once in every trial" needs the slowest; one trial that
        // never refused makes it None.
        assert_eq!(slowest(&[Some(0.1), Some(0.3)]), Some(0.3));
        assert_eq!(slowest(&[Some(0.1), None]), None);
        assert_eq!(slowest(&[]), None);
        // "Accepted to the end in every trial" fails on any refusal.
        assert_eq!(fastest(&[None, Some(4.0), Some(2.0)]), Some(2.0));
        assert_eq!(fastest(&[None, None]), None);
    }

    #[test]
    fn trial_cells_say_what_happened_in_each_trial() {
        let window = Duration::from_secs(15);
        assert_eq!(show_trials(&[Some(0.01)], window), "at once (first poll)");
        assert_eq!(
            show_trials(&[None, None, None], window),
            "still accepted after 15 s, all 3 trials"
        );
        assert_eq!(
            show_trials(&[Some(1.0), Some(2.0), Some(3.0)], window),
            "2.00 s (median; 1.00–3.00 s over 3 trials)"
        );
        assert!(show_trials(&[Some(1.0), None, None], window).starts_with("refused in 1 of 3"));
        assert_eq!(bar(&[Some(1.0), None, Some(3.0)], window), (3.0, 1.0, 15.0));
    }

    /// The verdict's evidence is read from the summary c15 keeps; it must
    /// say what the table's cells say.
    #[test]
    fn the_evidence_quotes_the_table_cells() {
        let observed: Vec<Observed> = variants(true, RevocationMode::Denylist)
            .into_iter()
            .zip([
                vec![Some(0.01)],
                vec![None, None],
                vec![Some(5.2), None, Some(5.4)],
                vec![],
            ])
            .map(|(variant, seconds)| Observed {
                variant,
                window: window(variant, true),
                after: vec![String::new(); seconds.len()],
                seconds,
            })
            .collect();
        let cells: Vec<String> = observed
            .iter()
            .map(Observed::row)
            .map(|r| format!("{}: {}", r[0], r[2]))
            .collect();
        assert_eq!(evidence(&revocation_summary(&observed)), cells.join("; "));
    }

    #[test]
    fn the_headline_says_how_each_set_up_ended() {
        let summary = RevocationSummary {
            setups: vec![
                RevocationSetup {
                    name: setups::SESSION.into(),
                    seconds: vec![Some(0.002), Some(0.01)],
                    window_s: 15.0,
                },
                RevocationSetup {
                    name: setups::PLAIN_JWT.into(),
                    seconds: vec![None, None],
                    window_s: 15.0,
                },
            ],
        };
        assert_eq!(
            revocation_headline(&summary, "logout"),
            "after the logout: session refused at once (first poll, 10 ms); 1 h JWT still accepted when \
             observation ended (15 s)"
        );
        assert_eq!(
            revocation_headline(&RevocationSummary { setups: Vec::new() }, "demotion"),
            "after the demotion: session not measured; 1 h JWT not measured"
        );
    }
}
