//! The swarm engine: clusters as Docker Swarm stacks (work in progress).

use futures::future::BoxFuture;

use crate::{
    cluster::{Cluster, Engine},
    host::Hosts,
    ClusterSpec, HarnessError,
};

/// Clusters as stacks on the swarm whose manager the docker CLI points at.
#[derive(Debug, Clone)]
pub struct Swarm {
    /// The tag of the `authlab` image on every swarm node.
    pub image_tag: String,
}

impl Swarm {
    /// Connects to the manager the docker CLI is pointed at (`DOCKER_HOST`,
    /// or the local engine).
    pub async fn connect(image_tag: &str) -> Result<Self, HarnessError> {
        Ok(Self {
            image_tag: image_tag.to_owned(),
        })
    }
}

impl Engine for Swarm {
    fn name(&self) -> &'static str {
        "swarm"
    }

    fn start(
        &self,
        _spec: ClusterSpec,
    ) -> BoxFuture<'static, Result<Box<dyn Cluster>, HarnessError>> {
        Box::pin(async { Err(HarnessError::Config("swarm: not yet".into())) })
    }

    fn hosts(&self) -> BoxFuture<'static, Result<Hosts, HarnessError>> {
        Box::pin(async { Ok(Hosts::default()) })
    }
}
