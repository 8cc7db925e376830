//! Login throttling on a real session node: per username, per client, and
//! `X-Forwarded-For` only from a trusted proxy (`testkit::throttle` has the checks).

use testkit::{throttle, TestEnv};

#[tokio::test]
async fn a_username_over_its_limit_gets_429_until_retry_after() {
    let env = TestEnv::start().await;
    let node = env
        .spawn_node_with(|c| throttle::username_limits(&mut c.node))
        .await;
    throttle::check_username_limit(&node).await;
}

#[tokio::test]
async fn a_client_over_its_limit_gets_429_whatever_name_or_forwarded_for() {
    let env = TestEnv::start().await;
    let node = env
        .spawn_node_with(|c| throttle::client_limits(&mut c.node, &[]))
        .await;
    throttle::check_client_limit(&node).await;
}

#[tokio::test]
async fn forwarded_for_names_the_client_behind_a_trusted_proxy() {
    let env = TestEnv::start().await;
    let node = env
        .spawn_node_with(|c| throttle::client_limits(&mut c.node, &["127.0.0.1"]))
        .await;
    throttle::check_trusted_proxy(&node).await;
}
