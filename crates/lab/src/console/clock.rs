//! The console's one notion of time: whole seconds since it started. The
//! load's windows, the sampler and the action log all stamp with the same
//! clock, so a point on a chart and a line in the log can be compared.

use std::time::Instant;

/// Seconds since the console started: the time axis of its windows.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: Instant,
}

impl Clock {
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }

    pub fn second(&self) -> u64 {
        self.origin.elapsed().as_secs()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}
