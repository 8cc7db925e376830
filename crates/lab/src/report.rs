//! `report.md` and a self-contained `report.html` from `results.json`.
//!
//! Rendering reads nothing but the results (and draws the charts from them),
//! so `authlab report <dir>` reproduces a report without re-running anything.
//! Templates live in `crates/lab/templates/` and are compiled in.
//!
//! Besides the verdicts and the experiments, a report says where it ran
//! ([`where_it_ran`]: the engine, its hosts, whether they share one machine,
//! which host ran which part) and which selected experiments the engine
//! left out, with their reasons ([`not_run`]): a throughput measured on
//! three hosts of one 2-core machine is a 2-core figure, and a claim left
//! unmeasured must say why.

use std::{collections::BTreeMap, path::Path};

use minijinja::{context, Value};
use serde::Serialize;

use crate::{
    charts, claims, first_screen, glossary,
    results::{Environment, ExperimentPlacements, NotRun, RunResults, Verdict},
    Engine, LabError,
};

const MARKDOWN: &str = include_str!("../templates/report.md.j2");
const HTML: &str = include_str!("../templates/report.html.j2");

#[derive(Serialize)]
struct VerdictRow {
    claim: String,
    statement: String,
    label: String,
    note: String,
    experiment_id: String,
    /// The run's figure for the claim, or what stands in for it.
    headline: String,
    by_design: String,
}

/// The verdict table's figure: the run's headline, or why there is none
/// (a claim the run did not measure has no figure, and says so).
fn headline(row: &claims::ClaimRow) -> String {
    match (&row.verdict, row.headline.is_empty()) {
        (_, false) => row.headline.clone(),
        (Verdict::NotMeasured(_), true) => "not measured".into(),
        (Verdict::Inconclusive(_), true) => "no usable figure".into(),
        (_, true) => "see the experiment".into(),
    }
}

