//! What every handler of a JWT node reads: one value, built once by
//! [`crate::startup`] and shared by all workers.
//!
//! The handlers ([`crate::routes`], the [`crate::auth`] extractor,
//! [`crate::introspect`]) take it from actix's app data; startup builds it
//! and mounts the handlers. Keeping it in a module of its own lets both sides
//! name it without the handlers depending on the code that starts the node.

use std::{sync::Arc, time::Duration};

use authlab_core::{directory::UserDirectory, http::NodeInfo, throttle::LoginThrottle};
use prometheus::{IntCounter, IntCounterVec};

use crate::{
    configuration::RevocationMode, dpop_binding::DpopPolicy, refresh::RefreshTokens,
    tokens::TokenService,
};

/// Counters only the JWT stack has.
pub struct JwtMetrics {
    pub logins: IntCounterVec,
    pub logouts: IntCounterVec,
    pub issued: IntCounterVec,
    pub rejections: IntCounterVec,
    pub refresh_reuse: IntCounter,
}

/// Everything a handler needs, shared by all workers.
pub struct JwtState {
    pub node: NodeInfo,
    pub tokens: TokenService,
    pub refresh: RefreshTokens,
    pub refresh_ttl: Duration,
    pub directory: Arc<UserDirectory>,
    /// Checked before every password verification (`authlab_core::throttle`).
    pub throttle: Arc<LoginThrottle>,
    pub revocation: RevocationMode,
    /// Proof of possession: off, or how proofs are asked for and remembered.
    pub dpop: DpopPolicy,
    pub metrics: JwtMetrics,
}
