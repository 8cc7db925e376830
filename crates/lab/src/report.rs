//! `report.md` and a self-contained `report.html` from `results.json`.
//!
//! Rendering reads nothing but the results (and draws the charts from them),
//! so `authlab report <dir>` reproduces a report without re-running anything.
//! Templates live in `crates/lab/templates/` and are compiled in.

use std::{collections::BTreeMap, path::Path};

use minijinja::{context, Environment, Value};
use serde::Serialize;

use crate::{
    charts, claims, first_screen, glossary,
    results::{RunResults, Verdict},
    LabError,
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

fn verdict_of(value: Value) -> Option<Verdict> {
    serde_json::to_value(&value)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
}

fn environment() -> Result<Environment<'static>, LabError> {
    let mut env = Environment::new();
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
        machine => first_screen::machine_line(&results.machine, &results.versions.build, results.quick),
        answer => first_screen::short_answer(results),
        glossary => glossary::used_by(results),
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
}
