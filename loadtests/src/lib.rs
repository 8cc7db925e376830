//! goose load tests for both authlab stacks, usable two ways.
//!
//! * **As a library** the lab calls: build a [`LoadPlan`] in code and
//!   [`run`] it. goose is configured with
//!   `GooseAttack::initialize_with_config` and `set_default`, never from the
//!   process's argv; it prints nothing, writes no report, opens no
//!   controller port, and stops by itself after `run_time`.
//! * **As a standalone goose binary** (`src/main.rs`) with goose's own
//!   command line, reports and thresholds:
//!
//!   ```text
//!   cargo run -p loadtests --release -- --host http://127.0.0.1:PORT \
//!       --scenario session-browse -u 32 -r 32 -t 30s --report-file report.html
//!   ```
//!
//! [`scenarios`] explains what the simulated users do and why. The split of
//! work is deliberate: goose drives *user behaviour* (a login, a mix of
//! authenticated reads, token refreshes, re-logins after a 401) and measures
//! latency at a fixed offered load well below the ceiling (throttled, with
//! coordinated-omission mitigation, percentiles from goose's histograms);
//! raw throughput ceilings are wrk's job, because a goose user is far more
//! expensive than a wrk connection and goose would measure itself.
//!
//! Only loopback targets are accepted ([`check_loopback`]) unless the caller
//! opts in with [`LoadPlan::allow_remote`] (the binary's `--allow-remote`):
//! load goes to another machine only when someone asked for exactly that.
//!
//! # Process-wide goose state
//!
//! goose keeps a few things per process, not per run, and [`run`] works
//! with them rather than against them:
//!
//! * the killswitch: goose installs a Ctrl-C handler (the `ctrlc` crate)
//!   the first time it runs, which *replaces* any SIGINT handler the
//!   program had (tokio's included). Ctrl-C then stops the running goose
//!   attack, [`LoadReport::interrupted`] says so, and [`interrupt_requested`]
//!   stays true so the caller can stop too; a second Ctrl-C exits the
//!   process at once. A Ctrl-C between runs makes the next [`run`] refuse
//!   with [`LoadError::Interrupted`] instead of being forgotten.
//! * the `log` logger: goose logs through the `log` crate and installs a
//!   stderr logger unless one exists. [`run`] first installs a bridge into
//!   `tracing` at error level (a no-op when the program already has one, as
//!   `tracing_subscriber`'s `init` installs), so goose's per-request
//!   warnings never reach the console on their own.

mod plan;
mod report;
pub mod scenarios;
mod tally;

use std::{sync::Arc, time::Duration};

use goose::{
    config::{GooseConfiguration, GooseDefault, GooseDefaultType},
    metrics::GooseCoordinatedOmissionMitigation,
    GooseAttack,
};

pub use plan::{
    check_loopback, check_target, scenario_name, Credentials, LoadPlan, ScenarioKind, Stack,
    Target, DEFAULT_VISIT,
};
pub use report::{LoadReport, Percentiles};
pub use scenarios::ScenarioSpec;
pub use tally::{SecondBucket, Tally, TallySnapshot};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("invalid load plan: {0}")]
    Plan(String),
    #[error("refusing to send load to {host:?}: only loopback targets (127.0.0.0/8, [::1], localhost) are allowed")]
    NotLoopback { host: String },
    #[error("goose: {0}")]
    Goose(String),
    #[error("interrupted by Ctrl-C; no further load runs")]
    Interrupted,
    #[error("the run did not stop within {0:?} of its start; goose's killswitch was pulled")]
    Overran(Duration),
}

impl From<goose::GooseError> for LoadError {
    fn from(error: goose::GooseError) -> Self {
        LoadError::Goose(error.to_string())
    }
}

/// True once Ctrl-C reached goose's handler and until the next run starts.
/// After goose's first run, this is how a program learns of a Ctrl-C: goose
/// replaced its SIGINT handler.
pub fn interrupt_requested() -> bool {
    goose::is_killswitch_triggered()
}

