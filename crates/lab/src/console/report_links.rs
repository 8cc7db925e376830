//! Links from the console's controls to the latest report: each button
//! names a claim, and when `reports/latest` holds a run that judged it, the
//! button links to the section that did. The same directory is what the
//! console serves under `/report/`, so the rule for which of its files may
//! be served lives here too.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

/// Which experiment of the latest run answers each claim, so a control can
/// link to the section of the report that measured what it shows.
pub(crate) struct ReportLinks {
    dir: PathBuf,
    by_claim: BTreeMap<String, String>,
}

impl ReportLinks {
    /// Reads `dir/results.json`; no links when there is no readable report.
    pub fn read(dir: &Path) -> Self {
        let by_claim = std::fs::read(dir.join("results.json"))
            .ok()
            .filter(|_| dir.join("report.html").is_file())
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .map(|results| claims_to_experiments(&results))
            .unwrap_or_default();
        Self {
            dir: dir.to_owned(),
            by_claim,
        }
    }

    /// The report section answering `claim`, if the latest run has one.
    pub fn link(&self, claim: &str) -> Option<String> {
        self.by_claim
            .get(claim)
            .map(|id| format!("/report/report.html#{id}"))
    }

    /// A file of the report directory the console may serve, with its type:
    /// the report and its charts, by plain file name only.
    pub fn file(&self, name: &str) -> Option<(PathBuf, &'static str)> {
        if self.by_claim.is_empty()
            || name.contains('/')
            || name.contains('\\')
            || name.starts_with('.')
        {
            return None;
        }
        let content_type = match Path::new(name).extension()?.to_str()? {
            "html" => "text/html; charset=utf-8",
            "svg" => "image/svg+xml",
            "png" => "image/png",
            "md" => "text/markdown; charset=utf-8",
            "json" => "application/json",
            _ => return None,
        };
        Some((self.dir.join(name), content_type))
    }
}

/// `claim id → experiment id` from a run's `results.json`.
fn claims_to_experiments(results: &serde_json::Value) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for experiment in results["experiments"].as_array().into_iter().flatten() {
        let Some(id) = experiment["id"].as_str() else {
            continue;
        };
        for verdict in experiment["verdicts"].as_array().into_iter().flatten() {
            if let Some(claim) = verdict["claim"].as_str() {
                map.entry(claim.to_owned()).or_insert_with(|| id.to_owned());
            }
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_point_at_the_experiment_that_judged_them() {
        let results = serde_json::json!({"experiments": [
            {"id": "c3", "verdicts": [{"claim": "C3"}]},
            {"id": "c15", "verdicts": [{"claim": "C15"}]},
        ]});
        let map = claims_to_experiments(&results);
        assert_eq!(map.get("C3").map(String::as_str), Some("c3"));
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn only_plain_report_files_are_served() {
        let links = ReportLinks {
            dir: PathBuf::from("/r"),
            by_claim: [("C1".to_owned(), "c1".to_owned())].into(),
        };
        assert!(links.file("report.html").is_some());
        assert!(links.file("c3.svg").is_some());
        for bad in [
            "../etc/passwd",
            "a/b.svg",
            ".hidden.html",
            "run.sh",
            "noext",
        ] {
            assert!(links.file(bad).is_none(), "{bad} was served");
        }
        let none = ReportLinks {
            dir: PathBuf::from("/r"),
            by_claim: BTreeMap::new(),
        };
        assert!(none.file("report.html").is_none());
    }
}
