//! `authlab doctor`: whether this machine has the programs authlab starts.

use anyhow::bail;

pub async fn run() -> anyhow::Result<()> {
    let (report, ok) = lab::doctor::report();
    print!("{report}");
    if !ok {
        bail!("something authlab needs is missing (see above)");
    }
    Ok(())
}
