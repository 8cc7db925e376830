//! The soak's record as files: `soak.json` (everything), `soak.md` (tables
//! and checks), `p99.svg|png` and `rss.svg|png`. Every figure comes from the
//! record; nothing here measures or judges.

use std::{fmt::Write as _, path::Path};

use super::{
    judge::{self, mib, Check},
    SoakRecord, StackWindow, Window,
};
use crate::{
    charts,
    results::{Chart, ChartKind, Point, Series},
    LabError,
};

fn io(path: &Path, e: impl std::fmt::Display) -> LabError {
    LabError::Io(format!("{}: {e}", path.display()))
}

/// One line per finished minute, for the terminal.
pub(super) fn progress_line(window: &Window, minutes: u32) -> String {
    let stacks: Vec<String> = window
        .stacks
        .iter()
        .map(|s| {
            format!(
                "{} {:.0}/{:.0} req/s, {} errors, p99 {:.1} ms",
                s.stack, s.served_rps, s.offered_rps, s.errors, s.p99_ms
            )
        })
        .collect();
    format!("minute {}/{minutes}: {}", window.minute, stacks.join("; "))
}

pub(super) fn write(record: &SoakRecord, checks: &[Check], dir: &Path) -> Result<(), LabError> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let json = serde_json::to_string_pretty(&serde_json::json!({
        "record": record,
        "checks": checks,
        "passed": judge::passed(checks),
    }))
    .map_err(|e| io(dir, e))?;
    let path = dir.join("soak.json");
    std::fs::write(&path, json).map_err(|e| io(&path, e))?;
    let path = dir.join("soak.md");
    std::fs::write(&path, markdown(record, checks)).map_err(|e| io(&path, e))?;
    charts::write(&p99_chart(record), dir, "p99")?;
    charts::write(&rss_chart(record), dir, "rss")?;
    Ok(())
}

fn point(x: usize, y: f64) -> Point {
    Point {
        x: x.to_string(),
        y,
        low: None,
        high: None,
    }
}

fn of_stack<'a>(record: &'a SoakRecord, stack: &'a str) -> impl Iterator<Item = &'a StackWindow> {
    record
        .windows
        .iter()
        .filter_map(move |w| w.stacks.iter().find(|s| s.stack == stack))
}

fn p99_chart(record: &SoakRecord) -> Chart {
    Chart {
        title: "p99 latency per minute of the soak (goose, raw)".into(),
        kind: ChartKind::Lines,
        x_label: "minute".into(),
        y_label: "p99 (ms)".into(),
        series: record
            .stacks
            .iter()
            .map(|stack| Series {
                name: stack.clone(),
                points: of_stack(record, stack)
                    .map(|w| point(w.minute, w.p99_ms))
                    .collect(),
            })
            .collect(),
    }
}

fn rss_chart(record: &SoakRecord) -> Chart {
    let names: Vec<&str> = record
        .memory_at_start
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    Chart {
        title: "Resident memory (VmRSS) after each minute".into(),
        kind: ChartKind::Lines,
        x_label: "minute".into(),
        y_label: "MiB".into(),
        series: names
            .iter()
            .map(|name| Series {
                name: (*name).to_owned(),
                points: record
                    .windows
                    .iter()
                    .zip(record.rss_samples(name))
                    .filter_map(|(w, rss)| Some(point(w.minute, mib(rss?))))
                    .collect(),
            })
            .collect(),
    }
}

/// `soak.md`: the verdict and set-up, then one section per kind of figure.
fn markdown(record: &SoakRecord, checks: &[Check]) -> String {
    let mut md = String::new();
    setup_section(&mut md, record, checks);
    checks_section(&mut md, checks);
    capacity_section(&mut md, record);
    minutes_section(&mut md, record);
    memory_section(&mut md, record);
    md.push_str("\nCharts: `p99.svg` (p99 per minute), `rss.svg` (memory per minute). Latency is goose's raw figure: \
                 its coordinated-omission correction would count waits for the throttle as server time.\n");
    md
}

