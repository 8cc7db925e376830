//! What the report shows of c3: the error rate by phase per kind of traffic
//! and store variant, the sessions across the restart, the error rate per
//! second, and the lesson.

use super::{
    analysis::{Raw, Restart, Summary, Traffic, TrafficVariant},
    measure::{STORE_CALLERS, STORE_CALL_PAUSE, STORE_CALL_TIMEOUT},
};
use crate::{
    experiment::Presentation,
    kit::behaviour::{cell, point, USERS},
    results::{Chart, ChartKind, Series, Table},
};

/// The lesson's sentence on the JWT side; every figure from the run.
pub fn jwt_side(jwt_down: f64, calls: Option<(f64, Option<f64>)>) -> String {
    let browsing = format!(
        "The JWT users' browsing saw {jwt_down:.0}% errors: their tokens verify without the store."
    );
    match calls {
        None => format!(
            "{browsing} No JWT login or refresh was attempted while the store was down, so this run cannot say \
             what the store's outage did to them."
        ),
        Some((share, recovered)) => format!(
            "{browsing} Their logins and refresh rotations, which write the refresh token to the same store, failed \
             {share:.0}% of the time while it was down (median){}.",
            match recovered {
                Some(s) => format!(", and were error-free again {s:.0} s after the restart"),
                None => ", and were not error-free again within the run".into(),
            }
        ),
    }
}

pub fn present(raw: &Raw, s: &Summary) -> Presentation {
    Presentation {
        setup: setup(raw),
        tables: vec![phase_table(raw.trials, s), sessions_table(raw.trials, s)],
        chart: Some(chart(raw.trials, s)),
        lesson: lesson(s),
    }
}

fn setup(raw: &Raw) -> String {
    format!(
        "2 nodes per stack behind HAProxy, one redis-server as session store (and the JWT stack's refresh-token \
         store). {USERS} goose users browse each stack with 50–150 ms think time for {} s; after {} s the store \
         is stopped, {} s later started again on the same port. Beside them, {STORE_CALLERS} clients of their \
         own log in to the JWT stack and rotate the refresh token they hold every {} ms for the whole run \
         (each call times out after {} s): those calls write to the store. Two store variants: no persistence (stopped with \
         SIGKILL, back empty) and an append-only file with appendfsync everysec (stopped with SIGTERM, Redis's \
         clean SHUTDOWN, back from the file). Writes are paused (CLIENT PAUSE WRITE) while the sessions are \
         counted just before the stop. {} trial(s) per variant, interleaved, each on a fresh cluster; the \
         verdict uses the medians across every trial of both variants.",
        raw.phase_s * 3,
        raw.phase_s,
        raw.phase_s,
        STORE_CALL_PAUSE.as_millis(),
        STORE_CALL_TIMEOUT.as_secs(),
        raw.trials
    )
}

fn phase_row(trials: usize, t: &Traffic, v: &TrafficVariant) -> Vec<String> {
    vec![
        t.name.into(),
        v.persistence.label().into(),
        cell(&v.attempts, 0, ""),
        cell(&v.before, 1, "%"),
        cell(&v.during, 1, "%"),
        cell(&v.after, 1, "%"),
        match (v.recovered.is_empty(), v.not_recovered) {
            (true, _) => "not within the run".into(),
            (false, 0) => cell(&v.recovered, 0, " s"),
            (false, n) => format!(
                "{}; not within the run in {n} of {trials}",
                cell(&v.recovered, 0, " s")
            ),
        },
        match &v.relogins {
            None => "—".into(),
            Some(relogins) => cell(relogins, 0, ""),
        },
    ]
}

