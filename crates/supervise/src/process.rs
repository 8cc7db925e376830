//! Owning a child process: it dies with its parent, and stops when told.
//!
//! A `Drop` impl is not enough to clean up children: it does not run when
//! the parent is `kill -9`ed, aborts, or dies of a signal. Linux offers a
//! guarantee that does not depend on the parent at all: `PR_SET_PDEATHSIG`,
//! set in the child between `fork` and `exec`, makes the kernel send the
//! child a signal when its parent *thread* exits. [`die_with_parent`] sets
//! it to SIGKILL. The price is that a child must be spawned from a thread
//! that lives as long as the child should (the main thread, a test's
//! thread), never from a short-lived pool thread.
//!
//! For the ordinary case, [`terminate`] and [`kill`] stop a child the two
//! ways authlab needs: drained (SIGTERM: a server finishes its requests,
//! Redis flushes its append-only file) or at once (SIGKILL: a crash).

use std::{
    process::{Child, Command},
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{self, Signal},
    unistd::Pid,
};

/// Asks the kernel to SIGKILL the child when the thread that spawned it
/// exits, so a crashed or killed parent leaves no orphan behind.
///
/// This is the workspace's one audited `unsafe`: the workspace denies
/// `unsafe_code` and allows it for this function alone.
#[allow(unsafe_code)]
pub fn die_with_parent(command: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only calls
    // prctl(2), which is async-signal-safe; it allocates nothing and takes no lock.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
        })
    }
}

/// SIGTERM, up to `grace` for the child to exit by itself, then SIGKILL.
/// The child is reaped either way. `true` if it exited within the grace.
pub fn terminate(child: &mut Child, grace: Duration) -> bool {
    // Already reaped: its PID may belong to someone else by now, so no signal.
    if let Ok(Some(_)) = child.try_wait() {
        return true;
    }
    let _ = signal::kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    kill(child);
    false
}

/// SIGKILL and reap: the child vanishes at once, as in a crash.
pub fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}
