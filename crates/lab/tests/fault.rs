//! `authlab fault` against what the compose demo publishes: a real
//! `redis-server` as the session store, a real HAProxy whose runtime API
//! listens on TCP, real session nodes behind it.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::{
    process::Command,
    time::{Duration, Instant},
};

use lab::{
    haproxy::{AdminSocket, Haproxy, HaproxyConfig, ServerEntry, StackEntry},
    runtime_api::RuntimeApi,
    Balance,
};
use testkit::{redis::free_port, RedisServer, TestEnv};

struct Outcome {
    success: bool,
    stdout: String,
    stderr: String,
}

fn fault(target: &[&str], action: &[&str]) -> Outcome {
    let output = Command::new(env!("CARGO_BIN_EXE_authlab"))
        .arg("fault")
        .args(target)
        .args(action)
        .output()
        .unwrap();
    Outcome {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A PING from another client, as a node would send it, with a short deadline.
fn ping(url: &str, timeout: Duration) -> redis::RedisResult<String> {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_connection_with_timeout(timeout)?;
    connection.set_read_timeout(Some(timeout))?;
    redis::cmd("PING").query(&mut connection)
}

#[test]
fn a_paused_store_answers_no_one_until_the_pause_ends() {
    let redis = RedisServer::start();
    let url = redis.url(0);
    let store = ["--store-url", url.as_str()];
    assert_eq!(ping(&url, Duration::from_secs(1)).unwrap(), "PONG");

    let paused_at = Instant::now();
    let outcome = fault(&store, &["store-pause", "4s"]);
    assert!(outcome.success, "{}", outcome.stderr);
    assert!(
        outcome.stdout.contains("paused for 4s"),
        "{}",
        outcome.stdout
    );
    let error = ping(&url, Duration::from_millis(300)).unwrap_err();
    assert!(error.is_timeout(), "{error}");

    // The pause ends by itself when its duration is up.
    std::thread::sleep(Duration::from_secs(4).saturating_sub(paused_at.elapsed()));
    assert_eq!(ping(&url, Duration::from_secs(2)).unwrap(), "PONG");
}

/// Running, as opposed to exited (a zombie nobody reaped yet has exited).
fn alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat.is_empty() && !stat.contains(") Z ")
}

#[test]
fn a_crashed_store_exits() {
    let redis = RedisServer::start();
    let url = redis.url(0);
    let outcome = fault(&["--store-url", &url], &["store-crash"]);
    assert!(outcome.success, "{}", outcome.stderr);
    assert!(outcome.stdout.contains("shut down"), "{}", outcome.stdout);
    let pid = redis.pid().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(pid), "redis-server {pid} still running");

    // Nothing listens any more: a fault on a gone store is an error, not a success.
    let outcome = fault(&["--store-url", &url], &["store-pause", "1s"]);
    assert!(!outcome.success);
    assert!(
        outcome.stderr.contains("session store at"),
        "{}",
        outcome.stderr
    );
}

