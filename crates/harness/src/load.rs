//! Load generators, run where the engine puts them.
//!
//! A throughput figure is only as good as its generator: on one machine wrk
//! shares the cores it measures, and on a swarm one generator on one host
//! may saturate before the nodes do. So the lab does not start wrk itself:
//! it hands a [`LoadJob`] to the cluster, the engine runs one generator or
//! several (on hosts apart from the nodes when it has them) against the
//! stack's frontend as they reach it, and returns what each printed. The
//! lab parses and merges them (counts summed, latencies from histograms)
//! and checks each one's errors before any throughput is used.

use std::{process::Command, time::Duration};

use serde::Serialize;

use crate::{process::Stack, HarnessError};

/// One wrk run against a stack, in all generators together.
#[derive(Debug, Clone)]
pub struct LoadJob {
    pub stack: Stack,
    /// Path on the stack's frontend (`/me`).
    pub path: String,
    /// wrk's Lua script (credentials to rotate, what to print when done).
    /// It may hold live credentials: engines keep it off disk where they
    /// can, and remove it when the run is over.
    pub script: Option<String>,
    /// wrk threads per generator.
    pub threads: u32,
    /// Connections in all, split among the generators.
    pub connections: u32,
    pub duration: Duration,
}

/// What one generator did.
#[derive(Debug, Clone, Serialize)]
pub struct GeneratorRun {
    /// `generator-1`, `generator-2`, …
    pub name: String,
    /// The host it ran on.
    pub host: String,
    /// Its share of the job's connections.
    pub connections: u32,
    /// What wrk printed on stdout (its report and the script's lines).
    pub stdout: String,
    pub stderr: String,
}

impl LoadJob {
    /// wrk's arguments for one generator of `connections` connections,
    /// the script at `script_path`, against `url`.
    pub fn wrk_args(&self, connections: u32, script_path: Option<&str>, url: &str) -> Vec<String> {
        let mut args = vec![
            format!("-t{}", self.threads.min(connections).max(1)),
            format!("-c{connections}"),
            // wrk takes whole seconds (or m, h), not milliseconds.
            format!("-d{}s", self.duration.as_secs().max(1)),
            "--latency".to_owned(),
        ];
        if let Some(path) = script_path {
            args.extend(["-s".to_owned(), path.to_owned()]);
        }
        args.push(url.to_owned());
        args
    }

    /// `connections` split among `generators`, as evenly as it goes; none
    /// gets zero.
    pub fn split(&self, generators: usize) -> Vec<u32> {
        let generators = generators.clamp(1, self.connections.max(1) as usize) as u32;
        (0..generators)
            .map(|i| self.connections / generators + u32::from(i < self.connections % generators))
            .collect()
    }
}

/// Runs the job as one wrk on this machine against `url` (blocking: call it
/// from `spawn_blocking` in async code).
pub fn run_here(job: &LoadJob, url: &str, host: &str) -> Result<GeneratorRun, HarnessError> {
    // The script may hold live credentials: a temp file gone with the run,
    // never beside the report.
    let script = match &job.script {
        Some(text) => {
            let file = tempfile::Builder::new()
                .prefix("authlab-wrk-")
                .suffix(".lua")
                .tempfile()
                .map_err(|e| HarnessError::Io(e.to_string()))?;
            std::fs::write(file.path(), text).map_err(|e| HarnessError::Io(e.to_string()))?;
            Some(file)
        }
        None => None,
    };
    let path = script.as_ref().map(|f| f.path().display().to_string());
    let output = Command::new("wrk")
        .args(job.wrk_args(job.connections, path.as_deref(), url))
        .output()
        .map_err(|e| {
            HarnessError::Missing(format!(
                "wrk ({e}); install it with: sudo apt-get install -y wrk"
            ))
        })?;
    Ok(GeneratorRun {
        name: "generator-1".into(),
        host: host.to_owned(),
        connections: job.connections,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(connections: u32) -> LoadJob {
        LoadJob {
            stack: Stack::Jwt,
            path: "/me".into(),
            script: None,
            threads: 2,
            connections,
            duration: Duration::from_millis(2500),
        }
    }

    #[test]
    fn connections_are_split_evenly_and_none_gets_zero() {
        assert_eq!(job(64).split(3), vec![22, 21, 21]);
        assert_eq!(job(64).split(1), vec![64]);
        assert_eq!(job(2).split(3), vec![1, 1]);
        assert_eq!(job(64).split(3).iter().sum::<u32>(), 64);
    }

    #[test]
    fn wrk_gets_whole_seconds_and_no_more_threads_than_connections() {
        let args = job(1).wrk_args(1, Some("/s.lua"), "http://h:1/me");
        assert_eq!(
            args,
            [
                "-t1",
                "-c1",
                "-d2s",
                "--latency",
                "-s",
                "/s.lua",
                "http://h:1/me"
            ]
        );
    }
}
