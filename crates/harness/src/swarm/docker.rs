//! The docker CLI, as the swarm engine drives it.
//!
//! Why the CLI and not an API client: a stack (`docker stack deploy`) is a
//! CLI feature, not an Engine API object, and the CLI reads `DOCKER_HOST`,
//! contexts and TLS settings exactly as the user's own `docker` does; so
//! authlab reaches whatever swarm the user's shell reaches. Every call is
//! bounded in time, and its stderr is kept for the error.

use std::{process::Stdio, time::Duration};

use serde::de::DeserializeOwned;
use tokio::{io::AsyncWriteExt, process::Command};

use crate::HarnessError;

/// How long one CLI call may take: a deploy or a `docker load` is the
/// slowest, and neither should take minutes on a working swarm.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// An engine the CLI talks to: the swarm's manager (`host: None` keeps the
/// environment's `DOCKER_HOST`), or one node's own engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Docker {
    pub host: Option<String>,
}

impl Docker {
    /// The engine the environment points the CLI at.
    pub fn from_env() -> Self {
        Self::default()
    }

    /// A node's own engine (`tcp://…:2375`, `ssh://…`).
    pub fn at(host: &str) -> Self {
        Self {
            host: Some(host.to_owned()),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("docker");
        if let Some(host) = &self.host {
            command.args(["-H", host]);
        }
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Runs `docker args…` and returns its stdout; a failure carries stderr.
    pub async fn run(&self, args: &[&str]) -> Result<String, HarnessError> {
        self.run_with_input(args, None).await
    }

    /// Like [`run`](Self::run), writing `input` to the command's stdin
    /// (`docker secret create name -`: a secret never touches the disk).
    pub async fn run_with_input(
        &self,
        args: &[&str],
        input: Option<&[u8]>,
    ) -> Result<String, HarnessError> {
        let mut command = self.command(args);
        if input.is_some() {
            command.stdin(Stdio::piped());
        }
        let mut child = command.spawn().map_err(|e| {
            HarnessError::Missing(format!(
                "docker ({e}); the swarm engine drives Docker through its CLI"
            ))
        })?;
        if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin
                .write_all(bytes)
                .await
                .map_err(|e| HarnessError::Io(format!("docker {}: {e}", args.join(" "))))?;
        }
        let output = tokio::time::timeout(CALL_TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| HarnessError::Timeout(format!("docker {}", args.join(" "))))?
            .map_err(|e| HarnessError::Io(format!("docker {}: {e}", args.join(" "))))?;
        if !output.status.success() {
            return Err(HarnessError::Io(format!(
                "docker {}{}: {}",
                args.join(" "),
                self.host
                    .as_ref()
                    .map(|h| format!(" (on {h})"))
                    .unwrap_or_default(),
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// `docker inspect`-style JSON (an array) parsed into `T`s.
    pub async fn inspect<T: DeserializeOwned>(
        &self,
        args: &[&str],
    ) -> Result<Vec<T>, HarnessError> {
        let text = self.run(args).await?;
        serde_json::from_str(&text).map_err(|e| {
            HarnessError::Io(format!("docker {}: unreadable JSON: {e}", args.join(" ")))
        })
    }

    /// Non-empty lines of `docker args…`.
    pub async fn lines(&self, args: &[&str]) -> Result<Vec<String>, HarnessError> {
        Ok(self
            .run(args)
            .await?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// `docker args…` as a blocking command, its streams closed: the
    /// teardown and fault paths, which run where nothing can be awaited.
    fn blocking_command(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new("docker");
        if let Some(host) = &self.host {
            command.args(["-H", host]);
        }
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }

    /// Whether this engine has volume `name` (blocking; no warning when not).
    pub fn lists_volume(&self, name: &str) -> bool {
        self.blocking_command(&["volume", "ls", "-q", "--filter", &format!("name=^{name}$")])
            .stdout(Stdio::piped())
            .output()
            .map(|out| !String::from_utf8_lossy(&out.stdout).trim().is_empty())
            .unwrap_or(false)
    }

    /// Like [`run_blocking`](Self::run_blocking), for a call retried until
    /// it succeeds: its failures are expected and not logged.
    pub fn try_blocking(&self, args: &[&str]) -> bool {
        self.blocking_command(args)
            .status()
            .is_ok_and(|status| status.success())
    }

    /// Runs a command without waiting for its answer to matter: teardown
    /// from `Drop`, where nothing can be awaited and an error has nowhere
    /// to go but the log.
    pub fn run_blocking(&self, args: &[&str]) -> bool {
        match self.blocking_command(args).stderr(Stdio::piped()).output() {
            Ok(out) if out.status.success() => true,
            Ok(out) => {
                tracing::warn!(
                    "docker {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                false
            }
            Err(e) => {
                tracing::warn!("docker {}: {e}", args.join(" "));
                false
            }
        }
    }
}