/// The status HAProxy reports for `backend/server`, polled until `wanted` or 10 s.
fn wait_status(api: &RuntimeApi, backend: &str, server: &str, wanted: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = api
            .servers()
            .unwrap()
            .into_iter()
            .find(|s| s.backend == backend && s.server == server)
            .map(|s| s.status)
            .unwrap_or_default();
        if status == wanted || Instant::now() > deadline {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_are_drained_stopped_and_returned_through_the_tcp_runtime_api() {
    let env = TestEnv::start().await;
    let nodes = [env.spawn_node().await, env.spawn_node().await];
    let dir = tempfile::tempdir().unwrap();
    let api_address = format!("127.0.0.1:{}", free_port());
    let mut config = HaproxyConfig::new(
        Balance::Roundrobin,
        free_port(),
        dir.path().join("unused.sock"),
        vec![StackEntry {
            name: "session".into(),
            port: free_port(),
            servers: nodes
                .iter()
                .enumerate()
                .map(|(i, node)| ServerEntry {
                    name: format!("session-{}", i + 1),
                    host: "127.0.0.1".into(),
                    port: node.port,
                })
                .collect(),
            template: None,
        }],
    );
    config.stats_socket = AdminSocket::Tcp(api_address.clone());
    let haproxy = tokio::task::spawn_blocking({
        let config = config.clone();
        let dir = dir.path().to_owned();
        move || Haproxy::start(&config, &dir).unwrap()
    })
    .await
    .unwrap();
    let api = RuntimeApi::new(AdminSocket::Tcp(api_address.clone()));

    tokio::task::spawn_blocking(move || {
        let target = ["--haproxy-api", api_address.as_str()];
        for server in ["session-1", "session-2"] {
            assert_eq!(wait_status(&api, "session_nodes", server, "UP"), "UP");
        }
        let outcome = fault(&target, &["servers"]);
        assert!(outcome.success, "{}", outcome.stderr);
        let lines: Vec<&str> = outcome.stdout.lines().collect();
        assert_eq!(lines.len(), 3, "{}", outcome.stdout);
        assert!(lines[0].starts_with("BACKEND/SERVER"));
        for (line, node) in lines[1..].iter().zip(&nodes) {
            assert!(line.contains(&format!("127.0.0.1:{}", node.port)), "{line}");
            assert!(line.ends_with(" UP"), "{line}");
        }

        for (action, status) in [("node-maint", "MAINT"), ("node-drain", "DRAIN")] {
            let outcome = fault(&target, &[action, "session_nodes/session-1"]);
            assert!(outcome.success, "{action}: {}", outcome.stderr);
            assert_eq!(
                wait_status(&api, "session_nodes", "session-1", status),
                status
            );
            let listing = fault(&target, &["servers"]).stdout;
            assert!(
                listing
                    .lines()
                    .any(|l| l.starts_with("session_nodes/session-1") && l.ends_with(status)),
                "{listing}"
            );
        }
        let outcome = fault(&target, &["node-ready", "session_nodes/session-1"]);
        assert!(outcome.success, "{}", outcome.stderr);
        assert_eq!(outcome.stdout.trim(), "session_nodes/session-1: ready");
        assert_eq!(wait_status(&api, "session_nodes", "session-1", "UP"), "UP");

        // Names HAProxy does not know are refused with its own reason.
        let outcome = fault(&target, &["node-maint", "session_nodes/session-9"]);
        assert!(!outcome.success);
        assert!(
            outcome.stderr.contains("No such server"),
            "{}",
            outcome.stderr
        );
        assert!(
            outcome.stderr.contains("authlab fault servers"),
            "{}",
            outcome.stderr
        );
        let outcome = fault(&target, &["node-maint", "jwt_nodes/jwt-1"]);
        assert!(!outcome.success);
        assert!(
            outcome.stderr.contains("No such backend"),
            "{}",
            outcome.stderr
        );
        let outcome = fault(&target, &["node-drain", "session-1"]);
        assert!(!outcome.success);
        assert!(
            outcome.stderr.contains("BACKEND/SERVER"),
            "{}",
            outcome.stderr
        );
        // Nothing was changed by the refusals.
        assert_eq!(wait_status(&api, "session_nodes", "session-2", "UP"), "UP");
        drop(haproxy);
    })
    .await
    .unwrap();
}

#[test]
fn a_compose_haproxy_starts_with_empty_slots_and_answers_its_healthcheck() {
    // The compose rendering, run for real: no Docker DNS here, so every slot
    // waits for an address, and HAProxy still starts and serves /healthz.
    let dir = tempfile::tempdir().unwrap();
    let (stats_port, api_port) = (free_port(), free_port());
    let config = HaproxyConfig::compose(
        Balance::Roundrobin,
        stats_port,
        api_port,
        vec![
            StackEntry::templated("session", free_port(), "session", 8080, 3),
            StackEntry::templated("jwt", free_port(), "jwt", 8080, 3),
        ],
    );
    let _haproxy = Haproxy::start(&config, dir.path()).unwrap();
    let target = format!("127.0.0.1:{api_port}");

    let outcome = fault(&["--haproxy-api", &target], &["servers"]);
    assert!(outcome.success, "{}", outcome.stderr);
    assert!(
        outcome
            .stdout
            .contains("(6 template slots without a replica not shown; --all shows them)"),
        "{}",
        outcome.stdout
    );
    let outcome = fault(&["--haproxy-api", &target], &["servers", "--all"]);
    let slots: Vec<&str> = outcome.stdout.lines().skip(1).collect();
    assert_eq!(slots.len(), 6, "{}", outcome.stdout);
    assert!(
        slots[0].starts_with("session_nodes/session1 "),
        "{}",
        slots[0]
    );
    assert!(
        slots.iter().all(|l| l.ends_with("MAINT (resolution)")),
        "{slots:?}"
    );

    let probe = Command::new(env!("CARGO_BIN_EXE_authlab"))
        .args(["probe", &format!("http://127.0.0.1:{stats_port}/healthz")])
        .output()
        .unwrap();
    assert!(probe.status.success(), "{:?}", probe);
    assert!(String::from_utf8_lossy(&probe.stdout).starts_with("200 OK"));
}
