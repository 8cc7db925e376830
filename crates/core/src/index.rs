//! User -> ids indexes (user -> sessions, user -> refresh families): the
//! scripts both servers run on them.
//!
//! An index is a Redis SET of ids; the thing each id names lives at
//! `<prefix><id>` with a TTL of its own. Both scripts run inside Redis, so
//! nothing can write between their reads and their writes.
//!
//! The keys an entry names are not declared in `KEYS` (they are not known
//! before the script reads the index). Fine on one Redis, which is what
//! authlab runs; a Redis Cluster would need the index and its entries in one
//! hash slot.

/// Deletes every entry the index names and the index itself; returns how
/// many entries still existed.
const DELETE_INDEXED: &str = r"
local ended = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  ended = ended + redis.call('DEL', ARGV[1] .. id)
end
redis.call('DEL', KEYS[1])
return ended
";

/// Removes from the index the ids whose entry no longer exists (expired or
/// deleted); returns how many it removed. Ids are random and never reused,
/// so an entry that is gone never comes back.
const PRUNE_INDEX: &str = r"
local removed = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. id) == 0 then
    redis.call('SREM', KEYS[1], id)
    removed = removed + 1
  end
end
return removed
";

fn eval(script: &str, index: &str, prefix: &str) -> redis::Cmd {
    // EVAL, not EVALSHA: the scripts are a few hundred bytes, and EVAL
    // cannot fail with NOSCRIPT after a Redis restart or inside MULTI.
    redis::cmd("EVAL")
        .arg(script)
        .arg(1)
        .arg(index)
        .arg(prefix)
        .to_owned()
}

/// Atomically ends every entry of `index` (logout-all, revoke-all).
pub fn delete_indexed(index: &str, prefix: &str) -> redis::Cmd {
    eval(DELETE_INDEXED, index, prefix)
}

/// Drops dead ids from `index`, so it holds live entries only.
pub fn prune_index(index: &str, prefix: &str) -> redis::Cmd {
    eval(PRUNE_INDEX, index, prefix)
}
