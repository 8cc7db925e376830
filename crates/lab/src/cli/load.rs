//! `authlab load`: a bounded goose run of the browse scenario against a
//! deployment you name, judged at the end (any failed request fails it).
//!
//! Load is only sent to loopback unless `--allow-remote` says otherwise, and
//! a remote target is named before the first request, while Ctrl-C can still
//! stop a mistake. The plan, the run and the judgement are in [`lab::load`].

use anyhow::bail;
use authlab_core::telemetry;
use lab::load::LoadArgs;

pub async fn run(args: LoadArgs) -> anyhow::Result<()> {
    telemetry::init("warn,goose=error");
    let plan = args.plan();
    match plan.validate() {
        Err(error @ loadtests::LoadError::NotLoopback { .. }) => {
            bail!("{error}; pass --allow-remote to load another host on purpose")
        }
        other => other?,
    }
    if loadtests::check_target(&plan.host, plan.allow_remote)? == loadtests::Target::Remote {
        // Before any load: a wrong host can still be stopped with Ctrl-C.
        eprintln!(
            "sending load to {} (remote target allowed by --allow-remote)",
            plan.host
        );
    }
    let report = lab::load::run(&plan).await?;
    print!("{}", lab::load::render(&report));
    lab::load::judge(&report)?;
    Ok(())
}
