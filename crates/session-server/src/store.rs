//! Where sessions live: the `SessionStore` actix-session loads and saves through.
//!
//! actix-session owns the cookie and the request lifecycle; this module owns
//! the storage. It implements actix-session's [`SessionStore`] trait twice:
//!
//! * [`RedisSessions`] — the real design. Every node reads the same Redis, so
//!   a user who logged in on node 1 is known on node 2.
//! * [`MemorySessions`] — a map inside the process. Each node sees only its
//!   own sessions: the set-up that breaks behind a round-robin load balancer
//!   (claim C1). It exists to be measured, not to be deployed.
//!
//! actix-session's own Redis store cannot answer "which sessions does alice
//! have?", which `POST /logout/all` and role changes need. So both stores keep
//! a *user → session keys* index next to the sessions:
//!
//! ```text
//! authlab:session:<64 random chars>   -> {"user":"\"alice\"","roles":"[\"user\"]",...}  PX idle-ttl
//! authlab:user-sessions:alice         -> SET of session keys                             EX absolute-ttl
//! ```
//!
//! # One round trip per request
//!
//! Sliding expiry usually means a read plus a TTL refresh on every request.
//! Here `load` is a single `GETEX key PX <idle-ttl>`: it reads the session
//! and pushes its expiry forward in one command, and the middleware is told
//! never to call `update_ttl`. That keeps an authenticated request at exactly
//! one store operation, the figure the experiments compare against a JWT's zero.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration as CookieDuration;
use authlab_core::{
    index,
    redis_client::{RedisStore, StoreError},
};
use rand::distr::{Alphanumeric, SampleString};

/// The session-state entry that names the user; the index is keyed by it.
pub const USER_FIELD: &str = "user";
/// The session-state entry holding the user's roles.
pub const ROLES_FIELD: &str = "roles";

/// actix-session's state: each value JSON-encoded.
pub type SessionState = HashMap<String, String>;

fn session_key_name(key: &str) -> String {
    format!("authlab:session:{key}")
}

fn index_key_name(user: &str) -> String {
    format!("authlab:user-sessions:{user}")
}

fn new_session_key() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 64)
}

/// actix-session stores each value JSON-encoded; the user entry is a JSON string.
fn user_of(state: &SessionState) -> Option<String> {
    state
        .get(USER_FIELD)
        .and_then(|raw| serde_json::from_str::<String>(raw).ok())
}

fn to_session_key(key: String) -> SessionKey {
    // 64 ASCII characters are always within actix-session's 4064-byte limit.
    key.try_into()
        .unwrap_or_else(|_| unreachable!("generated session keys are 64 bytes"))
}

fn ttl_millis(ttl: &CookieDuration) -> u64 {
    ttl.whole_milliseconds().max(1) as u64
}

/// Either store, chosen by `--session-store`.
#[derive(Clone)]
pub enum SessionBackend {
    Redis(Arc<RedisSessions>),
    Memory(Arc<MemorySessions>),
}

impl SessionBackend {
    /// Ends every session of `user`; returns how many there were.
    pub async fn delete_all_for(&self, user: &str) -> Result<usize, StoreError> {
        match self {
            SessionBackend::Redis(store) => store.delete_all_for(user).await,
            SessionBackend::Memory(store) => Ok(store.delete_all_for(user)),
        }
    }

    /// Rewrites the roles in every live session of `user`, so a role change
    /// holds from the user's next request on, on every node.
    pub async fn set_roles_for(&self, user: &str, roles: &[String]) -> Result<usize, StoreError> {
        let encoded = serde_json::to_string(roles).unwrap_or_else(|_| "[]".into());
        match self {
            SessionBackend::Redis(store) => store.set_field_for(user, ROLES_FIELD, &encoded).await,
            SessionBackend::Memory(store) => Ok(store.set_field_for(user, ROLES_FIELD, &encoded)),
        }
    }

    /// The handle one actix worker uses: its own Redis connection (see
    /// [`RedisStore::per_worker`]); the memory store stays one per process.
    pub fn for_worker(&self) -> SessionBackend {
        match self {
            SessionBackend::Redis(store) => SessionBackend::Redis(Arc::new(RedisSessions::new(
                store.redis.per_worker(),
                store.idle_ttl,
                store.absolute_ttl,
            ))),
            SessionBackend::Memory(store) => SessionBackend::Memory(store.clone()),
        }
    }

    /// Reads a session without touching it: no TTL slide, no write. This is
    /// what introspection needs (a resource service asking about a session
    /// must not keep it alive on the user's behalf); the request path uses
    /// [`SessionStore::load`], which slides the idle TTL.
    ///
    /// Returns the state and how long the store keeps it at most (its idle TTL left).
    pub async fn peek(&self, key: &str) -> Result<Option<(SessionState, Duration)>, StoreError> {
        match self {
            SessionBackend::Redis(store) => store.peek(key).await,
            SessionBackend::Memory(store) => Ok(store.peek(key)),
        }
    }

