//! The attack corpus (claim C12): forged, tampered and invalid tokens, each
//! of which the server must refuse with 401 `invalid_token`.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::net::TcpListener;

use jwt_server::{keys::KeyStatus, tokens::now_unix, SigningAlgorithm};
use reqwest::StatusCode;
use testkit::{
    nodes::{key_set, spawn_jwt_node},
    Credential, TestClient, TestEnv,
};

// The corpus itself lives in its own crate (`attack_corpus`), which the lab's
// experiment c12 also runs against a naive verifier.
#[tokio::test]
async fn every_forged_or_invalid_token_is_refused() {
    let env = TestEnv::start().await;
    let client = TestClient::new();
    let lure = TcpListener::bind("127.0.0.1:0").unwrap();
    lure.set_nonblocking(true).unwrap();
    let lure_url = format!("http://{}/jwks.json", lure.local_addr().unwrap());

    for alg in SigningAlgorithm::ALL {
        let keys = key_set(alg);
        let node = spawn_jwt_node(env.jwt_config_for(&keys)).await;
        let (_, tokens) = client.jwt_login(&node.base(), "alice").await;
        let cases = attack_corpus::corpus(&keys, &tokens.access_token, &lure_url).unwrap();
        assert!(cases.len() >= 30, "{alg}: corpus has {} cases", cases.len());

        // Positive control: the corpus's minting code makes tokens the server accepts.
        let control = Credential::Bearer(attack_corpus::genuine(&keys).unwrap());
        let response = client.get(&node.url("/me"), Some(&control)).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{alg}: control token must pass"
        );

        for attack in cases {
            let response = client
                .get(
                    &node.url("/admin/stats"),
                    Some(&Credential::Bearer(attack.token)),
                )
                .await;
            let status = response.status();
            let challenge = response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{alg}: '{}' must be refused",
                attack.name
            );
            assert!(
                challenge
                    .as_deref()
                    .is_some_and(|c| c.contains("invalid_token")),
                "{alg}: '{}' challenge {challenge:?}",
                attack.name
            );
        }
    }
    assert!(
        lure.accept().is_err(),
        "a jku/x5u URL in a token must never be fetched"
    );
}

#[tokio::test]
async fn a_rotated_out_key_verifies_during_its_grace_and_not_after() {
    let env = TestEnv::start().await;
    let client = TestClient::new();
    let mut keys = key_set(SigningAlgorithm::EdDsa);
    let old = spawn_jwt_node(env.jwt_config_for(&keys)).await;
    let (old_token, _) = client.jwt_login(&old.base(), "alice").await;

    // Stage, then activate with a grace period: old tokens still pass.
    keys.stage().unwrap();
    keys.activate_staged(std::time::Duration::from_secs(600))
        .unwrap();
    let rotated = spawn_jwt_node(env.jwt_config_for(&keys)).await;
    assert_eq!(
        client
            .get(&rotated.url("/me"), Some(&old_token))
            .await
            .status(),
        StatusCode::OK
    );
    let (new_token, new) = client.jwt_login(&rotated.base(), "alice").await;
    let active = keys
        .keys
        .iter()
        .find(|k| k.status == KeyStatus::Active)
        .unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(&new.access_token)
            .unwrap()
            .kid
            .as_deref(),
        Some(active.kid.as_str())
    );
    assert_eq!(
        client
            .get(&rotated.url("/me"), Some(&new_token))
            .await
            .status(),
        StatusCode::OK
    );

    // The grace period is over: the old key is gone.
    for key in keys
        .keys
        .iter_mut()
        .filter(|k| k.status == KeyStatus::VerifyOnly)
    {
        key.not_after = Some(now_unix() - 1);
    }
    let later = spawn_jwt_node(env.jwt_config_for(&keys)).await;
    let response = client.get(&later.url("/me"), Some(&old_token)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("unknown signing key"));
    assert_eq!(
        client
            .get(&later.url("/me"), Some(&new_token))
            .await
            .status(),
        StatusCode::OK
    );
}
