//! HAProxy's `jwt_verify` gateway, against a real HAProxy and a real JWT
//! node: a good token passes, and every bad one is answered 401 by HAProxy
//! itself, without the server behind it seeing the request.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use jwt_server::{keys::KeySetFile, SigningAlgorithm};
use lab::{
    haproxy::{Haproxy, HaproxyConfig, ServerEntry, StackEntry},
    orders, Balance,
};
use reqwest::StatusCode;
use serde_json::Value;
use testkit::{nodes::TestEnv, Credential, TestClient};

const STACK: &str = "orders_gateway";

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn sign(claims: &Value, kid: &str, private_pem: &str) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.into());
    let key = EncodingKey::from_ec_pem(private_pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// Requests the backend's server was chosen for, from HAProxy's own counters.
fn served(haproxy: &Haproxy) -> u64 {
    haproxy
        .servers()
        .unwrap()
        .iter()
        .filter(|s| s.backend == format!("{STACK}_nodes"))
        .map(|s| s.selected)
        .sum()
}

#[tokio::test]
async fn the_gateway_lets_valid_tokens_through_and_answers_bad_ones_itself() {
    let env = TestEnv::start().await;
    let keys = KeySetFile::generate(SigningAlgorithm::Es256).unwrap();
    let node = testkit::nodes::spawn_jwt_node(env.jwt_config_for(&keys)).await;

    let dir = tempfile::tempdir().unwrap();
    let key_dir = dir.path().join("gateway");
    let files =
        orders::write_gateway_keys(&keys, &key_dir, &key_dir.display().to_string()).unwrap();
    let gateway = orders::gateway(STACK, &keys, files, "authlab", "authlab-api").unwrap();
    let front = testkit::redis::free_port();
    let mut config = HaproxyConfig::new(
        Balance::Roundrobin,
        testkit::redis::free_port(),
        dir.path().join("haproxy.sock"),
        vec![StackEntry {
            name: STACK.into(),
            port: front,
            servers: vec![ServerEntry {
                name: "jwt-1".into(),
                host: "127.0.0.1".into(),
                port: node.port,
            }],
            template: None,
        }],
    );
    config.gateway = Some(gateway);
    let haproxy = Haproxy::start(&config, dir.path()).unwrap();
    let url = format!("http://127.0.0.1:{front}/orders");

    let client = TestClient::new();
    let (good, tokens) = client.jwt_login(&node.base(), "alice").await;
    let token = tokens.access_token.clone();
    let claims = payload(&token);
    let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    let private_pem = keys.keys[0].private_pem.clone().unwrap();

    // HAProxy's health checks never reach /orders, but wait until the server is up.
    let mut up = false;
    for _ in 0..100 {
        if haproxy.servers().unwrap().iter().all(|s| s.is_up()) {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(up, "{:?}", haproxy.servers().unwrap());

    let response = client.get(&url, Some(&good)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert!(body.to_string().contains("alice"), "{body}");
    let before = served(&haproxy);
    assert_eq!(before, 1);

    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = claims.clone();
        change(&mut claims);
        claims
    };
    let other_key = KeySetFile::generate(SigningAlgorithm::Es256).unwrap().keys[0]
        .private_pem
        .clone()
        .unwrap();
    let now = claims["iat"].as_u64().unwrap();
    let header_none =
        URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","typ":"JWT","kid":"{kid}"}}"#));
    let body_none = token.split('.').nth(1).unwrap();
    let bad: Vec<(&str, Option<String>, &str)> = vec![
        ("no token", None, "no bearer token"),
        (
            "another key, same kid",
            Some(sign(&claims, &kid, &other_key)),
            "bad signature",
        ),
        (
            "expired",
            Some(sign(
                &with(&|c| c["exp"] = (now - 10).into()),
                &kid,
                &private_pem,
            )),
            "expired",
        ),
        (
            "wrong issuer",
            Some(sign(
                &with(&|c| c["iss"] = "evil".into()),
                &kid,
                &private_pem,
            )),
            "wrong issuer",
        ),
        (
            "wrong audience",
            Some(sign(
                &with(&|c| c["aud"] = "another-api".into()),
                &kid,
                &private_pem,
            )),
            "wrong audience",
        ),
        (
            "alg none",
            Some(format!("{header_none}.{body_none}.")),
            "not a ES256 JWT",
        ),
        (
            "unknown kid",
            Some(sign(&claims, "es256-unknown", &private_pem)),
            "unknown kid",
        ),
        ("garbage", Some("not-a-jwt".into()), "not a ES256 JWT"),
    ];
    for (what, token, description) in bad {
        let credential = token.map(Credential::Bearer);
        let response = client.get(&url, credential.as_ref()).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Bearer error="invalid_token""#,
            "{what}"
        );
        assert!(
            response.headers().get("x-node").is_none(),
            "{what}: a node answered"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_token", "{what}: {body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains(description),
            "{what}: {body}"
        );
    }
    assert_eq!(served(&haproxy), before, "a bad token reached the server");

    // The good token still passes after all that.
    let response = client.get(&url, Some(&good)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(served(&haproxy), before + 1);
}

#[test]
fn a_gateway_over_eddsa_or_hs256_is_a_clear_start_up_error() {
    for alg in [SigningAlgorithm::EdDsa, SigningAlgorithm::Hs256] {
        let keys = KeySetFile::generate(alg).unwrap();
        let error = orders::gateway(STACK, &keys, Vec::new(), "authlab", "authlab-api")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("jwt_verify") && error.contains("ES256"),
            "{alg}: {error}"
        );
    }
}
