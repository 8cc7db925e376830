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

/// A host of the run, as its engine reported it (see [`harness::Host`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRecord {
    pub name: String,
    pub cores: usize,
    /// The kernel's boot id: hosts that share one share a machine.
    pub boot_id: String,
    /// `local`, `manager`, `worker`.
    pub role: String,
}

impl From<&harness::Host> for HostRecord {
    fn from(host: &harness::Host) -> Self {
        Self {
            name: host.name.clone(),
            cores: host.cores,
            boot_id: host.boot_id.clone(),
            role: host.role.clone(),
        }
    }
}

/// Which host ran a part of a cluster (see [`harness::Placement`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacementRecord {
    /// `session-1`, `haproxy`, `generator-1`.
    pub part: String,
    pub host: String,
}

impl From<&harness::Placement> for PlacementRecord {
    fn from(placement: &harness::Placement) -> Self {
        Self {
            part: placement.part.clone(),
            host: placement.host.clone(),
        }
    }
}

/// Where one experiment's clusters ran.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExperimentPlacements {
    pub experiment: String,
    /// Clusters it started.
    pub clusters: usize,
    /// Distinct placements among them.
    pub distinct: usize,
    /// The first distinct placements, at most
    /// [`KEPT_PLACEMENTS`](crate::experiment::KEPT_PLACEMENTS): a run of
    /// forty identical clusters needs one.
    pub placements: Vec<Vec<PlacementRecord>>,
    /// Every host that ran a part of any of its clusters, first seen first.
    pub hosts: Vec<String>,
}

/// Where the run ran: the engine, its hosts, and what they amount to.
///
/// Several hosts are not several machines: swarm nodes in virtual machines
/// or containers on one box share its kernel and its cores. So the hosts
/// carry their boot ids, and `machines` and `physical_cores` count each
/// kernel once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// `local`, `swarm`.
    pub engine: String,
    pub hosts: Vec<HostRecord>,
    /// Distinct machines among the hosts (by boot id).
    pub machines: usize,
    /// Cores the run really had: each machine's counted once.
    pub physical_cores: usize,
    pub share_one_machine: bool,
    /// Why the engine could not list its hosts, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts_error: Option<String>,
    /// Per experiment that started clusters, where they ran.
    #[serde(default)]
    pub experiments: Vec<ExperimentPlacements>,
}

impl Environment {
    pub fn new(engine: &str, hosts: &harness::Hosts) -> Self {
        Self {
            engine: engine.to_owned(),
            hosts: hosts.hosts.iter().map(HostRecord::from).collect(),
            machines: hosts.machines(),
            physical_cores: hosts.physical_cores(),
            share_one_machine: hosts.share_one_machine(),
            hosts_error: None,
            experiments: Vec::new(),
        }
    }
}

/// Why an experiment selected for the run did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotRunStatus {
    /// It runs on the local engine only, and the run's engine was another.
    LocalOnly,
}

impl NotRunStatus {
    pub fn label(self) -> &'static str {
        match self {
            NotRunStatus::LocalOnly => "local only",
        }
    }
}

/// An experiment the run left out on purpose, and why: recorded so that
/// no claim goes unmeasured without a reason the report can give.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotRun {
    pub id: String,
    pub title: String,
    pub claims: Vec<String>,
    pub status: NotRunStatus,
    pub reason: String,
}

