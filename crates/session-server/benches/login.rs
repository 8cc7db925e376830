//! The CPU cost of a login: one Argon2id verification.
//!
//! The cost is fixed when the password is hashed (the PHC string carries its
//! parameters), so each profile is hashed once, outside the measurement, and
//! only `verify_password` is timed:
//!
//! * `login/verify_password/default`: OWASP's m=19456 KiB, t=2, p=1, what a
//!   real login costs;
//! * `login/verify_password/load-test`: m=1024 KiB, t=1, p=1, what a
//!   load-test login costs (never for real passwords).
//!
//! `cargo bench -p session-server --bench login`

use std::{hint::black_box, time::Duration};

use authlab_core::{
    directory::DEMO_PASSWORD,
    password::{hash_password, verify_password, HashCost},
};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};

fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("login/verify_password");
    for (name, cost, samples) in [
        // Tens of milliseconds per call: few samples, flat sampling.
        ("default", HashCost::Default, 10),
        ("load-test", HashCost::LoadTest, 30),
    ] {
        let phc = hash_password(DEMO_PASSWORD, cost).expect("hashing succeeds");
        assert!(verify_password(DEMO_PASSWORD, &phc), "the hash verifies");
        group.sample_size(samples);
        group.sampling_mode(if cost == HashCost::Default {
            SamplingMode::Flat
        } else {
            SamplingMode::Auto
        });
        group.bench_function(name, |b| {
            b.iter(|| verify_password(black_box(DEMO_PASSWORD), black_box(&phc)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // No plots: in a workspace build plotters carries `ab_glyph` (the lab's
    // charts), under which criterion's plot backend finds no font and panics.
    config = Criterion::default()
        .without_plots()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = verify
}
criterion_main!(benches);
