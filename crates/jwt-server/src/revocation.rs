//! Revoking access tokens before they expire: the "extra machinery" of claim C7.
//!
//! In mode `none` there is none: a logged-out access token keeps working on
//! every node until its `exp`, because no node asks anyone. Mode `denylist`
//! buys instant revocation with one Redis lookup per request, which is the
//! same price the session stack pays, and with it the same dependency on a
//! store being up:
//!
//! ```text
//! authlab:deny:<jti>       -> 1              EX until the token's exp + leeway + margin (then it is dead anyway)
//! authlab:user-nbf:<user>  -> unix seconds   tokens issued at or before it are refused
//! ```
//!
//! An entry must outlive the last instant validation could accept the token,
//! and validation accepts until `exp + leeway` in whole seconds, so through the
//! whole second `exp + leeway`. [`DENY_MARGIN_SECS`] covers that second and
//! the sub-second part of "now" the `EX` count loses.
//!
//! Both keys are read with one `MGET`, so the check is a single round trip.
//! The per-user time has one-second resolution (JWT `iat` is in seconds): a
//! login in the same second as a "log out everywhere" is refused too, and
//! succeeds a moment later; erring that way never lets an old token through.

use std::time::Duration;

use authlab_core::redis_client::{RedisStore, StoreError};

use crate::tokens::{now_unix, AccessClaims};

/// Seconds a denylist entry outlives `exp + leeway`: one for the last
/// accepted second, one for clock granularity between nodes and Redis.
pub const DENY_MARGIN_SECS: u64 = 2;

fn deny_key(jti: &str) -> String {
    format!("authlab:deny:{jti}")
}

fn user_nbf_key(user: &str) -> String {
    format!("authlab:user-nbf:{user}")
}

/// The store handle one actix worker reads the denylist through: a
/// connection of its own ([`RedisStore::per_worker`]), so the MGET on every
/// request stays on the worker's runtime instead of hopping to the runtime
/// that happened to open a shared connection. Writes (logout) go through the
/// shared handle; both reach the same Redis.
pub struct WorkerDenylist(pub RedisStore);

pub struct Denylist<'a> {
    store: &'a RedisStore,
}

impl<'a> Denylist<'a> {
    pub fn new(store: &'a RedisStore) -> Self {
        Self { store }
    }

    /// `Ok(true)` if the token was revoked.
    pub async fn is_revoked(&self, claims: &AccessClaims) -> Result<bool, StoreError> {
        let (denied, not_before): (Option<String>, Option<u64>) = self
            .store
            .run(
                redis::cmd("MGET")
                    .arg(deny_key(&claims.jti))
                    .arg(user_nbf_key(&claims.sub)),
            )
            .await?;
        Ok(denied.is_some() || not_before.is_some_and(|nbf| claims.iat <= nbf))
    }

    /// Refuses this one token from now until validation would refuse it
    /// anyway: past `exp + leeway`, not just past `exp`, or a logged-out
    /// token would work again for the length of the leeway.
    pub async fn deny(&self, claims: &AccessClaims, leeway: Duration) -> Result<(), StoreError> {
        let refused_from = claims
            .exp
            .saturating_add(leeway.as_secs())
            .saturating_add(DENY_MARGIN_SECS);
        let remaining = refused_from.saturating_sub(now_unix()).max(1);
        self.store
            .run::<()>(
                redis::cmd("SET")
                    .arg(deny_key(&claims.jti))
                    .arg(1)
                    .arg("EX")
                    .arg(remaining),
            )
            .await
    }

    /// Refuses every token of `user` issued up to now; kept for one access
    /// lifetime (plus leeway), after which those tokens have expired, plus
    /// the same margin as [`Denylist::deny`] for whole-second validation.
    pub async fn deny_user(&self, user: &str, keep_for: Duration) -> Result<(), StoreError> {
        self.store
            .run::<()>(
                redis::cmd("SET")
                    .arg(user_nbf_key(user))
                    .arg(now_unix())
                    .arg("EX")
                    .arg(keep_for.as_secs().saturating_add(DENY_MARGIN_SECS)),
            )
            .await
    }
}
