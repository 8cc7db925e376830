//! The claims authlab judges, C1 … C15, as the report and `authlab list`
//! name them. `docs/claims.md` explains each one and what an experiment must
//! measure to judge it; this list is the part the code needs: the id, the
//! claim in one line, and which experiment answers it.
//!
//! Every report has a row for every claim. A claim no experiment of the run
//! answered gets "not measured in this run" with the reason, never silence:
//! a missing row would read as "nothing to see here".

use crate::results::{ClaimVerdict, RunResults, Verdict};

/// Where the claims are explained, relative to the repository root.
pub const DOC: &str = "docs/claims.md";

pub struct Claim {
    pub id: &'static str,
    pub statement: &'static str,
    /// The experiment that answers it, if one exists yet.
    pub experiment: Option<&'static str>,
}

pub const CLAIMS: [Claim; 15] = [
    Claim {
        id: "C1",
        statement: "Sessions kept in one node's memory break behind a load balancer.",
        experiment: Some("c1"),
    },
    Claim {
        id: "C2",
        statement: "Sticky sessions fix that, but spread the load unevenly.",
        experiment: Some("c2"),
    },
    Claim {
        id: "C3",
        statement: "A shared session store fixes it, but is a single point of failure.",
        experiment: Some("c3"),
    },
    Claim {
        id: "C4",
        statement: "A shared store adds its network round trip to every request.",
        experiment: Some("c4"),
    },
    Claim {
        id: "C5",
        statement: "JWT nodes verify locally, so they scale out with no shared state.",
        experiment: Some("c5"),
    },
    Claim {
        id: "C6",
        statement: "Checking a signature is cheaper than asking a session store.",
        experiment: Some("c6"),
    },
    Claim {
        id: "C7",
        statement: "A JWT cannot be revoked before expiry without extra machinery; a session can.",
        experiment: Some("c7"),
    },
    Claim {
        id: "C8",
        statement: "Roles baked into a token stay stale until it expires or is reissued.",
        experiment: Some("c8"),
    },
    Claim {
        id: "C9",
        statement: "JWTs are much bigger than a session id and can hit header limits.",
        experiment: Some("c9"),
    },
    Claim {
        id: "C10",
        statement: "JWTs cannot slide; staying logged in needs refresh tokens.",
        experiment: Some("c10"),
    },
    Claim {
        id: "C11",
        statement: "A stolen token works for anyone until it expires, and its payload is readable.",
        experiment: Some("c11"),
    },
    Claim {
        id: "C12",
        statement: "Verification mistakes (alg none, unchecked claims, key confusion) open holes.",
        experiment: Some("c12"),
    },
    Claim {
        id: "C13",
        statement: "Sessions cost store memory per user; JWTs cost none.",
        experiment: Some("c13"),
    },
    Claim {
        id: "C14",
        statement:
            "Other services verify a JWT locally; a session needs a call to the auth service.",
        experiment: Some("c14"),
    },
    Claim {
        id: "C15",
        statement: "JWT is not more secure than sessions; its advantage is scale.",
        experiment: Some("c15"),
    },
];

/// One row of a report's verdict table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClaimRow {
    pub claim: String,
    pub statement: String,
    pub verdict: Verdict,
    /// The experiment whose section holds the evidence; empty when none ran.
    pub experiment_id: String,
    /// The run's one figure for the claim (see [`ClaimVerdict::headline`]).
    pub headline: String,
    /// What the design decides, not the run (see [`ClaimVerdict::by_design`]).
    pub by_design: Option<String>,
}

/// Why a claim has no verdict in `run`.
fn reason(claim: &Claim, run: &RunResults) -> String {
    match claim.experiment {
        None => format!("no experiment measures it yet (see {DOC})"),
        Some("c15") => {
            "c15 is derived from the other experiments and needs at least two of them in the run"
                .into()
        }
        Some(id) if !run.only.is_empty() => format!(
            "its experiment {id} was not selected (--only {})",
            run.only.join(",")
        ),
        Some(id) => format!("its experiment {id} did not run (interrupted?)"),
    }
}

/// Every claim, in order, with the run's verdict or "not measured".
pub fn rows(run: &RunResults) -> Vec<ClaimRow> {
    let verdicts: Vec<(&str, &ClaimVerdict)> = run
        .experiments
        .iter()
        .flat_map(|e| e.verdicts.iter().map(move |v| (e.id.as_str(), v)))
        .collect();
    CLAIMS
        .iter()
        .flat_map(|claim| {
            let found: Vec<ClaimRow> = verdicts
                .iter()
                .filter(|(_, v)| v.claim == claim.id)
                .map(|(id, v)| ClaimRow {
                    claim: claim.id.into(),
                    statement: claim.statement.into(),
                    verdict: v.verdict.clone(),
                    experiment_id: (*id).into(),
                    headline: v.headline.clone(),
                    by_design: v.by_design.clone(),
                })
                .collect();
            if found.is_empty() {
                vec![ClaimRow {
                    claim: claim.id.into(),
                    statement: claim.statement.into(),
                    verdict: Verdict::NotMeasured(reason(claim, run)),
                    experiment_id: String::new(),
                    headline: String::new(),
                    by_design: None,
                }]
            } else {
                found
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_claim_has_a_row_even_when_nothing_measured_it() {
        let run = crate::results::tests::sample();
        let rows = rows(&run);
        let ids: Vec<&str> = rows.iter().map(|r| r.claim.as_str()).collect();
        assert_eq!(ids, CLAIMS.iter().map(|c| c.id).collect::<Vec<_>>());
        let c12 = &rows[11];
        assert_eq!(c12.experiment_id, "c12");
        assert!(matches!(c12.verdict, Verdict::HoldsWithCaveat(_)));
        let c11 = &rows[10];
        assert!(
            matches!(&c11.verdict, Verdict::NotMeasured(why) if why.contains("--only c12")),
            "{c11:?}"
        );
        let c5 = &rows[4];
        assert!(
            matches!(&c5.verdict, Verdict::NotMeasured(why) if why.contains("--only c12")),
            "{c5:?}"
        );
    }

    #[test]
    fn the_list_names_every_experiment_that_exists() {
        let ids: Vec<&str> = crate::experiments::all().iter().map(|e| e.id()).collect();
        for claim in &CLAIMS {
            match claim.experiment {
                Some("c15") | None => {}
                Some(id) => assert!(ids.contains(&id), "{} names {id}", claim.id),
            }
        }
        for experiment in crate::experiments::all() {
            for claim in experiment.claims() {
                let listed = CLAIMS
                    .iter()
                    .find(|c| c.id == *claim)
                    .and_then(|c| c.experiment);
                assert_eq!(listed, Some(experiment.id()), "{claim}");
            }
        }
    }
}
