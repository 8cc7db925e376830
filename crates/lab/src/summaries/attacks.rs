//! c12's figures: the attack corpus against the real server and the naive
//! verifier.

use serde::{Deserialize, Serialize};

/// c12: the attack corpus against the real server and the naive verifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackSummary {
    pub corpus: usize,
    /// Forged or invalid tokens the real server refused (401).
    pub server_refused: usize,
    pub naive_accepted: usize,
    pub lure_contacted: bool,
    pub weak_secret_refused: bool,
}
