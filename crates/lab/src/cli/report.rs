//! `authlab report`: a run's report rendered again from its results.json,
//! without running anything (after the report's text or charts change).

use std::path::PathBuf;

#[derive(clap::Args)]
pub struct ReportArgs {
    /// A run directory, e.g. reports/latest.
    dir: PathBuf,
}

pub async fn run(args: ReportArgs) -> anyhow::Result<()> {
    let results = lab::results::RunResults::read(&args.dir)?;
    lab::report::render(&results, &args.dir)?;
    println!("re-rendered {}", args.dir.join("report.html").display());
    Ok(())
}
