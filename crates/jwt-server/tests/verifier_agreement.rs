//! The server's one-pass verifier (`TokenService::verify`) against
//! jsonwebtoken's own (`TokenService::verify_with_jsonwebtoken`): on every
//! token of the attack corpus, on genuine tokens, and on thousands of
//! mechanically damaged ones, both must give the same verdict and, when they
//! accept, the same claims. The fast path exists for speed only; this test is
//! what lets it replace the library's path on the request path.
//!
//! The *reasons* may differ (the fast path names `alg: none` as a refused
//! algorithm where jsonwebtoken, which has no `none` variant, reports a
//! malformed header); the verdict may not.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use authlab_core::directory::User;
use jwt_server::{
    keys::{KeySet, KeySetFile},
    tokens::{TokenService, TokenSettings},
    SigningAlgorithm,
};
use rand::{rngs::StdRng, Rng, SeedableRng};

const MUTATIONS_PER_TOKEN: usize = 400;
const BASE64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn service(keys: &KeySetFile) -> TokenService {
    TokenService::new(KeySet::from_file(keys).unwrap(), TokenSettings::default())
}

/// One random edit of the kind a broken client, a proxy or an attacker makes.
fn mutate(token: &str, rng: &mut StdRng) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let at = rng.random_range(0..bytes.len());
    match rng.random_range(0..6) {
        0 => bytes[at] = BASE64URL[rng.random_range(0..BASE64URL.len())],
        1 => {
            bytes.remove(at);
        }
        2 => bytes.insert(at, BASE64URL[rng.random_range(0..BASE64URL.len())]),
        3 => bytes.insert(at, b'.'),
        4 => bytes.truncate(at),
        _ => bytes[at] ^= 1 << rng.random_range(0..7),
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn assert_same_verdict(service: &TokenService, token: &str, what: &str) -> bool {
    let fast = service.verify(token);
    let reference = service.verify_with_jsonwebtoken(token);
    match (&fast, &reference) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{what}: both accept but the claims differ"),
        (Err(_), Err(_)) => {}
        _ => panic!("{what}: one-pass {fast:?} but jsonwebtoken {reference:?} for {token}"),
    }
    fast.is_ok()
}

#[test]
fn the_one_pass_verifier_agrees_with_jsonwebtoken() {
    let mut rng = StdRng::seed_from_u64(0x5eed_7057);
    let user = User {
        username: "alice".into(),
        name: "Alice".into(),
        roles: vec!["user".into()],
    };
    for alg in SigningAlgorithm::ALL {
        let keys = KeySetFile::generate(alg).unwrap();
        let service = service(&keys);
        let (genuine, _) = service.issue(&user, "family-1").unwrap();
        assert!(assert_same_verdict(&service, &genuine, "genuine"));
        let control = attack_corpus::genuine(&keys).unwrap();
        assert!(assert_same_verdict(&service, &control, "corpus control"));

        // Nothing listens there and neither verifier may try.
        let corpus = attack_corpus::corpus(&keys, &genuine, "http://127.0.0.1:9/jwks").unwrap();
        for attack in &corpus {
            let accepted = assert_same_verdict(&service, &attack.token, &attack.name);
            assert!(!accepted, "{alg}: '{}' accepted", attack.name);
        }

        // Base64url without padding has one encoding per byte string (the
        // decoder refuses stray low bits), so every real change is either
        // undecodable or breaks the signature: no mutant may pass.
        for _ in 0..MUTATIONS_PER_TOKEN {
            let mutant = mutate(&genuine, &mut rng);
            if mutant == genuine {
                continue;
            }
            let accepted = assert_same_verdict(&service, &mutant, &format!("{alg} mutant"));
            assert!(!accepted, "{alg}: damaged token accepted: {mutant}");
        }
    }
}
