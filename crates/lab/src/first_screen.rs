//! The report's first screen: the answer a reader came for, before any
//! experiment.
//!
//! A teacher opening a report wants three things before the details: which
//! design to use when, what each costs, and what neither fixes. Each of those
//! sentences is built here from this run's typed summaries (the same ones c15
//! reads), clause by clause: a clause whose experiment did not run says so
//! instead of a number, so the short answer can never quote a figure the run
//! did not measure. Every line names the experiments its figures come from,
//! and the templates turn those into links.

use serde::Serialize;

use crate::{
    experiments::c15_summary::Sources,
    results::{Machine, RunResults, Verdict},
    summaries::setups,
};

/// One line of the short answer: a bold lead, the sentence, its sources.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerLine {
    pub lead: &'static str,
    pub text: String,
    /// Experiment ids whose figures the sentence quotes, in order.
    pub sources: Vec<&'static str>,
}

fn not_measured(id: &str) -> String {
    format!("not measured in this run ({id} did not run)")
}

/// The machine in one plain line, versions left to the appendix.
pub fn machine_line(machine: &Machine, build: &str, quick: bool) -> String {
    let gib = machine.memory_bytes as f64 / f64::from(1u32 << 30);
    let mode = if quick {
        "; a quick run (short trials: read the spread)"
    } else {
        ""
    };
    format!(
        "{} cores, {gib:.1} GiB of memory, {}, a {} build of authlab{mode}",
        machine.cores,
        if machine.os.is_empty() {
            "an unnamed OS"
        } else {
            &machine.os
        },
        if build.is_empty() { "unknown" } else { build },
    )
}

/// The short answer, from the run's summaries.
pub fn short_answer(run: &RunResults) -> Vec<AnswerLine> {
    let s = Sources::from_results(&run.experiments);
    vec![
        when_sessions(&s),
        when_tokens(&s),
        costs(&s),
        neither(&s),
        tally(run),
    ]
}

fn when_sessions(s: &Sources<'_>) -> AnswerLine {
    // c15's rule for a small deployment: sessions while the store is under a
    // quarter of a session request's CPU.
    let (lead, cpu) = match s.capacity {
        None => (
            "for one server or a few, by c15's rule once c5 measures the store's share",
            format!("the CPU cost is {}", not_measured("c5")),
        ),
        Some(c) => {
            let cpu = format!(
                "a session /me cost {:.1} µs of node CPU plus {:.1} µs of Redis",
                c.session_node_cpu_us, c.redis_cpu_us
            );
            match c.store_share() {
                Some(share) if share < 0.25 => (
                    "for one server or a few behind a load balancer",
                    format!("{cpu}: the store is only {:.0}% of it", share * 100.0),
                ),
                Some(share) => (
                    "weigh them even for a few servers",
                    format!("{cpu}: the store is {:.0}% of it", share * 100.0),
                ),
                None => ("for one server or a few", cpu),
            }
        }
    };
    let logout = s
        .logout
        .and_then(|l| l.outcome(setups::SESSION))
        .map_or_else(
            || format!("logout is {}", not_measured("c7")),
            |o| format!("a logged-out session was refused on every node {o}"),
        );
    let demotion = s
        .demotion
        .and_then(|d| d.outcome(setups::SESSION))
        .map_or_else(
            || format!("demotion is {}", not_measured("c8")),
            |o| format!("a demoted admin lost the role {o}"),
        );
    AnswerLine {
        lead: "Sessions",
        text: format!(
            "{lead}, and wherever logout or a role change must take effect at once: here {cpu}; {logout}, and \
             {demotion}."
        ),
        sources: vec!["c5", "c7", "c8"],
    }
}

fn when_tokens(s: &Sources<'_>) -> AnswerLine {
    let store = s.capacity.map_or_else(
        || format!("store traffic is {}", not_measured("c5")),
        |c| {
            format!(
                "a JWT /me made {:.2} store operations against {:.2} for a session /me, so adding nodes adds no \
                 load on a shared store",
                c.jwt_store_ops, c.session_store_ops
            )
        },
    );
    let price = match (
        s.logout.and_then(|l| l.outcome(setups::PLAIN_JWT)),
        s.logout.and_then(|l| l.outcome(setups::DENYLIST)),
    ) {
        (Some(plain), Some(denylist)) => format!(
            "the price is revocation: after a logout the 1 h JWT was {plain}; a denylist refused it {denylist}, by \
             asking the store on every request as a session does"
        ),
        (Some(plain), None) => {
            format!("the price is revocation: after a logout the 1 h JWT was {plain}")
        }
        _ => format!("revocation is {}", not_measured("c7")),
    };
    let checks = s.attacks.map_or_else(
        || format!("verification mistakes are {}", not_measured("c12")),
        |a| {
            format!(
                "and a JWT is only as safe as the checks of whoever verifies it: a verifier without them \
                 accepted {} of {} forged tokens, the server {}",
                a.naive_accepted,
                a.corpus,
                if a.server_refused == a.corpus {
                    "none".to_owned()
                } else {
                    format!("{}", a.corpus - a.server_refused)
                }
            )
        },
    );
    AnswerLine {
        lead: "JWTs",
        text: format!("for many nodes and heavy read traffic: {store}; {price}; {checks}."),
        sources: vec!["c5", "c7", "c12"],
    }
}