    /// The Redis behind the store, if there is one (for `/ready`).
    pub fn redis(&self) -> Option<&RedisStore> {
        match self {
            SessionBackend::Redis(store) => Some(&store.redis),
            SessionBackend::Memory(_) => None,
        }
    }
}

impl SessionStore for SessionBackend {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<SessionState>, LoadError> {
        match self {
            SessionBackend::Redis(store) => store.load(session_key.as_ref()).await,
            SessionBackend::Memory(store) => Ok(store.load(session_key.as_ref())),
        }
    }

    async fn save(
        &self,
        state: SessionState,
        ttl: &CookieDuration,
    ) -> Result<SessionKey, SaveError> {
        let key = match self {
            SessionBackend::Redis(store) => store
                .save(&state, ttl_millis(ttl))
                .await
                .map_err(|e| SaveError::Other(e.into()))?,
            SessionBackend::Memory(store) => store.save(state),
        };
        Ok(to_session_key(key))
    }

    async fn update(
        &self,
        session_key: SessionKey,
        state: SessionState,
        ttl: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        let key: String = session_key.into();
        let key = match self {
            SessionBackend::Redis(store) => store
                .update(key, &state, ttl_millis(ttl))
                .await
                .map_err(|e| UpdateError::Other(e.into()))?,
            SessionBackend::Memory(store) => store.update(key, state),
        };
        Ok(to_session_key(key))
    }

    async fn update_ttl(
        &self,
        session_key: &SessionKey,
        ttl: &CookieDuration,
    ) -> anyhow::Result<()> {
        match self {
            SessionBackend::Redis(store) => {
                let cmd = redis::cmd("PEXPIRE")
                    .arg(session_key_name(session_key.as_ref()))
                    .arg(ttl_millis(ttl))
                    .to_owned();
                store.redis.run::<()>(&cmd).await?;
            }
            SessionBackend::Memory(store) => {
                let _ = store.load(session_key.as_ref());
            }
        }
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> anyhow::Result<()> {
        match self {
            SessionBackend::Redis(store) => store.delete(session_key.as_ref()).await?,
            SessionBackend::Memory(store) => store.delete(session_key.as_ref()),
        }
        Ok(())
    }
}

/// Sessions in Redis, shared by every node that points at the same server.
pub struct RedisSessions {
    redis: RedisStore,
    idle_ttl: Duration,
    absolute_ttl: Duration,
}

impl RedisSessions {
    pub fn new(redis: RedisStore, idle_ttl: Duration, absolute_ttl: Duration) -> Self {
        Self {
            redis,
            idle_ttl,
            absolute_ttl,
        }
    }

    async fn load(&self, key: &str) -> Result<Option<SessionState>, LoadError> {
        let cmd = redis::cmd("GETEX")
            .arg(session_key_name(key))
            .arg("PX")
            .arg(self.idle_ttl.as_millis().max(1) as u64)
            .to_owned();
        let raw: Option<String> = self
            .redis
            .run(&cmd)
            .await
            .map_err(|e| LoadError::Other(e.into()))?;
        raw.map(|raw| serde_json::from_str(&raw).map_err(|e| LoadError::Deserialization(e.into())))
            .transpose()
    }

    /// `GET` and `PTTL` in one round trip: both read-only, so the idle TTL is left as it is.
    async fn peek(&self, key: &str) -> Result<Option<(SessionState, Duration)>, StoreError> {
        let name = session_key_name(key);
        let mut pipeline = redis::pipe();
        pipeline.cmd("GET").arg(&name).cmd("PTTL").arg(&name);
        let (raw, ttl_ms): (Option<String>, i64) = self.redis.run(&pipeline).await?;
        let Some(raw) = raw else {
            return Ok(None);
        };
        let state = serde_json::from_str(&raw).map_err(|e| StoreError::Data {
            store: self.redis.name(),
            reason: e.to_string(),
        })?;
        // -1 (no expiry) cannot happen for keys this store writes; treat it as the idle TTL.
        let left = u64::try_from(ttl_ms).map_or(self.idle_ttl, Duration::from_millis);
        Ok(Some((state, left)))
    }

    async fn save(&self, state: &SessionState, ttl_ms: u64) -> Result<String, StoreError> {
        let key = new_session_key();
        self.write(&key, state, ttl_ms, false).await?;
        Ok(key)
    }

