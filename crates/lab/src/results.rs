//! What a run writes: `reports/<run-id>/results.json`, the single source of
//! every number in the charts and the report. `authlab report <dir>`
//! re-renders from this file alone, so the schema is the contract between
//! running and reporting.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{summaries::Summary, LabError};

/// A claim's verdict, computed from numbers by a rule stated next to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", content = "note", rename_all = "snake_case")]
pub enum Verdict {
    Holds,
    /// Holds, with the caveat said.
    HoldsWithCaveat(String),
    /// Does not hold on this machine, and why.
    DoesNotHold(String),
    /// The run could not decide (an experiment failed, or its load runs
    /// were invalid).
    Inconclusive(String),
    /// Nothing in this run measured the claim, and why.
    NotMeasured(String),
}

impl Verdict {
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::HoldsWithCaveat(_) => "holds with a caveat",
            Verdict::DoesNotHold(_) => "does not hold here",
            Verdict::Inconclusive(_) => "inconclusive",
            Verdict::NotMeasured(_) => "not measured in this run",
        }
    }

    pub fn note(&self) -> Option<&str> {
        match self {
            Verdict::Holds => None,
            Verdict::HoldsWithCaveat(n)
            | Verdict::DoesNotHold(n)
            | Verdict::Inconclusive(n)
            | Verdict::NotMeasured(n) => Some(n),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimVerdict {
    /// `C1` … `C15`, as in docs/claims.md.
    pub claim: String,
    pub verdict: Verdict,
    /// The rule the verdict was computed with, in words.
    pub rule: String,
    /// The numbers the rule was applied to.
    pub evidence: String,
    /// The one figure of this run that best shows the outcome, short enough
    /// for the first screen's verdict table ("" where the run has none).
    #[serde(default)]
    pub headline: String,
    /// What the set-up or the design decides, not the run: a part of the
    /// outcome that could not have come out otherwise on any machine. The
    /// report prints it apart from the measured verdict, so a reader can
    /// tell a measured outcome from a design fact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_design: Option<String>,
}

/// A table of numbers as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// One bar or point of a series; `low`/`high` give the spread across trials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub x: String,
    pub y: f64,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartKind {
    /// Grouped bars over categorical x values, with spread whiskers.
    Bars,
    /// Lines over numeric x values (time, node count).
    Lines,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chart {
    pub title: String,
    pub kind: ChartKind,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentResult {
    pub id: String,
    pub title: String,
    pub claims: Vec<String>,
    pub question: String,
    pub setup: String,
    pub verdicts: Vec<ClaimVerdict>,
    pub tables: Vec<Table>,
    pub chart: Option<Chart>,
    pub lesson: String,
    /// The figures other parts of authlab use (c15, the console), typed:
    /// nobody reads another experiment's `raw` by string keys.
    #[serde(default)]
    pub summary: Option<Summary>,
    /// Raw figures (per trial, per variant), for anyone who wants to recompute.
    pub raw: serde_json::Value,
    pub seconds: f64,
    /// Set when the experiment failed; its verdicts are then inconclusive.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cores: usize,
    pub memory_bytes: u64,
    pub os: String,
    pub kernel: String,
}

impl Machine {
    pub fn detect() -> Self {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib: u64 = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let os = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                    .map(|v| v.trim_matches('"').to_owned())
            })
            .unwrap_or_else(|| std::env::consts::OS.to_owned());
        Self {
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            memory_bytes: memory_kib * 1024,
            os,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|k| k.trim().to_owned())
                .unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Versions {
    pub authlab: String,
    /// `release` or `debug`: timings of a debug build are not the product's.
    #[serde(default)]
    pub build: String,
    pub redis_server: Option<String>,
    pub haproxy: Option<String>,
    pub wrk: Option<String>,
}

impl Versions {
    pub fn detect() -> Self {
        let programs = crate::doctor::programs();
        let find = |name: &str| {
            programs
                .iter()
                .find(|p| p.name == name)
                .and_then(|p| p.version.clone())
        };
        Self {
            authlab: env!("CARGO_PKG_VERSION").to_owned(),
            build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .to_owned(),
            redis_server: find("redis-server"),
            haproxy: find("haproxy"),
            wrk: find("wrk"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    pub run_id: String,
    /// RFC 3339, UTC.
    pub started: String,
    pub quick: bool,
    pub only: Vec<String>,
    pub machine: Machine,
    pub versions: Versions,
    pub experiments: Vec<ExperimentResult>,
}

impl RunResults {
    pub fn write(&self, dir: &Path) -> Result<(), LabError> {
        let json = serde_json::to_string_pretty(self).map_err(|e| LabError::Io(e.to_string()))?;
        std::fs::write(dir.join("results.json"), json)
            .map_err(|e| LabError::Io(format!("results.json: {e}")))
    }

    pub fn read(dir: &Path) -> Result<Self, LabError> {
        let path = dir.join("results.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| LabError::Io(format!("{}: {e}", path.display())))?;
        serde_json::from_str(&text).map_err(|e| LabError::Io(format!("{}: {e}", path.display())))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> RunResults {
        RunResults {
            run_id: "20261122-120000".into(),
            started: "2026-11-22T12:00:00Z".into(),
            quick: true,
            only: vec!["c12".into()],
            machine: Machine::detect(),
            versions: Versions {
                authlab: "0.1.0".into(),
                build: "debug".into(),
                redis_server: Some("Redis server v=7.0.15".into()),
                haproxy: None,
                wrk: None,
            },
            experiments: vec![ExperimentResult {
                id: "c12".into(),
                title: "Attack corpus".into(),
                claims: vec!["C12".into()],
                question: "q".into(),
                setup: "s".into(),
                verdicts: vec![ClaimVerdict {
                    headline: String::new(),
                    by_design: None,
                    claim: "C12".into(),
                    verdict: Verdict::HoldsWithCaveat("naive verifier accepts 20 of 31".into()),
                    rule: "r".into(),
                    evidence: "e".into(),
                }],
                tables: vec![Table {
                    title: "t".into(),
                    columns: vec!["a".into(), "b".into()],
                    rows: vec![vec!["1".into(), "2".into()]],
                }],
                chart: Some(Chart {
                    title: "c".into(),
                    kind: ChartKind::Bars,
                    x_label: "x".into(),
                    y_label: "y".into(),
                    series: vec![Series {
                        name: "strict".into(),
                        points: vec![Point {
                            x: "alg none".into(),
                            y: 1.5,
                            low: Some(1.0),
                            high: Some(2.0),
                        }],
                    }],
                }),
                lesson: "l".into(),
                summary: None,
                raw: serde_json::json!({"trials": [1, 2, 3]}),
                seconds: 1.25,
                error: None,
            }],
        }
    }

    #[test]
    fn results_round_trip_through_json() {
        let dir = tempfile::tempdir().unwrap();
        let results = sample();
        results.write(dir.path()).unwrap();
        assert_eq!(RunResults::read(dir.path()).unwrap(), results);
    }
}
