//! Every load run is checked before its numbers are used.
//!
//! A server that answers 401 to every request answers fast: counted as
//! throughput, a run of errors makes the broken variant look best. So a run
//! whose non-2xx answers or socket errors exceed [`MAX_ERROR_SHARE`] of its
//! requests is invalid, and the experiment fails with the counts instead of
//! reporting a figure. (Experiments that *measure* errors, such as c1's
//! rejections or c3's outage, count them themselves and do not use this.)
//!
//! A run driven by several generators (one per host on a swarm) is checked
//! generator by generator ([`check_each`]): one whose every connection
//! failed sends almost nothing, so the others' requests dilute its errors
//! below the share, and the merged figure would silently come from fewer
//! connections, over fewer paths, than the run claims.

use crate::LabError;

/// 0.1%: a handful of errors from a connection closing at the end of a run
/// pass; a systematic failure does not.
pub const MAX_ERROR_SHARE: f64 = 0.001;

/// What a load generator reported about one run's answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answers {
    pub requests: u64,
    pub non_2xx: u64,
    pub socket_errors: u64,
}

/// `Ok` when the run's errors stay within [`MAX_ERROR_SHARE`] and it sent
/// anything at all; otherwise an error that names the run and the counts.
pub fn check(run: &str, answers: Answers) -> Result<(), LabError> {
    refusal(run, answers).map_or(Ok(()), |why| Err(LabError::InvalidRun(why)))
}

/// [`check`] for each generator of a run, named (`generator-2 on host-b`)
/// beside its answers: `Ok` only when every one passes on its own; the
/// error names each one that did not. A run with no generator is refused.
pub fn check_each(run: &str, generators: &[(String, Answers)]) -> Result<(), LabError> {
    if generators.is_empty() {
        return Err(LabError::InvalidRun(format!(
            "{run}: no load generator ran"
        )));
    }
    let refusals: Vec<String> = generators
        .iter()
        .filter_map(|(name, answers)| refusal(&format!("{run}, {name}"), *answers))
        .collect();
    if refusals.is_empty() {
        Ok(())
    } else {
        Err(LabError::InvalidRun(refusals.join("; ")))
    }
}

/// Why the run is refused, if it is.
fn refusal(run: &str, answers: Answers) -> Option<String> {
    let Answers {
        requests,
        non_2xx,
        socket_errors,
    } = answers;
    if requests == 0 {
        return Some(format!("{run}: no request was answered"));
    }
    let errors = non_2xx + socket_errors;
    (errors as f64 > MAX_ERROR_SHARE * requests as f64).then(|| {
        format!(
            "{run}: {non_2xx} non-2xx answers and {socket_errors} socket errors in {requests} requests \
             (more than {:.1}%), so its throughput and latency are not used",
            MAX_ERROR_SHARE * 100.0
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(requests: u64, non_2xx: u64, socket_errors: u64) -> Answers {
        Answers {
            requests,
            non_2xx,
            socket_errors,
        }
    }

    #[test]
    fn a_run_of_errors_is_refused() {
        // The c4 trial of the old sample: every answer a 401.
        let error = check("JWT /me", answers(465_374, 465_374, 0))
            .unwrap_err()
            .to_string();
        assert!(error.contains("465374 non-2xx"), "{error}");
        assert!(check("x", answers(10_000, 0, 11)).is_err());
        assert!(check("x", answers(0, 0, 0)).is_err());
    }

    #[test]
    fn a_clean_run_passes() {
        assert!(check("x", answers(10_000, 0, 0)).is_ok());
        assert!(check("x", answers(10_000, 6, 4)).is_ok());
    }

    #[test]
    fn a_generator_of_errors_is_refused_though_the_sum_would_pass() {
        let generators = [
            ("generator-1 on a".to_owned(), answers(1_000_000, 0, 0)),
            ("generator-2 on b".to_owned(), answers(500, 500, 0)),
        ];
        // Summed, 500 errors in 1,000,500 requests are within the share...
        assert!(check("x", answers(1_000_500, 500, 0)).is_ok());
        // ...but the second generator was nothing but errors.
        let error = check_each("JWT /me", &generators).unwrap_err().to_string();
        assert!(
            error.contains("JWT /me, generator-2 on b: 500 non-2xx"),
            "{error}"
        );
        assert!(!error.contains("generator-1"), "{error}");
    }

    #[test]
    fn a_generator_that_sent_nothing_is_refused() {
        let generators = [
            ("generator-1 on a".to_owned(), answers(1_000_000, 0, 0)),
            ("generator-2 on b".to_owned(), answers(0, 0, 32)),
        ];
        let error = check_each("x", &generators).unwrap_err().to_string();
        assert!(
            error.contains("generator-2 on b: no request was answered"),
            "{error}"
        );
        assert!(check_each("x", &[]).is_err());
    }

    #[test]
    fn clean_generators_pass() {
        let generators = [
            ("generator-1 on a".to_owned(), answers(10_000, 3, 0)),
            ("generator-2 on b".to_owned(), answers(9_000, 0, 2)),
        ];
        assert!(check_each("x", &generators).is_ok());
    }
}
