//! What the report shows of c2: requests per node and what the users felt,
//! the nodes ranked by load, and the lesson.

use super::{
    analysis::{Summary, Variant},
    measure::Raw,
};
use crate::{
    experiment::Presentation,
    kit::behaviour::{cell, point},
    results::{Chart, ChartKind, Series, Table},
};

/// "busiest node", "2nd busiest", …, "quietest node".
fn rank_label(rank: usize, of: usize) -> String {
    match rank {
        0 => "busiest node".into(),
        r if r + 1 == of => "quietest node".into(),
        r => format!("{} busiest", ordinal(r + 1)),
    }
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, r) if r != 11 => "st",
        (2, r) if r != 12 => "nd",
        (3, r) if r != 13 => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

pub fn present(raw: &Raw, s: &Summary) -> Presentation {
    Presentation {
        setup: setup(raw),
        tables: vec![table(s)],
        chart: Some(chart(s)),
        lesson: lesson(s),
    }
}

fn setup(raw: &Raw) -> String {
    format!(
        "3 session nodes behind HAProxy. Skewed users, as real traffic is: 2 heavy users with no think time and \
         10 light users pausing 200–400 ms, for {} s. Per-node request counts come from the x-node header of every response the users got; HAProxy's per-server response counters (hrsp_*, logins and requests that failed on a dead node included) are shown beside them as a cross-check. \
         Round-robin with the shared store, against HAProxy's cookie stickiness with per-node memory sessions \
         (what stickiness is usually for); in the last variant session-1, where the first users landed, is killed halfway. \
         {} trial(s), each variant on a fresh cluster, the variants interleaved and their order rotating \
         from trial to trial; the verdict uses the medians across trials.",
        raw.run_s, raw.trials
    )
}

fn row(v: &Variant) -> Vec<String> {
    vec![
        v.label.into(),
        v.per_node.clone(),
        v.haproxy_responses.clone(),
        cell(&v.ratios, 2, ""),
        cell(&v.cvs, 2, ""),
        cell(&v.relogins, 0, ""),
        if v.killed.is_empty() {
            "—".into()
        } else {
            v.killed.iter().cloned().collect::<Vec<_>>().join(", ")
        },
    ]
}

fn table(s: &Summary) -> Table {
    let trials = s.trials;
    Table {
        title: format!(
            "Requests per node (from x-node) and what the users felt: {trials} trial(s), per-node counts summed \
             over the trials, the rest median (min–max) across trials"
        ),
        columns: [
            "balancing",
            "requests per node (x-node, sum)",
            "responses per server (HAProxy, sum)",
            "max / mean",
            "coefficient of variation",
            "forced re-logins",
            "node killed",
        ]
        .map(String::from)
        .to_vec(),
        rows: s.variants.iter().map(row).collect(),
    }
}

fn chart(s: &Summary) -> Chart {
    let trials = s.trials;
    let series = s
        .variants
        .iter()
        .map(|v| {
            let ranks = v.by_rank.len();
            Series {
                name: v.label.into(),
                points: v
                    .by_rank
                    .iter()
                    .enumerate()
                    .map(|(rank, counts)| point(rank_label(rank, ranks), counts))
                    .collect(),
            }
        })
        .collect();
    Chart {
        title: format!("Requests per node, ranked busiest first in each trial (median, min–max over {trials} trial(s))"),
        kind: ChartKind::Bars,
        x_label: "node, by load".into(),
        y_label: "requests".into(),
        series,
    }
}

fn lesson(s: &Summary) -> String {
    let (rr, sticky, killed) = (&s.variants[0], &s.variants[1], &s.variants[2]);
    format!(
        "Stickiness pins each user to a node, so a node's load is the sum of its users' habits: with two heavy \
         users the busiest node took {:.2}x the mean (round-robin: {:.2}x; medians). And a user's session lives \
         and dies with the node: {} forced re-logins (median) when one node died. Round-robin over a shared \
         store had neither problem here: its busiest node took {:.2}x the mean, with {} re-logins.",
        sticky.ratio(),
        rr.ratio(),
        killed.relogins_median(),
        rr.ratio(),
        rr.relogins_median()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_named_by_rank() {
        let labels: Vec<String> = (0..4).map(|r| rank_label(r, 4)).collect();
        assert_eq!(
            labels,
            [
                "busiest node",
                "2nd busiest",
                "3rd busiest",
                "quietest node"
            ]
        );
        assert_eq!(ordinal(11), "11th");
        assert_eq!(ordinal(22), "22nd");
    }
}
