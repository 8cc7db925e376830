//! Refresh tokens: the deliberately *stateful* half of the JWT stack.
//!
//! An access token cannot be recalled, so it is kept short-lived; staying
//! logged in is the refresh token's job, and a refresh token is only useful
//! if the server can say no to it. So refresh tokens live in Redis, and they
//! are opaque (`<family>.<secret>`), not JWTs.
//!
//! * **Stored hashed.** Redis holds `SHA-256(token)`, never the token: a dump
//!   of the store does not hand out logins.
//! * **Rotated on every use.** `POST /token/refresh` marks the presented token
//!   used and returns a new one in the same *family* (one family per login).
//! * **Reuse revokes the family.** A used token presented again means two
//!   parties hold it — the user and a thief — and the server cannot tell
//!   which is which, so the whole family dies (RFC 9700 §4.14.2).
//!
//! ```text
//! authlab:refresh:<sha256(token)>     -> "live|<family>|<user>" or "used|…"   PX refresh-ttl
//! authlab:refresh-family:<family>     -> <user>   (exists while the login is alive)
//! authlab:user-families:<user>        -> SET of families (logout everywhere)
//! authlab:refresh-dpop:<family>       -> <jkt>    (a DPoP-bound login's key)
//! ```

use std::time::Duration;

use authlab_core::{
    index,
    redis_client::{RedisStore, StoreError},
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::distr::{Alphanumeric, SampleString};

fn token_key(token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    format!(
        "authlab:refresh:{}",
        URL_SAFE_NO_PAD.encode(digest.as_ref())
    )
}

fn family_key(family: &str) -> String {
    format!("authlab:refresh-family:{family}")
}

fn binding_key(family: &str) -> String {
    format!("authlab:refresh-dpop:{family}")
}

fn user_families_key(user: &str) -> String {
    format!("authlab:user-families:{user}")
}

/// The family part of a token shaped like ours (`<16>.<43>`, alphanumeric).
fn family_of(presented: &str) -> Option<&str> {
    let shaped = presented.len() == 60
        && presented.as_bytes()[16] == b'.'
        && presented
            .bytes()
            .enumerate()
            .all(|(i, b)| i == 16 || b.is_ascii_alphanumeric());
    shaped.then(|| &presented[..16])
}

/// A refresh token handed to a client, and the login it belongs to.
#[derive(Debug, Clone)]
pub struct RefreshToken {
    pub token: String,
    pub family: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("unknown or expired refresh token")]
    Invalid,
    #[error("refresh token reuse detected; every refresh token of this login is revoked (access tokens already issued live until their exp)")]
    Reused,
    #[error("this login was revoked")]
    Revoked,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct RefreshTokens {
    store: RedisStore,
    ttl: Duration,
}

impl RefreshTokens {
    pub fn new(store: RedisStore, ttl: Duration) -> Self {
        Self { store, ttl }
    }

    pub fn store(&self) -> &RedisStore {
        &self.store
    }

    fn ttl_ms(&self) -> u64 {
        self.ttl.as_millis() as u64
    }

    /// Starts a new family (a login) for `user` and returns its first token.
    pub async fn start_family(&self, user: &str) -> Result<RefreshToken, StoreError> {
        let family = Alphanumeric.sample_string(&mut rand::rng(), 16);
        let token = self.new_token(&family);
        let mut pipeline = redis::pipe();
        pipeline.atomic();
        pipeline
            .cmd("SET")
            .arg(token_key(&token))
            .arg(format!("live|{family}|{user}"))
            .arg("PX")
            .arg(self.ttl_ms())
            .ignore();
        pipeline
            .cmd("SET")
            .arg(family_key(&family))
            .arg(user)
            .arg("PX")
            .arg(self.ttl_ms())
            .ignore();
        pipeline
            .cmd("SADD")
            .arg(user_families_key(user))
            .arg(&family)
            .ignore();
        pipeline
            .cmd("PEXPIRE")
            .arg(user_families_key(user))
            .arg(self.ttl_ms())
            .ignore();
        // Expired families leave the index here; otherwise a user who logs
        // in more often than the refresh lifetime grows it forever.
        pipeline
            .add_command(index::prune_index(
                &user_families_key(user),
                &family_key(""),
            ))
            .ignore();
        self.store.run::<()>(&pipeline).await?;
        Ok(RefreshToken { token, family })
    }

    fn new_token(&self, family: &str) -> String {
        format!(
            "{family}.{}",
            Alphanumeric.sample_string(&mut rand::rng(), 43)
        )
    }

    /// Binds a login to a DPoP key: its refresh tokens need a proof by it.
    pub async fn bind(&self, family: &str, jkt: &str) -> Result<(), StoreError> {
        self.store
            .run::<()>(
                redis::cmd("SET")
                    .arg(binding_key(family))
                    .arg(jkt)
                    .arg("PX")
                    .arg(self.ttl_ms()),
            )
            .await
    }

    /// The DPoP key `presented`'s login is bound to, if any. Read without
    /// spending the token.
    pub async fn binding(&self, presented: &str) -> Result<Option<String>, StoreError> {
        let Some(family) = family_of(presented) else {
            return Ok(None);
        };
        self.store
            .run(redis::cmd("GET").arg(binding_key(family)))
            .await
    }

    /// Spends `presented` and returns `(user, next token)`.
    pub async fn rotate(&self, presented: &str) -> Result<(String, RefreshToken), RefreshError> {
        // Reject anything that is not even shaped like our tokens before touching Redis.
        let Some(family) = family_of(presented) else {
            return Err(RefreshError::Invalid);
        };
        let key = token_key(presented);
        // SET … GET swaps in the "used" mark and returns what was there, in
        // one atomic step: of two concurrent uses, exactly one sees "live".
        let mut pipeline = redis::pipe();
        pipeline
            .cmd("SET")
            .arg(&key)
            .arg("used")
            .arg("XX")
            .arg("KEEPTTL")
            .arg("GET");
        pipeline.cmd("EXISTS").arg(family_key(family));
        let (previous, family_alive): (Option<String>, bool) = self.store.run(&pipeline).await?;
        let Some(previous) = previous else {
            return Err(RefreshError::Invalid);
        };
        let mut parts = previous.splitn(3, '|');
        let (state, stored_family, user) = (parts.next(), parts.next(), parts.next());
        match (state, stored_family, user) {
            (Some("live"), Some(stored), Some(user)) if stored == family => {
                if !family_alive {
                    return Err(RefreshError::Revoked);
                }
                let user = user.to_owned();
                let token = self.new_token(family);
                let mut pipeline = redis::pipe();
                pipeline.atomic();
                pipeline
                    .cmd("SET")
                    .arg(token_key(&token))
                    .arg(format!("live|{family}|{user}"))
                    .arg("PX")
                    .arg(self.ttl_ms())
                    .ignore();
                pipeline
                    .cmd("PEXPIRE")
                    .arg(family_key(family))
                    .arg(self.ttl_ms())
                    .ignore();
                // A bound login's key lives as long as the login (a no-op
                // for a bearer login, which has none).
                pipeline
                    .cmd("PEXPIRE")
                    .arg(binding_key(family))
                    .arg(self.ttl_ms())
                    .ignore();
                // The index must outlive every family in it, or revoke-all
                // stops finding a login that has been refreshing for longer
                // than one refresh lifetime.
                pipeline
                    .cmd("PEXPIRE")
                    .arg(user_families_key(&user))
                    .arg(self.ttl_ms())
                    .ignore();
                self.store.run::<()>(&pipeline).await?;
                Ok((
                    user,
                    RefreshToken {
                        token,
                        family: family.to_owned(),
                    },
                ))
            }
            _ => {
                // "used" (or anything unexpected): somebody replayed a spent token.
                self.revoke_family(family).await?;
                Err(RefreshError::Reused)
            }
        }
    }

    /// Ends one login: its refresh tokens stop working.
    pub async fn revoke_family(&self, family: &str) -> Result<(), StoreError> {
        self.store
            .run::<()>(redis::cmd("DEL").arg(family_key(family)))
            .await
    }

    /// Ends every login of `user`; returns how many were alive.
    pub async fn revoke_user(&self, user: &str) -> Result<usize, StoreError> {
        // One script: a login between reading the index and deleting it
        // would drop out of the index and survive this revoke-all.
        let cmd = index::delete_indexed(&user_families_key(user), &family_key(""));
        self.store.run(&cmd).await
    }
}
