//! `authlab run`: the experiments, each on clusters of its own, and the
//! report that judges the claims from their results.
//!
//! The run directory holds everything (results.json, charts, report.md,
//! report.html); what this command prints is the experiments its engine
//! does not run (and why), each claim's verdict, and where the report is.
//! Inside the compose `lab` container that directory is a bind mount, so
//! the last lines can name it as the host sees it.

use std::path::PathBuf;

use authlab_core::telemetry;
use lab::experiment::{EngineChoice, RunSettings};

#[derive(clap::Args)]
pub struct RunArgs {
    /// Short trials: every experiment, a few minutes in all.
    #[arg(long)]
    quick: bool,
    /// Only these experiments, by id (see `authlab list`), comma-separated.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// What runs the clusters: processes on this machine's loopback, or
    /// stacks on the Docker Swarm the docker CLI points at (the image
    /// authlab:$AUTHLAB_TAG, `local` by default). On the swarm the
    /// experiments that need this machine's processes are listed, not run.
    #[arg(long, value_enum, default_value = "local")]
    engine: EngineChoice,
    /// Where run directories go.
    #[arg(long, default_value = "reports")]
    out: PathBuf,
    /// What --out is called outside this container (the compose `lab`
    /// service's bind mount), so the last lines name the report where the
    /// user will open it.
    #[arg(long, env = "AUTHLAB_OUT_ON_HOST")]
    out_on_host: Option<PathBuf>,
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    // goose logs one warning per failed request; an outage experiment fails thousands on purpose.
    telemetry::init("warn,goose=error");
    // Planned before connecting: a selection the engine runs none of is
    // refused without touching a swarm.
    let plan = lab::experiments::plan(&args.only, args.engine.name())?;
    for left_out in &plan.not_run {
        println!("{}", left_out.line());
    }
    let settings = RunSettings {
        engine: args.engine.connect().await?,
        only: args.only.clone(),
        quick: args.quick,
        root: args.out.clone(),
        launcher: super::launcher()?,
    };
    let dir = lab::experiments::run_plan(plan, &settings).await?;
    let results = lab::results::RunResults::read(&dir)?;
    for row in lab::claims::rows(&results) {
        println!("{:<4} {}", row.claim, row.verdict.label());
    }
    let shown = match (&args.out_on_host, dir.file_name()) {
        (Some(host), Some(run)) => host.join(run),
        _ => dir.clone(),
    };
    println!("report: {}", shown.join("report.html").display());
    println!("        {}", shown.join("report.md").display());
    Ok(())
}
