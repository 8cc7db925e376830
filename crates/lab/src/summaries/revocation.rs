//! c7's and c8's figures: how long a revoked credential kept working.
//!
//! Each set-up keeps its per-trial seconds (a trial can end with the
//! credential still accepted), and [`Outcome`] says in the report's words
//! how its trials ended, so c15 and the first screen agree with c7 and c8.

use serde::{Deserialize, Serialize};

/// c7 and c8: seconds until every node refused, per set-up and trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevocationSummary {
    pub setups: Vec<RevocationSetup>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevocationSetup {
    pub name: String,
    /// Seconds from the change until every node refused, per trial; `None`:
    /// some node still accepted when the window closed.
    pub seconds: Vec<Option<f64>>,
    pub window_s: f64,
}

/// Set-up names c7 and c8 share, so readers find them without guessing.
pub mod setups {
    pub const SESSION: &str = "session (Redis)";
    pub const PLAIN_JWT: &str = "JWT, 1 h access token";
    pub const SHORT_JWT: &str = "JWT, short access token + refresh";
    pub const DENYLIST: &str = "JWT + denylist";
}

/// How a set-up's trials ended, in the words the report uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// Refused everywhere in every trial; the slowest trial's seconds.
    RefusedWithin(f64),
    /// Still accepted at the end of every trial's window.
    AcceptedThroughout { window_s: f64 },
    /// Refused in some trials, accepted to the end in others.
    Mixed { refused: usize, trials: usize },
}

impl RevocationSummary {
    pub fn setup(&self, name: &str) -> Option<&RevocationSetup> {
        self.setups
            .iter()
            .find(|s| s.name == name && !s.seconds.is_empty())
    }

    pub fn outcome(&self, name: &str) -> Option<Outcome> {
        let setup = self.setup(name)?;
        let refused: Vec<f64> = setup.seconds.iter().flatten().copied().collect();
        Some(if refused.len() == setup.seconds.len() {
            Outcome::RefusedWithin(refused.iter().copied().fold(0.0, f64::max))
        } else if refused.is_empty() {
            Outcome::AcceptedThroughout {
                window_s: setup.window_s,
            }
        } else {
            Outcome::Mixed {
                refused: refused.len(),
                trials: setup.seconds.len(),
            }
        })
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Outcome::RefusedWithin(s) if s < 0.05 => {
                write!(f, "at once (first poll, {:.0} ms)", s * 1e3)
            }
            Outcome::RefusedWithin(s) => write!(f, "within {s:.2} s"),
            Outcome::AcceptedThroughout { window_s } => {
                write!(f, "still accepted when observation ended ({window_s:.0} s)")
            }
            Outcome::Mixed { refused, trials } => {
                write!(
                    f,
                    "refused in {refused} of {trials} trials, accepted to the end in the others"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_follow_every_trial() {
        let summary = RevocationSummary {
            setups: vec![
                RevocationSetup {
                    name: "a".into(),
                    seconds: vec![Some(0.001), Some(0.002)],
                    window_s: 15.0,
                },
                RevocationSetup {
                    name: "b".into(),
                    seconds: vec![None, None],
                    window_s: 15.0,
                },
                RevocationSetup {
                    name: "c".into(),
                    seconds: vec![None, Some(3.0)],
                    window_s: 15.0,
                },
            ],
        };
        assert_eq!(summary.outcome("a"), Some(Outcome::RefusedWithin(0.002)));
        assert_eq!(
            summary.outcome("a").unwrap().to_string(),
            "at once (first poll, 2 ms)"
        );
        assert_eq!(
            summary.outcome("b"),
            Some(Outcome::AcceptedThroughout { window_s: 15.0 })
        );
        assert_eq!(
            summary.outcome("c"),
            Some(Outcome::Mixed {
                refused: 1,
                trials: 2
            })
        );
        assert_eq!(summary.outcome("d"), None);
    }
}
