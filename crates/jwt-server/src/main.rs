//! `jwt-server`: serve the JWT stack, manage its keys, or seed the user directory.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Context;
use authlab_core::{directory::SeedCommand, telemetry};
use clap::{Parser, Subcommand};
use jwt_server::{
    keys::{KeySet, KeySetFile},
    Application, JwtServerConfig, SigningAlgorithm,
};

#[derive(Parser)]
#[command(version, about = "authlab's JWT stack (actix-web + jsonwebtoken)")]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: JwtServerConfig,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default when no subcommand is given).
    Serve(Box<JwtServerConfig>),
    /// Create the demo users and N load users in the user directory.
    Seed(SeedCommand),
    /// Generate and rotate the key set all nodes share.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Write a new key set with one active key.
    Generate {
        #[arg(long, value_enum)]
        alg: SigningAlgorithm,
        /// Where to write it (refuses to overwrite without --force).
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        force: bool,
    },
    /// Rotation step 1: add a key every node accepts but none signs with yet.
    /// Restart (roll) every node, then run `keys activate`.
    Stage {
        #[arg(long)]
        file: PathBuf,
    },
    /// Rotation step 2: sign with the staged key; the old one verifies for --grace.
    Activate {
        #[arg(long)]
        file: PathBuf,
        /// At least the access-token lifetime plus leeway.
        #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
        grace: Duration,
    },
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
        Some(Command::Keys(keys)) => manage_keys(keys),
        Some(Command::Serve(config)) => serve(*config).await,
        None => serve(cli.serve).await,
    }
}

fn write(path: &Path, file: &KeySetFile) -> anyhow::Result<()> {
    // Check it loads before anything is written: a broken key set must never
    // reach the nodes.
    KeySet::from_file(file).context("the new key set does not load")?;
    // 0600: the file holds private keys.
    Ok(file.write(path)?)
}

fn manage_keys(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Generate { alg, out, force } => {
            anyhow::ensure!(
                force || !out.exists(),
                "{} exists; pass --force to replace it",
                out.display()
            );
            let file = KeySetFile::generate(alg)?;
            write(&out, &file)?;
            println!(
                "wrote {} ({alg}, active kid {})",
                out.display(),
                file.keys[0].kid
            );
        }
        KeysCommand::Stage { file: path } => {
            // The rewrite below tightens a loose mode to 0600, so it is not refused here.
            let mut file = KeySetFile::read(&path, true)?;
            let kid = file.stage()?;
            write(&path, &file)?;
            println!(
                "staged {kid}: restart every node, then `jwt-server keys activate --file {}`",
                path.display()
            );
        }
        KeysCommand::Activate { file: path, grace } => {
            let mut file = KeySetFile::read(&path, true)?;
            let kid = file.activate_staged(grace)?;
            write(&path, &file)?;
            println!(
                "{kid} is active; restart every node. Old key verifies for {}",
                humantime::format_duration(grace)
            );
        }
    }
    Ok(())
}

async fn serve(mut config: JwtServerConfig) -> anyhow::Result<()> {
    config.node.handle_signals = true;
    let app = Application::build(config).await?;
    println!("jwt-server {} listening on port {}", app.node(), app.port());
    app.run_until_stopped().await.context("server failed")
}
