//! What c10's runs mean: each active user's outcome, the idle user's, the
//! rotation and the replay, and C10's rule over them.
//!
//! Every figure here is one observation (a logout second, a status code),
//! not a rate over trials: the lifetimes are short and fixed, so whether a
//! user is logged out at expiry is a yes or no that one run answers.

use serde::Serialize;

use crate::results::{ClaimVerdict, Verdict};

/// What became of an access token issued before a refresh-token replay
/// revoked its login: the server revokes refresh tokens, not access tokens
/// already out (revocation `none`), so this is measured, not assumed.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct AccessAfterReplay {
    /// The status of `GET /me` with it right after the replay.
    pub first_status: u16,
    /// Seconds from the replay's answer to the last 200, if any.
    pub last_accepted_s: Option<f64>,
    /// Seconds from the replay's answer to the first 401, if any came
    /// within the polling window.
    pub first_refused_s: Option<f64>,
    /// How long the polling went on at most.
    pub window_s: f64,
}

impl AccessAfterReplay {
    /// The sentence the table and the lesson share.
    pub fn said(&self, access_ttl_s: f64) -> String {
        match (self.last_accepted_s, self.first_refused_s) {
            (Some(last), Some(refused)) => format!(
                "still accepted {last:.1} s after the replay, refused from {refused:.1} s on (its lifetime is \
                 {access_ttl_s:.0} s)"
            ),
            (Some(last), None) => format!(
                "still accepted {last:.1} s after the replay, when polling ended ({:.0} s)",
                self.window_s
            ),
            (None, Some(_)) => format!(
                "refused at once after the replay (GET /me answered {})",
                self.first_status
            ),
            (None, None) => format!(
                "answered {} after the replay, neither accepted nor refused",
                self.first_status
            ),
        }
    }
}

/// Everything the run observed. It is both the raw record and the summary:
/// with one observation per figure there is nothing to reduce, and the rule,
/// the tables and the lesson each read most of it.
#[derive(Debug, Clone, Serialize)]
pub struct Observed {
    /// How long each active user went on.
    pub total_s: u64,
    /// Seconds until each active user got a 401; `None`: still logged in
    /// when the run ended.
    #[serde(rename = "session_active_logout_s")]
    pub session_active: Option<f64>,
    #[serde(rename = "jwt_no_refresh_logout_s")]
    pub jwt_no_refresh: Option<f64>,
    #[serde(rename = "jwt_with_refresh_logout_s")]
    pub jwt_with_refresh: Option<f64>,
    /// Refreshes the refreshing JWT user made.
    pub refreshes: u32,
    /// `GET /me` of the session user back after an idle spell.
    #[serde(rename = "idle_session_status")]
    pub idle_status: u16,
    /// Whether a refresh handed out a new refresh token.
    pub rotated: bool,
    /// The replayed spent refresh token's status and error message.
    pub replay_status: u16,
    pub replay_message: String,
    /// The legitimate holder's newest refresh token, after the replay.
    #[serde(rename = "legit_after_replay")]
    pub legit_after: u16,
    #[serde(rename = "access_after_replay")]
    pub access_after: AccessAfterReplay,
    /// The access tokens' lifetime in the run.
    pub access_ttl_s: f64,
}

/// The first screen's figure: the active JWT user with and without refresh.
pub fn c10_headline(
    total_s: u64,
    jwt_no_refresh: Option<f64>,
    jwt_with_refresh: Option<f64>,
    refreshes: u32,
) -> String {
    let outcome = |r: Option<f64>| {
        r.map_or(format!("still logged in after {total_s} s"), |s| {
            format!("logged out after {s:.1} s")
        })
    };
    format!(
        "active JWT user without refresh {}; with refresh ({}) {}",
        outcome(jwt_no_refresh),
        counted(refreshes),
        outcome(jwt_with_refresh)
    )
}

/// "1 refresh", "3 refreshes".
pub fn counted(refreshes: u32) -> String {
    if refreshes == 1 {
        "1 refresh".into()
    } else {
        format!("{refreshes} refreshes")
    }
}

