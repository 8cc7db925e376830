//! c8's set-up, table, chart and lesson.

use super::{analysis::Summary, measure::Raw};
use crate::{
    experiment::Presentation,
    kit::revocation::{distinct, outcome_text, Observed},
    results::{Chart, ChartKind, Table},
    summaries::setups,
};

pub fn present(raw: &Raw, summary: &Summary) -> Presentation {
    Presentation {
        setup: setup(raw.trials),
        tables: vec![table(raw)],
        chart: Some(chart(raw)),
        lesson: lesson(raw, summary),
    }
}

fn setup(trials: usize) -> String {
    format!(
        "For each set-up and trial a fresh cluster of 3 nodes ({} trial(s), set-ups interleaved). carol (roles \
         user, admin) logs in, then demotes herself through PUT /admin/users/carol/roles; every node is then \
         asked GET /admin/stats directly every 50 ms until all stop answering 200 (403 once demoted, 401 once \
         the token expired). The session stack rewrites the roles inside every live session of the user; \
         the JWT stack changes only the directory, which a token sees at its next refresh.",
        trials
    )
}

fn table(raw: &Raw) -> Table {
    Table {
        title: "carol (admin) is demoted to user at t = 0: when did all 3 nodes stop granting GET /admin/stats to her credential (403, or 401 once the token expired)?".into(),
        columns: ["set-up", "access token lifetime", "admin refused on all nodes", "admin with a refreshed token"].map(String::from).to_vec(),
        rows: raw.setups.iter().map(Observed::row).collect(),
    }
}

fn chart(raw: &Raw) -> Chart {
    Chart {
        title: "Seconds a demoted admin keeps admin rights".into(),
        kind: ChartKind::Bars,
        x_label: "".into(),
        y_label: "seconds (a full bar = still admin when observation ended)".into(),
        series: raw
            .setups
            .iter()
            .map(|o| o.series("seconds of stale admin rights"))
            .collect(),
    }
}

/// The lesson of c8, from its own outcomes.
fn lesson(raw: &Raw, summary: &Summary) -> String {
    let show = |name: &str| outcome_text(&summary.setups, name);
    format!(
        "After the demotion the session lost admin on every node {}: the server rewrote the role inside it. The 1 h \
         JWT kept admin: {}; a role in a token is a copy the server cannot reach. The short access token lost it {}, \
         when it expired; the token reissued by refresh answered {}.",
        show(setups::SESSION),
        show(setups::PLAIN_JWT),
        show(setups::SHORT_JWT),
        distinct(
            &raw.setups
                .iter()
                .filter(|o| o.variant.name == setups::SHORT_JWT)
                .flat_map(|o| o.after.clone())
                .collect::<Vec<_>>()
        ),
    )
}
