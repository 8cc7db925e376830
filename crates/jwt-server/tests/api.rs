//! Every route of the JWT server, for every signing algorithm, against a real
//! Redis. The bad input both stacks answer alike (malformed logins, wrong
//! passwords, unknown routes, invalid role changes) is checked on both:
//! `tests/shared.rs`.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use authlab_core::{
    api::MeResponse,
    wire::{ErrorBody, TokenResponse},
};
use jwt_server::SigningAlgorithm;
use reqwest::StatusCode;
use serde_json::json;
use testkit::{
    http::{json as read_json, node_of},
    nodes::{key_set, spawn_jwt_node},
    Credential, TestClient, TestEnv,
};

fn bearer(token: &str) -> Credential {
    Credential::Bearer(token.to_owned())
}

#[tokio::test]
async fn every_algorithm_logs_in_and_serves_the_api() {
    let env = TestEnv::start().await;
    let client = TestClient::new();
    for alg in SigningAlgorithm::ALL {
        let keys = key_set(alg);
        let node = spawn_jwt_node(env.jwt_config_for(&keys)).await;

        let (alice, tokens) = client.jwt_login(&node.base(), "alice").await;
        assert_eq!(tokens.token_type, "Bearer");
        assert_eq!(tokens.expires_in, 300);
        let header = jsonwebtoken::decode_header(&tokens.access_token).unwrap();
        assert_eq!(header.alg, alg.jwt(), "{alg}");
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.kid.as_deref(), Some(keys.keys[0].kid.as_str()));

        let response = client.get(&node.url("/me"), Some(&alice)).await;
        assert_eq!(node_of(&response), node.node);
        let (status, me): (_, MeResponse) = read_json(response).await;
        assert_eq!(status, StatusCode::OK, "{alg}");
        assert_eq!(
            (me.user.as_str(), me.roles.clone()),
            ("alice", vec!["user".to_owned()])
        );

        let (status, orders): (_, serde_json::Value) =
            read_json(client.get(&node.url("/orders"), Some(&alice)).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(orders["orders"].as_array().unwrap().len(), 5);

        assert_eq!(
            client
                .get(&node.url("/admin/stats"), Some(&alice))
                .await
                .status(),
            StatusCode::FORBIDDEN
        );
        let (carol, _) = client.jwt_login(&node.base(), "carol").await;
        let (status, stats): (_, serde_json::Value) =
            read_json(client.get(&node.url("/admin/stats"), Some(&carol)).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(stats["stack"], "jwt");

        let (status, jwks): (_, serde_json::Value) =
            read_json(client.get(&node.url("/.well-known/jwks.json"), None).await).await;
        assert_eq!(status, StatusCode::OK);
        let published = jwks["keys"].as_array().unwrap();
        if alg == SigningAlgorithm::Hs256 {
            assert!(published.is_empty(), "an HMAC secret is never published");
        } else {
            assert_eq!(published.len(), 1);
            assert_eq!(published[0]["kid"], keys.keys[0].kid.as_str());
            assert!(published[0].get("d").is_none(), "no private part");
        }
    }
}

#[tokio::test]
async fn health_ready_and_metrics() {
    let env = TestEnv::start().await;
    let node = env
        .spawn_jwt_node_with(|c| c.node.node_id = Some("j1".into()))
        .await;
    let client = TestClient::new();
    let response = client.get(&node.url("/health"), None).await;
    assert_eq!(
        (response.status(), node_of(&response)),
        (StatusCode::OK, "j1".into())
    );
    let (status, ready): (_, serde_json::Value) =
        read_json(client.get(&node.url("/ready"), None).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ready["checks"]["token_store"], "ok");
    let (alice, _) = client.jwt_login(&node.base(), "alice").await;
    let metric = |text: &str, name: &str, label: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(&format!("{name}{{")) && l.contains(label))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} with {label} in:\n{text}"))
    };
    let before = client
        .get(&node.url("/metrics"), None)
        .await
        .text()
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(
            client.get(&node.url("/me"), Some(&alice)).await.status(),
            StatusCode::OK
        );
    }
    client.get(&node.url("/me"), Some(&bearer("garbage"))).await;
    let after = client
        .get(&node.url("/metrics"), None)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric(&after, "authlab_tokens_issued_total", "grant=\"access\""),
        1.0
    );
    assert_eq!(
        metric(
            &after,
            "authlab_token_rejections_total",
            "reason=\"malformed\""
        ),
        1.0
    );
    let store_ops = |text: &str| {
        metric(
            text,
            "authlab_store_round_trip_seconds_count",
            "token_store",
        )
    };
    assert_eq!(
        store_ops(&after),
        store_ops(&before),
        "verifying a token touches no store"
    );
}

