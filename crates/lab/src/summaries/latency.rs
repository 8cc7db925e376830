//! c4's figures: `/me` latency per store delay, and what the delay added.
//!
//! The settings are medians per delay; [`LatencySummary::added`] is the
//! difference c15 quotes (largest delay against loopback).

use serde::{Deserialize, Serialize};

/// c4: `/me` at a fixed offered load, per store delay setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// In the order of the settings, smallest first; the first is loopback.
    pub settings: Vec<DelaySetting>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DelaySetting {
    /// What the latency proxy was asked to add (ms).
    pub setting_ms: f64,
    /// Median store round trip measured through the proxy (PINGs, ms).
    pub store_rtt_ms: f64,
    pub session_p50_ms: f64,
    pub jwt_p50_ms: f64,
}

/// What the largest setting added over loopback (ms).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Added {
    pub setting_ms: f64,
    /// The store round trip it added, as measured.
    pub store_rtt_ms: f64,
    pub session_p50_ms: f64,
    pub jwt_p50_ms: f64,
}

impl LatencySummary {
    /// The largest setting against the first (loopback); `None` with fewer
    /// than two settings.
    pub fn added(&self) -> Option<Added> {
        let (base, far) = (self.settings.first()?, self.settings.last()?);
        (self.settings.len() > 1).then_some(Added {
            setting_ms: far.setting_ms,
            store_rtt_ms: far.store_rtt_ms - base.store_rtt_ms,
            session_p50_ms: far.session_p50_ms - base.session_p50_ms,
            jwt_p50_ms: far.jwt_p50_ms - base.jwt_p50_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_latency_is_the_largest_setting_over_loopback() {
        let setting = |setting_ms, store_rtt_ms, session_p50_ms, jwt_p50_ms| DelaySetting {
            setting_ms,
            store_rtt_ms,
            session_p50_ms,
            jwt_p50_ms,
        };
        let summary = LatencySummary {
            settings: vec![setting(0.0, 0.05, 0.3, 0.25), setting(2.0, 2.06, 4.4, 0.26)],
        };
        let added = summary.added().unwrap();
        assert!((added.store_rtt_ms - 2.01).abs() < 1e-9);
        assert!((added.session_p50_ms - 4.1).abs() < 1e-9);
        assert_eq!(
            LatencySummary {
                settings: vec![setting(0.0, 0.05, 0.3, 0.2)]
            }
            .added(),
            None
        );
    }
}
