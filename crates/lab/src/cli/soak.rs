//! `authlab soak`: both stacks under ordinary traffic for a long time, to show
//! nothing wears out (no failed request, every minute served what it was
//! offered, no process's memory growing).
//!
//! The load offered is a share of what the two stacks were measured to serve
//! on this machine just before, so a soak asks as much of a slow machine as
//! of a fast one; [`lab::soak`] explains the steps and the judgement. The
//! soak's directory keeps the raw record (soak.json), so `authlab
//! soak-report` can judge it again without the half hour.

use std::{path::PathBuf, time::Duration};

use anyhow::bail;
use authlab_core::telemetry;

#[derive(clap::Args)]
pub struct SoakArgs {
    /// Minutes of load after the capacity run (the first one is the warm-up).
    #[arg(long, default_value_t = 30)]
    minutes: u32,
    /// Share of the measured capacity offered to each stack.
    #[arg(long, default_value_t = 0.7)]
    load: f64,
    /// Nodes per stack.
    #[arg(long, default_value_t = 2)]
    nodes: usize,
    /// goose users per stack.
    #[arg(long, default_value_t = 16)]
    users: usize,
    /// Where the soak's directory goes.
    #[arg(long, default_value = "reports")]
    out: PathBuf,
    /// Length of a "minute" (a window), for a short trial run of the soak itself.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration, hide = true)]
    window: Duration,
    /// Length of the capacity run.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration, hide = true)]
    capacity_run: Duration,
}

pub async fn run(args: SoakArgs) -> anyhow::Result<()> {
    telemetry::init("warn,goose=error");
    let mut plan = lab::soak::SoakPlan::new(args.minutes);
    plan.load = args.load;
    plan.nodes = args.nodes;
    plan.users = args.users;
    plan.window = args.window;
    plan.capacity_run = args.capacity_run;
    let (dir, checks) = lab::soak::run(plan, super::launcher()?, &args.out).await?;
    print_checks(&checks);
    println!("soak: {}", dir.join("soak.md").display());
    if !lab::soak::judge::passed(&checks) {
        bail!("the soak failed (see the checks above)");
    }
    Ok(())
}

/// One line per check, the same after a soak and after `authlab soak-report`.
pub fn print_checks(checks: &[lab::soak::Check]) {
    for check in checks {
        println!(
            "{:<10} {} ({})",
            check.status.label(),
            check.what,
            check.detail
        );
    }
}
