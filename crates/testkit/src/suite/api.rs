//! Bad input on the routes both stacks serve, answered alike: a clear JSON
//! error with the right status, never a panic, never a 500, and nothing that
//! tells a wrong password from an unknown user.
//!
//! The bodies and their limits are core's (`authlab_core::http`), so the two
//! stacks share the answers too; these checks hold both to them.

#![allow(clippy::unwrap_used)] // checks fail loudly by design

use std::time::{Duration, Instant};

use authlab_core::{
    directory::{SeedArgs, SeedCommand, DEMO_PASSWORD},
    password::HashCost,
    wire::ErrorBody,
};
use reqwest::StatusCode;
use serde_json::json;

use super::Stack;
use crate::{
    http::{error_of, json as read_json, node_of},
    Credential, TestClient, TestEnv,
};

pub async fn malformed_login_bodies_are_json_client_errors<S: Stack>() {
    let env = TestEnv::start().await;
    let node = S::spawn(&env, |_| {}).await;
    let raw = TestClient::new().raw().clone();
    let url = node.url("/login");

    let send = |body: &'static str, content_type: &'static str| {
        raw.post(&url)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let (status, body) = error_of(
        send("{\"username\": \"alice\"", "application/json")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_json")
    );
    let (status, body) = error_of(send("{\"username\":", "application/json").await.unwrap()).await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_json")
    );

    let (status, body) = error_of(
        send("{\"username\": \"alice\"}", "application/json")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    assert!(body.message.contains("password"), "{}", body.message);
    let (status, body) = error_of(
        raw.post(&url)
            .json(&json!({"password": "x"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );

    let (status, body) = error_of(
        send("{\"username\": 5, \"password\": []}", "application/json")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );

    let (status, body) = error_of(
        send("username=alice", "application/x-www-form-urlencoded")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );

    let huge = format!(
        "{{\"username\":\"alice\",\"password\":\"{}\"}}",
        "x".repeat(20_000)
    );
    let response = raw
        .post(&url)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(response).await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );

    let long_password = json!({"username": "alice", "password": "x".repeat(2_000)});
    let response = raw.post(&url).json(&long_password).send().await.unwrap();
    let (status, body) = error_of(response).await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
}

pub async fn wrong_password_and_unknown_user_get_the_same_answer_in_similar_time<S: Stack>() {
    let env = TestEnv::start().await;
    // Real-cost hashes: with cheap ones the difference we guard against
    // (no Argon2 work at all for unknown users) would drown in noise.
    SeedCommand {
        user_directory_url: env.directory.url(0),
        seed: SeedArgs {
            users: 0,
            cost: HashCost::Default,
        },
    }
    .run()
    .await
    .unwrap();
    let node = S::spawn(&env, |_| {}).await;
    let client = TestClient::new();

    let mut wrong_password = Vec::new();
    let mut unknown_user = Vec::new();
    let mut bodies = Vec::new();
    // Interleaved, so machine noise hits both alike.
    for _ in 0..3 {
        for (username, samples) in [
            ("alice", &mut wrong_password),
            ("nobody-here", &mut unknown_user),
        ] {
            let started = Instant::now();
            let response = client
                .login_response(&node.base(), username, "not-the-password")
                .await;
            samples.push(started.elapsed());
            bodies.push(error_of(response).await);
        }
    }
    for (status, body) in &bodies {
        assert_eq!(*status, StatusCode::UNAUTHORIZED);
        assert_eq!(body, &bodies[0].1, "every rejection must read the same");
    }
    assert_eq!(bodies[0].1.error, "invalid_credentials");

    let median = |samples: &mut Vec<Duration>| {
        samples.sort();
        samples[samples.len() / 2].as_secs_f64()
    };
    let ratio = median(&mut unknown_user) / median(&mut wrong_password);
    // Without the decoy hash an unknown user answers ~100x faster; a factor
    // of 3 either way leaves room for a noisy machine.
    assert!(
        (0.33..3.0).contains(&ratio),
        "unknown/wrong-password time ratio {ratio:.2}"
    );

    // An unknown user with a password that is right for others reads the same too.
    let wrong: (_, ErrorBody) =
        read_json(client.login_response(&node.base(), "alice", "nope").await).await;
    let unknown: (_, ErrorBody) = read_json(
        client
            .login_response(&node.base(), "mallory", DEMO_PASSWORD)
            .await,
    )
    .await;
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong, unknown,
        "unknown user and wrong password read the same"
    );
}

pub async fn unknown_routes_and_wrong_methods_answer_json<S: Stack>() {
    let env = TestEnv::start().await;
    let node = S::spawn(&env, |_| {}).await;
    let client = TestClient::new();

    let response = client.get(&node.url("/no/such/route"), None).await;
    assert!(!node_of(&response).is_empty());
    let (status, body) = error_of(response).await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );

    let (status, body) = error_of(client.post(&node.url("/me"), None, None).await).await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    for route in S::POST_ONLY_ROUTES {
        let (status, body) = error_of(client.get(&node.url(route), None).await).await;
        assert_eq!(
            (status, body.error.as_str()),
            (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
        );
    }
}

pub async fn role_changes_validate_their_input<S: Stack>() {
    let env = TestEnv::start().await;
    let node = S::spawn(&env, |_| {}).await;
    let client = TestClient::new();
    let alice = S::login(&client, &node, "alice").await;
    let carol = S::login(&client, &node, "carol").await;
    let (alice, carol) = (S::credential(&alice), S::credential(&carol));
    let put = |who: &Credential, user: &str, body: serde_json::Value| {
        let request = client
            .raw()
            .put(node.url(&format!("/admin/users/{user}/roles")))
            .json(&body);
        who.apply(request).send()
    };

    let (status, _) = error_of(
        put(alice, "bob", json!({"roles": ["admin"]}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a user cannot grant roles");
    let (status, body) = error_of(
        put(carol, "nobody", json!({"roles": ["user"]}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (status, body) = error_of(
        put(carol, "bob", json!({"roles": ["Bad Role!"]}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let (status, body) = error_of(put(carol, "bob", json!({"role": "user"})).await.unwrap()).await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let (status, body): (_, serde_json::Value) = read_json(
        put(carol, "bob", json!({"roles": ["user", "auditor"]}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["roles"], json!(["user", "auditor"]));
}
