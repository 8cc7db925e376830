//! The two [`Stack`] adapters: what differs between the stacks, and only that.

use std::time::Duration;

use authlab_core::wire::TokenResponse;
use reqwest::StatusCode;

use super::{Common, Race, Stack};
use crate::{Credential, TestClient, TestEnv, TestNode};

/// The session stack: a login is its cookie.
pub struct Session;

impl Stack for Session {
    type Login = Credential;

    const POST_ONLY_ROUTES: &'static [&'static str] = &["/login"];

    /// Every Redis reply reaches the slow node 400 ms late, so its
    /// logout-all reads the index at ~400 ms and, if it takes two round
    /// trips, deletes at ~800 ms. A login on the fast node lands at ~450 ms:
    /// inside that window every round.
    const LOGOUT_ALL_RACE: Race = Race {
        store_delay: Duration::from_millis(400),
        login_at: Duration::from_millis(450),
    };

    async fn spawn(env: &TestEnv, adjust: impl FnOnce(Common<'_>)) -> TestNode {
        env.spawn_node_with(|config| {
            adjust(Common {
                node: &mut config.node,
                redis: &mut config.redis,
                store_url: &mut config.session_store_url,
            })
        })
        .await
    }

    async fn login(client: &TestClient, node: &TestNode, username: &str) -> Credential {
        client.session_login(&node.base(), username).await
    }

    fn credential(login: &Credential) -> &Credential {
        login
    }

    async fn assert_ended(client: &TestClient, node: &TestNode, login: &Credential, what: &str) {
        assert_eq!(
            client.get(&node.url("/me"), Some(login)).await.status(),
            StatusCode::UNAUTHORIZED,
            "{what}"
        );
    }
}

/// The JWT stack: a login is its access token and the token response
/// (with the refresh token) it came in.
pub struct Jwt;

impl Stack for Jwt {
    type Login = (Credential, TokenResponse);

    const POST_ONLY_ROUTES: &'static [&'static str] = &["/login", "/token/refresh"];

    /// Every Redis reply reaches the slow node 300 ms late: its revoke-all
    /// reads the index at ~0 ms and, if it takes two round trips, deletes at
    /// ~300 ms. A login on the fast node lands at ~100 ms: inside that
    /// window every round.
    const LOGOUT_ALL_RACE: Race = Race {
        store_delay: Duration::from_millis(300),
        login_at: Duration::from_millis(100),
    };

    async fn spawn(env: &TestEnv, adjust: impl FnOnce(Common<'_>)) -> TestNode {
        env.spawn_jwt_node_with(|config| {
            adjust(Common {
                node: &mut config.node,
                redis: &mut config.redis,
                store_url: &mut config.token_store_url,
            })
        })
        .await
    }

    async fn login(client: &TestClient, node: &TestNode, username: &str) -> Self::Login {
        client.jwt_login(&node.base(), username).await
    }

    fn credential(login: &Self::Login) -> &Credential {
        &login.0
    }

    async fn assert_ended(client: &TestClient, node: &TestNode, login: &Self::Login, what: &str) {
        assert_ne!(
            client
                .refresh(&node.base(), &login.1.refresh_token)
                .await
                .status(),
            StatusCode::OK,
            "{what}"
        );
    }
}