/// The report's "Where it ran" section.
#[derive(Debug, Serialize)]
pub struct WhereItRan {
    /// The engine and its hosts in a sentence; with one host, the whole
    /// section.
    pub lead: String,
    /// A row per host when there are several.
    pub hosts: Vec<HostRow>,
    /// Whether the hosts share one machine, and the cores that gives.
    pub machines: String,
    /// Per experiment, which host ran which part (`c5: session-1@swarm-2, …`).
    pub parts: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct HostRow {
    pub name: String,
    pub role: String,
    pub cores: usize,
    /// The boot id's first 8 characters: enough to tell machines apart.
    pub boot_id: String,
}

/// `a machine`, `3 machines`.
fn count(n: usize, one: &str, many: &str) -> String {
    match n {
        1 => format!("one {one}"),
        n => format!("{n} {many}"),
    }
}

/// Whether the hosts share one machine, and what that leaves them.
fn machines_sentence(env: &Environment) -> String {
    let hosts = env.hosts.len();
    let name = format!("{hosts} {} hosts", env.engine);
    if env.share_one_machine {
        format!(
            "The {name} share one machine (one boot id): they share its {} cores.",
            env.physical_cores
        )
    } else if env.machines == hosts {
        format!(
            "The {name} are {hosts} machines ({hosts} boot ids): {} cores in all.",
            env.physical_cores
        )
    } else {
        format!(
            "The {name} are {} ({} boot ids): {} cores in all; hosts on one machine share its cores.",
            count(env.machines, "machine", "machines"),
            env.machines,
            env.physical_cores
        )
    }
}

/// `c5: session-1@swarm-2, haproxy@swarm-1`, or with several placements
/// `c5 (4 clusters, 2 placements): …; …`.
fn parts_line(e: &ExperimentPlacements) -> String {
    let placements = e
        .placements
        .iter()
        .map(|placement| {
            placement
                .iter()
                .map(|p| format!("{}@{}", p.part, p.host))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect::<Vec<_>>()
        .join("; ");
    let more = e.distinct.saturating_sub(e.placements.len());
    let more = if more > 0 {
        format!(" (and {more} more placement(s))")
    } else {
        String::new()
    };
    if e.distinct <= 1 {
        format!("{}: {placements}", e.experiment)
    } else {
        format!(
            "{} ({} clusters, {} placements): {placements}{more}",
            e.experiment, e.clusters, e.distinct
        )
    }
}

/// Where the run ran, as the report says it: with one host one line, with
/// several a table, whether they share a machine, and which host ran which
/// part of each experiment's clusters.
pub fn where_it_ran(env: &Environment) -> WhereItRan {
    let engine = &env.engine;
    if let Some(error) = &env.hosts_error {
        return WhereItRan {
            lead: format!("On the {engine} engine, which could not list its hosts ({error})."),
            hosts: Vec::new(),
            machines: String::new(),
            parts: env.experiments.iter().map(parts_line).collect(),
        };
    }
    if env.hosts.is_empty() {
        return WhereItRan {
            lead: format!("On the {engine} engine, which reported no hosts."),
            hosts: Vec::new(),
            machines: String::new(),
            parts: env.experiments.iter().map(parts_line).collect(),
        };
    }
    if let [host] = env.hosts.as_slice() {
        let elsewhere = env
            .experiments
            .iter()
            .any(|e| e.hosts.iter().any(|h| *h != host.name));
        return WhereItRan {
            lead: format!(
                "On the {engine} engine, one host: {} ({} cores, boot id {}){}.",
                host.name,
                host.cores,
                short(&host.boot_id),
                if elsewhere || env.experiments.is_empty() {
                    ""
                } else {
                    "; every part of every cluster ran there"
                }
            ),
            hosts: Vec::new(),
            machines: String::new(),
            parts: if elsewhere {
                env.experiments.iter().map(parts_line).collect()
            } else {
                Vec::new()
            },
        };
    }
    WhereItRan {
        lead: format!(
            "On the {engine} engine, {}:",
            count(env.hosts.len(), "host", "hosts")
        ),
        hosts: env
            .hosts
            .iter()
            .map(|h| HostRow {
                name: h.name.clone(),
                role: h.role.clone(),
                cores: h.cores,
                boot_id: short(&h.boot_id).to_owned(),
            })
            .collect(),
        machines: machines_sentence(env),
        parts: env.experiments.iter().map(parts_line).collect(),
    }
}

fn short(boot_id: &str) -> &str {
    boot_id.get(..8).unwrap_or(boot_id)
}

/// The report's first line on the machine: authlab's, and on another engine
/// than the local one a pointer to where the clusters ran, since the cores
/// quoted are not theirs.
fn machine_line(results: &RunResults) -> String {
    let line = first_screen::machine_line(&results.machine, &results.versions.build, results.quick);
    match &results.environment {
        Some(env) if env.engine != crate::Local.name() => format!(
            "{line} (the machine authlab ran on; the clusters ran on the {} engine, {}: see \"Where it ran\")",
            env.engine,
            count(env.hosts.len(), "host", "hosts")
        ),
        _ => line,
    }
}

/// An experiment the engine left out, as the report lists it.
#[derive(Debug, Serialize)]
pub struct NotRunRow {
    pub id: String,
    pub title: String,
    pub claims: String,
    /// `local only`.
    pub status: String,
    pub reason: String,
}

/// The report's "Not run on this engine" list.
pub fn not_run(not_run: &[NotRun]) -> Vec<NotRunRow> {
    not_run
        .iter()
        .map(|n| NotRunRow {
            id: n.id.clone(),
            title: n.title.clone(),
            claims: n.claims.join(", "),
            status: n.status.label().to_owned(),
            reason: n.reason.clone(),
        })
        .collect()
}

fn verdict_of(value: Value) -> Option<Verdict> {
    serde_json::to_value(&value)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
}

fn environment() -> Result<minijinja::Environment<'static>, LabError> {
    let mut env = minijinja::Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_function("verdict_label", |v: Value| {
        verdict_of(v)
            .map(|v| v.label().to_owned())
            .unwrap_or_default()
    });
    env.add_function("verdict_note", |v: Value| {
        verdict_of(v)
            .and_then(|v| v.note().map(str::to_owned))
            .unwrap_or_default()
    });
    env.add_template("report.md", MARKDOWN)
        .map_err(template_error)?;
    env.add_template("report.html", HTML)
        .map_err(template_error)?;
    Ok(env)
}

fn template_error(error: minijinja::Error) -> LabError {
    LabError::Io(format!("report template: {error}"))
}

/// Writes every chart (SVG + PNG), `report.md` and `report.html` into `dir`.
pub fn render(results: &RunResults, dir: &Path) -> Result<(), LabError> {
    let mut svgs = BTreeMap::new();
    for experiment in &results.experiments {
        if let Some(chart) = &experiment.chart {
            charts::write(chart, dir, &experiment.id)?;
            svgs.insert(experiment.id.clone(), charts::svg(chart)?);
        }
    }
    let verdicts: Vec<VerdictRow> = claims::rows(results)
        .into_iter()
        .map(|row| VerdictRow {
            label: row.verdict.label().to_owned(),
            note: row.verdict.note().unwrap_or("").to_owned(),
            headline: headline(&row),
            by_design: row.by_design.unwrap_or_default(),
            claim: row.claim,
            statement: row.statement,
            experiment_id: row.experiment_id,
        })
        .collect();
    let env = environment()?;
    let ctx = context! {
        run => results,
        verdicts => verdicts,
        charts => svgs,
        claims_doc => claims::DOC,
        machine => machine_line(results),
        answer => first_screen::short_answer(results),
        glossary => glossary::used_by(results),
        where_it_ran => results.environment.as_ref().map(where_it_ran),
        not_run => not_run(&results.not_run),
    };
    for (name, file) in [("report.md", "report.md"), ("report.html", "report.html")] {
        let text = env
            .get_template(name)
            .and_then(|t| t.render(&ctx))
            .map_err(template_error)?;
        std::fs::write(dir.join(file), text).map_err(|e| LabError::Io(format!("{file}: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_markdown_and_self_contained_html() {
        let dir = tempfile::tempdir().unwrap();
        let results = crate::results::tests::sample();
        render(&results, dir.path()).unwrap();
        let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
        assert!(md.contains("| C12 | Verification mistakes"), "{md}");
        assert!(
            md.contains("**holds with a caveat** | see the experiment | [c12](#c12) |"),
            "{md}"
        );
        assert!(
            md.contains("| C11 |")
                && md.contains("**not measured in this run** | not measured |  |")
                && md.contains(
                    "- **C11** (not measured in this run): its experiment c11 was not selected (--only c12)"
                ),
            "every claim has a row, and the reason for a gap is listed: {md}"
        );
        let answer = md.find("## The short answer").expect("a short answer");
        let table = md.find("## Verdicts").expect("a verdict table");
        let first = md.find("## c12").expect("the experiment");
        assert!(
            answer < table && table < first,
            "the answer comes first: {md}"
        );
        assert!(
            md[..answer].contains("a debug build of authlab")
                && !md[..first].contains("Redis server v="),
            "the machine in one line, versions only in the appendix: {md}"
        );
        assert!(
            md.contains("| redis-server | Redis server v=7.0.15 |"),
            "{md}"
        );
        assert!(md.contains("## Appendix: glossary"), "{md}");
        assert!(md.contains("![c](c12.svg)"));
        let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
        assert!(html.contains("<svg"), "chart inlined");
        assert!(!html.contains("src=\"c12"), "no external files");
        assert!(dir.path().join("c12.png").exists());
        assert!(
            html.contains("<h2>The short answer</h2>") && html.contains("id=\"glossary\""),
            "{html}"
        );
    }

    #[test]
    fn a_design_fact_is_printed_apart_from_the_measured_verdict() {
        let dir = tempfile::tempdir().unwrap();
        let mut results = crate::results::tests::sample();
        let verdict = &mut results.experiments[0].verdicts[0];
        verdict.headline = "server refused 140 of 140".into();
        verdict.by_design = Some("the corpus is fixed".into());
        render(&results, dir.path()).unwrap();
        let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
        assert!(
            md.contains("**holds with a caveat** (partly by design) | server refused 140 of 140 |"),
            "{md}"
        );
        assert!(md.contains("- **C12**: the corpus is fixed"), "{md}");
        assert!(
            md.contains("*Decided by the design, not by this run:* the corpus is fixed"),
            "{md}"
        );
    }

    fn swarm_run_without_c4() -> RunResults {
        let mut results = crate::results::tests::sample();
        results.environment = Some(crate::results::tests::swarm_environment());
        results.not_run = vec![crate::results::NotRun {
            id: "c4".into(),
            title: "Store latency".into(),
            claims: vec!["C4".into()],
            status: crate::results::NotRunStatus::LocalOnly,
            reason: "it sets the store's delay through the latency proxy".into(),
        }];
        results
    }

    #[test]
    fn locally_where_it_ran_is_one_line() {
        let env = crate::results::tests::local_environment();
        let shown = where_it_ran(&env);
        assert_eq!(
            shown.lead,
            "On the local engine, one host: lab-box (2 cores, boot id 5f0c1a2e); every part of every cluster ran there."
        );
        assert!(shown.hosts.is_empty() && shown.machines.is_empty() && shown.parts.is_empty());

        let dir = tempfile::tempdir().unwrap();
        render(&crate::results::tests::sample(), dir.path()).unwrap();
        let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
        let section = &md[md.find("## Where it ran").expect("the section")..];
        let section = &section[..section.find("\n## ").unwrap()];
        assert_eq!(
            section.trim_end(),
            format!("## Where it ran <a id=\"where\"></a>\n\n{}", shown.lead),
            "{md}"
        );
        assert!(!md.contains("Not run on this engine"), "{md}");

        // No cluster recorded (the console's view of a deployment): no claim
        // about where the parts ran.
        let mut console = env.clone();
        console.experiments.clear();
        assert_eq!(
            where_it_ran(&console).lead,
            "On the local engine, one host: lab-box (2 cores, boot id 5f0c1a2e)."
        );
    }

    #[test]
    fn on_a_swarm_of_one_machine_the_report_says_they_share_its_cores() {
        let env = crate::results::tests::swarm_environment();
        let shown = where_it_ran(&env);
        assert_eq!(shown.lead, "On the swarm engine, 3 hosts:");
        assert_eq!(
            shown.machines,
            "The 3 swarm hosts share one machine (one boot id): they share its 2 cores."
        );
        assert_eq!(
            shown.parts,
            ["c5 (4 clusters, 2 placements): session-1@swarm-2, jwt-1@swarm-3, haproxy@swarm-1; \
              session-1@swarm-3, jwt-1@swarm-2, haproxy@swarm-1"]
        );
        let first = &shown.hosts[0];
        assert_eq!(
            (
                first.name.as_str(),
                first.role.as_str(),
                first.cores,
                first.boot_id.as_str()
            ),
            ("swarm-1", "manager", 2, "0b7e4f7a")
        );

        let dir = tempfile::tempdir().unwrap();
        render(&swarm_run_without_c4(), dir.path()).unwrap();
        let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
        assert!(
            md.lines().nth(2).unwrap().contains(
                "(the machine authlab ran on; the clusters ran on the swarm engine, 3 hosts: see \"Where it ran\")"
            ),
            "{md}"
        );
        assert!(
            md.contains("| swarm-2 | worker | 2 | 0b7e4f7a |")
                && md.contains("they share its 2 cores.")
                && md.contains("- c5 (4 clusters, 2 placements): session-1@swarm-2"),
            "{md}"
        );
        let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
        assert!(
            html.contains("<h2 id=\"where\">Where it ran</h2>")
                && html.contains(
                    "<td>swarm-3</td><td>worker</td><td>2</td><td><code>0b7e4f7a</code></td>"
                )
                && html.contains("<li>c5 (4 clusters, 2 placements): "),
            "{html}"
        );
    }

    #[test]
    fn hosts_on_several_machines_count_each_machines_cores_once() {
        let mut env = crate::results::tests::swarm_environment();
        env.hosts[1].boot_id = "another-machine".into();
        env.machines = 2;
        env.physical_cores = 4;
        env.share_one_machine = false;
        assert_eq!(
            machines_sentence(&env),
            "The 3 swarm hosts are 2 machines (2 boot ids): 4 cores in all; hosts on one machine share its cores."
        );
        env.hosts[2].boot_id = "a third".into();
        env.machines = 3;
        env.physical_cores = 6;
        assert_eq!(
            machines_sentence(&env),
            "The 3 swarm hosts are 3 machines (3 boot ids): 6 cores in all."
        );
        env.hosts_error = Some("docker: not found".into());
        assert_eq!(
            where_it_ran(&env).lead,
            "On the swarm engine, which could not list its hosts (docker: not found)."
        );
    }

    #[test]
    fn what_the_engine_did_not_run_is_listed_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        render(&swarm_run_without_c4(), dir.path()).unwrap();
        let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
        let listed = md.find("## Not run on this engine").expect("the list");
        assert!(
            md[listed..].contains(
                "- **c4** (Store latency; C4): local only: it sets the store's delay through the latency proxy"
            ) && listed < md.find("## c12").unwrap(),
            "{md}"
        );
        assert!(
            md.contains(
                "- **C4** (not measured in this run): its experiment c4 runs on the local engine only, \
                 and this run's engine was swarm"
            ),
            "the verdict table's gap says why: {md}"
        );
        let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
        assert!(
            html.contains("<li><strong>c4</strong> (Store latency; C4): local only: it sets the store&#x27;s delay"),
            "{html}"
        );
    }
}
