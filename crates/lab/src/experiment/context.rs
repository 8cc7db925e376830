//! What every experiment gets to run with.

use std::path::PathBuf;

use indicatif::ProgressBar;

pub struct RunContext {
    pub quick: bool,
    /// The `authlab` binary, for experiments that start clusters.
    pub launcher: PathBuf,
    /// This run's directory (charts go here).
    pub dir: PathBuf,
    pub(super) progress: ProgressBar,
}

impl RunContext {
    /// Names the variant now running, for the progress display.
    pub fn variant(&self, what: impl Into<String>) {
        self.progress.set_message(what.into());
    }
}
