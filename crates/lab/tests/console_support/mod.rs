//! A cluster with its console, for the console's tests: the test's thread
//! owns the cluster (as `authlab up`'s main task does) and carries out the
//! console's controls while the test talks to the console over HTTP.

#![allow(dead_code)] // each test file uses part of it

use std::{future::Future, path::PathBuf, time::Duration};

use lab::{
    console::{carry_out, ClusterFacts, Console, ConsoleConfig, Controller},
    ClusterSpec, Stack,
};
use lab::{Engine, Local};

/// Two nodes per stack, both stacks, a few load users, no orders services.
pub fn spec() -> ClusterSpec {
    let mut spec = ClusterSpec::new(env!("CARGO_BIN_EXE_authlab").into());
    spec.nodes = 2;
    spec.stacks = vec![Stack::Session, Stack::Jwt];
    spec.seed_users = 20;
    // As `authlab up` does: through the proxy, so latency can be changed.
    spec.store_latency = Some(lab::Latency::default());
    spec
}

/// Starts `spec` and a console over it, runs `body(console URL, the
/// cluster's PIDs)` while serving the console's controls, then stops both.
pub async fn with_console<F, Fut, T>(spec: ClusterSpec, report_dir: Option<PathBuf>, body: F) -> T
where
    F: FnOnce(String, Vec<u32>) -> Fut,
    Fut: Future<Output = T>,
{
    let mut cluster = Local.start(spec).await.expect("starting the cluster");
    let (controller, mut requests) = Controller::channel();
    let config = ConsoleConfig {
        report_dir: report_dir.unwrap_or_else(|| PathBuf::from("/nonexistent/authlab-report")),
        ..ConsoleConfig::default()
    };
    let facts = ClusterFacts::of(&*cluster).expect("the cluster's facts");
    let console = Console::start(config, facts, controller)
        .await
        .expect("starting the console");
    let body = body(console.url(), cluster.pids());
    tokio::pin!(body);
    let outcome = loop {
        tokio::select! {
            outcome = &mut body => break outcome,
            Some(request) = requests.recv() => {
                let answer = carry_out(&mut *cluster, request.action).await;
                let _ = request.reply.send(answer);
            }
        }
    };
    console.stop().await;
    cluster.shutdown();
    outcome
}

/// The console's page token, read from its page as the script does.
pub async fn csrf_token(client: &reqwest::Client, url: &str) -> String {
    let page = client.get(url).send().await.unwrap().text().await.unwrap();
    let start = page
        .find(r#"name="csrf-token" content=""#)
        .expect("a csrf meta tag")
        + 27;
    let end = start + page[start..].find('"').unwrap();
    page[start..end].to_owned()
}

/// `POST /api/control` with the token; status and JSON answer.
pub async fn control(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let response = client
        .post(format!("{url}api/control"))
        .header("x-csrf-token", token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

pub async fn state(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client
        .get(format!("{url}api/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Polls the console's state until `check` holds; the last state either way.
pub async fn wait_for(
    client: &reqwest::Client,
    url: &str,
    within: Duration,
    check: impl Fn(&serde_json::Value) -> bool,
) -> (bool, serde_json::Value) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let snapshot = state(client, url).await;
        if check(&snapshot) {
            return (true, snapshot);
        }
        if tokio::time::Instant::now() >= deadline {
            return (false, snapshot);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A stack's health word in a snapshot.
pub fn health<'a>(snapshot: &'a serde_json::Value, stack: &str) -> &'a str {
    snapshot["stacks"]
        .as_array()
        .and_then(|stacks| stacks.iter().find(|s| s["stack"] == stack))
        .and_then(|s| s["health"].as_str())
        .unwrap_or("absent")
}

/// `(stack, node, access kind)` of a person's per-node counters.
pub fn access<'a>(
    snapshot: &'a serde_json::Value,
    person: &str,
) -> Vec<(&'a str, &'a str, &'a str)> {
    snapshot["people"]
        .as_array()
        .and_then(|people| people.iter().find(|p| p["person"] == person))
        .and_then(|p| p["nodes"].as_array())
        .map(|nodes| {
            nodes
                .iter()
                .map(|n| {
                    (
                        n["stack"].as_str().unwrap_or_default(),
                        n["node"].as_str().unwrap_or_default(),
                        n["access"]["kind"].as_str().unwrap_or("none"),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every node of `stack` answers `kind` to the person's credential.
pub fn all_on(snapshot: &serde_json::Value, person: &str, stack: &str, kind: &str) -> bool {
    let nodes: Vec<_> = access(snapshot, person)
        .into_iter()
        .filter(|(s, _, _)| *s == stack)
        .collect();
    !nodes.is_empty() && nodes.iter().all(|(_, _, k)| *k == kind)
}