fn costs(s: &Sources<'_>) -> AnswerLine {
    let memory = s.memory.map_or_else(
        || format!("store memory is {}", not_measured("c13")),
        |m| {
            format!(
                "store memory per login: {:.0} B for a session, {:.0} B for the JWT stack's refresh token",
                m.session_bytes_per_login, m.jwt_bytes_per_login
            )
        },
    );
    let bytes = s.size.map_or_else(
        || format!("credential size is {}", not_measured("c9")),
        |z| match z.wire.iter().find(|w| !w.http2) {
            Some(w) => format!(
                "bytes a credential adds to each request over {}: {:.0} B for the session cookie, {:.0} B for the \
                 login JWT",
                w.protocol, w.cookie, w.bearer
            ),
            None => format!(
                "credential header at login: {} B for the session cookie, {} B for the JWT",
                z.cookie_header_bytes, z.login_jwt_header_bytes
            ),
        },
    );
    let cpu = s.capacity.map_or_else(
        || format!("node CPU is {}", not_measured("c5")),
        |c| {
            format!(
                "node CPU per /me: {:.1} µs for a session (plus {:.1} µs of Redis), {:.1} µs for a JWT",
                c.session_node_cpu_us, c.redis_cpu_us, c.jwt_node_cpu_us
            )
        },
    );
    AnswerLine {
        lead: "What each costs here",
        text: format!("{cpu}; {memory}; {bytes}."),
        sources: vec!["c5", "c13", "c9"],
    }
}

fn neither(s: &Sources<'_>) -> AnswerLine {
    let theft = s
        .stolen
        .and_then(|st| st.session.as_ref().zip(st.bearer.as_ref()))
        .map_or_else(
            || format!("theft is {}", not_measured("c11")),
            |(cookie, bearer)| {
                format!(
                    "a copied credential works for whoever holds it: another client's copy of the session cookie \
                     was accepted {} of {} times before the user's logout, a copy of the bearer JWT {} of {} times",
                    cookie.before_logout.accepted,
                    cookie.before_logout.attempts,
                    bearer.before_logout.accepted,
                    bearer.before_logout.attempts
                )
            },
        );
    AnswerLine {
        lead: "What neither fixes",
        text: format!("{theft}."),
        sources: vec!["c11"],
    }
}

fn tally(run: &RunResults) -> AnswerLine {
    let rows = crate::claims::rows(run);
    let mut counts: Vec<(&Verdict, usize)> = Vec::new();
    for row in &rows {
        let same_kind =
            |v: &&Verdict| std::mem::discriminant(*v) == std::mem::discriminant(&row.verdict);
        match counts.iter_mut().find(|(v, _)| same_kind(v)) {
            Some((_, n)) => *n += 1,
            None => counts.push((&row.verdict, 1)),
        }
    }
    let caveats = rows
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::HoldsWithCaveat(_)))
        .count();
    let text = format!(
        "of the {} claims, {}{}. The side-by-side table of both designs is c15.",
        rows.len(),
        counts
            .iter()
            .map(|(verdict, n)| count_of(verdict, *n))
            .collect::<Vec<_>>()
            .join(", "),
        if caveats > 0 {
            "; a caveat can weigh little or much, so each is listed under the table"
        } else {
            ""
        }
    );
    AnswerLine {
        lead: "This run's verdicts",
        text,
        sources: vec!["c15"],
    }
}

