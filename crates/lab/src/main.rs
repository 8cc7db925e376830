//! `authlab`: run clusters of both stacks behind HAProxy, break them, measure them.
//!
//! This file is the command line and nothing else: [`Cli`] and [`Command`]
//! say what `authlab` accepts (their doc comments are its `--help`), and
//! `main` hands each command to the `run` of its module under [`cli`],
//! where the work and the printing are.

mod cli;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    version,
    about = "authlab: server-side sessions vs stateless tokens, measured"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a cluster on loopback and keep it running until Ctrl-C.
    Up(cli::up::UpArgs),
    /// Check this machine has what authlab needs.
    Doctor,
    /// The experiments and the claims they answer.
    List,
    /// Run experiments and write reports/<run-id>/ (results.json, charts, report.md, report.html).
    Run(cli::run::RunArgs),
    /// Run both stacks at a steady share of their capacity for N minutes and
    /// check that nothing fails and no process's memory grows
    /// (writes reports/soak-<run-id>/).
    Soak(cli::soak::SoakArgs),
    /// Judge a recorded soak again and rewrite its soak.md and charts from its soak.json.
    SoakReport(cli::soak_report::SoakReportArgs),
    /// How much CPU a login flood takes from /me traffic, login throttling off vs on
    /// (one node per setting and stack; about 2.5 minutes with the defaults).
    LoginFlood(cli::login_flood::FloodArgs),
    /// Re-render a run's report from its results.json, without re-running anything.
    Report(cli::report::ReportArgs),
    /// One HTTP GET: exit status 0 iff the answer is 2xx (a container healthcheck).
    Probe(cli::probe::ProbeArgs),
    /// One-shot set-up of the docker-compose demo: seed users, write the
    /// shared cookie secret and JWT keys (only if absent) and HAProxy's config.
    ComposeInit(Box<lab::compose_init::ComposeInit>),
    /// Break the docker-compose demo on purpose: pause or crash the session
    /// store, drain or stop nodes through HAProxy (no Docker socket needed).
    Fault(lab::fault::FaultArgs),
    /// The web console over a deployment authlab did not start: the
    /// docker-compose demo (its `console` service runs this), driven through
    /// HAProxy's runtime API and the session store, no Docker socket.
    Console(Box<lab::console::compose::ComposeConsoleArgs>),
    /// A bounded goose run of the browse scenario against a deployment you
    /// name: requests, errors, req/s, p50/p99; fails if any request failed.
    Load(lab::load::LoadArgs),
    /// Run one server node (what `authlab up` starts for each node).
    #[command(hide = true)]
    Node(cli::node::NodeArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Up(args) => cli::up::run(args).await,
        Command::Doctor => cli::doctor::run().await,
        Command::List => cli::list::run().await,
        Command::Run(args) => cli::run::run(args).await,
        Command::Soak(args) => cli::soak::run(args).await,
        Command::SoakReport(args) => cli::soak_report::run(args).await,
        Command::LoginFlood(args) => cli::login_flood::run(args).await,
        Command::Report(args) => cli::report::run(args).await,
        Command::Probe(args) => cli::probe::run(args).await,
        Command::ComposeInit(init) => cli::compose_init::run(*init).await,
        Command::Fault(fault) => cli::fault::run(fault).await,
        Command::Console(args) => cli::console::run(*args).await,
        Command::Load(args) => cli::load::run(args).await,
        Command::Node(args) => cli::node::run(args).await,
    }
}