    async fn update(
        &self,
        key: String,
        state: &SessionState,
        ttl_ms: u64,
    ) -> Result<String, StoreError> {
        // XX: never resurrect a session that a logout (or expiry) ended while
        // this request ran. actix-session turns any update error into a 500,
        // so a gone session answers with its old key, unwritten: the cookie
        // names nothing, and the next request is anonymous (401).
        if self.write(&key, state, ttl_ms, true).await? {
            return Ok(key);
        }
        tracing::debug!("session ended while a request changed it; not written back");
        if let Some(user) = user_of(state) {
            // The same pipeline indexed the key although the SET was refused.
            self.redis
                .run::<()>(redis::cmd("SREM").arg(index_key_name(&user)).arg(&key))
                .await?;
        }
        Ok(key)
    }

    /// SET the state and index it under its user, in one atomic round trip.
    async fn write(
        &self,
        key: &str,
        state: &SessionState,
        ttl_ms: u64,
        existing: bool,
    ) -> Result<bool, StoreError> {
        let value = serde_json::to_string(state).map_err(|e| StoreError::Data {
            store: self.redis.name(),
            reason: e.to_string(),
        })?;
        let mut pipeline = redis::pipe();
        pipeline.atomic();
        let set = pipeline
            .cmd("SET")
            .arg(session_key_name(key))
            .arg(value)
            .arg("PX")
            .arg(ttl_ms);
        if existing {
            set.arg("XX");
        }
        if let Some(user) = user_of(state) {
            let index = index_key_name(&user);
            pipeline.cmd("SADD").arg(&index).arg(key).ignore();
            pipeline
                .cmd("EXPIRE")
                .arg(&index)
                .arg(self.absolute_ttl.as_secs().max(1))
                .ignore();
            // Expired sessions leave the index here; otherwise a user who
            // logs in more often than the absolute lifetime grows it forever.
            pipeline
                .add_command(index::prune_index(&index, &session_key_name("")))
                .ignore();
        }
        let (written,): (Option<String>,) = self.redis.run(&pipeline).await?;
        Ok(written.is_some())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let name = session_key_name(key);
        let raw: Option<String> = self.redis.run(redis::cmd("GETDEL").arg(&name)).await?;
        let user = raw
            .and_then(|raw| serde_json::from_str::<SessionState>(&raw).ok())
            .and_then(|state| user_of(&state));
        if let Some(user) = user {
            self.redis
                .run::<()>(redis::cmd("SREM").arg(index_key_name(&user)).arg(key))
                .await?;
        }
        Ok(())
    }

    async fn delete_all_for(&self, user: &str) -> Result<usize, StoreError> {
        // One script: a login between reading the index and deleting it
        // would drop out of the index and survive this logout-all.
        let cmd = index::delete_indexed(&index_key_name(user), &session_key_name(""));
        self.redis.run(&cmd).await
    }

    async fn set_field_for(
        &self,
        user: &str,
        field: &str,
        value: &str,
    ) -> Result<usize, StoreError> {
        let index = index_key_name(user);
        let keys: Vec<String> = self.redis.run(redis::cmd("SMEMBERS").arg(&index)).await?;
        if keys.is_empty() {
            return Ok(0);
        }
        let names: Vec<String> = keys.iter().map(|k| session_key_name(k)).collect();
        let states: Vec<Option<String>> = self.redis.run(redis::cmd("MGET").arg(&names)).await?;
        let mut pipeline = redis::pipe();
        let mut updated = 0;
        for (name, raw) in names.iter().zip(states) {
            let Some(mut state) =
                raw.and_then(|raw| serde_json::from_str::<SessionState>(&raw).ok())
            else {
                continue;
            };
            state.insert(field.to_owned(), value.to_owned());
            let Ok(encoded) = serde_json::to_string(&state) else {
                continue;
            };
            // KEEPTTL: a role change must not extend (or shorten) the session.
            pipeline
                .cmd("SET")
                .arg(name)
                .arg(encoded)
                .arg("XX")
                .arg("KEEPTTL")
                .ignore();
            updated += 1;
        }
        self.redis.run::<()>(&pipeline).await?;
        Ok(updated)
    }
}

struct MemoryEntry {
    state: SessionState,
    expires_at: Instant,
}

#[derive(Default)]
struct MemoryInner {
    sessions: HashMap<String, MemoryEntry>,
    by_user: HashMap<String, HashSet<String>>,
    saves_since_sweep: usize,
}

impl MemoryInner {
    fn remove(&mut self, key: &str) {
        if let Some(entry) = self.sessions.remove(key) {
            if let Some(user) = user_of(&entry.state) {
                if let Some(keys) = self.by_user.get_mut(&user) {
                    keys.remove(key);
                    if keys.is_empty() {
                        self.by_user.remove(&user);
                    }
                }
            }
        }
    }