#[tokio::test]
async fn missing_garbled_and_truncated_tokens_get_a_bearer_challenge() {
    let env = TestEnv::start().await;
    let node = env.spawn_jwt_node_with(|_| {}).await;
    let client = TestClient::new();
    let (_, tokens) = client.jwt_login(&node.base(), "alice").await;

    let response = client.get(&node.url("/me"), None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"authlab\""
    );
    let (_, body): (_, ErrorBody) = read_json(response).await;
    assert_eq!(body.error, "missing_token");

    let token = &tokens.access_token;
    for presented in [
        "garbage".to_owned(),
        token[..token.len() / 2].to_owned(),
        token[..token.len() - 3].to_owned(),
        format!("{token}x"),
        "a.b.c".to_owned(),
        "...".to_owned(),
    ] {
        let response = client
            .get(&node.url("/me"), Some(&bearer(&presented)))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{presented:.40}"
        );
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        assert!(challenge.contains("error_description="), "{challenge}");
        let (_, body): (_, ErrorBody) = read_json(response).await;
        assert_eq!(body.error, "invalid_token");
    }
    // Another scheme is no bearer token at all.
    let response = client
        .raw()
        .get(node.url("/me"))
        .header("authorization", format!("Basic {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refresh_rotates_and_a_replayed_refresh_token_revokes_the_family() {
    let env = TestEnv::start().await;
    let node = env.spawn_jwt_node_with(|_| {}).await;
    let client = TestClient::new();
    let (_, first) = client.jwt_login(&node.base(), "alice").await;

    let (status, second): (_, TokenResponse) =
        read_json(client.refresh(&node.base(), &first.refresh_token).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(second.refresh_token, first.refresh_token, "rotated");
    assert_ne!(second.access_token, first.access_token);
    let (status, third): (_, TokenResponse) =
        read_json(client.refresh(&node.base(), &second.refresh_token).await).await;
    assert_eq!(status, StatusCode::OK);

    // A thief replays the first (spent) token.
    let (status, body): (_, ErrorBody) =
        read_json(client.refresh(&node.base(), &first.refresh_token).await).await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    assert!(body.message.contains("reuse"), "{}", body.message);
    // ...and the legitimate holder's newest token died with the family.
    let (status, body): (_, ErrorBody) =
        read_json(client.refresh(&node.base(), &third.refresh_token).await).await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );

    for junk in [
        "",
        "x",
        &"a".repeat(60),
        &format!("{}.{}", "a".repeat(16), "b".repeat(43)),
    ] {
        let (status, body): (_, ErrorBody) =
            read_json(client.refresh(&node.base(), junk).await).await;
        assert_eq!(
            (status, body.error.as_str()),
            (StatusCode::BAD_REQUEST, "invalid_grant"),
            "{junk:?}"
        );
    }
}

#[tokio::test]
async fn a_role_change_reaches_the_token_only_at_refresh() {
    let env = TestEnv::start().await;
    let node = env.spawn_jwt_node_with(|_| {}).await;
    let client = TestClient::new();
    let (carol, _) = client.jwt_login(&node.base(), "carol").await;
    let (alice, alice_tokens) = client.jwt_login(&node.base(), "alice").await;
    let Credential::Bearer(carol_token) = &carol else {
        unreachable!()
    };
    let set_roles = |roles: serde_json::Value| {
        client
            .raw()
            .put(node.url("/admin/users/alice/roles"))
            .bearer_auth(carol_token)
            .json(&json!({ "roles": roles }))
            .send()
    };

    assert_eq!(
        set_roles(json!(["user", "admin"])).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        client
            .get(&node.url("/admin/stats"), Some(&alice))
            .await
            .status(),
        StatusCode::FORBIDDEN,
        "the old token still carries the old roles"
    );
    let (_, refreshed): (_, TokenResponse) = read_json(
        client
            .refresh(&node.base(), &alice_tokens.refresh_token)
            .await,
    )
    .await;
    assert_eq!(refreshed.roles, vec!["user", "admin"]);
    let promoted = bearer(&refreshed.access_token);
    assert_eq!(
        client
            .get(&node.url("/admin/stats"), Some(&promoted))
            .await
            .status(),
        StatusCode::OK
    );

    // Demotion: the promoted token keeps granting admin until it expires or is refreshed (claim C8).
    assert_eq!(
        set_roles(json!(["user"])).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        client
            .get(&node.url("/admin/stats"), Some(&promoted))
            .await
            .status(),
        StatusCode::OK
    );

    let (status, _): (_, ErrorBody) =
        read_json(set_roles(json!(["Not Valid"])).await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let response = client
        .raw()
        .put(node.url("/admin/users/ghost/roles"))
        .bearer_auth(carol_token)
        .json(&json!({"roles": ["user"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let Credential::Bearer(alice_token) = &alice else {
        unreachable!()
    };
    let response = client
        .raw()
        .put(node.url("/admin/users/bob/roles"))
        .bearer_auth(alice_token)
        .json(&json!({"roles": ["admin"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn start_up_refuses_weak_secrets_and_mismatched_algorithms() {
    let env = TestEnv::start().await;
    let mut config = env.jwt_config();
    config.hs256_secret = Some("too-short-secret".into());
    let error = jwt_server::Application::build(config)
        .await
        .err()
        .expect("weak secret refused");
    assert!(error.to_string().contains("at least 32"), "{error}");

    let mut config = env.jwt_config_for(&key_set(SigningAlgorithm::EdDsa));
    config.alg = Some(SigningAlgorithm::Rs256);
    let error = jwt_server::Application::build(config)
        .await
        .err()
        .expect("wrong algorithm refused");
    assert!(error.to_string().contains("RS256"), "{error}");

    let mut config = env.jwt_config();
    config.hs256_secret = None;
    let error = jwt_server::Application::build(config)
        .await
        .err()
        .expect("no keys refused");
    assert!(error.to_string().contains("no signing keys"), "{error}");
}
