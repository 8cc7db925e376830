//! `authlab login-flood`: how much CPU a login flood takes from `/me`
//! traffic, with login throttling off and on.
//!
//! Per stack, two nodes of the real server (`authlab node …`, release
//! build when run from one) share a user directory seeded at the **default**
//! Argon2id cost (the ~15 ms a real login costs) and a store: one with
//! `--login-throttle off`, one with the production defaults and
//! `--trusted-proxies 127.0.0.1`. Each run is wrk on `GET /me` (alice's
//! credential) for a fixed time while a flood of wrong-password logins hits
//! the same node. Four variants, interleaved, the order rotated per trial:
//!
//! | variant | node | flood |
//! |---|---|---|
//! | `baseline` | off | none |
//! | `flood, throttle off` | off | from one client |
//! | `flood, throttle on` | on | from one client: the per-client limit answers 429 |
//! | `distributed flood, throttle on` | on | every attempt claims another client address (`X-Forwarded-For`, which this node trusts from 127.0.0.1) and another username, so no keyed limit applies and only the bound on concurrent verifications stands |
//!
//! The flood is paced, not a closed loop: attempts are offered at a fixed
//! rate with at most `in_flight` outstanding (the "100 parallel logins" of
//! the issue), like an attacker with a fixed budget. A closed loop would
//! answer refusals instantly and turn the generator itself into the load,
//! measuring wrk's speed rather than what the server spends on logins.
//! Attempts that could not be sent because `in_flight` were outstanding are
//! counted as "not sent".
//!
//! Every `/me` run is checked by [`load_check`](crate::kit::load_check)
//! before its throughput is used; a run that fails the check is reported as
//! invalid and left out of the medians.

mod measure;
mod record;
mod report;

use authlab_core::throttle::LoginThrottleArgs;

pub use record::{FloodCounts, FloodReport, FloodSpec, Run, Variant};

use crate::LabError;

/// Starts everything, runs the trials, stops everything.
pub async fn run(spec: FloodSpec) -> Result<FloodReport, LabError> {
    if spec.trials == 0 || spec.rate == 0 || spec.in_flight == 0 || spec.stacks.is_empty() {
        return Err(LabError::Config(
            "login-flood needs at least one trial, stack, attempt per second and attempt in flight"
                .into(),
        ));
    }
    let rig = measure::Rig::start(&spec).await?;
    let runs = rig.trials(&spec).await?;
    rig.stop();
    Ok(FloodReport {
        concurrency: LoginThrottleArgs::default().concurrency(),
        spec,
        runs,
    })
}
