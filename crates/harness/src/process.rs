//! Server nodes as child processes: started, killed and restarted on purpose.
//!
//! A node is `authlab node session|jwt|orders <flags>`: the same binary the
//! user runs, re-executed with the flags of one server. (`Application::build` is
//! shared with `session-server` and `jwt-server`, so a node here is the real
//! server, not a stand-in.) A node killed by a fault is *expected* to be down;
//! one that dies by itself is not, and `Cluster` watches for the difference.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::HarnessError;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Stack {
    Session,
    Jwt,
}

impl Stack {
    pub fn name(self) -> &'static str {
        match self {
            Stack::Session => "session",
            Stack::Jwt => "jwt",
        }
    }

    /// HAProxy backend holding this stack's nodes.
    pub fn backend(self) -> String {
        format!("{}_nodes", self.name())
    }
}

impl std::fmt::Display for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

pub struct NodeProcess {
    /// `authlab node <subcommand>`: a stack's name, or `orders` (a service
    /// behind the auth stacks, not a stack of its own).
    pub subcommand: &'static str,
    /// Server name in HAProxy and value of `x-node`: `session-1`, `jwt-2`, ...
    pub name: String,
    pub port: u16,
    launcher: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
    /// Stopped on purpose (a fault), so its absence is not a crash.
    stopped_on_purpose: bool,
}

impl NodeProcess {
    pub fn new(
        stack: Stack,
        name: String,
        port: u16,
        launcher: &Path,
        args: Vec<String>,
        env: Vec<(String, String)>,
        dir: &Path,
    ) -> Self {
        Self::with_subcommand(stack.name(), name, port, launcher, args, env, dir)
    }

    /// A node of any `authlab node` subcommand (`orders`, …).
    pub fn with_subcommand(
        subcommand: &'static str,
        name: String,
        port: u16,
        launcher: &Path,
        args: Vec<String>,
        env: Vec<(String, String)>,
        dir: &Path,
    ) -> Self {
        Self {
            log: dir.join(format!("{name}.log")),
            subcommand,
            name,
            port,
            launcher: launcher.to_owned(),
            args,
            env,
            child: None,
            stopped_on_purpose: false,
        }
    }

    /// Sets `flag`'s value for the next start (appending the flag if absent).
    pub fn set_flag(&mut self, flag: &str, value: &str) {
        match self.args.iter().position(|a| a == flag) {
            Some(at) if at + 1 < self.args.len() => self.args[at + 1] = value.to_owned(),
            _ => self.args.extend([flag.to_owned(), value.to_owned()]),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    pub fn spawn(&mut self) -> Result<(), HarnessError> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| HarnessError::Io(format!("{}: {e}", self.log.display())))?;
        let mut command = Command::new(&self.launcher);
        command
            .arg("node")
            .arg(self.subcommand)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env(
                "RUST_LOG",
                std::env::var("AUTHLAB_NODE_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(
                log.try_clone()
                    .map_err(|e| HarnessError::Io(e.to_string()))?,
            )
            .stderr(log);
        supervise::die_with_parent(&mut command);
        let child = command.spawn().map_err(|e| {
            HarnessError::Io(format!(
                "starting {} ({}): {e}",
                self.name,
                self.launcher.display()
            ))
        })?;
        self.child = Some(child);
        self.stopped_on_purpose = false;
        Ok(())
    }

    /// SIGKILL: the node vanishes mid-request, as in a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            supervise::process::kill(&mut child);
        }
        self.stopped_on_purpose = true;
    }

    /// SIGTERM and a short wait: in-flight requests drain.
    pub fn terminate(&mut self, grace: Duration) {
        if let Some(mut child) = self.child.take() {
            supervise::process::terminate(&mut child, grace);
        }
        self.stopped_on_purpose = true;
    }

    /// `Some(reason)` if the process died without being asked to.
    pub fn crashed(&mut self) -> Option<String> {
        if self.stopped_on_purpose {
            return None;
        }
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                let tail = std::fs::read_to_string(&self.log)
                    .map(|log| log.lines().rev().take(5).collect::<Vec<_>>().join(" | "))
                    .unwrap_or_default();
                Some(format!("{} exited with {status}: {tail}", self.name))
            }
            _ => None,
        }
    }

    /// Polls `/ready` until it answers 200.
    pub async fn wait_ready(
        &mut self,
        client: &reqwest::Client,
        timeout: Duration,
    ) -> Result<(), HarnessError> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(reason) = self.crashed() {
                return Err(HarnessError::NodeDied(reason));
            }
            if let Ok(response) = client.get(self.url("/ready")).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(HarnessError::Timeout(format!(
            "{} not ready after {timeout:?}",
            self.name
        )))
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The flags every node the lab starts gets, whatever its stack: where it
/// listens, its name (HAProxy's server name and `x-node`), its workers, the
/// user directory, and a short shutdown so a cluster stops quickly.
pub fn node_args(name: &str, port: u16, workers: usize, user_directory_url: &str) -> Vec<String> {
    vec![
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
        "--node-id".into(),
        name.to_owned(),
        "--workers".into(),
        workers.to_string(),
        "--user-directory-url".into(),
        user_directory_url.to_owned(),
        "--shutdown-timeout".into(),
        "2s".into(),
    ]
}

/// A process's resident set (VmRSS) in bytes; `None` when it is gone or
/// unreadable. Resident memory is what a leak grows and what the kernel's
/// OOM killer weighs, so it is the figure c13 and the soak report.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
}
