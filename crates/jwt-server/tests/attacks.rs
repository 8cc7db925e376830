//! The attack corpus (claim C12): forged, tampered and invalid tokens, each
//! of which the server must refuse with 401 `invalid_token`.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::net::TcpListener;

use aws_lc_rs::signature::{KeyPair, RsaKeyPair};
use base64::{engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{jwk::Jwk, Algorithm, EncodingKey, Header};
use jwt_server::{
    keys::{KeyEntry, KeySetFile, KeyStatus},
    tokens::now_unix,
    SigningAlgorithm,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use testkit::{
    nodes::{key_set, spawn_jwt_node},
    Credential, TestClient, TestEnv,
};

fn claims() -> Value {
    let now = now_unix();
    json!({
        "iss": "authlab", "aud": "authlab-api", "sub": "alice",
        "exp": now + 300, "iat": now, "nbf": now,
        "jti": "attack-jti", "roles": ["user", "admin"], "name": "Alice", "sid": "fam"
    })
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

fn der_of(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

fn encoding_key(alg: SigningAlgorithm, entry: &KeyEntry) -> EncodingKey {
    match alg {
        SigningAlgorithm::Hs256 => {
            EncodingKey::from_secret(&STANDARD.decode(entry.secret_b64.as_ref().unwrap()).unwrap())
        }
        SigningAlgorithm::Rs256 => {
            EncodingKey::from_rsa_pem(entry.private_pem.as_ref().unwrap().as_bytes()).unwrap()
        }
        SigningAlgorithm::Es256 => {
            EncodingKey::from_ec_pem(entry.private_pem.as_ref().unwrap().as_bytes()).unwrap()
        }
        SigningAlgorithm::EdDsa => {
            EncodingKey::from_ed_pem(entry.private_pem.as_ref().unwrap().as_bytes()).unwrap()
        }
    }
}

fn header(alg: Algorithm, kid: &str) -> Header {
    let mut header = Header::new(alg);
    header.typ = Some("at+jwt".into());
    header.kid = Some(kid.into());
    header
}

fn sign(header: &Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(header, claims, key).unwrap()
}

/// The public key an attacker can see, in the forms a confused verifier might use as an HMAC secret.
fn public_key_forms(alg: SigningAlgorithm, entry: &KeyEntry) -> Vec<Vec<u8>> {
    let private = entry.private_pem.as_ref().unwrap();
    let jwk = Jwk::from_encoding_key(&encoding_key(alg, entry), alg.jwt()).unwrap();
    let mut forms = vec![serde_json::to_vec(&jwk).unwrap()];
    if alg == SigningAlgorithm::Rs256 {
        let public = RsaKeyPair::from_pkcs8(&der_of(private))
            .unwrap()
            .public_key()
            .as_ref()
            .to_vec();
        let pem = format!(
            "-----BEGIN RSA PUBLIC KEY-----\n{}\n-----END RSA PUBLIC KEY-----\n",
            STANDARD.encode(&public)
        );
        forms.push(pem.into_bytes());
        forms.push(public);
    }
    forms
}

struct Case {
    name: String,
    token: String,
}

fn case(name: impl Into<String>, token: String) -> Case {
    Case {
        name: name.into(),
        token,
    }
}

fn corpus(alg: SigningAlgorithm, keys: &KeySetFile, valid: &str, jku_port: u16) -> Vec<Case> {
    let entry = &keys.keys[0];
    let kid = entry.kid.as_str();
    let key = encoding_key(alg, entry);
    let ours = |claims: &Value| sign(&header(alg.jwt(), kid), claims, &key);
    let with = |field: &str, value: Value| {
        let mut c = claims();
        c[field] = value;
        ours(&c)
    };
    let without = |field: &str| {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(field);
        ours(&c)
    };
    let now = now_unix();
    let mut cases = vec![
        case("expired", with("exp", json!(now - 60))),
        case("not yet valid", with("nbf", json!(now + 60))),
        case("wrong audience", with("aud", json!("someone-else"))),
        case("wrong issuer", with("iss", json!("evil"))),
        case("missing exp", without("exp")),
        case("missing nbf", without("nbf")),
        case("missing aud", without("aud")),
        case("missing iss", without("iss")),
        case("missing sub", without("sub")),
        case("roles of the wrong type", with("roles", json!("admin"))),
        case("oversized", with("name", json!("x".repeat(9_000)))),
    ];

    for none in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"alg": none, "typ": "at+jwt", "kid": kid});
        cases.push(case(
            format!("alg {none}"),
            format!("{}.{}.", b64(&header), b64(&claims())),
        ));
    }

    // Key confusion: HS256 "signed" with the public key as the HMAC secret.
    if !alg.is_symmetric() {
        for (i, public) in public_key_forms(alg, entry).into_iter().enumerate() {
            let token = sign(
                &header(Algorithm::HS256, kid),
                &claims(),
                &EncodingKey::from_secret(&public),
            );
            cases.push(case(
                format!("key confusion HS256 with public key form {i}"),
                token,
            ));
        }
    }

    // Tampering with a genuine token.
    let parts: Vec<&str> = valid.split('.').collect();
    let mut elevated: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    elevated["roles"] = json!(["user", "admin"]);
    cases.push(case(
        "tampered payload, original signature",
        format!("{}.{}.{}", parts[0], b64(&elevated), parts[2]),
    ));
    cases.push(case(
        "signature stripped",
        format!("{}.{}.", parts[0], parts[1]),
    ));
    cases.push(case(
        "signature of another token",
        format!("{}.{}.{}", parts[0], b64(&claims()), parts[2]),
    ));
    let mut flipped = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    flipped[0] ^= 1;
    cases.push(case(
        "one signature bit flipped",
        format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            URL_SAFE_NO_PAD.encode(flipped)
        ),
    ));

    // Header games.
    let mut wrong_type = header(alg.jwt(), kid);
    wrong_type.typ = Some("JWT".into());
    cases.push(case(
        "typ JWT instead of at+jwt",
        sign(&wrong_type, &claims(), &key),
    ));
    let mut no_kid = header(alg.jwt(), kid);
    no_kid.kid = None;
    cases.push(case("no kid", sign(&no_kid, &claims(), &key)));
    for bad_kid in [
        "unknown-kid",
        "../../../../etc/passwd",
        "' OR '1'='1' --",
        "kid\u{0}null",
        "",
    ] {
        cases.push(case(
            format!("kid {bad_kid:?}"),
            sign(&header(alg.jwt(), bad_kid), &claims(), &key),
        ));
    }
    let mut critical = header(alg.jwt(), kid);
    critical.crit = Some(vec!["exp".into()]);
    cases.push(case("crit header", sign(&critical, &claims(), &key)));

    // A key the attacker made, offered in the token itself or by URL.
    let attacker = key_set(SigningAlgorithm::EdDsa);
    let attacker_key = encoding_key(SigningAlgorithm::EdDsa, &attacker.keys[0]);
    let attacker_jwk = Jwk::from_encoding_key(&attacker_key, Algorithm::EdDSA).unwrap();
    for (name, mut forged) in [
        (
            "embedded jwk, attacker kid",
            header(Algorithm::EdDSA, &attacker.keys[0].kid),
        ),
        ("embedded jwk, our kid", header(Algorithm::EdDSA, kid)),
    ] {
        forged.jwk = Some(attacker_jwk.clone());
        cases.push(case(name, sign(&forged, &claims(), &attacker_key)));
    }
    let url = format!("http://127.0.0.1:{jku_port}/jwks.json");
    let mut jku = header(Algorithm::EdDSA, kid);
    jku.jku = Some(url.clone());
    cases.push(case(
        "jku to the attacker's key set",
        sign(&jku, &claims(), &attacker_key),
    ));
    let mut x5u = header(Algorithm::EdDSA, kid);
    x5u.x5u = Some(url);
    cases.push(case(
        "x5u to the attacker's certificate",
        sign(&x5u, &claims(), &attacker_key),
    ));

    // Not a JWT at all.
    for (name, token) in [
        ("bad base64", "!!!.@@@.###".to_owned()),
        (
            "header not JSON",
            format!(
                "{}.{}.sig",
                URL_SAFE_NO_PAD.encode("not json"),
                b64(&claims())
            ),
        ),
        ("two segments", format!("{}.{}", parts[0], parts[1])),
        ("four segments", format!("{valid}.extra")),
    ] {
        cases.push(case(name, token));
    }
    cases
}

