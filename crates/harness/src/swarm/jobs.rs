//! One-off work on the swarm: a job service run to completion (the hosts'
//! readings, a load generator) and read back, and the random part that
//! keeps concurrent clusters' names apart.

use std::time::Duration;

use super::docker::Docker;
use crate::HarnessError;

/// A short random name part: stacks of concurrent clusters must not clash.
pub fn suffix() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric
        .sample_string(&mut rand::rng(), 6)
        .to_lowercase()
}

/// `docker service create` of a job that is never retried (`mode`:
/// `replicated-job` or `global-job`), named `name`, its containers labelled
/// `label` so they can be removed on their nodes afterwards; the image is
/// on every node already, so no registry is asked for it. The caller adds
/// its own options, the image and the command.
pub fn create_args(name: &str, mode: &str, label: &str) -> Vec<String> {
    [
        "service",
        "create",
        "--detach",
        "--quiet",
        "--no-resolve-image",
        "--name",
        name,
        "--mode",
        mode,
        "--restart-condition",
        "none",
        "--container-label",
        label,
    ]
    .map(String::from)
    .to_vec()
}

/// Waits for a job service's tasks to finish and returns its output
/// (`docker service logs --raw`: what the tasks printed, both streams).
pub async fn wait_job(
    docker: &Docker,
    name: &str,
    timeout: Duration,
) -> Result<String, HarnessError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let states = docker
            .lines(&[
                "service",
                "ps",
                "--format",
                "{{.CurrentState}}|{{.Error}}",
                name,
            ])
            .await?;
        let finished = !states.is_empty()
            && states.iter().all(|s| {
                s.starts_with("Complete") || s.starts_with("Failed") || s.starts_with("Rejected")
            });
        if finished {
            if let Some(failed) = states.iter().find(|s| !s.starts_with("Complete")) {
                tracing::warn!("job {name}: a task ended {failed}");
            }
            return docker.run(&["service", "logs", "--raw", name]).await;
        }
        if tokio::time::Instant::now() > deadline {
            return Err(HarnessError::Timeout(format!("job {name}: {states:?}")));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
