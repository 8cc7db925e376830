//! Store faults short of a stopped process, the same for both stacks.
//!
//! A store can be up, reachable, and still refuse what a node asks: full
//! (`maxmemory` under `noeviction`, writes answer `OOM`), demoted to a
//! replica of a master that is not there (writes answer `READONLY`), and
//! such a replica told not to serve stale data (everything answers
//! `MASTERDOWN`). A node must answer all of them as an outage, `503
//! store_unavailable` with a `Retry-After` ([`crate::http::assert_store_unavailable`]),
//! never a 500, and heal when the store does.
//!
//! The faults are the same on both stacks; what each stack must still serve
//! during them is not (the JWT stack verifies access tokens without the
//! store, the session stack cannot look a session up without it). So each
//! server's `tests/outage.rs` keeps its own checks and takes the faults from
//! here, each fault with the call that undoes it.

use crate::redis::{command, free_port};

/// Caps the store's memory at one byte with no eviction: every write
/// answers `OOM`; reads still work. Undone by [`free_memory`].
pub async fn fill_memory(store_url: &str) {
    command::<()>(
        store_url,
        &["CONFIG", "SET", "maxmemory-policy", "noeviction"],
    )
    .await;
    command::<()>(store_url, &["CONFIG", "SET", "maxmemory", "1"]).await;
}

/// Lifts the cap [`fill_memory`] set.
pub async fn free_memory(store_url: &str) {
    command::<()>(store_url, &["CONFIG", "SET", "maxmemory", "0"]).await;
}

/// Makes the store a replica of a master on a port nobody listens on:
/// every write answers `READONLY`. Undone by [`promote`].
pub async fn demote_to_orphan_replica(store_url: &str) {
    let nowhere = free_port().to_string();
    command::<()>(store_url, &["REPLICAOF", "127.0.0.1", &nowhere]).await;
}

/// On a replica whose master is gone ([`demote_to_orphan_replica`]):
/// reads answer `MASTERDOWN` too. Undone by [`promote`].
pub async fn refuse_stale_reads(store_url: &str) {
    command::<()>(
        store_url,
        &["CONFIG", "SET", "replica-serve-stale-data", "no"],
    )
    .await;
}

/// A master again, serving reads and writes.
pub async fn promote(store_url: &str) {
    command::<()>(store_url, &["REPLICAOF", "NO", "ONE"]).await;
    command::<()>(
        store_url,
        &["CONFIG", "SET", "replica-serve-stale-data", "yes"],
    )
    .await;
}
