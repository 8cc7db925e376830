//! The local engine: clusters as processes on this machine's loopback.

use futures::future::BoxFuture;

use super::LocalCluster;
use crate::{
    cluster::{Cluster, Engine},
    host::{this_machine, Hosts},
    ClusterSpec, HarnessError,
};

/// Processes on this machine's loopback ([`LocalCluster`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Local;

impl Engine for Local {
    fn name(&self) -> &'static str {
        "local"
    }

    fn start(
        &self,
        spec: ClusterSpec,
    ) -> BoxFuture<'static, Result<Box<dyn Cluster>, HarnessError>> {
        Box::pin(async move {
            let cluster = LocalCluster::start(spec).await?;
            Ok(Box::new(cluster) as Box<dyn Cluster>)
        })
    }

    fn hosts(&self) -> BoxFuture<'static, Result<Hosts, HarnessError>> {
        Box::pin(async {
            Ok(Hosts {
                hosts: vec![this_machine()],
            })
        })
    }
}
