//! c7's set-up, tables, chart and lesson.

use super::{analysis::Summary, measure::Raw};
use crate::{
    experiment::Presentation,
    kit::{
        revocation::{outcome_text, Observed},
        stats::spread,
    },
    results::{Chart, ChartKind, Table},
    summaries::setups,
};

pub fn present(raw: &Raw, summary: &Summary, quick: bool) -> Presentation {
    Presentation {
        setup: setup(raw, quick),
        tables: vec![logout_table(raw), cost_table(raw, summary)],
        chart: Some(chart(raw)),
        lesson: lesson(summary),
    }
}

fn setup(raw: &Raw, quick: bool) -> String {
    let (trials, cost_trials) = (raw.trials, raw.denylist_cost.trials);
    format!(
        "For each set-up a cluster of 3 nodes behind HAProxy (leeway 0 s). Alice logs in and logs out through \
         HAProxy; then every node is asked directly every 50 ms until all answer 401, for at most the access \
         lifetime plus 2 s ({} mode caps the window). Bars show the measured time, or the whole window when \
         the token was still accepted at its end; {trials} trial(s), each on fresh clusters, set-ups \
         interleaved. The denylist cost is measured on one node with {cost_trials} interleaved trials.",
        if quick { "quick" } else { "full" }
    )
}

fn logout_table(raw: &Raw) -> Table {
    Table {
        title: "After POST /logout at t = 0: when did all 3 nodes refuse the credential, and can it still be refreshed?".into(),
        columns: ["set-up", "access token lifetime", "all nodes refuse /me", "refresh after logout"].map(String::from).to_vec(),
        rows: raw.setups.iter().map(Observed::row).collect(),
    }
}

fn cost_table(raw: &Raw, summary: &Summary) -> Table {
    let cost = &raw.denylist_cost;
    let (none_med, deny_med) = (summary.price.plain_us, summary.price.denylist_us);
    let (requests, cost_trials) = (cost.requests, cost.trials);
    let (none_medians, deny_medians) = (&cost.none_us, &cost.denylist_us);
    Table {
        title: format!("Cost of the denylist: median /me latency on one node, {requests} sequential requests per trial, {cost_trials} interleaved trials"),
        columns: ["set-up", "median of trial medians (µs)", "min–max of trial medians (µs)"].map(String::from).to_vec(),
        rows: vec![
            vec!["JWT, no revocation".into(), format!("{none_med:.0}"), format!("{:.0}–{:.0}", spread(none_medians).0, spread(none_medians).1)],
            vec!["JWT + denylist (one MGET)".into(), format!("{deny_med:.0}"), format!("{:.0}–{:.0}", spread(deny_medians).0, spread(deny_medians).1)],
        ],
    }
}

fn chart(raw: &Raw) -> Chart {
    Chart {
        title: "Seconds from logout until every node refuses".into(),
        kind: ChartKind::Bars,
        x_label: "".into(),
        y_label: "seconds (a full bar = still accepted when observation ended)".into(),
        series: raw
            .setups
            .iter()
            .map(|o| o.series("seconds until every node refuses"))
            .collect(),
    }
}

/// The lesson of c7, from its own outcomes.
fn lesson(summary: &Summary) -> String {
    let show = |name: &str| outcome_text(&summary.setups, name);
    let (plain_us, denylist_us) = (summary.price.plain_us, summary.price.denylist_us);
    format!(
        "After a logout the session was refused on every node {}, because every node asks the store. The 1 h JWT was \
         {}: no node asks anyone about it. The short access token was refused {}, when it expired (its refresh token \
         died at logout). The denylist got the JWT refused {}, by asking the store on every request: median /me \
         {denylist_us:.0} µs against {plain_us:.0} µs without it.",
        show(setups::SESSION),
        show(setups::PLAIN_JWT),
        show(setups::SHORT_JWT),
        show(setups::DENYLIST),
    )
}
