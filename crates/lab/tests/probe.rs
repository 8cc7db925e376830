//! `authlab probe` as a container healthcheck runs it: the real binary,
//! against a real session node, judged by its exit status and its one line.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::{Duration, Instant};

use testkit::{RedisServer, TestEnv};

struct Outcome {
    success: bool,
    line: String,
}

async fn probe(args: &[&str]) -> Outcome {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_authlab"))
        .arg("probe")
        .args(args)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(stdout.lines().count(), 1, "one line, not {stdout:?}");
    Outcome {
        success: output.status.success(),
        line: stdout.trim().to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_on_2xx_only() {
    let mut env = TestEnv::start().await;
    let node = env.spawn_node().await;
    let ready = node.url("/ready");

    let outcome = probe(&[&ready]).await;
    assert!(outcome.success, "{}", outcome.line);
    assert_eq!(outcome.line, format!("200 OK {ready}"));

    // Up but not ready: the store is gone, /ready answers 503.
    env.store.stop();
    let outcome = probe(&[&ready]).await;
    assert!(!outcome.success, "{}", outcome.line);
    assert_eq!(outcome.line, format!("503 Service Unavailable {ready}"));

    let missing = node.url("/no-such-route");
    let outcome = probe(&[&missing]).await;
    assert!(!outcome.success);
    assert!(outcome.line.starts_with("404 "), "{}", outcome.line);
}

#[tokio::test]
async fn fails_when_nothing_answers() {
    let url = format!("http://127.0.0.1:{}/ready", testkit::redis::free_port());
    let outcome = probe(&[&url]).await;
    assert!(!outcome.success);
    assert!(outcome.line.starts_with(&url), "{}", outcome.line);
    assert!(outcome.line.contains("refused"), "{}", outcome.line);

    let outcome = probe(&["not a url"]).await;
    assert!(!outcome.success);
    assert!(outcome.line.contains("not a URL"), "{}", outcome.line);
}

#[tokio::test]
async fn gives_up_at_the_timeout() {
    // Redis accepts the connection and never answers an HTTP request with a
    // status line: the probe must stop at its timeout, not hang.
    let redis = RedisServer::start();
    let url = format!("http://127.0.0.1:{}/ready", redis.port());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent = format!("http://{}/ready", listener.local_addr().unwrap());
    let started = Instant::now();
    let outcome = probe(&["--timeout", "300ms", &silent]).await;
    assert!(!outcome.success);
    assert!(outcome.line.contains("timed out"), "{}", outcome.line);
    assert!(started.elapsed() < Duration::from_secs(5));
    // Not HTTP at all: an error, never a pass.
    let outcome = probe(&["--timeout", "1s", &url]).await;
    assert!(!outcome.success, "{}", outcome.line);
}
