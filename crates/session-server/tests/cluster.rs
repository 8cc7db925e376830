//! Several nodes: what a shared store makes work, and what per-node memory breaks.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use authlab_core::{api::MeResponse, wire::ErrorBody};
use reqwest::StatusCode;
use serde_json::json;
use session_server::StoreMode;
use testkit::{http::json as read_json, http::node_of, Credential, TestClient, TestEnv, TestNode};

async fn me(
    client: &TestClient,
    node: &TestNode,
    who: &Credential,
) -> (StatusCode, serde_json::Value) {
    let response = client.get(&node.url("/me"), Some(who)).await;
    assert_eq!(
        node_of(&response),
        node.node,
        "answered by the node we asked"
    );
    read_json(response).await
}

async fn two_nodes(env: &TestEnv, mode: StoreMode) -> (TestNode, TestNode) {
    let configure = |name: &'static str| {
        move |c: &mut session_server::SessionServerConfig| {
            c.node.node_id = Some(name.into());
            c.session_store = mode;
            c.cluster_nodes = 2;
        }
    };
    (
        env.spawn_node_with(configure("a")).await,
        env.spawn_node_with(configure("b")).await,
    )
}

#[tokio::test]
async fn nodes_sharing_redis_share_sessions() {
    let env = TestEnv::start().await;
    let (a, b) = two_nodes(&env, StoreMode::Redis).await;
    let client = TestClient::new();
    let alice = client.session_login(&a.base(), "alice").await;

    let (status, body) = me(&client, &b, &alice).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user"], "alice");
    assert_eq!(body["node"], "b");
}

#[tokio::test]
async fn memory_sessions_are_unknown_to_the_other_node() {
    let env = TestEnv::start().await;
    let (a, b) = two_nodes(&env, StoreMode::Memory).await;
    let client = TestClient::new();
    let alice = client.session_login(&a.base(), "alice").await;

    assert_eq!(me(&client, &a, &alice).await.0, StatusCode::OK);
    let (status, body) = me(&client, &b, &alice).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "claim C1: node b never saw this login"
    );
    assert_eq!(body["error"], "no_session");
}

#[tokio::test]
async fn logout_on_one_node_is_seen_on_the_other() {
    let env = TestEnv::start().await;
    let (a, b) = two_nodes(&env, StoreMode::Redis).await;
    let client = TestClient::new();
    let alice = client.session_login(&a.base(), "alice").await;
    let bob = client.session_login(&a.base(), "bob").await;

    let response = client.post(&a.url("/logout"), Some(&alice), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let expired = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        expired.contains("Max-Age=0") || expired.contains("expires"),
        "cookie cleared: {expired}"
    );

    assert_eq!(me(&client, &b, &alice).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        me(&client, &b, &bob).await.0,
        StatusCode::OK,
        "other users are untouched"
    );
    let (status, body): (_, ErrorBody) =
        read_json(client.post(&b.url("/logout"), Some(&alice), None).await).await;
    assert_eq!(
        (status, body.error.as_str()),
        (StatusCode::UNAUTHORIZED, "no_session")
    );
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_user_everywhere() {
    let env = TestEnv::start().await;
    let (a, b) = two_nodes(&env, StoreMode::Redis).await;
    let client = TestClient::new();
    let laptop = client.session_login(&a.base(), "alice").await;
    let phone = client.session_login(&b.base(), "alice").await;
    let bob = client.session_login(&b.base(), "bob").await;

    let (status, body): (_, serde_json::Value) = read_json(
        client
            .post(&a.url("/logout/all"), Some(&laptop), None)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sessions_ended"], 2);

    for node in [&a, &b] {
        assert_eq!(me(&client, node, &laptop).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(me(&client, node, &phone).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(me(&client, node, &bob).await.0, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_role_change_holds_from_the_next_request_on_every_node() {
    let env = TestEnv::start().await;
    let (a, b) = two_nodes(&env, StoreMode::Redis).await;
    let client = TestClient::new();
    let carol = client.session_login(&a.base(), "carol").await;
    let alice = client.session_login(&b.base(), "alice").await;
    let Credential::Cookie(carol_cookie) = &carol else {
        unreachable!()
    };
    let set_roles = |roles: serde_json::Value| {
        client
            .raw()
            .put(a.url("/admin/users/alice/roles"))
            .header("cookie", carol_cookie.clone())
            .json(&json!({ "roles": roles }))
            .send()
    };

    assert_eq!(
        client
            .get(&b.url("/admin/stats"), Some(&alice))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    let (status, body): (_, serde_json::Value) =
        read_json(set_roles(json!(["user", "admin"])).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sessions_updated"], 1);
    for node in [&b, &a] {
        assert_eq!(
            client
                .get(&node.url("/admin/stats"), Some(&alice))
                .await
                .status(),
            StatusCode::OK
        );
    }
    let (_, me): (_, MeResponse) = read_json(client.get(&b.url("/me"), Some(&alice)).await).await;
    assert_eq!(me.roles, vec!["user", "admin"]);

    // Demotion is the case that matters (claim C8): no stale grant, not even once.
    assert_eq!(
        set_roles(json!(["user"])).await.unwrap().status(),
        StatusCode::OK
    );
    for node in [&b, &a] {
        assert_eq!(
            client
                .get(&node.url("/admin/stats"), Some(&alice))
                .await
                .status(),
            StatusCode::FORBIDDEN
        );
    }
    // And a fresh login sees the directory's new roles.
    let again = client.session_login(&a.base(), "alice").await;
    let (_, me): (_, MeResponse) = read_json(client.get(&b.url("/me"), Some(&again)).await).await;
    assert_eq!(me.roles, vec!["user"]);
}

#[tokio::test]
async fn a_cluster_node_without_a_shared_cookie_secret_refuses_to_start() {
    let env = TestEnv::start().await;
    let mut config = env.config();
    config.cookie_secret = None;
    config.cluster_nodes = 3;
    let error = session_server::Application::build(config)
        .await
        .err()
        .expect("must refuse");
    assert!(error.to_string().contains("--cookie-secret"), "{error}");
}
