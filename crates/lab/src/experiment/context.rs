//! What every experiment gets to run with.

use std::{path::PathBuf, sync::Arc};

use indicatif::ProgressBar;

use crate::{Cluster, ClusterSpec, Engine, LabError};

pub struct RunContext {
    pub quick: bool,
    /// The `authlab` binary, for experiments that start clusters.
    pub launcher: PathBuf,
    /// This run's directory (charts go here).
    pub dir: PathBuf,
    /// What starts this run's clusters: the experiments never name it.
    pub engine: Arc<dyn Engine>,
    pub(super) progress: ProgressBar,
}

impl RunContext {
    /// Names the variant now running, for the progress display.
    pub fn variant(&self, what: impl Into<String>) {
        self.progress.set_message(what.into());
    }

    /// A spec with the defaults and this run's launcher.
    pub fn spec(&self) -> ClusterSpec {
        ClusterSpec::new(self.launcher.clone())
    }

    /// Starts a cluster on this run's engine.
    pub async fn cluster(&self, spec: ClusterSpec) -> Result<Box<dyn Cluster>, LabError> {
        Ok(self.engine.start(spec).await?)
    }
}