/// C10's rule. The first three are the seconds until each active user got a
/// 401 (`None`: still logged in when the run ended): the sliding session, the
/// JWT user without refresh, the JWT user who refreshes. Then the status of
/// the idle session's return, whether refresh handed out a new refresh token,
/// and the statuses of the replayed spent token and of the legitimate
/// holder's newest token after it.
pub fn c10_verdict(
    session_active: Option<f64>,
    jwt_no_refresh: Option<f64>,
    jwt_with_refresh: Option<f64>,
    idle_status: u16,
    rotated: bool,
    replay_status: u16,
    legit_after: u16,
) -> Verdict {
    let ok = session_active.is_none()
        && jwt_no_refresh.is_some()
        && jwt_with_refresh.is_none()
        && idle_status == 401
        && rotated
        && replay_status == 400
        && legit_after == 400;
    if ok {
        Verdict::Holds
    } else {
        Verdict::DoesNotHold(format!(
            "expected: session slides, plain JWT expires, refresh keeps the JWT user in, idle session ends, replay \
             revokes the family; got {session_active:?}, {jwt_no_refresh:?}, {jwt_with_refresh:?}, idle {idle_status}, \
             rotated {rotated}, replay {replay_status}, after {legit_after}"
        ))
    }
}

/// The rule [`c10_verdict`] applies, in the report's words.
pub const RULE: &str = "holds when the active session user stays logged in past several idle TTLs, the JWT user without \
                        refresh is logged out at expiry, the JWT user with refresh stays in, an idle session ends, \
                        refresh rotates the token, and a replayed token is refused and revokes its family.";

impl Observed {
    pub fn verdict(&self) -> Verdict {
        c10_verdict(
            self.session_active,
            self.jwt_no_refresh,
            self.jwt_with_refresh,
            self.idle_status,
            self.rotated,
            self.replay_status,
            self.legit_after,
        )
    }

    pub fn headline(&self) -> String {
        c10_headline(
            self.total_s,
            self.jwt_no_refresh,
            self.jwt_with_refresh,
            self.refreshes,
        )
    }
}

/// C10's verdict; `evidence` is the report's table rows, each "step: result".
pub fn claim_verdict(s: &Observed, evidence: String) -> ClaimVerdict {
    ClaimVerdict {
        headline: s.headline(),
        by_design: None,
        claim: "C10".into(),
        verdict: s.verdict(),
        rule: RULE.into(),
        evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_headline_is_the_active_users_outcome() {
        assert_eq!(
            c10_headline(12, Some(2.5), None, 3),
            "active JWT user without refresh logged out after 2.5 s; with refresh (3 refreshes) still logged in \
             after 12 s"
        );
        assert_eq!(
            c10_headline(6, Some(2.5), None, 1),
            "active JWT user without refresh logged out after 2.5 s; with refresh (1 refresh) still logged in \
             after 6 s"
        );
    }

    #[test]
    fn c10_rule() {
        assert_eq!(
            c10_verdict(None, Some(2.1), None, 401, true, 400, 400),
            Verdict::Holds
        );
        assert_eq!(
            c10_verdict(Some(2.0), Some(2.1), None, 401, true, 400, 400),
            Verdict::DoesNotHold(
                "expected: session slides, plain JWT expires, refresh keeps the JWT user in, idle session ends, \
                 replay revokes the family; got Some(2.0), Some(2.1), None, idle 401, rotated true, replay 400, \
                 after 400"
                    .into()
            )
        );
        // Every other expectation, broken on its own, fails the claim too.
        for broken in [
            c10_verdict(None, None, None, 401, true, 400, 400),
            c10_verdict(None, Some(2.1), Some(4.0), 401, true, 400, 400),
            c10_verdict(None, Some(2.1), None, 200, true, 400, 400),
            c10_verdict(None, Some(2.1), None, 401, false, 400, 400),
            c10_verdict(None, Some(2.1), None, 401, true, 401, 400),
            c10_verdict(None, Some(2.1), None, 401, true, 200, 400),
            c10_verdict(None, Some(2.1), None, 401, true, 400, 200),
        ] {
            assert!(matches!(broken, Verdict::DoesNotHold(_)), "{broken:?}");
        }
    }
}
