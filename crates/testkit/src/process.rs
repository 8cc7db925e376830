//! Child processes that cannot outlive their parent.

use std::process::Command;

/// Asks the kernel to SIGKILL the child when the thread that spawned it
/// exits, so a crashed or killed test or `authlab` leaves no orphan behind.
/// Spawn from a thread that lives as long as the child should (the main
/// thread, a test's thread), not from a short-lived pool thread.
#[allow(unsafe_code)]
pub fn die_with_parent(command: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only calls
    // prctl(2), which is async-signal-safe; it allocates nothing and takes no lock.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(std::io::Error::from)
        })
    }
}