/// "7 hold", "1 does not hold here": the verdict's label as a count.
fn count_of(verdict: &Verdict, n: usize) -> String {
    let one = n == 1;
    let phrase = match verdict {
        Verdict::Holds if one => "holds",
        Verdict::Holds => "hold",
        Verdict::HoldsWithCaveat(_) if one => "holds with a caveat",
        Verdict::HoldsWithCaveat(_) => "hold with a caveat",
        Verdict::DoesNotHold(_) if one => "does not hold here",
        Verdict::DoesNotHold(_) => "do not hold here",
        Verdict::Inconclusive(_) if one => "is inconclusive",
        Verdict::Inconclusive(_) => "are inconclusive",
        Verdict::NotMeasured(_) if one => "was not measured in this run",
        Verdict::NotMeasured(_) => "were not measured in this run",
    };
    format!("{n} {phrase}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        results::{ExperimentResult, Machine},
        summaries::{CapacitySummary, MemorySummary, RevocationSetup, RevocationSummary, Summary},
    };

    fn experiment(id: &str, summary: Summary) -> ExperimentResult {
        let mut e = crate::results::tests::sample().experiments.remove(0);
        e.id = id.into();
        e.summary = Some(summary);
        e.error = None;
        e
    }

    fn run_with(experiments: Vec<ExperimentResult>) -> RunResults {
        let mut run = crate::results::tests::sample();
        run.experiments = experiments;
        run
    }

    fn capacity() -> CapacitySummary {
        CapacitySummary {
            cores: 2,
            hosts: 1,
            machines: 1,
            scale_out_measured: false,
            session_node_cpu_us: 40.0,
            jwt_node_cpu_us: 19.6,
            redis_cpu_us: 6.0,
            session_store_ops: 1.0,
            jwt_store_ops: 0.0,
            points: Vec::new(),
        }
    }

    fn logout() -> RevocationSummary {
        let setup = |name: &str, seconds: Vec<Option<f64>>| RevocationSetup {
            name: name.into(),
            seconds,
            window_s: 30.0,
        };
        RevocationSummary {
            setups: vec![
                setup(setups::SESSION, vec![Some(0.01), Some(0.02)]),
                setup(setups::PLAIN_JWT, vec![None, None]),
                setup(setups::DENYLIST, vec![Some(0.01), Some(0.01)]),
            ],
        }
    }

    #[test]
    fn every_figure_comes_from_a_summary_of_the_run() {
        let run = run_with(vec![
            experiment("c5", Summary::Capacity(capacity())),
            experiment("c7", Summary::Revocation(logout())),
            experiment(
                "c13",
                Summary::Memory(MemorySummary {
                    session_bytes_per_login: 676.0,
                    jwt_bytes_per_login: 670.0,
                }),
            ),
        ]);
        let answer = short_answer(&run);
        let text: Vec<&str> = answer.iter().map(|l| l.text.as_str()).collect();
        assert!(
            text[0].contains("40.0 µs of node CPU plus 6.0 µs of Redis"),
            "{}",
            text[0]
        );
        assert!(
            text[0].contains("refused on every node at once"),
            "{}",
            text[0]
        );
        assert!(
            text[0].contains("demotion is not measured in this run (c8 did not run)"),
            "{}",
            text[0]
        );
        assert!(
            text[1].contains("0.00 store operations against 1.00"),
            "{}",
            text[1]
        );
        assert!(
            text[1].contains("still accepted when observation ended (30 s)"),
            "{}",
            text[1]
        );
        assert!(
            text[2].contains("676 B for a session, 670 B"),
            "{}",
            text[2]
        );
        assert!(
            text[2].contains("credential size is not measured"),
            "{}",
            text[2]
        );
        assert!(text[3].contains("theft is not measured"), "{}", text[3]);
    }

    #[test]
    fn a_run_that_measured_nothing_quotes_no_number() {
        let answer = short_answer(&run_with(Vec::new()));
        for line in &answer[..4] {
            // Experiment ids ("c5") are names; a word that starts with a
            // digit is a figure.
            assert!(
                !line
                    .text
                    .split(|c: char| !c.is_alphanumeric() && c != '.')
                    .any(|word| word.starts_with(|c: char| c.is_ascii_digit())),
                "{}: {}",
                line.lead,
                line.text
            );
            assert!(line.text.contains("not measured"), "{}", line.text);
        }
        assert!(
            answer[4]
                .text
                .starts_with("of the 15 claims, 15 were not measured in this run."),
            "{}",
            answer[4].text
        );
    }

    #[test]
    fn the_machine_fits_one_line() {
        let machine = Machine {
            cores: 2,
            memory_bytes: 25_232_932_864,
            os: "Debian GNU/Linux 12 (bookworm)".into(),
            kernel: "6.1".into(),
        };
        assert_eq!(
            machine_line(&machine, "release", false),
            "2 cores, 23.5 GiB of memory, Debian GNU/Linux 12 (bookworm), a release build of authlab"
        );
        assert!(machine_line(&machine, "debug", true)
            .ends_with("; a quick run (short trials: read the spread)"));
    }
}
