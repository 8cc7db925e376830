//! The committed sample report (`reports/sample/`) must not contradict its
//! own `results.json`: the c15 table is recomputed from the experiments'
//! typed summaries and compared cell by cell, and every claim has a row in
//! the verdict table. A sample rendered by older code fails here until it is
//! regenerated.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::Path;

use lab::{
    claims::CLAIMS,
    experiments::c15_summary::{rows, Sources},
    results::RunResults,
};

fn sample() -> RunResults {
    RunResults::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../reports/sample")).unwrap()
}

#[test]
fn the_c15_table_is_what_the_summaries_say() {
    let run = sample();
    let c15 = run
        .experiments
        .iter()
        .find(|e| e.id == "c15")
        .expect("the sample has c15");
    let table = &c15.tables[0];
    let expected = rows(&Sources::from_results(&run.experiments));
    assert_eq!(table.rows.len(), expected.len());
    for (cells, want) in table.rows.iter().zip(&expected) {
        assert_eq!(
            cells,
            &want.to_vec(),
            "c15 row disagrees with {}'s summary",
            want[3]
        );
        let source = run.experiments.iter().find(|e| e.id == want[3]);
        let measured = source.is_some_and(|e| e.error.is_none() && e.summary.is_some());
        assert_eq!(
            !cells[1].starts_with("not measured"),
            measured,
            "{}: a number exactly when {} ran: {cells:?}",
            cells[0],
            want[3]
        );
    }
}

#[test]
fn every_claim_has_a_row_in_the_sample_report() {
    let md = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../reports/sample/report.md"),
    )
    .unwrap();
    for claim in CLAIMS {
        assert!(
            md.contains(&format!("\n| {} | ", claim.id)),
            "{} has no row",
            claim.id
        );
    }
    assert!(
        !md.contains("shared/"),
        "the report points outside the repository"
    );
}

/// The README quotes the sample's verdicts; a new sample with other
/// verdicts must update it, or the first page a user reads is stale.
#[test]
fn the_readme_quotes_the_samples_verdicts() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let run = sample();
    for row in lab::claims::rows(&run) {
        let line = readme
            .lines()
            .find(|l| l.starts_with(&format!("| {} |", row.claim)))
            .unwrap_or_else(|| panic!("README has no row for {}", row.claim));
        let quoted = line
            .trim_end_matches('|')
            .rsplit('|')
            .next()
            .unwrap()
            .trim();
        let label = row.verdict.label();
        assert!(
            quoted == label
                || quoted.starts_with(&format!("{label}:"))
                || quoted.starts_with(&format!("{label} (")),
            "README says {} {quoted:?}; the sample says {label:?}",
            row.claim
        );
    }
}
