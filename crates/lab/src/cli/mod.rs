//! The `authlab` commands, one module each.
//!
//! `main.rs` only parses the command line: its `Command` enum names the
//! commands, and each variant's arguments go to the `run` of the module here
//! that bears the command's name (`authlab login-flood` is [`login_flood`]).
//! A module holds the command's clap arguments, when the command has its own,
//! and `async fn run(..) -> anyhow::Result<()>`, which starts logging with the
//! filter that command wants, calls into the library, and prints. The
//! docker-compose commands (`compose-init`, `fault`, `console`, `load`) keep
//! their arguments in the library, beside the code they configure.
//!
//! This is the binary's edge: the library's typed errors become `anyhow`
//! here and nowhere else, and what a command prints, and its exit status,
//! are decided here.

pub mod compose_init;
pub mod console;
pub mod doctor;
pub mod fault;
pub mod list;
pub mod load;
pub mod login_flood;
pub mod node;
pub mod probe;
pub mod report;
pub mod run;
pub mod soak;
pub mod soak_report;
pub mod up;

use std::path::PathBuf;

use anyhow::Context;
use lab::Stack;

/// `--stack` for the commands that can start either stack or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StackChoice {
    Session,
    Jwt,
    Both,
}

fn stacks(choice: StackChoice) -> Vec<Stack> {
    match choice {
        StackChoice::Session => vec![Stack::Session],
        StackChoice::Jwt => vec![Stack::Jwt],
        StackChoice::Both => vec![Stack::Session, Stack::Jwt],
    }
}

/// This binary, which the lab starts again (as `authlab node …`) for every
/// node of a cluster.
fn launcher() -> anyhow::Result<PathBuf> {
    std::env::current_exe().context("locating the authlab binary")
}
