//! Every scenario, a few seconds each, against real nodes and real Redis.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::Duration;

use loadtests::{run, Credentials, LoadError, LoadPlan, LoadReport, ScenarioKind, Stack};
use reqwest::StatusCode;
use testkit::{TestClient, TestEnv, TestNode};

fn plan(node: &TestNode, stack: Stack, scenario: ScenarioKind) -> LoadPlan {
    LoadPlan {
        users: 3,
        hatch_rate: 30.0,
        run_time: Duration::from_secs(2),
        ..LoadPlan::new(node.base(), stack, scenario)
    }
}

/// Requests flowed, none failed, the node is named, percentiles are ordered.
fn assert_clean(report: &LoadReport, node: &str) {
    assert!(report.requests > 0, "{report:#?}");
    assert_eq!(report.failures, 0, "{report:#?}");
    assert!(report.per_node.contains_key(node), "{report:#?}");
    let l = report.latency_raw_ms;
    assert_eq!(l.count, report.requests, "{report:#?}");
    assert_eq!(
        report.latency_ms.count,
        l.count + report.co_backfilled,
        "{report:#?}"
    );
    assert!(
        0.0 < l.min
            && l.min <= l.p50
            && l.p50 <= l.p90
            && l.p90 <= l.p99
            && l.p99 <= l.p999
            && l.p999 <= l.max
            && l.max < 5_000.0,
        "{l:?}"
    );
    assert!(l.min <= l.mean && l.mean <= l.max, "{l:?}");
    let seen: u64 = report.per_second.iter().map(|b| b.requests).sum();
    let errors: u64 = report.per_second.iter().map(|b| b.errors).sum();
    // The tally covers the ramp-up too; goose's counts only the steady state.
    assert!(seen >= report.requests, "{report:#?}");
    assert_eq!(errors, 0, "{report:#?}");
    assert!(report.duration_s > 1.5, "{report:#?}");
    assert!(!report.interrupted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_browse_logs_load_users_in_once_and_browses() {
    let env = TestEnv::start().await;
    testkit::nodes::seed(&env.directory.url(0), 5).await;
    let node = env.spawn_node().await;
    let report = run(&LoadPlan {
        credentials: Credentials::LoadUsers {
            offset: 0,
            count: 5,
        },
        ..plan(&node, Stack::Session, ScenarioKind::Browse)
    })
    .await
    .unwrap();

    assert_clean(&report, &node.node);
    assert_eq!(report.scenario, "session-browse");
    assert_eq!((report.logins, report.relogins), (3, 0), "{report:#?}");
    // Load users are no admins: /admin/stats answered the 403 they expect.
    assert!(report.status_counts.contains_key(&403), "{report:#?}");
    for request in ["GET /me", "GET /orders", "GET /admin/stats"] {
        assert!(report.per_request.contains_key(request), "{report:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_browse_with_think_time_paces_the_users() {
    let env = TestEnv::start().await;
    let node = env.spawn_jwt_node_with(|_| {}).await;
    let report = run(&LoadPlan {
        think_time: Some((Duration::from_millis(20), Duration::from_millis(60))),
        ..plan(&node, Stack::Jwt, ScenarioKind::Browse)
    })
    .await
    .unwrap();

    assert_clean(&report, &node.node);
    assert_eq!(report.scenario, "jwt-browse-think");
    // Three users pausing ~40 ms between transactions: tens per second, not thousands.
    assert!(report.requests_per_second < 200.0, "{report:#?}");
    // carol (user 2) is an admin and got 200 from /admin/stats; bob and alice 403.
    assert!(report.status_counts.contains_key(&403), "{report:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_refresh_rotates_tokens_before_they_expire() {
    let env = TestEnv::start().await;
    let node = env
        .spawn_jwt_node_with(|c| c.access_ttl = Duration::from_secs(2))
        .await;
    let report = run(&LoadPlan {
        users: 2,
        run_time: Duration::from_secs(3),
        ..plan(&node, Stack::Jwt, ScenarioKind::Refresh)
    })
    .await
    .unwrap();

    assert_clean(&report, &node.node);
    // A 2 s token is refreshed 1 s before it expires: at least twice per user in 3 s.
    assert!(report.refreshes >= 4, "{report:#?}");
    assert_eq!(
        (report.refresh_failures, report.relogins, report.logins),
        (0, 0, 2),
        "{report:#?}"
    );
}

/// One visit of at most 1.2 s in a 3 s run: every user logs out and in again.
fn short_visits(node: &TestNode, stack: Stack) -> LoadPlan {
    LoadPlan {
        users: 2,
        run_time: Duration::from_secs(3),
        visit: (Duration::from_millis(600), Duration::from_millis(1200)),
        ..plan(node, stack, ScenarioKind::Lifecycle)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_lifecycle_logs_out_and_in_again_without_a_failure() {
    let env = TestEnv::start().await;
    let node = env.spawn_node().await;
    let report = run(&short_visits(&node, Stack::Session)).await.unwrap();

    assert_clean(&report, &node.node);
    assert_eq!(report.scenario, "session-lifecycle");
    assert!(
        report.per_request.contains_key("POST /logout"),
        "{report:#?}"
    );
    // Each user ends at least two visits in 3 s, and logs in after each.
    assert!(report.logouts >= 4, "{report:#?}");
    assert!(report.logins > report.logouts, "{report:#?}");
    // A logout is not a dead credential: nobody was told "who are you?".
    assert_eq!(
        (
            report.logout_failures,
            report.login_failures,
            report.relogins
        ),
        (0, 0, 0),
        "{report:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_lifecycle_refreshes_logs_out_and_in_again() {
    let env = TestEnv::start().await;
    let node = env
        .spawn_jwt_node_with(|c| c.access_ttl = Duration::from_secs(2))
        .await;
    let report = run(&LoadPlan {
        run_time: Duration::from_secs(4),
        visit: (Duration::from_millis(1200), Duration::from_millis(1800)),
        ..short_visits(&node, Stack::Jwt)
    })
    .await
    .unwrap();

    assert_clean(&report, &node.node);
    assert_eq!(report.scenario, "jwt-lifecycle");
    // Two users, visits of at most 1.8 s in 4 s: at least two visits ended each.
    assert!(report.logouts >= 4, "{report:#?}");
    // A 2 s token is refreshed 1 s after its login, inside every visit.
    assert!(report.refreshes >= report.logouts, "{report:#?}");
    assert_eq!(
        (
            report.logout_failures,
            report.refresh_failures,
            report.login_failures,
            report.relogins
        ),
        (0, 0, 0, 0),
        "{report:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_baseline_holds_its_rate_with_co_mitigation() {
    let env = TestEnv::start().await;
    let node = env.spawn_node().await;
    let report = run(&LoadPlan {
        users: 4,
        throttle_rps: Some(50),
        ..plan(&node, Stack::Session, ScenarioKind::Baseline)
    })
    .await
    .unwrap();

    assert_clean(&report, &node.node);
    assert_eq!(report.scenario, "baseline");
    assert!(report.co_mitigation);
    // The throttle is a ceiling: the rate must not exceed it. How close the
    // users get to it depends on what else the 2 cores are doing (the other
    // tests of this file run goose at full speed in parallel), so the floor
    // only checks that the throttled users made progress.
    assert!(
        report.requests_per_second <= 60.0 && report.requests >= 10,
        "{report:#?}"
    );
    assert_eq!(report.logins, 0);
    assert_eq!(
        report.per_request.keys().collect::<Vec<_>>(),
        ["GET /health"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_everywhere_mid_run_forces_a_counted_relogin() {
    let env = TestEnv::start().await;
    let node = env.spawn_node().await;
    // Two users: alice and bob. Think time keeps the run light and lets the
    // logout land between two of alice's requests.
    let load = LoadPlan {
        users: 2,
        run_time: Duration::from_secs(3),
        think_time: Some((Duration::from_millis(30), Duration::from_millis(60))),
        ..plan(&node, Stack::Session, ScenarioKind::Browse)
    };
    // `run` must be Send: the lab spawns it next to its fault injection.
    let running = tokio::spawn(async move { run(&load).await });

    tokio::time::sleep(Duration::from_millis(1200)).await;
    let client = TestClient::new();
    let alice = client.session_login(&node.base(), "alice").await;
    let response = client
        .post(&node.url("/logout/all"), Some(&alice), None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let report = running.await.unwrap().unwrap();
    // The test's own login is not goose's; goose's alice and bob logged in
    // once each at start, then alice again after her session died.
    assert!(report.relogins >= 1, "{report:#?}");
    assert_eq!(report.logins, 2 + report.relogins, "{report:#?}");
    assert_eq!(report.login_failures, 0, "{report:#?}");
    assert!(report.status_counts.contains_key(&401), "{report:#?}");
    assert!(report.per_node.contains_key(&node.node));
}

#[tokio::test]
async fn refuses_targets_off_this_machine_before_goose_starts() {
    let plan = LoadPlan::new(
        "http://192.0.2.1:80",
        Stack::Session,
        ScenarioKind::Baseline,
    );
    assert!(matches!(
        run(&plan).await,
        Err(LoadError::NotLoopback { .. })
    ));
    let plan = LoadPlan::new("http://127.0.0.1:9", Stack::Session, ScenarioKind::Refresh);
    assert!(matches!(run(&plan).await, Err(LoadError::Plan(_))));
}
