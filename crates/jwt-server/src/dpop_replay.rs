//! The DPoP replay cache: a proof is good for one request.
//!
//! A proof names its request (method, URL, access token) and is fresh for a
//! minute, so a proof captured in transit could be sent again, for the same
//! request, within that minute. RFC 9449 §11.1 closes the gap by remembering
//! every `jti` until its proof has gone stale anyway. Where that memory lives
//! is the point claim C11 makes about "stateless" tokens:
//!
//! * [`ReplayCache::Node`]: each node remembers what it saw. No store, but a
//!   replayed proof sent to *another* node is new to that node and passes.
//! * [`ReplayCache::Shared`]: one Redis for all nodes, `SET … NX EX`: a
//!   replay is refused wherever it lands, at the price of a store write per
//!   request and of the store's availability: shared state again.
//!
//! ```text
//! authlab:dpop-jti:<jkt>:<jti> -> 1   EX until the proof leaves the iat window
//! ```
//!
//! The key includes the thumbprint because a `jti` is unique per key, not
//! across clients.

use std::{collections::HashMap, sync::Mutex};

use authlab_core::{
    dpop::{ProofWindow, VerifiedProof},
    redis_client::{RedisStore, StoreError},
};

/// Most proofs one node remembers; when full of live entries it refuses new
/// proofs rather than forget one that could still be replayed.
pub const NODE_CACHE_MAX: usize = 100_000;

// One per process: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum ReplayCache {
    Node(NodeCache),
    Shared(RedisStore),
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("the DPoP replay cache of this node is full")]
    Full,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ReplayCache {
    /// `Ok(true)` the first time this proof is seen, `Ok(false)` on a replay.
    pub async fn first_use(
        &self,
        proof: &VerifiedProof,
        window: ProofWindow,
        now: u64,
    ) -> Result<bool, ReplayError> {
        let expires_at = proof.iat + window.max_age.as_secs() + 1;
        match self {
            ReplayCache::Node(cache) => cache.first_use(key(proof), expires_at, now),
            ReplayCache::Shared(store) => {
                let ttl = expires_at.saturating_sub(now).max(1);
                let set: Option<String> = store
                    .run(
                        redis::cmd("SET")
                            .arg(key(proof))
                            .arg(1)
                            .arg("NX")
                            .arg("EX")
                            .arg(ttl),
                    )
                    .await?;
                Ok(set.is_some())
            }
        }
    }
}

fn key(proof: &VerifiedProof) -> String {
    format!("authlab:dpop-jti:{}:{}", proof.jkt, proof.jti)
}

/// One node's memory of the proofs it accepted, each until it expires.
#[derive(Default)]
pub struct NodeCache {
    seen: Mutex<HashMap<String, u64>>,
}

impl NodeCache {
    fn first_use(&self, key: String, expires_at: u64, now: u64) -> Result<bool, ReplayError> {
        // A poisoned lock means a panic while holding it; the map is still a
        // valid map, and refusing every proof from then on would be worse.
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if seen.get(&key).is_some_and(|&until| until > now) {
            return Ok(false);
        }
        if seen.len() >= NODE_CACHE_MAX {
            seen.retain(|_, until| *until > now);
            if seen.len() >= NODE_CACHE_MAX {
                return Err(ReplayError::Full);
            }
        }
        seen.insert(key, expires_at);
        Ok(true)
    }

    pub fn len(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use authlab_core::{config::RedisClientArgs, metrics::Metrics};
    use supervise::RedisServer;

    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn proof(jti: &str) -> VerifiedProof {
        VerifiedProof {
            jkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into(),
            jti: jti.into(),
            iat: NOW,
        }
    }

    fn shared(url: &str) -> ReplayCache {
        let metrics = Metrics::new("test").unwrap();
        ReplayCache::Shared(
            RedisStore::new(
                "token store",
                url,
                &RedisClientArgs::default(),
                metrics.store("token_store"),
            )
            .unwrap(),
        )
    }

    #[tokio::test]
    async fn a_node_accepts_a_proof_once_while_it_can_be_replayed() {
        let node = ReplayCache::Node(NodeCache::default());
        let window = ProofWindow::default();
        assert!(node.first_use(&proof("a"), window, NOW).await.unwrap());
        assert!(!node.first_use(&proof("a"), window, NOW + 60).await.unwrap());
        assert!(node.first_use(&proof("b"), window, NOW).await.unwrap());
        // Past the window the entry may go: verify() refuses the proof as stale.
        assert!(node.first_use(&proof("a"), window, NOW + 62).await.unwrap());
    }

    #[tokio::test]
    async fn per_node_caches_let_a_replay_through_on_the_other_node() {
        let (one, two) = (
            ReplayCache::Node(NodeCache::default()),
            ReplayCache::Node(NodeCache::default()),
        );
        let window = ProofWindow::default();
        assert!(one.first_use(&proof("a"), window, NOW).await.unwrap());
        assert!(two.first_use(&proof("a"), window, NOW).await.unwrap());
    }

    #[tokio::test]
    async fn a_shared_cache_refuses_the_replay_on_every_node() {
        let redis = RedisServer::start().unwrap();
        let url = redis.url(1);
        let (one, two) = (shared(&url), shared(&url));
        let window = ProofWindow::default();
        assert!(one.first_use(&proof("a"), window, NOW).await.unwrap());
        assert!(!two.first_use(&proof("a"), window, NOW).await.unwrap());
        assert!(!one.first_use(&proof("a"), window, NOW).await.unwrap());
        assert!(two.first_use(&proof("b"), window, NOW).await.unwrap());
    }

    #[tokio::test]
    async fn a_shared_entry_lives_until_the_proof_is_stale() {
        let redis = RedisServer::start().unwrap();
        let url = redis.url(1);
        let cache = shared(&url);
        let now = crate::tokens::now_unix();
        let fresh = VerifiedProof {
            iat: now,
            ..proof("ttl")
        };
        assert!(cache
            .first_use(&fresh, ProofWindow::default(), now)
            .await
            .unwrap());
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        let ttl: i64 = redis::cmd("TTL")
            .arg(key(&fresh))
            .query_async(&mut connection)
            .await
            .unwrap();
        assert!((59..=61).contains(&ttl), "{ttl}");
    }

    #[tokio::test]
    async fn a_shared_cache_with_its_store_down_is_an_error_not_a_pass() {
        let mut redis = RedisServer::start().unwrap();
        let url = redis.url(1);
        let cache = shared(&url);
        redis.stop();
        let outcome = cache
            .first_use(&proof("a"), ProofWindow::default(), NOW)
            .await;
        assert!(matches!(outcome, Err(ReplayError::Store(_))));
    }

    #[test]
    fn a_full_node_cache_refuses_rather_than_forgets() {
        let cache = NodeCache::default();
        for i in 0..NODE_CACHE_MAX {
            assert!(cache.first_use(format!("k{i}"), NOW + 60, NOW).unwrap());
        }
        assert!(matches!(
            cache.first_use("one-more".into(), NOW + 60, NOW),
            Err(ReplayError::Full)
        ));
        // Once the entries expire there is room again.
        assert!(cache
            .first_use("one-more".into(), NOW + 200, NOW + 61)
            .unwrap());
        assert_eq!(cache.len(), 1);
    }
}
