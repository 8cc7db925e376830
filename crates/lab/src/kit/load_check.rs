//! Every load run is checked before its numbers are used.
//!
//! A server that answers 401 to every request answers fast: counted as
//! throughput, a run of errors makes the broken variant look best. So a run
//! whose non-2xx answers or socket errors exceed [`MAX_ERROR_SHARE`] of its
//! requests is invalid, and the experiment fails with the counts instead of
//! reporting a figure. (Experiments that *measure* errors, such as c1's
//! rejections or c3's outage, count them themselves and do not use this.)

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
    let Answers {
        requests,
        non_2xx,
        socket_errors,
    } = answers;
    if requests == 0 {
        return Err(LabError::InvalidRun(format!(
            "{run}: no request was answered"
        )));
    }
    let errors = non_2xx + socket_errors;
    if errors as f64 > MAX_ERROR_SHARE * requests as f64 {
        return Err(LabError::InvalidRun(format!(
            "{run}: {non_2xx} non-2xx answers and {socket_errors} socket errors in {requests} requests \
             (more than {:.1}%), so its throughput and latency are not used",
            MAX_ERROR_SHARE * 100.0
        )));
    }
    Ok(())
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
}
