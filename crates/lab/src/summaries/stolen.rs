//! c11's figures: a stolen credential in another client's hands.
//!
//! Every phase of c11 fills one part of [`StolenSummary`]; a phase that could
//! not run leaves its part empty and says why in `failed`, so a reader can
//! tell "refused" from "never tried". A [`Tally`] counts what a series of
//! attempts got back; only a 401 is a refusal (a 503 says nothing about the
//! credential).

use serde::{Deserialize, Serialize};

use super::Spread;

/// What a series of attempts with one credential got back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub attempts: u32,
    /// 2xx answers.
    pub accepted: u32,
    /// Seconds from the phase's t = 0 (said where the phase is described).
    pub first_accepted_s: Option<f64>,
    pub last_accepted_s: Option<f64>,
    /// The first 401, seconds from t = 0.
    pub first_refused_s: Option<f64>,
    /// (status, count), by status; 0 is "no answer" (connection failed or
    /// timed out). A list, not a map: JSON map keys are strings, which an
    /// internally tagged [`crate::summaries::Summary`] cannot read back as numbers.
    pub statuses: Vec<(u16, u32)>,
    /// The `x-node` of every accepted answer, in order.
    pub accepted_on: Vec<String>,
}

impl Tally {
    pub fn record(&mut self, status: u16, at_s: f64, node: &str) {
        self.attempts += 1;
        match self.statuses.binary_search_by_key(&status, |(s, _)| *s) {
            Ok(i) => self.statuses[i].1 += 1,
            Err(i) => self.statuses.insert(i, (status, 1)),
        }
        if (200..300).contains(&status) {
            self.accepted += 1;
            self.first_accepted_s.get_or_insert(at_s);
            self.last_accepted_s = Some(at_s);
            self.accepted_on.push(node.to_owned());
        } else if status == 401 {
            self.first_refused_s.get_or_insert(at_s);
        }
    }

    /// Authentication refusals (401).
    pub fn refused(&self) -> u32 {
        self.count(401)
    }

    /// Answers with `status`.
    pub fn count(&self, status: u16) -> u32 {
        self.statuses
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n)
    }

    /// Answers that are neither an acceptance nor a 401: they say nothing
    /// about the credential.
    pub fn unrelated(&self) -> u32 {
        self.attempts - self.accepted - self.refused()
    }

    pub fn all_accepted(&self) -> bool {
        self.attempts > 0 && self.accepted == self.attempts
    }

    /// Every attempt refused for the credential (401), none for another reason.
    pub fn all_refused(&self) -> bool {
        self.attempts > 0 && self.refused() == self.attempts
    }

    /// `200×3, 401×2`.
    pub fn statuses_text(&self) -> String {
        if self.statuses.is_empty() {
            return "no attempt".into();
        }
        self.statuses
            .iter()
            .map(|(status, n)| match status {
                0 => format!("no answer×{n}"),
                s => format!("{s}×{n}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `3 of 5`.
    pub fn share_text(&self) -> String {
        format!("{} of {}", self.accepted, self.attempts)
    }

    /// The distinct nodes that accepted, in order of first acceptance.
    pub fn nodes_text(&self) -> String {
        let mut seen: Vec<&str> = Vec::new();
        for node in &self.accepted_on {
            if !seen.contains(&node.as_str()) {
                seen.push(node);
            }
        }
        if seen.is_empty() {
            "—".into()
        } else {
            seen.join(", ")
        }
    }
}

/// Phase 1: the victim's session cookie in the thief's hands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CookieReplay {
    /// Thief's `GET /me` with the cookie; t = 0 at the victim's login.
    pub before_logout: Tally,
    pub logout_status: u16,
    /// The same after the victim's `POST /logout`; t = 0 at the logout's answer.
    pub after_logout: Tally,
}

impl CookieReplay {
    /// Accepted before the logout, refused (401) by every attempt after it.
    pub fn as_expected(&self) -> bool {
        self.before_logout.all_accepted() && self.after_logout.all_refused()
    }
}

/// Phase 2: the victim's bearer JWT in the thief's hands (revocation `none`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BearerReplay {
    pub access_ttl_s: u64,
    /// The token's own `exp` (Unix seconds), read from its payload.
    pub exp: u64,
    /// Thief's `GET /me`; t = 0 at the victim's login.
    pub before_logout: Tally,
    pub logout_status: u16,
    /// Unix seconds at the logout's answer.
    pub logout_at: f64,
    /// Thief's polls every second after the logout, until the first 401 or
    /// the window; t = 0 at the logout's answer.
    pub after_logout: Tally,
    pub poll_window_s: f64,
}

/// How far a first refusal may come before `exp` and still be "at expiry":
/// `exp` is whole seconds and the server compares whole seconds too.
pub const EXPIRY_SLACK_S: f64 = 1.0;

impl BearerReplay {
    /// Unix seconds of the first 401 after the logout.
    pub fn first_refused_at(&self) -> Option<f64> {
        self.after_logout
            .first_refused_s
            .map(|s| self.logout_at + s)
    }

    /// The first refusal after the logout, in seconds after `exp` (negative:
    /// before it).
    pub fn refused_after_exp_s(&self) -> Option<f64> {
        self.first_refused_at().map(|at| at - self.exp as f64)
    }

    /// Seconds after the logout that the thief was last accepted.
    pub fn accepted_after_logout_s(&self) -> Option<f64> {
        self.after_logout.last_accepted_s
    }

    /// Refused (401) while the token was live: before the logout, or after
    /// it but clearly before `exp`.
    pub fn refused_while_live(&self) -> bool {
        self.before_logout.refused() > 0
            || self
                .refused_after_exp_s()
                .is_some_and(|after| after < -EXPIRY_SLACK_S)
    }
}

/// A captured proof sent again, exactly, through HAProxy to a pair of nodes
/// sharing one kind of replay cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapturedReplay {
    /// `node` or `shared`.
    pub cache: String,
    /// The nodes in HAProxy's rotation during the phase.
    pub nodes: Vec<String>,
    /// The victim's own request with the proof, and the node that took it.
    pub victim_status: u16,
    pub victim_node: String,
    /// The thief's copies of the same request.
    pub replays: Tally,
}

