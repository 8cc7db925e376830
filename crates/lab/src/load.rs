//! `authlab load`: a bounded goose run against a deployment the user names.
//!
//! The experiments load clusters they started themselves; a docker-compose
//! project (or any other deployment) is started by someone else, so this
//! is the browse scenario on its own: seeded load users log in once, then
//! `/me`, `/orders` and now and then `/admin/stats`, for a fixed time. A run
//! with failed requests measured failures, not throughput, so [`judge`]
//! fails it rather than let a number that looks good pass.

use std::{fmt::Write as _, time::Duration};

use loadtests::{Credentials, LoadPlan, LoadReport, ScenarioKind, Stack};

use crate::LabError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LoadStack {
    Session,
    Jwt,
}

#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// Base URL of the stack's HAProxy frontend (or one node), e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub target: String,
    /// Which API the target serves: it decides the credential (cookie or bearer token).
    #[arg(long, value_enum)]
    pub stack: LoadStack,
    /// Concurrent simulated users, each logged in as its own load user
    /// (user0 …, seeded by `compose-init` or `authlab up`).
    #[arg(long, default_value_t = 8)]
    pub users: usize,
    /// How long to hold all users once started.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Accept a target that is not this machine (only loopback otherwise).
    #[arg(long)]
    pub allow_remote: bool,
}

impl LoadArgs {
    pub fn plan(&self) -> LoadPlan {
        let stack = match self.stack {
            LoadStack::Session => Stack::Session,
            LoadStack::Jwt => Stack::Jwt,
        };
        let mut plan = LoadPlan::new(self.target.clone(), stack, ScenarioKind::Browse);
        plan.users = self.users;
        plan.hatch_rate = self.users as f64;
        plan.run_time = self.duration;
        plan.allow_remote = self.allow_remote;
        // One load user per goose user: with login throttling on (as a
        // deployment should have it) no username is logged in twice.
        plan.credentials = Credentials::LoadUsers {
            offset: 0,
            count: self.users.max(1),
        };
        plan
    }
}

/// Runs the plan to its end (Ctrl-C makes it an error, not a short run).
pub async fn run(plan: &LoadPlan) -> Result<LoadReport, LabError> {
    let report = loadtests::run(plan)
        .await
        .map_err(|e| LabError::Config(e.to_string()))?;
    if report.interrupted {
        return Err(LabError::Interrupted);
    }
    Ok(report)
}

/// A run with failed requests (or none at all) measured failures: its
/// req/s is no capacity figure, and it must not pass for one.
pub fn judge(report: &LoadReport) -> Result<(), LabError> {
    if report.requests == 0 {
        return Err(LabError::InvalidRun("no request was made".into()));
    }
    if report.failures > 0 {
        return Err(LabError::InvalidRun(format!(
            "{} of {} requests failed: the req/s above measures failures, not throughput",
            report.failures, report.requests
        )));
    }
    Ok(())
}

pub fn render(report: &LoadReport) -> String {
    let mut text = String::new();
    let l = report.latency_ms;
    // Writing to a String cannot fail.
    let _ = writeln!(
        text,
        "{} against {}: {} users for {:.1}s",
        report.scenario, report.host, report.users, report.duration_s
    );
    let _ = writeln!(
        text,
        "requests {}  errors {}  {:.1} req/s  p50 {:.2} ms  p99 {:.2} ms",
        report.requests, report.failures, report.requests_per_second, l.p50, l.p99
    );
    let statuses: Vec<String> = report
        .status_counts
        .iter()
        .map(|(status, count)| format!("{status}: {count}"))
        .collect();
    let _ = writeln!(text, "statuses {}", statuses.join(", "));
    let nodes: Vec<String> = report
        .per_node
        .iter()
        .map(|(node, count)| format!("{node}: {count}"))
        .collect();
    let _ = writeln!(text, "per node (x-node) {}", nodes.join(", "));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_stays_on_loopback_unless_told() {
        let args = LoadArgs {
            target: "http://haproxy:8080".into(),
            stack: LoadStack::Jwt,
            users: 4,
            duration: Duration::from_secs(5),
            allow_remote: false,
        };
        assert!(args.plan().validate().is_err());
        let plan = LoadArgs {
            allow_remote: true,
            ..args
        }
        .plan();
        plan.validate().unwrap();
        assert_eq!(plan.scenario_name(), "jwt-browse");
        assert_eq!(
            plan.credentials,
            Credentials::LoadUsers {
                offset: 0,
                count: 4
            }
        );
    }
}
