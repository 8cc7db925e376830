//! `authlab login-flood`: how much CPU a flood of wrong-password logins takes
//! from the `/me` traffic on the same node, with login throttling off and on.
//!
//! Each login is an Argon2id hash at the real cost, so every attempt takes
//! CPU that `/me` then lacks; the question is how much of that throttling
//! gives back. The variants (no flood, a flood with throttling off, on, and a
//! flood from addresses and usernames that no limit keys on) and the way the
//! flood is paced are explained in [`lab::flood`]; here are only the knobs.

use std::time::Duration;

use authlab_core::telemetry;

use super::StackChoice;

#[derive(clap::Args)]
pub struct FloodArgs {
    #[arg(long, value_enum, default_value = "both")]
    stack: StackChoice,
    /// Interleaved trials of every variant.
    #[arg(long, default_value_t = 3)]
    trials: usize,
    /// Length of each wrk run on /me (and of the flood beside it).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Wrong-password login attempts offered per second.
    #[arg(long, default_value_t = 500)]
    rate: u32,
    /// Most login attempts outstanding at once.
    #[arg(long, default_value_t = 100)]
    in_flight: usize,
    /// wrk connections on /me.
    #[arg(long, default_value_t = 64)]
    connections: u32,
    /// wrk threads on /me.
    #[arg(long, default_value_t = 2)]
    threads: u32,
    /// HTTP workers per node.
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

pub async fn run(args: FloodArgs) -> anyhow::Result<()> {
    telemetry::init("warn");
    let spec = lab::flood::FloodSpec {
        stacks: super::stacks(args.stack),
        trials: args.trials,
        duration: args.duration,
        rate: args.rate,
        in_flight: args.in_flight,
        connections: args.connections,
        threads: args.threads,
        workers: args.workers,
        launcher: super::launcher()?,
    };
    let report = lab::flood::run(spec).await?;
    print!("{}", report.render());
    Ok(())
}
