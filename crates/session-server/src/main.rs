//! `session-server`: serve the session stack, or seed the user directory.

use anyhow::Context;
use authlab_core::{directory::SeedCommand, telemetry};
use clap::{Parser, Subcommand};
use session_server::{Application, SessionServerConfig};

#[derive(Parser)]
#[command(
    version,
    about = "authlab's session stack (actix-web + actix-session over Redis)"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: SessionServerConfig,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default when no subcommand is given).
    Serve(Box<SessionServerConfig>),
    /// Create the demo users and N load users in the user directory.
    Seed(SeedCommand),
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("info");
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Seed(seed)) => {
            let report = seed.run().await.context("seeding the user directory")?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
        Some(Command::Serve(config)) => serve(*config).await,
        None => serve(cli.serve).await,
    }
}

async fn serve(mut config: SessionServerConfig) -> anyhow::Result<()> {
    config.node.handle_signals = true;
    let app = Application::build(config).await?;
    println!(
        "session-server {} listening on port {}",
        app.node(),
        app.port()
    );
    app.run_until_stopped().await.context("server failed")
}