#[tokio::test]
async fn every_forged_or_invalid_token_is_refused() {
    let env = TestEnv::start().await;
    let client = TestClient::new();
    let lure = TcpListener::bind("127.0.0.1:0").unwrap();
    lure.set_nonblocking(true).unwrap();
    let jku_port = lure.local_addr().unwrap().port();

    for alg in [
        SigningAlgorithm::Rs256,
        SigningAlgorithm::EdDsa,
        SigningAlgorithm::Hs256,
        SigningAlgorithm::Es256,
    ] {
        let keys = key_set(alg);
        let node = spawn_jwt_node(env.jwt_config_for(&keys)).await;
        let (_, tokens) = client.jwt_login(&node.base(), "alice").await;
        let cases = corpus(alg, &keys, &tokens.access_token, jku_port);
        assert!(cases.len() >= 30, "{alg}: corpus has {} cases", cases.len());

        // Positive control: our own minting code makes tokens the server accepts.
        let control = sign(
            &header(alg.jwt(), &keys.keys[0].kid),
            &claims(),
            &encoding_key(alg, &keys.keys[0]),
        );
        let response = client
            .get(&node.url("/me"), Some(&Credential::Bearer(control)))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{alg}: control token must pass"
        );

        for Case { name, token } in cases {
            let response = client
                .get(&node.url("/admin/stats"), Some(&Credential::Bearer(token)))
                .await;
            let status = response.status();
            let challenge = response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{alg}: '{name}' must be refused"
            );
            assert!(
                challenge
                    .as_deref()
                    .is_some_and(|c| c.contains("invalid_token")),
                "{alg}: '{name}' challenge {challenge:?}"
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