fn phase_table(trials: usize, s: &Summary) -> Table {
    let (stop_s, restart_s) = (s.stop_s, s.restart_s);
    Table {
        title: format!(
            "Error rate by phase, median (min–max) over {trials} trial(s) per store variant (store stopped at \
             {stop_s:.1} s, back at {restart_s:.1} s, medians; requests: the whole run's)"
        ),
        columns: ["traffic", "store", "requests", "before", "store down", "after restart", "first error-free second after restart", "re-logins"]
            .map(String::from)
            .to_vec(),
        rows: s
            .traffic
            .iter()
            .flat_map(|t| t.variants.iter().map(move |v| phase_row(trials, t, v)))
            .collect(),
    }
}

fn sessions_row(r: &Restart) -> Vec<String> {
    vec![
        r.persistence.label().into(),
        cell(&r.before, 0, ""),
        cell(&r.kept, 0, ""),
        cell(&r.lost, 0, ""),
        cell(&r.relogins, 0, ""),
    ]
}

fn sessions_table(trials: usize, s: &Summary) -> Table {
    Table {
        title: format!(
            "Sessions across the store's restart, median (min–max) over {trials} trial(s) per store variant"
        ),
        columns: [
            "store",
            "sessions in the store before the stop",
            "of those, still there after the restart",
            "sessions lost",
            "session users forced to log in again",
        ]
        .map(String::from)
        .to_vec(),
        rows: s.restarts.iter().map(sessions_row).collect(),
    }
}

fn chart(trials: usize, s: &Summary) -> Chart {
    let series = s
        .traffic
        .iter()
        .flat_map(|t| {
            t.variants.iter().map(move |v| Series {
                name: format!("{}, {}", t.name, v.persistence.label()),
                points: v
                    .per_second
                    .iter()
                    .map(|(second, rates)| point(second.to_string(), rates))
                    .collect(),
            })
        })
        .collect();
    Chart {
        title: format!(
            "Error rate per second while the store stops and returns (per-second median, min–max over {trials} trial(s))"
        ),
        kind: ChartKind::Lines,
        x_label: "second of the run".into(),
        y_label: "% of requests failed".into(),
        series,
    }
}

fn lesson(s: &Summary) -> String {
    let (session_down, jwt_down) = (s.down(0), s.down(1));
    let (volatile, durable) = s.restarts_said();
    let calls_said = s.calls_down.map(|share| (share, s.calls_recovered));
    format!(
        "While the store was down {session_down:.0}% of session requests failed (median), with or without \
         persistence: every node needs the one store, so it is a single point of failure. {} \
         Persistence decides what the restart costs: without it the store {volatile}; with an append-only \
         file and a clean shutdown it {durable}.",
        jwt_side(jwt_down, calls_said)
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::analysis::{c3_by_design, c3_headline};
    use super::*;

    #[test]
    fn the_prose_says_what_was_exercised_and_what_the_set_up_decides() {
        let text = jwt_side(0.0, Some((100.0, Some(1.0))));
        assert!(
            text.contains(
                "Their logins and refresh rotations, which write the refresh token to the same store, failed 100% \
                 of the time while it was down (median), and were error-free again 1 s after the restart."
            ),
            "{text}"
        );
        // The sample's old sentence claimed what was not exercised.
        assert!(!jwt_side(0.0, None).contains("logins and refreshes need it"));
        assert!(jwt_side(0.0, None).contains("No JWT login or refresh was attempted"));
        let said = c3_by_design(0.0, Duration::from_secs(300), 8.1).unwrap();
        assert!(
            said.contains("their access tokens live 300 s, longer than the 8 s outage"),
            "{said}"
        );
        // Tokens that expire within the outage, or a browsing that failed:
        // the outcome is the run's, not the design's.
        assert_eq!(c3_by_design(0.0, Duration::from_secs(5), 8.1), None);
        assert_eq!(c3_by_design(40.0, Duration::from_secs(300), 8.1), None);
        assert_eq!(
            c3_headline(100.0, 0.0, Some(100.0)),
            "store down: session requests 100% errors, JWT browsing 0%, JWT logins and refreshes 100%"
        );
    }
}