impl NotRun {
    /// `c4: local only (it sets the store's delay …)`: what `authlab run`
    /// prints, and the report lists.
    pub fn line(&self) -> String {
        format!("{}: {} ({})", self.id, self.status.label(), self.reason)
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
    /// The engine and its hosts; `None` in results written before it was
    /// recorded.
    #[serde(default)]
    pub environment: Option<Environment>,
    pub experiments: Vec<ExperimentResult>,
    /// Selected experiments this run's engine does not run.
    #[serde(default)]
    pub not_run: Vec<NotRun>,
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
            environment: Some(local_environment()),
            not_run: Vec::new(),
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

    /// One host, as the local engine reports this machine.
    pub(crate) fn local_environment() -> Environment {
        let mut environment = Environment::new(
            "local",
            &harness::Hosts {
                hosts: vec![harness::Host {
                    name: "lab-box".into(),
                    cores: 2,
                    boot_id: "5f0c1a2e-9d7b-4c55-8e0a-2b9f3c4d5e6f".into(),
                    role: "local".into(),
                }],
            },
        );
        environment.experiments = vec![ExperimentPlacements {
            experiment: "c12".into(),
            clusters: 1,
            distinct: 1,
            placements: vec![vec![PlacementRecord {
                part: "jwt-1".into(),
                host: "lab-box".into(),
            }]],
            hosts: vec!["lab-box".into()],
        }];
        environment
    }

    /// Three swarm hosts, virtual machines on one 2-core box.
    pub(crate) fn swarm_environment() -> Environment {
        let host = |name: &str, role: &str| harness::Host {
            name: name.into(),
            cores: 2,
            boot_id: "0b7e4f7a-1111-4a3b-9c2d-3e4f5a6b7c8d".into(),
            role: role.into(),
        };
        let mut environment = Environment::new(
            "swarm",
            &harness::Hosts {
                hosts: vec![
                    host("swarm-1", "manager"),
                    host("swarm-2", "worker"),
                    host("swarm-3", "worker"),
                ],
            },
        );
        let placed = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(part, host)| PlacementRecord {
                    part: (*part).into(),
                    host: (*host).into(),
                })
                .collect::<Vec<_>>()
        };
        environment.experiments = vec![ExperimentPlacements {
            experiment: "c5".into(),
            clusters: 4,
            distinct: 2,
            placements: vec![
                placed(&[
                    ("session-1", "swarm-2"),
                    ("jwt-1", "swarm-3"),
                    ("haproxy", "swarm-1"),
                ]),
                placed(&[
                    ("session-1", "swarm-3"),
                    ("jwt-1", "swarm-2"),
                    ("haproxy", "swarm-1"),
                ]),
            ],
            hosts: vec!["swarm-2".into(), "swarm-3".into(), "swarm-1".into()],
        }];
        environment
    }

    #[test]
    fn results_round_trip_through_json() {
        let dir = tempfile::tempdir().unwrap();
        let results = sample();
        results.write(dir.path()).unwrap();
        assert_eq!(RunResults::read(dir.path()).unwrap(), results);
    }

    #[test]
    fn the_environment_and_what_did_not_run_round_trip_with_a_status() {
        let dir = tempfile::tempdir().unwrap();
        let mut results = sample();
        results.environment = Some(swarm_environment());
        results.not_run = vec![NotRun {
            id: "c4".into(),
            title: "Store latency".into(),
            claims: vec!["C4".into()],
            status: NotRunStatus::LocalOnly,
            reason: "it sets the store's delay through the latency proxy".into(),
        }];
        results.write(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join("results.json")).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["not_run"][0]["status"], "local_only");
        let environment = &json["environment"];
        assert_eq!(
            (
                &environment["engine"],
                &environment["machines"],
                &environment["physical_cores"],
                &environment["share_one_machine"]
            ),
            (
                &serde_json::json!("swarm"),
                &serde_json::json!(1),
                &serde_json::json!(2),
                &serde_json::json!(true)
            )
        );
        assert_eq!(RunResults::read(dir.path()).unwrap(), results);
        assert_eq!(
            results.not_run[0].line(),
            "c4: local only (it sets the store's delay through the latency proxy)"
        );
    }

    #[test]
    fn results_written_before_the_environment_still_read() {
        let mut json = serde_json::to_value(sample()).unwrap();
        let fields = json.as_object_mut().unwrap();
        fields.remove("environment");
        fields.remove("not_run");
        let old: RunResults = serde_json::from_value(json).unwrap();
        assert_eq!((old.environment, old.not_run), (None, Vec::new()));
    }
}
