//! One small experiment run end to end, as `authlab run --quick --only c9` does it.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use lab::{
    experiment::RunSettings,
    results::{RunResults, Verdict},
};

#[tokio::test]
async fn a_quick_c9_run_writes_results_charts_and_reports() {
    let root = tempfile::tempdir().unwrap();
    let dir = lab::experiments::run(&RunSettings {
        engine: std::sync::Arc::new(lab::Local),
        only: vec!["c9".into()],
        quick: true,
        root: root.path().into(),
        launcher: env!("CARGO_BIN_EXE_authlab").into(),
    })
    .await
    .unwrap();

    for file in [
        "results.json",
        "report.md",
        "report.html",
        "c9.svg",
        "c9.png",
    ] {
        let path = dir.join(file);
        assert!(
            std::fs::metadata(&path)
                .map(|m| m.len() > 0)
                .unwrap_or(false),
            "{} missing",
            path.display()
        );
    }
    assert!(
        root.path().join("latest").join("results.json").exists(),
        "reports/latest points at the run"
    );

    let results = RunResults::read(&dir).unwrap();
    assert_eq!(
        results.experiments.len(),
        1,
        "c15 needs two source experiments"
    );
    let c9 = &results.experiments[0];
    assert!(c9.error.is_none(), "{:?}", c9.error);
    // Where it ran: this machine, and the clusters c9 started on it.
    let environment = results.environment.as_ref().unwrap();
    assert_eq!(
        (environment.engine.as_str(), environment.hosts.len()),
        ("local", 1)
    );
    let placed = &environment.experiments[0];
    assert_eq!(placed.experiment, "c9");
    assert!(placed.clusters >= 1 && placed.placements[0].iter().any(|p| p.part == "haproxy"));
    assert!(!matches!(c9.verdicts[0].verdict, Verdict::Inconclusive(_)));
    // The sizes c15 reads: c9's typed summary in results.json.
    let Some(lab::summaries::Summary::Size(size)) = &c9.summary else {
        panic!("c9 wrote no size summary: {:?}", c9.summary);
    };
    let (cookie, token) = (size.cookie_header_bytes, size.login_jwt_header_bytes);
    assert!(
        cookie > 50 && token > cookie,
        "measured sizes: cookie {cookie}, token {token}"
    );

    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        html.contains("<svg") && html.contains("C9"),
        "self-contained report with its chart"
    );
    // Re-rendering from results.json alone reproduces the report.
    let before = std::fs::read_to_string(dir.join("report.md")).unwrap();
    std::fs::remove_file(dir.join("report.md")).unwrap();
    lab::report::render(&results, &dir).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("report.md")).unwrap(),
        before
    );
}
