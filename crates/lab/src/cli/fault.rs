//! `authlab fault`: break the docker-compose demo on purpose, through
//! HAProxy's runtime API and the session store's own protocol (the demo
//! gives no container a Docker socket). The faults are in [`lab::fault`].

use authlab_core::telemetry;
use lab::fault::FaultArgs;

pub async fn run(fault: FaultArgs) -> anyhow::Result<()> {
    telemetry::init("warn");
    for line in fault.run()? {
        println!("{line}");
    }
    Ok(())
}
