#![allow(clippy::unwrap_used)] // benchmarks fail loudly by design
//! The CPU cost of access tokens, per signing algorithm.
//!
//! The JWT stack's whole per-request cost (revocation `none`) is one
//! `TokenService::verify`, and a login signs one token, so these are the
//! figures claim C6 and the login cost rest on. For each of HS256, RS256
//! (2048-bit), ES256 (P-256) and EdDSA (Ed25519), with a fresh key set from
//! `KeySetFile::generate` loaded through `KeySet::from_file` (the server's
//! path):
//!
//! * `tokens/verify/<alg>`: a valid token through every check of
//!   `TokenService::verify` (size, header, `kid` lookup, signature, claims),
//!   what `GET /me` pays per request;
//! * `tokens/verify_jsonwebtoken/<alg>`: the same checks through
//!   `jsonwebtoken::decode` (`TokenService::verify_with_jsonwebtoken`), which
//!   parses header and claims twice and rebuilds the key per call: what the
//!   one-pass `verify` saves;
//! * `tokens/sign/<alg>`: `TokenService::sign` of fixed claims, the server's
//!   signing path: RS256 signs with the aws-lc key pair parsed once at
//!   start-up (`CachedRsaSigner`), the others go through
//!   `jsonwebtoken::encode`;
//! * `tokens/sign_uncached/RS256`: `TokenService::sign_uncached`, i.e.
//!   `jsonwebtoken::encode`, which re-parses the RSA private key on every
//!   call: what RS256 signing would cost without the cache;
//! * `tokens/issue/<alg>`: `TokenService::issue(user, sid)`, the token part of
//!   a login (claims built, `jti` drawn, signed). The Argon2 verification and
//!   the Redis round trips of a login are not in it.
//!
//! `cargo bench -p jwt-server --bench tokens`

use std::{hint::black_box, time::Duration};

use authlab_core::directory::User;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};
use jwt_server::{
    keys::{KeySet, KeySetFile, SigningAlgorithm},
    tokens::{TokenService, TokenSettings},
};

fn alice() -> User {
    User {
        username: "alice".into(),
        name: "Alice".into(),
        roles: vec!["user".into()],
    }
}

/// A login id shaped like a refresh-token family.
const SID: &str = "Qm3xT8pLw2ZkR7vN";

fn service(alg: SigningAlgorithm) -> TokenService {
    let file = KeySetFile::generate(alg).unwrap();
    // The server's defaults: issuer, audience, 5 min, 2 s, 8 KiB.
    TokenService::new(KeySet::from_file(&file).unwrap(), TokenSettings::default())
}

fn tokens(c: &mut Criterion) {
    let services: Vec<(SigningAlgorithm, TokenService)> = SigningAlgorithm::ALL
        .into_iter()
        .map(|alg| (alg, service(alg)))
        .collect();
    let user = alice();

    let mut verify = c.benchmark_group("tokens/verify");
    for (alg, service) in &services {
        let (token, claims) = service.issue(&user, SID).unwrap();
        assert_eq!(
            service.verify(&token).unwrap(),
            claims,
            "{alg}: the token verifies"
        );
        verify.bench_with_input(BenchmarkId::from_parameter(alg), &token, |b, token| {
            b.iter(|| service.verify(black_box(token)).unwrap())
        });
    }
    verify.finish();

    let mut reference = c.benchmark_group("tokens/verify_jsonwebtoken");
    for (alg, service) in &services {
        let (token, claims) = service.issue(&user, SID).unwrap();
        assert_eq!(service.verify_with_jsonwebtoken(&token).unwrap(), claims);
        reference.bench_with_input(BenchmarkId::from_parameter(alg), &token, |b, token| {
            b.iter(|| service.verify_with_jsonwebtoken(black_box(token)).unwrap())
        });
    }
    reference.finish();

    let mut sign = c.benchmark_group("tokens/sign");
    for (alg, service) in &services {
        let (_, claims) = service.issue(&user, SID).unwrap();
        let token = service.sign(&claims).unwrap();
        assert_eq!(
            service.verify(&token).unwrap(),
            claims,
            "{alg}: sign verifies"
        );
        sign.bench_with_input(BenchmarkId::from_parameter(alg), &claims, |b, claims| {
            b.iter(|| service.sign(black_box(claims)).unwrap())
        });
    }
    sign.finish();

    let mut uncached = c.benchmark_group("tokens/sign_uncached");
    // About 2 ms a call: fewer samples, flat sampling.
    uncached.sample_size(20);
    uncached.sampling_mode(SamplingMode::Flat);
    for (alg, service) in services
        .iter()
        .filter(|(alg, _)| *alg == SigningAlgorithm::Rs256)
    {
        let (_, claims) = service.issue(&user, SID).unwrap();
        let token = service.sign_uncached(&claims).unwrap();
        assert_eq!(
            service.verify(&token).unwrap(),
            claims,
            "{alg}: sign_uncached verifies"
        );
        uncached.bench_with_input(BenchmarkId::from_parameter(alg), &claims, |b, claims| {
            b.iter(|| service.sign_uncached(black_box(claims)).unwrap())
        });
    }
    uncached.finish();

    let mut issue = c.benchmark_group("tokens/issue");
    for (alg, service) in &services {
        issue.bench_function(BenchmarkId::from_parameter(alg), |b| {
            b.iter(|| service.issue(black_box(&user), black_box(SID)).unwrap())
        });
    }
    issue.finish();
}

criterion_group! {
    name = benches;
    // No plots: lab (a dev-dependency) builds plotters with `ab_glyph`, under
    // which criterion's plot backend finds no font and panics.
    config = Criterion::default()
        .without_plots()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = tokens
}
criterion_main!(benches);
