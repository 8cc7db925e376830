//! DPoP (RFC 9449) end to end against real nodes and a real Redis: tokens
//! bound to a client's key at login, proofs checked on every request, the
//! replay cache per node or shared, and the modes off / optional / required.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::Duration;

use authlab_client::dpop::{DpopAlg, DpopKey};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jwt_server::{configuration::ReplayCacheMode, DpopMode, JwtServerConfig};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use testkit::{TestEnv, TestNode};

/// The address clients use for the service, as a load balancer would have
/// it: every node is sent this `Host`, so one proof is good on any node.
const HOST: &str = "auth.example:8081";

fn public(path: &str) -> String {
    format!("http://{HOST}{path}")
}

async fn node(env: &TestEnv, mode: DpopMode, cache: ReplayCacheMode) -> TestNode {
    env.spawn_jwt_node_with(|c: &mut JwtServerConfig| {
        c.dpop = mode;
        c.dpop_replay_cache = cache;
    })
    .await
}

fn to(client: &Client, node: &TestNode, method: &str, path: &str) -> RequestBuilder {
    let url = node.url(path);
    match method {
        "POST" => client.post(url),
        _ => client.get(url),
    }
    .header("host", HOST)
}

async fn body(response: Response) -> (StatusCode, Option<String>, Value) {
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        status,
        challenge,
        response.json().await.unwrap_or(Value::Null),
    )
}

