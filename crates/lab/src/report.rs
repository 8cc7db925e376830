//! `report.md` and a self-contained `report.html` from `results.json`.
//!
//! Rendering reads nothing but the results (and draws the charts from them),
//! so `authlab report <dir>` reproduces a report without re-running anything.
//! Templates live in `crates/lab/templates/` and are compiled in.

use std::{collections::BTreeMap, path::Path};

use minijinja::{context, Environment, Value};
use serde::Serialize;

use crate::{
    charts, claims,
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
            claim: row.claim,
            statement: row.statement,
            experiment_id: row.experiment_id,
        })
        .collect();
    let env = environment()?;
    let ctx = context! { run => results, verdicts => verdicts, charts => svgs, claims_doc => claims::DOC };
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
        assert!(md.contains("**holds with a caveat** | [c12](#c12)"), "{md}");
        assert!(
            md.contains("| C11 |")
                && md.contains("**not measured in this run** |  | its experiment c11 was not selected (--only c12)"),
            "every claim has a row: {md}"
        );
        assert!(md.contains("![c](c12.svg)"));
        let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
        assert!(html.contains("<svg"), "chart inlined");
        assert!(!html.contains("src=\"c12"), "no external files");
        assert!(dir.path().join("c12.png").exists());
    }
}
