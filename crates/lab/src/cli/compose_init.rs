//! `authlab compose-init`: the docker-compose demo's one-shot init container.
//!
//! Its arguments and its work live in [`lab::compose_init`]; this prints
//! what it did, one line per step, for `docker compose logs`.

use authlab_core::telemetry;
use lab::compose_init::ComposeInit;

pub async fn run(init: ComposeInit) -> anyhow::Result<()> {
    telemetry::init("warn,lab=info");
    for line in init.run().await? {
        println!("{line}");
    }
    Ok(())
}
