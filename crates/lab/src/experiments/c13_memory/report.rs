//! c13's set-up, tables, chart and lesson, from the raw readings and the
//! per-login figures.

use super::{
    analysis::{Summary, NONE_SHARE},
    measure::Raw,
};
use crate::{
    experiment::Presentation,
    results::{Chart, ChartKind, Point, Series, Table},
};

fn mib(bytes: f64) -> f64 {
    bytes / 1_048_576.0
}

pub fn present(raw: &Raw, summary: &Summary) -> Presentation {
    Presentation {
        setup: setup(raw.users),
        tables: vec![
            memory_table(raw, summary),
            token_keys_table(raw),
            key_usage_table(raw),
        ],
        chart: Some(chart(summary)),
        lesson: lesson(raw, summary),
    }
}

fn setup(users: usize) -> String {
    format!(
        "A cluster with one node per stack, {users} load users seeded. Each of them logs in on the session \
         stack, then on the JWT stack (16 at a time, through HAProxy). Before and after each batch: the session \
         store's used_memory (Redis INFO memory; sessions live in db 0, refresh tokens in db 1 of the same \
         server) and the node's VmRSS. Then the JWT logins' refresh-token keys are deleted and used_memory is \
         read again once Redis has shrunk its key tables: the access-token-only row. Per-100k and per-1M figures are linear projections of the measured \
         per-login cost, not measurements. A node's RSS includes Argon2's working memory: each concurrent \
         login hashes (1 MiB at the load-test cost) on a thread of the node's blocking pool, which keeps \
         one such block per thread for the thread's life (docs/performance.md, \"Where a login's memory \
         goes\")."
    )
}

/// A row's per-login cost and its linear projections.
fn per_login_cells(per: f64) -> [String; 3] {
    [
        format!("{per:.0}"),
        format!("{:.1}", mib(per * 100_000.0)),
        format!("{:.0}", mib(per * 1_000_000.0)),
    ]
}

fn memory_table(raw: &Raw, summary: &Summary) -> Table {
    let f = &summary.figures;
    let row = |label: &str, n: usize, per: f64, rss: [String; 2]| {
        let mut row = vec![label.to_string(), n.to_string()];
        row.extend(per_login_cells(per));
        row.extend(rss);
        row
    };
    let rss = |delta: i64, after: u64| {
        [
            format!("{:+.1} MiB", delta as f64 / 1_048_576.0),
            format!("{:.1} MiB", mib(after as f64)),
        ]
    };
    Table {
        title: format!("Memory after logging {} users in on each stack (store: Redis used_memory delta; node: VmRSS)", raw.users),
        columns: ["", "users logged in", "store bytes per login", "store MiB per 100k (projection)", "store MiB per 1M (projection)", "node RSS change", "node RSS after"]
            .map(String::from)
            .to_vec(),
        rows: vec![
            row(
                "session (Redis store)",
                f.session_logins,
                f.session_bytes_per_login,
                rss(raw.session.rss_delta, raw.session.rss_after),
            ),
            row(
                "JWT as built (access + refresh token)",
                f.jwt_logins,
                f.jwt_bytes_per_login,
                rss(raw.jwt.rss_delta, raw.jwt.rss_after),
            ),
            row(
                "JWT, access token only (the same logins, refresh-token keys deleted)",
                f.jwt_logins,
                f.access_only_bytes_per_login,
                ["—".into(), "—".into()],
            ),
        ],
    }
}

fn token_keys_table(raw: &Raw) -> Table {
    let keys = &raw.token_keys;
    Table {
        title: "The JWT logins' keys in the token store (db 1)".into(),
        columns: vec!["keys".into(), "count".into()],
        rows: [
            vec!["before the JWT logins".into(), keys.before.to_string()],
            vec!["after the JWT logins".into(), keys.after.to_string()],
        ]
        .into_iter()
        .chain(
            keys.deleted
                .iter()
                .map(|d| vec![format!("deleted: {}", d.pattern), d.keys.to_string()]),
        )
        .chain([vec![
            "left after the deletion (not refresh-token state)".into(),
            keys.left.to_string(),
        ]])
        .collect(),
    }
}

fn key_usage_table(raw: &Raw) -> Table {
    Table {
        title: "MEMORY USAGE of one session's keys".into(),
        columns: vec!["key".into(), "bytes".into()],
        rows: vec![
            vec![
                "authlab:session:<id> (the session)".into(),
                raw.memory_usage.session_key.to_string(),
            ],
            vec![
                "authlab:user-sessions:<user> (index, one member)".into(),
                raw.memory_usage.index_key.to_string(),
            ],
        ],
    }
}

fn chart(summary: &Summary) -> Chart {
    let f = &summary.figures;
    let bar = |name: &str, x: &str, y: f64| Series {
        name: name.into(),
        points: vec![Point {
            x: x.into(),
            y,
            low: None,
            high: None,
        }],
    };
    Chart {
        title: "Store memory per logged-in user".into(),
        kind: ChartKind::Bars,
        x_label: "stack".into(),
        y_label: "bytes per login in the session store".into(),
        series: vec![
            bar(
                "session: the session itself",
                "session",
                f.session_bytes_per_login,
            ),
            bar(
                "JWT as built: refresh-token state",
                "JWT as built",
                f.jwt_bytes_per_login,
            ),
            bar(
                "JWT, access token only",
                "JWT, access token only",
                f.access_only_bytes_per_login,
            ),
        ],
    }
}

fn lesson(raw: &Raw, summary: &Summary) -> String {
    let f = &summary.figures;
    let (session_per, jwt_per, access_per) = (
        f.session_bytes_per_login,
        f.jwt_bytes_per_login,
        f.access_only_bytes_per_login,
    );
    format!(
        "A session cost about {session_per:.0} bytes of store memory here, about {:.0} MiB per million logged-in \
         users (a projection). A login on the JWT stack as built cost {jwt_per:.0} B; with its refresh-token \
         keys deleted, {access_per:.0} B{} The nodes' RSS changed by {:+.1} MiB (session) and {:+.1} MiB \
         (JWT) over these logins.",
        mib(session_per * 1_000_000.0),
        if access_per <= NONE_SHARE * session_per {
            ": what costs is not the access token but the refresh token that lets the login last, which \
             is server state."
        } else {
            ", so something besides the refresh token stays in the store per login."
        },
        raw.session.rss_delta as f64 / 1_048_576.0,
        raw.jwt.rss_delta as f64 / 1_048_576.0
    )
}
