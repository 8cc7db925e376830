//! `authlab run`: the experiments, each on clusters of its own, and the
//! report that judges the claims from their results.
//!
//! The run directory holds everything (results.json, charts, report.md,
//! report.html); what this command prints is only each claim's verdict and
//! where the report is. Inside the compose `lab` container that directory is
//! a bind mount, so the last lines can name it as the host sees it.

use std::path::PathBuf;

use authlab_core::telemetry;

#[derive(clap::Args)]
pub struct RunArgs {
    /// Short trials: every experiment, a few minutes in all.
    #[arg(long)]
    quick: bool,
    /// Only these experiments, by id (see `authlab list`), comma-separated.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
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
    let dir = lab::experiments::run(&args.only, args.quick, &args.out, super::launcher()?).await?;
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
