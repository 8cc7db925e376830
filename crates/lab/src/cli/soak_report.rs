//! `authlab soak-report`: a recorded soak judged again from its soak.json,
//! its soak.md and charts rewritten (after the checks or the charts change,
//! a soak of half an hour need not be run again).

use std::path::PathBuf;

#[derive(clap::Args)]
pub struct SoakReportArgs {
    /// A soak directory, e.g. reports/soak-20261126-155914.
    dir: PathBuf,
}

pub async fn run(args: SoakReportArgs) -> anyhow::Result<()> {
    let checks = lab::soak::rerender(&args.dir)?;
    super::soak::print_checks(&checks);
    println!("re-rendered {}", args.dir.join("soak.md").display());
    Ok(())
}