    /// Drops expired sessions every so often, so memory stays bounded by live users.
    fn sweep_now_and_then(&mut self) {
        self.saves_since_sweep += 1;
        if self.saves_since_sweep < 1024 {
            return;
        }
        self.saves_since_sweep = 0;
        let now = Instant::now();
        let expired: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, entry)| entry.expires_at <= now)
            .map(|(key, _)| key.clone())
            .collect();
        for key in expired {
            self.remove(&key);
        }
    }
}

/// Sessions in this process only: what a node without a shared store has.
pub struct MemorySessions {
    idle_ttl: Duration,
    inner: Mutex<MemoryInner>,
}

impl MemorySessions {
    pub fn new(idle_ttl: Duration) -> Self {
        Self {
            idle_ttl,
            inner: Mutex::new(MemoryInner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        // A panic while holding the lock cannot leave the maps half-updated in
        // a way that matters more than losing the sessions; keep serving.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn load(&self, key: &str) -> Option<SessionState> {
        let mut inner = self.lock();
        let now = Instant::now();
        match inner.sessions.get_mut(key) {
            Some(entry) if entry.expires_at > now => {
                entry.expires_at = now + self.idle_ttl;
                Some(entry.state.clone())
            }
            Some(_) => {
                inner.remove(key);
                None
            }
            None => None,
        }
    }

    fn peek(&self, key: &str) -> Option<(SessionState, Duration)> {
        let now = Instant::now();
        self.lock()
            .sessions
            .get(key)
            .filter(|entry| entry.expires_at > now)
            .map(|entry| (entry.state.clone(), entry.expires_at - now))
    }

    fn insert(&self, key: String, state: SessionState) {
        let mut inner = self.lock();
        if let Some(user) = user_of(&state) {
            inner.by_user.entry(user).or_default().insert(key.clone());
        }
        let expires_at = Instant::now() + self.idle_ttl;
        inner
            .sessions
            .insert(key, MemoryEntry { state, expires_at });
        inner.sweep_now_and_then();
    }

    fn save(&self, state: SessionState) -> String {
        let key = new_session_key();
        self.insert(key.clone(), state);
        key
    }

    /// Like the Redis store: a session that is gone stays gone.
    fn update(&self, key: String, state: SessionState) -> String {
        let now = Instant::now();
        let live = self
            .lock()
            .sessions
            .get(&key)
            .is_some_and(|entry| entry.expires_at > now);
        if live {
            self.insert(key.clone(), state);
        }
        key
    }

    fn delete(&self, key: &str) {
        self.lock().remove(key);
    }

    fn delete_all_for(&self, user: &str) -> usize {
        let mut inner = self.lock();
        let keys = inner.by_user.remove(user).unwrap_or_default();
        for key in &keys {
            inner.sessions.remove(key);
        }
        keys.len()
    }

    fn set_field_for(&self, user: &str, field: &str, value: &str) -> usize {
        let mut inner = self.lock();
        let keys: Vec<String> = inner
            .by_user
            .get(user)
            .map(|keys| keys.iter().cloned().collect())
            .unwrap_or_default();
        let mut updated = 0;
        for key in keys {
            if let Some(entry) = inner.sessions.get_mut(&key) {
                entry.state.insert(field.to_owned(), value.to_owned());
                updated += 1;
            }
        }
        updated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_for(user: &str) -> SessionState {
        HashMap::from([(USER_FIELD.to_owned(), format!("\"{user}\""))])
    }

    #[test]
    fn memory_sessions_index_by_user_and_expire() {
        let store = MemorySessions::new(Duration::from_millis(50));
        let a = store.save(state_for("alice"));
        let b = store.save(state_for("alice"));
        let c = store.save(state_for("bob"));
        assert!(store.load(&a).is_some());
        assert_eq!(store.set_field_for("alice", ROLES_FIELD, "[\"x\"]"), 2);
        assert_eq!(store.load(&b).unwrap()[ROLES_FIELD], "[\"x\"]");
        assert_eq!(store.delete_all_for("alice"), 2);
        assert!(store.load(&a).is_none() && store.load(&b).is_none());
        std::thread::sleep(Duration::from_millis(80));
        assert!(store.load(&c).is_none(), "idle sessions expire");
    }

    #[test]
    fn memory_update_of_a_gone_session_writes_nothing() {
        let store = MemorySessions::new(Duration::from_secs(60));
        let key = store.save(state_for("alice"));
        store.delete(&key);
        assert_eq!(store.update(key.clone(), state_for("alice")), key);
        assert!(store.load(&key).is_none());
        assert_eq!(store.delete_all_for("alice"), 0);
    }
}
