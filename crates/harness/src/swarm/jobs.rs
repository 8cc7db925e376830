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
