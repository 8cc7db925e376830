//! The `session_cookie` fuzz target's saved inputs, replayed through its own
//! property check (`fuzz_harness::session_cookie::check`): the seeds under
//! `fuzz/seeds/session_cookie/` and every crash kept under
//! `fuzz/regressions/session_cookie/`. Turning a crash libFuzzer found into a
//! regression test is copying its artifact there (`docs/performance.md`,
//! "Fuzzing").

use fuzz_harness::{replay::replay, session_cookie};

#[test]
fn saved_fuzz_inputs_keep_every_cookie_property() {
    let accepted = replay("session_cookie", session_cookie::check);
    // The two genuine-cookie seeds: if they stop reaching the store, the
    // harness no longer signs cookies the way the server checks them.
    assert!(
        accepted >= 2,
        "only {accepted} saved inputs reached the store"
    );
}
