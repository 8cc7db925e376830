//! The naive-vs-strict verifier table of claim C12, checked in-process.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use jwt_server::{
    keys::{KeySet, KeySetFile},
    tokens::{TokenService, TokenSettings},
    SigningAlgorithm,
};
use lab::naive::{Checks, NaiveVerifier};

fn strict(keys: &KeySetFile) -> TokenService {
    TokenService::new(KeySet::from_file(keys).unwrap(), TokenSettings::default())
}

#[test]
fn the_strict_verifier_refuses_what_the_naive_one_lets_through() {
    for alg in [
        SigningAlgorithm::EdDsa,
        SigningAlgorithm::Rs256,
        SigningAlgorithm::Hs256,
    ] {
        let keys = KeySetFile::generate(alg).unwrap();
        let genuine = attack_corpus::genuine(&keys).unwrap();
        let strict = strict(&keys);
        let naive = NaiveVerifier::new(&keys, Checks::NONE).unwrap();
        let singles: Vec<_> = Checks::each()
            .into_iter()
            .map(|(name, checks)| (name, NaiveVerifier::new(&keys, checks).unwrap()))
            .collect();

        assert!(strict.verify(&genuine).is_ok(), "{alg}: control");
        for (_, verifier) in &singles {
            assert!(
                verifier.verify(&genuine).is_ok(),
                "{alg}: no single check refuses a genuine token"
            );
        }

        let corpus =
            attack_corpus::corpus(&keys, &genuine, "http://127.0.0.1:9/jwks.json").unwrap();
        let mut naive_accepted = Vec::new();
        for attack in &corpus {
            assert!(
                strict.verify(&attack.token).is_err(),
                "{alg}: strict accepted '{}'",
                attack.name
            );
            if naive.verify(&attack.token).is_ok() {
                naive_accepted.push(attack.name.clone());
                let stoppers: Vec<&str> = singles
                    .iter()
                    .filter(|(_, v)| v.verify(&attack.token).is_err())
                    .map(|(n, _)| *n)
                    .collect();
                assert!(
                    !stoppers.is_empty(),
                    "{alg}: nothing stops '{}'",
                    attack.name
                );
            }
        }
        for must_pass_naively in [
            "alg none",
            "alg nOnE",
            "payload changed, signature kept",
            "expired",
            "wrong audience",
        ] {
            assert!(
                naive_accepted.iter().any(|n| n == must_pass_naively),
                "{alg}: naive refused {must_pass_naively}"
            );
        }
        if !alg.is_symmetric() {
            assert!(
                naive_accepted.iter().any(|n| n.contains("public key")),
                "{alg}: key confusion works on the naive verifier"
            );
        }
        assert!(
            naive_accepted.iter().any(|n| n.contains("embedded jwk")),
            "{alg}: embedded jwk works on the naive verifier"
        );
    }
}