/// The title with the verdict, and what was run.
fn setup_section(md: &mut String, record: &SoakRecord, checks: &[Check]) {
    let plan = &record.plan;
    let verdict = if judge::passed(checks) {
        "passed"
    } else {
        "FAILED"
    };
    let _ = writeln!(md, "# Soak {}: {verdict}\n", record.started);
    let _ = writeln!(
        md,
        "{} node(s) per stack behind HAProxy, one Redis for sessions and tokens, one for the user directory; \
         JWT with the denylist on and {} s access tokens. {} goose lifecycle users per stack (log in, browse, \
         refresh on the JWT stack, log out after a visit of {}–{} s, log in again). Capacity: both stacks at once, \
         no pause, {} s. Then {} minute(s) with goose's throttle set to {:.0}% of that capacity per stack (the throttle delivers \
         about 90% of its setting, so the served share is lower; the table shows it). The first {} minute(s) are \
         warm-up for the memory check. {:.0} s in all.\n",
        plan.nodes,
        plan.access_ttl.as_secs(),
        plan.users,
        loadtests::DEFAULT_VISIT.0.as_secs(),
        loadtests::DEFAULT_VISIT.1.as_secs(),
        plan.capacity_run.as_secs(),
        record.windows.len(),
        plan.load * 100.0,
        plan.warmup_minutes(),
        record.seconds
    );
}

fn checks_section(md: &mut String, checks: &[Check]) {
    md.push_str("## Checks\n\n| check | result | figures |\n|---|---|---|\n");
    for check in checks {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            check.what,
            check.status.label(),
            check.detail
        );
    }
}

fn capacity_section(md: &mut String, record: &SoakRecord) {
    md.push_str("\n## Capacity (both stacks at once, no pause)\n\n| stack | req/s | requests | errors | p99 (ms) |\n|---|---|---|---|---|\n");
    for c in &record.capacity {
        let _ = writeln!(
            md,
            "| {} | {:.0} | {} | {} | {:.1} |",
            c.stack, c.served_rps, c.requests, c.errors, c.p99_ms
        );
    }
}

fn minutes_section(md: &mut String, record: &SoakRecord) {
    md.push_str("\n## Minute by minute\n\n| minute | stack | throttle (req/s) | served req/s | served, % of capacity | requests | errors | p50 (ms) | p99 (ms) | max (ms) | logins | logouts | refreshes |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for window in &record.windows {
        for s in &window.stacks {
            let capacity = record
                .capacity
                .iter()
                .find(|c| c.stack == s.stack)
                .map_or(0.0, |c| c.served_rps);
            let share = if capacity > 0.0 {
                format!("{:.0}%", s.served_rps / capacity * 100.0)
            } else {
                "–".into()
            };
            let _ = writeln!(
                md,
                "| {} | {} | {:.0} | {:.0} | {share} | {} | {} | {:.2} | {:.2} | {:.1} | {} | {} | {} |",
                s.minute,
                s.stack,
                s.offered_rps,
                s.served_rps,
                s.requests,
                s.errors,
                s.p50_ms,
                s.p99_ms,
                s.max_ms,
                s.logins,
                s.logouts,
                s.refreshes
            );
        }
    }
}

/// Each process's memory before any load and the two medians the memory
/// check compares, so a reader can redo the check by hand.
fn memory_section(md: &mut String, record: &SoakRecord) {
    let warmup = record.plan.warmup_minutes();
    let _ = write!(
        md,
        "\n## Resident memory (VmRSS, MiB)\n\nThe medians the memory check compares: of the {warmup} reading(s) from the end \
         of the warm-up (minute {warmup}) on, and of the last {warmup}.\n\n| process | before any load | median after warm-up | \
         median at the end | change | judged |\n|---|---|---|---|---|---|\n"
    );
    let shown = |rss: Option<u64>| rss.map_or("–".to_owned(), |b| format!("{:.1}", mib(b)));
    for process in &record.memory_at_start {
        let medians = judge::rss_medians(&record.rss_samples(&process.name), warmup);
        let change = match medians {
            Some((start, end)) if start > 0 => {
                format!(
                    "{:+.1}%",
                    (end as f64 - start as f64) / start as f64 * 100.0
                )
            }
            _ => "–".into(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {change} | {} |",
            process.name,
            shown(process.rss),
            shown(medians.map(|m| m.0)),
            shown(medians.map(|m| m.1)),
            if process.judged { "yes" } else { "no" }
        );
    }
}
