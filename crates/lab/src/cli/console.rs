//! `authlab console`: the web console over a deployment authlab did not start
//! (the docker-compose demo's `console` service).
//!
//! `authlab up` serves the same console over the cluster it owns; here the
//! console learns the nodes from HAProxy's runtime API and acts on them
//! through it and the session store ([`lab::console::compose`]). It runs until
//! SIGINT or SIGTERM (what `docker compose down` sends).
//!
//! It starts no cluster, so `--engine` only names what runs the deployment:
//! the console asks that engine for its hosts and prints where the nodes it
//! shows run, as a report's "Where it ran" does.

use anyhow::Context;
use authlab_core::telemetry;
use lab::console::compose::ComposeConsoleArgs;
use tokio::signal::unix::{signal, SignalKind};

pub async fn run(args: ComposeConsoleArgs) -> anyhow::Result<()> {
    telemetry::init("warn,lab=info");
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    where_it_runs(args.engine).await?;
    eprintln!(
        "waiting for HAProxy at {} to name the nodes …",
        args.haproxy_api
    );
    let facts = args.facts().await?;
    let config = lab::console::ConsoleConfig {
        bind: args.bind,
        port: args.port,
        report_dir: args.report.clone(),
        hosts: args.hosts.clone(),
    };
    let console = lab::console::Console::start(config, facts, args.controller()).await?;
    println!("console listening on {}", console.url());
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    console.stop().await;
    Ok(())
}

/// Prints the engine's hosts; an engine that cannot list them is said so,
/// and the console goes on (it needs HAProxy, not the hosts).
async fn where_it_runs(choice: lab::experiment::EngineChoice) -> anyhow::Result<()> {
    let engine = choice.connect().await?;
    let (_, environment) = lab::experiment::environment_of(&*engine).await;
    let shown = lab::report::where_it_ran(&environment);
    eprintln!("{}", shown.lead);
    for host in &shown.hosts {
        eprintln!(
            "  {:<20} {:<8} {:>3} cores  boot id {}",
            host.name, host.role, host.cores, host.boot_id
        );
    }
    if !shown.machines.is_empty() {
        eprintln!("{}", shown.machines);
    }
    Ok(())
}
