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

impl Claim {
    pub const fn answered_by(
        experiment: &'static str,
        id: &'static str,
        statement: &'static str,
    ) -> Self {
        Self {
            id,
            statement,
            experiment: Some(experiment),
        }
    }
}

/// One line a claim: registering a claim is adding its line here.
#[rustfmt::skip]
pub const CLAIMS: &[Claim] = &[
    Claim::answered_by("c1", "C1", "Sessions kept in one node's memory break behind a load balancer."),
    Claim::answered_by("c2", "C2", "Sticky sessions fix that, but spread the load unevenly."),
    Claim::answered_by("c3", "C3", "A shared session store fixes it, but is a single point of failure."),
    Claim::answered_by("c4", "C4", "A shared store adds its network round trip to every request."),
    Claim::answered_by("c5", "C5", "JWT nodes verify locally, so they scale out with no shared state."),
    Claim::answered_by("c6", "C6", "Checking a signature is cheaper than asking a session store."),
    Claim::answered_by("c7", "C7", "A JWT cannot be revoked before expiry without extra machinery; a session can."),
    Claim::answered_by("c8", "C8", "Roles baked into a token stay stale until it expires or is reissued."),
    Claim::answered_by("c9", "C9", "JWTs are much bigger than a session id and can hit header limits."),
    Claim::answered_by("c10", "C10", "JWTs cannot slide; staying logged in needs refresh tokens."),
    Claim::answered_by("c11", "C11", "A stolen token works for anyone until it expires, and its payload is readable."),
    Claim::answered_by("c12", "C12", "Verification mistakes (alg none, unchecked claims, key confusion) open holes."),
    Claim::answered_by("c13", "C13", "Sessions cost store memory per user; JWTs cost none."),
    Claim::answered_by("c14", "C14", "Other services verify a JWT locally; a session needs a call to the auth service."),
    Claim::answered_by("c15", "C15", "JWT is not more secure than sessions; its advantage is scale."),
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
    let left_out = claim
        .experiment
        .and_then(|id| run.not_run.iter().find(|n| n.id == id));
    if let Some(left_out) = left_out {
        let engine = run
            .environment
            .as_ref()
            .map_or("another", |e| e.engine.as_str());
        return format!(
            "its experiment {} runs on the local engine only, and this run's engine was {engine}: {}",
            left_out.id, left_out.reason
        );
    }
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
    fn a_claim_whose_experiment_is_local_only_says_so() {
        let mut run = crate::results::tests::sample();
        run.environment = Some(crate::results::tests::swarm_environment());
        run.not_run = vec![crate::results::NotRun {
            id: "c4".into(),
            title: "Store latency".into(),
            claims: vec!["C4".into()],
            status: crate::results::NotRunStatus::LocalOnly,
            reason: "it sets the store's delay through the latency proxy".into(),
        }];
        let c4 = &rows(&run)[3];
        assert_eq!(
            c4.verdict,
            Verdict::NotMeasured(
                "its experiment c4 runs on the local engine only, and this run's engine was swarm: \
                 it sets the store's delay through the latency proxy"
                    .into()
            )
        );
    }

    #[test]
    fn the_list_names_every_experiment_that_exists() {
        let ids: Vec<&str> = crate::experiments::all().iter().map(|e| e.id()).collect();
        for claim in CLAIMS {
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
