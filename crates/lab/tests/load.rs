//! `authlab load` against a real session node: a clean run prints its
//! figures and passes; a run whose requests fail prints them and fails.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::process::Output;

use testkit::TestEnv;

async fn load(target: &str, extra: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_authlab"))
        .args(["load", "--target", target, "--stack", "session"])
        .args(["--users", "2", "--duration", "1s"])
        .args(extra)
        .output()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_a_clean_run_and_refuses_one_with_errors() {
    let mut env = TestEnv::start().await;
    testkit::nodes::seed(&env.directory.url(0), 2).await;
    let node = env.spawn_node().await;

    let clean = load(&node.base(), &[]).await;
    let stdout = String::from_utf8_lossy(&clean.stdout);
    let stderr = String::from_utf8_lossy(&clean.stderr);
    assert!(clean.status.success(), "{stdout}{stderr}");
    assert!(stdout.starts_with("session-browse against "), "{stdout}");
    assert!(stdout.contains(" errors 0 "), "{stdout}");
    assert!(stdout.contains(" p99 "), "{stdout}");
    assert!(stdout.contains(&format!("{}: ", node.node)), "{stdout}");
    let requests: u64 = stdout
        .split_whitespace()
        .skip_while(|w| *w != "requests")
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(requests > 10, "{stdout}");

    // The store is gone: every session request answers 503. The figures are
    // printed, and the run fails instead of passing for a throughput.
    env.store.stop();
    let failed = load(&node.base(), &[]).await;
    let stdout = String::from_utf8_lossy(&failed.stdout);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success(), "{stdout}");
    assert!(stdout.contains("503: "), "{stdout}");
    assert!(
        stderr.contains("requests failed: the req/s above measures failures, not throughput"),
        "{stderr}"
    );

    // Off this machine only on request.
    let remote = load("http://haproxy:8080", &[]).await;
    let stderr = String::from_utf8_lossy(&remote.stderr);
    assert!(!remote.status.success());
    assert!(stderr.contains("pass --allow-remote"), "{stderr}");
}