/// Phase 3, one key algorithm: a DPoP-bound token in the thief's hands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DpopRound {
    pub alg: String,
    pub login_status: u16,
    /// `token_type` of the login's answer.
    pub token_type: String,
    /// The token's `cnf.jkt` is the victim key's thumbprint.
    pub bound: bool,
    /// The victim's own requests, with fresh proofs: the control.
    pub victim: Tally,
    /// The thief sends the token as `Authorization: Bearer`.
    pub thief_bearer: Tally,
    /// As `Authorization: DPoP` with a proof signed by his own key.
    pub thief_own_key: Tally,
    /// As `Authorization: DPoP` with no proof.
    pub thief_no_proof: Tally,
    pub node_cache: Option<CapturedReplay>,
    pub shared_cache: Option<CapturedReplay>,
}

impl DpopRound {
    /// The three ways to use the token without the key.
    pub fn without_key(&self) -> [(&'static str, &Tally); 3] {
        [
            ("as Bearer", &self.thief_bearer),
            ("as DPoP with his own key's proof", &self.thief_own_key),
            ("as DPoP without a proof", &self.thief_no_proof),
        ]
    }
}

/// What a token and a session cookie tell whoever holds them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayloadReading {
    pub username: String,
    /// The bearer token's payload, decoded with base64 alone.
    pub bearer_claims: Option<serde_json::Value>,
    /// The DPoP-bound token's, likewise.
    pub dpop_claims: Option<serde_json::Value>,
    /// The session cookie's value, bytes.
    pub cookie_bytes: usize,
    /// The user's username, name and roles found in the cookie's value or
    /// in any base64 decoding of it.
    pub cookie_user_data: Vec<String>,
}

impl PayloadReading {
    /// A decoded payload names the user.
    pub fn readable(&self) -> bool {
        [&self.bearer_claims, &self.dpop_claims]
            .into_iter()
            .flatten()
            .any(|claims| claims["sub"].as_str() == Some(self.username.as_str()))
    }
}

/// A variant over trials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostVariant {
    pub name: String,
    pub node: String,
    pub p50_us: Spread,
    pub p99_us: Spread,
    pub cpu_us: Spread,
    /// Per-trial ratio to the bearer variant of the same trial (none for bearer).
    pub p50_ratio: Option<Spread>,
    pub cpu_ratio: Option<Spread>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostSummary {
    pub trials: usize,
    pub requests_per_trial: u64,
    /// Bearer first.
    pub variants: Vec<CostVariant>,
}

/// Everything c11 measured: the typed summary of the experiment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StolenSummary {
    pub session: Option<CookieReplay>,
    pub bearer: Option<BearerReplay>,
    /// One round per key algorithm.
    pub dpop: Vec<DpopRound>,
    pub payload: Option<PayloadReading>,
    pub cost: Option<CostSummary>,
    /// What did not run or was refused by a load check, and why.
    pub failed: Vec<String>,
}