/// Logs alice in, with a proof by `key` if one is given.
async fn login(client: &Client, node: &TestNode, key: Option<&DpopKey>) -> (StatusCode, Value) {
    let mut request = to(client, node, "POST", "/login")
        .json(&json!({"username": "alice", "password": "authlab-demo"}));
    if let Some(key) = key {
        request = request.header("dpop", key.proof("POST", &public("/login"), None).unwrap());
    }
    let (status, _, body) = body(request.send().await.unwrap()).await;
    (status, body)
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// GET /me with `Authorization: <scheme> <token>` and the given proof.
async fn me(
    client: &Client,
    node: &TestNode,
    scheme: &str,
    token: &str,
    proof: Option<&str>,
) -> (StatusCode, Option<String>, Value) {
    let mut request =
        to(client, node, "GET", "/me").header("authorization", format!("{scheme} {token}"));
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    body(request.send().await.unwrap()).await
}

fn me_proof(key: &DpopKey, token: &str) -> String {
    key.proof("GET", &public("/me"), Some(token)).unwrap()
}

#[tokio::test]
async fn a_bound_token_works_only_with_proofs_by_its_key() {
    let env = TestEnv::start().await;
    let node = node(&env, DpopMode::Optional, ReplayCacheMode::Shared).await;
    let client = Client::new();
    for alg in [DpopAlg::Es256, DpopAlg::EdDsa] {
        let key = DpopKey::generate(alg).unwrap();
        let (status, tokens) = login(&client, &node, Some(&key)).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        assert_eq!(tokens["token_type"], "DPoP");
        let token = tokens["access_token"].as_str().unwrap();
        assert_eq!(claims(token)["cnf"]["jkt"], key.jkt(), "bound to the key");

        let (status, _, me_body) =
            me(&client, &node, "DPoP", token, Some(&me_proof(&key, token))).await;
        assert_eq!(status, StatusCode::OK, "{alg:?}: {me_body}");
        assert_eq!(me_body["user"], "alice");

        // What a thief with the token but not the key can try.
        let thief = DpopKey::generate(alg).unwrap();
        let proof = me_proof(&key, token);
        let attempts: [(&str, &str, Option<String>, &str); 6] = [
            ("as a bearer token", "Bearer", None, "invalid_token"),
            ("without a proof", "DPoP", None, "invalid_dpop_proof"),
            (
                "with a proof by another key",
                "DPoP",
                Some(me_proof(&thief, token)),
                "invalid_dpop_proof",
            ),
            (
                "with a replayed proof",
                "DPoP",
                Some(proof.clone()),
                "invalid_dpop_proof",
            ),
            (
                "with a proof for another URL",
                "DPoP",
                Some(key.proof("GET", &public("/orders"), Some(token)).unwrap()),
                "invalid_dpop_proof",
            ),
            (
                "with a stale proof",
                "DPoP",
                Some(
                    key.proof_at("GET", &public("/me"), Some(token), 1_000_000_000)
                        .unwrap(),
                ),
                "invalid_dpop_proof",
            ),
        ];
        // The replayed proof is first used once, legitimately.
        assert_eq!(
            me(&client, &node, "DPoP", token, Some(&proof)).await.0,
            StatusCode::OK
        );
        for (what, scheme, proof, error) in attempts {
            let (status, challenge, body) =
                me(&client, &node, scheme, token, proof.as_deref()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{alg:?} {what}: {body}");
            assert_eq!(body["error"], error, "{alg:?} {what}");
            let challenge = challenge.unwrap();
            assert!(challenge.starts_with("DPoP "), "{what}: {challenge}");
            assert!(challenge.contains("algs=\"ES256 EdDSA\""), "{challenge}");
        }
    }
    // A token bound to no key is not a DPoP token.
    let (_, tokens) = login(&client, &node, None).await;
    assert_eq!(tokens["token_type"], "Bearer");
    let bearer = tokens["access_token"].as_str().unwrap();
    assert!(claims(bearer).get("cnf").is_none());
    assert_eq!(
        me(&client, &node, "Bearer", bearer, None).await.0,
        StatusCode::OK
    );
    let key = DpopKey::generate(DpopAlg::Es256).unwrap();
    let (status, _, body) = me(
        &client,
        &node,
        "DPoP",
        bearer,
        Some(&me_proof(&key, bearer)),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test]
async fn a_replayed_proof_passes_another_node_only_with_per_node_caches() {
    let env = TestEnv::start().await;
    for (cache, replay_on_other_node) in [
        (ReplayCacheMode::Node, StatusCode::OK),
        (ReplayCacheMode::Shared, StatusCode::UNAUTHORIZED),
    ] {
        let a = node(&env, DpopMode::Optional, cache).await;
        let b = node(&env, DpopMode::Optional, cache).await;
        let client = Client::new();
        let key = DpopKey::generate(DpopAlg::Es256).unwrap();
        let (_, tokens) = login(&client, &a, Some(&key)).await;
        let token = tokens["access_token"].as_str().unwrap();
        let proof = me_proof(&key, token);
        assert_eq!(
            me(&client, &a, "DPoP", token, Some(&proof)).await.0,
            StatusCode::OK
        );
        assert_eq!(
            me(&client, &a, "DPoP", token, Some(&proof)).await.0,
            StatusCode::UNAUTHORIZED,
            "{cache:?}: the same node always remembers"
        );
        assert_eq!(
            me(&client, &b, "DPoP", token, Some(&proof)).await.0,
            replay_on_other_node,
            "{cache:?}: the replay on the other node"
        );
        a.stop().await;
        b.stop().await;
    }
}

#[tokio::test]
async fn modes_off_and_required() {
    let env = TestEnv::start().await;
    let client = Client::new();
    let key = DpopKey::generate(DpopAlg::EdDsa).unwrap();

    let off = node(&env, DpopMode::Off, ReplayCacheMode::Shared).await;
    let (status, tokens) = login(&client, &off, Some(&key)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        tokens["token_type"], "Bearer",
        "mode off ignores the DPoP header"
    );
    assert!(claims(tokens["access_token"].as_str().unwrap())
        .get("cnf")
        .is_none());

    let required = node(&env, DpopMode::Required, ReplayCacheMode::Shared).await;
    let (status, body) = login(&client, &required, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_dpop_proof");
    let bearer = tokens["access_token"].as_str().unwrap();
    let (status, challenge, _) = me(&client, &required, "Bearer", bearer, None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "required refuses bearer tokens"
    );
    assert!(challenge.unwrap().starts_with("DPoP "));
    let (status, tokens) = login(&client, &required, Some(&key)).await;
    assert_eq!(status, StatusCode::OK);
    let token = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        me(
            &client,
            &required,
            "DPoP",
            token,
            Some(&me_proof(&key, token))
        )
        .await
        .0,
        StatusCode::OK
    );
    // A malformed or doubled proof header is a proof error, never a 500.
    let (status, _, body) = me(&client, &required, "DPoP", token, Some("not-a-jwt")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_dpop_proof"))
    );
    let doubled = to(&client, &required, "GET", "/me")
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", me_proof(&key, token))
        .header("dpop", me_proof(&key, token))
        .send()
        .await
        .unwrap();
    assert_eq!(doubled.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_bound_login_refreshes_only_with_its_key_and_a_thief_cannot_burn_it() {
    let env = TestEnv::start().await;
    let node = node(&env, DpopMode::Optional, ReplayCacheMode::Shared).await;
    let client = Client::new();
    let key = DpopKey::generate(DpopAlg::Es256).unwrap();
    let (_, tokens) = login(&client, &node, Some(&key)).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let refresh = |proof: Option<String>| {
        let mut request = to(&client, &node, "POST", "/token/refresh")
            .json(&json!({ "refresh_token": refresh_token }));
        if let Some(proof) = proof {
            request = request.header("dpop", proof);
        }
        request.send()
    };
    let thief = DpopKey::generate(DpopAlg::Es256).unwrap();
    for proof in [
        None,
        Some(
            thief
                .proof("POST", &public("/token/refresh"), None)
                .unwrap(),
        ),
    ] {
        let (status, _, body) = body(refresh(proof).await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "invalid_dpop_proof");
    }
    // Neither attempt spent the token: its holder still refreshes, bound again.
    let (status, _, body) = body(
        refresh(Some(
            key.proof("POST", &public("/token/refresh"), None).unwrap(),
        ))
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["cnf"]["jkt"],
        key.jkt()
    );
}

#[tokio::test]
async fn the_shared_replay_cache_fails_closed_with_a_503_and_heals() {
    let mut env = TestEnv::start().await;
    let node = env
        .spawn_jwt_node_with(|c| {
            c.dpop = DpopMode::Optional;
            c.dpop_replay_cache = ReplayCacheMode::Shared;
            c.redis.redis_timeout = Duration::from_millis(500);
        })
        .await;
    let client = Client::new();
    let key = DpopKey::generate(DpopAlg::EdDsa).unwrap();
    let (_, tokens) = login(&client, &node, Some(&key)).await;
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    env.store.stop();
    let (status, _, body) = me(
        &client,
        &node,
        "DPoP",
        &token,
        Some(&me_proof(&key, &token)),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    env.store.restart();
    let mut healed = false;
    for _ in 0..50 {
        if me(
            &client,
            &node,
            "DPoP",
            &token,
            Some(&me_proof(&key, &token)),
        )
        .await
        .0 == StatusCode::OK
        {
            healed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healed, "the node answers again once the store is back");
}

/// GET /me with a bound token, the given proof and extra headers.
async fn me_with(
    client: &Client,
    node: &TestNode,
    token: &str,
    proof: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut request = to(client, node, "GET", "/me")
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", proof);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let (status, _, body) = body(request.send().await.unwrap()).await;
    (status, body)
}

/// What a client sends to make a node believe it was addressed as
/// `https://evil.example`.
const SPOOFED: [(&str, &str); 3] = [
    ("x-forwarded-host", "evil.example"),
    ("x-forwarded-proto", "https"),
    ("forwarded", "host=evil.example;proto=https"),
];

#[tokio::test]
async fn forwarded_headers_name_the_proofs_url_only_from_a_trusted_proxy() {
    let env = TestEnv::start().await;
    let client = Client::new();
    let key = DpopKey::generate(DpopAlg::Es256).unwrap();

    // No trusted proxy (the default): the test client is just a client.
    let untrusted = node(&env, DpopMode::Optional, ReplayCacheMode::Shared).await;
    let (status, tokens) = login(&client, &untrusted, Some(&key)).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let token = tokens["access_token"].as_str().unwrap();
    for (what, url, headers) in [
        (
            "https + X-Forwarded-*",
            "https://evil.example/me",
            &SPOOFED[..2],
        ),
        (
            "http + X-Forwarded-Host",
            "http://evil.example/me",
            &SPOOFED[..1],
        ),
        (
            "https + X-Forwarded-Proto",
            "https://auth.example:8081/me",
            &SPOOFED[1..2],
        ),
        (
            "https + Forwarded",
            "https://evil.example/me",
            &SPOOFED[2..],
        ),
    ] {
        let proof = key.proof("GET", url, Some(token)).unwrap();
        let (status, body) = me_with(&client, &untrusted, token, &proof, headers).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
        assert_eq!(body["error"], "invalid_dpop_proof", "{what}");
    }
    // The spoofed headers change nothing: the real URL still works.
    let (status, body) =
        me_with(&client, &untrusted, token, &me_proof(&key, token), &SPOOFED).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The test client as the trusted proxy: its X-Forwarded-* name the URL
    // (and `Forwarded` still does not).
    let proxied = env
        .spawn_jwt_node_with(|c: &mut JwtServerConfig| {
            c.dpop = DpopMode::Optional;
            c.node.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        })
        .await;
    let (status, tokens) = login(&client, &proxied, Some(&key)).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let token = tokens["access_token"].as_str().unwrap();
    let proof = key
        .proof("GET", "https://evil.example/me", Some(token))
        .unwrap();
    let (status, body) = me_with(&client, &proxied, token, &proof, &SPOOFED[..2]).await;
    assert_eq!(status, StatusCode::OK, "believed from the proxy: {body}");
    let (status, body) = me_with(
        &client,
        &proxied,
        token,
        &me_proof(&key, token),
        &SPOOFED[..2],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the Host behind the proxy: {body}"
    );
    let proof = key
        .proof("GET", "https://evil.example/me", Some(token))
        .unwrap();
    let (status, body) = me_with(&client, &proxied, token, &proof, &SPOOFED[2..]).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "Forwarded from the proxy: {body}"
    );
    // A proxy's ambiguous header is not guessed at: the connection's view stands.
    let (status, body) = me_with(
        &client,
        &proxied,
        token,
        &me_proof(&key, token),
        &[("x-forwarded-host", "a.example, evil.example")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// `Host` is the client's word: unpinned, a proof made for another server's
/// name passes when replayed with that name in `Host`; with
/// `--dpop-origins` it is refused, and the pinned name still works.
#[tokio::test]
async fn pinned_origins_refuse_a_proof_for_a_name_the_server_is_not_served_under() {
    let env = TestEnv::start().await;
    let client = Client::new();
    let key = DpopKey::generate(DpopAlg::Es256).unwrap();
    for (pinned, replay) in [(false, StatusCode::OK), (true, StatusCode::UNAUTHORIZED)] {
        let node = env
            .spawn_jwt_node_with(|c: &mut JwtServerConfig| {
                c.dpop = DpopMode::Optional;
                if pinned {
                    c.dpop_origins = vec![format!("http://{HOST}")];
                }
            })
            .await;
        let (status, tokens) = login(&client, &node, Some(&key)).await;
        assert_eq!(status, StatusCode::OK, "pinned {pinned}: {tokens}");
        let token = tokens["access_token"].as_str().unwrap();
        let (status, _, answer) =
            me(&client, &node, "DPoP", token, Some(&me_proof(&key, token))).await;
        assert_eq!(status, StatusCode::OK, "pinned {pinned}: {answer}");
        // A proof the client made for evil.example, replayed here by it.
        let proof = key
            .proof("GET", "http://evil.example/me", Some(token))
            .unwrap();
        let replayed = client
            .get(node.url("/me"))
            .header("host", "evil.example")
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof)
            .send()
            .await
            .unwrap();
        let (status, _, answer) = body(replayed).await;
        assert_eq!(status, replay, "pinned {pinned}: {answer}");
        node.stop().await;
    }
}
