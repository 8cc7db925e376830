//! The user → logins index both stacks keep (sessions of a user, refresh
//! families of a user): logout-all must find every login, even one that
//! starts while it runs.
//!
//! Logout-all reads the index and ends what it names. A login that starts
//! while it runs may be ended by it or come just after it; either way the
//! login must be in the index, so that the next logout-all at the latest
//! ends it. A proxy that delays one node's store replies widens the window,
//! so the race happens every round, not once in a thousand runs.

use std::{net::SocketAddr, time::Duration};

use reqwest::StatusCode;

use super::{Common, Stack};
use crate::{DelayProxy, TestClient, TestEnv};

/// Node `slow` sees every Redis reply late and a login on `fast` lands
/// inside its logout-all, as [`Stack::LOGOUT_ALL_RACE`] times it.
pub async fn logout_all_ends_a_login_that_races_it<S: Stack>() {
    let env = TestEnv::start().await;
    let race = S::LOGOUT_ALL_RACE;
    let upstream = SocketAddr::from(([127, 0, 0, 1], env.store.port()));
    let proxy = DelayProxy::start(upstream, race.store_delay).await;
    let slow = S::spawn(&env, |c: Common<'_>| {
        *c.store_url = proxy.url(0);
        c.redis.redis_timeout = Duration::from_secs(10);
    })
    .await;
    let fast = S::spawn(&env, |_| {}).await;
    let client = TestClient::new();
    // Connect the slow node to its store first (/ready pings it), so every
    // round races the same way.
    assert_eq!(
        client.get(&slow.url("/ready"), None).await.status(),
        StatusCode::OK
    );
    for round in 0..3 {
        let ender = S::login(&client, &fast, "alice").await;
        let slow_logout_all = slow.url("/logout/all");
        let logout_all = client.post(&slow_logout_all, Some(S::credential(&ender)), None);
        let racer = async {
            tokio::time::sleep(race.login_at).await;
            S::login(&client, &fast, "alice").await
        };
        let (response, racer) = tokio::join!(logout_all, racer);
        assert_eq!(response.status(), StatusCode::OK, "round {round}");

        // Whichever came first, the next logout-all must end the racing login.
        let closer = S::login(&client, &fast, "alice").await;
        assert_eq!(
            client
                .post(&fast.url("/logout/all"), Some(S::credential(&closer)), None)
                .await
                .status(),
            StatusCode::OK
        );
        S::assert_ended(
            &client,
            &fast,
            &racer,
            &format!("round {round}: a login that raced logout-all survived the next logout-all"),
        )
        .await;
    }
}
