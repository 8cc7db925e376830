//! The `token_verifier` fuzz target's saved inputs, replayed through its own
//! property check (`fuzz_harness::token_verifier::check`): the seeds under
//! `fuzz/seeds/token_verifier/` and every crash kept under
//! `fuzz/regressions/token_verifier/`. Turning a crash libFuzzer found into a
//! regression test is copying its artifact there (`docs/performance.md`,
//! "Fuzzing").

use fuzz_harness::{replay::replay, token_verifier};

#[test]
fn saved_fuzz_inputs_keep_every_verifier_property() {
    let accepted = replay("token_verifier", token_verifier::check);
    // A genuine raw and an empty structured seed per algorithm: if they stop
    // verifying, the harness (its keys, its own-header) is out of date.
    assert!(accepted >= 8, "only {accepted} saved inputs verified");
}