/// Runs `plan` with goose and returns what it measured. Bounded: goose stops
/// after `ramp + run_time`; should it hang past that plus three request
/// timeouts and 10 s, the killswitch stops it and the result is
/// [`LoadError::Overran`].
pub async fn run(plan: &LoadPlan) -> Result<LoadReport, LoadError> {
    plan.validate()?;
    if check_target(&plan.host, plan.allow_remote)? == Target::Remote {
        tracing::info!(host = %plan.host, "sending load to a remote target (LoadPlan::allow_remote)");
    }
    if interrupt_requested() {
        // goose would clear the killswitch as it starts: a Ctrl-C since the
        // last run would be lost, and the experiment would carry on.
        return Err(LoadError::Interrupted);
    }
    quiet_goose_logging();

    let tally = Arc::new(Tally::new());
    let spec = ScenarioSpec {
        stack: plan.stack,
        kind: plan.scenario,
        think_time: plan.think_time,
        credentials: plan.credentials.clone(),
        visit: plan.visit,
    };
    let scenario = scenarios::build(&spec, &tally)?;
    let co_mitigation = plan.throttle_rps.is_some();

    let mut attack = GooseAttack::initialize_with_config(GooseConfiguration::default())?
        .register_scenario(scenario)
        .set_default(GooseDefault::Host, plan.host.as_str())?
        .set_default(GooseDefault::Users, plan.users)?
        .set_default(
            GooseDefault::IncreaseRate,
            plan.hatch_rate.to_string().as_str(),
        )?
        .set_default(GooseDefault::RunTime, plan.run_time_secs())?
        .set_default(
            GooseDefault::Timeout,
            plan.request_timeout.as_secs_f64().to_string().as_str(),
        )?
        // Library mode: the caller prints and stores results, not goose.
        .set_default(GooseDefault::Quiet, 1)?
        .set_default(GooseDefault::NoPrintMetrics, true)?
        // The telnet controller would listen on 127.0.0.1:5116: a port two
        // runs (or a run and a test) would fight over, and nothing uses it.
        .set_default(GooseDefault::NoTelnet, true)?
        // Per-second percentiles feed only the dashboard and HTML reports.
        .set_default(GooseDefault::NoPercentilesOverTime, true)?;
    if let Some(rps) = plan.throttle_rps {
        // A throttled run measures latency at a fixed offered load; a stall
        // would otherwise hide the requests it prevented (coordinated
        // omission), so goose backfills them at the user's usual cadence.
        attack = attack
            .set_default(GooseDefault::ThrottleRequests, rps)?
            .set_default(
                GooseDefault::CoordinatedOmissionMitigation,
                GooseCoordinatedOmissionMitigation::Average,
            )?;
    }

    let bound = Duration::from_secs_f64(plan.ramp_secs())
        + Duration::from_secs(plan.run_time_secs() as u64)
        + plan.request_timeout * 3
        + Duration::from_secs(10);
    let execution = attack.execute();
    tokio::pin!(execution);
    let metrics = match tokio::time::timeout(bound, &mut execution).await {
        Ok(result) => result?,
        Err(_) => {
            goose::trigger_killswitch("loadtests: the run overran its time bound");
            let grace = plan.request_timeout * 2 + Duration::from_secs(5);
            let _ = tokio::time::timeout(grace, &mut execution).await;
            // Ours, not a Ctrl-C: the next run must not refuse because of it.
            goose::reset_killswitch();
            return Err(LoadError::Overran(bound));
        }
    };

    Ok(LoadReport::new(
        report::RunFacts {
            scenario: spec.name(),
            host: plan.host.clone(),
            users: plan.users,
            co_mitigation,
            interrupted: interrupt_requested(),
        },
        &metrics,
        tally.snapshot(),
    ))
}

/// Sends goose's `log` records to `tracing`, errors only, unless the program
/// already has a `log` logger (then that one decides). Without it goose
/// installs its own stderr logger and prints a warning per failed request.
fn quiet_goose_logging() {
    let _ = tracing_log::LogTracer::builder()
        .with_max_level(tracing_log::log::LevelFilter::Error)
        .init();
}
