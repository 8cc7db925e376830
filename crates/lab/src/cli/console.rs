//! `authlab console`: the web console over a deployment authlab did not start
//! (the docker-compose demo's `console` service).
//!
//! `authlab up` serves the same console over the cluster it owns; here the
//! console learns the nodes from HAProxy's runtime API and acts on them
//! through it and the session store ([`lab::console::compose`]). It runs until
//! SIGINT or SIGTERM (what `docker compose down` sends).

use anyhow::Context;
use authlab_core::telemetry;
use lab::console::compose::ComposeConsoleArgs;
use tokio::signal::unix::{signal, SignalKind};

pub async fn run(args: ComposeConsoleArgs) -> anyhow::Result<()> {
    telemetry::init("warn,lab=info");
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
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
