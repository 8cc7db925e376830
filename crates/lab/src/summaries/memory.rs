//! c13's figures: what one logged-in user costs the store.

use serde::{Deserialize, Serialize};

/// c13: store memory per logged-in user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemorySummary {
    pub session_bytes_per_login: f64,
    /// Refresh tokens: what a JWT login leaves in the store.
    pub jwt_bytes_per_login: f64,
}
