//! `cargo xtask structure`: the workspace measures its own shape.
//!
//! Size budgets for code are easy to state and easy to lose: one more branch
//! in an experiment's `run` and nobody notices it passed 150 lines. This tool
//! reads every `.rs` file of the workspace with `syn` and prints what a
//! reviewer would count by hand: lines per crate, the non-test functions over
//! a length, the largest files of a folder, and the import cycles among one
//! crate's modules. With `--check` it exits non-zero when a budget is broken,
//! which is how CI keeps the lab's redesign (issue 22) from growing back.

mod functions;
mod modules;
mod sources;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask", about = "The workspace's own code measurements")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Lines per crate, long functions, large files, import cycles.
    Structure(Budgets),
}

#[derive(clap::Args)]
struct Budgets {
    /// The workspace root (where `crates/` is).
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// A function is long above this many lines (signature to closing brace).
    #[arg(long, default_value_t = 100)]
    long: usize,
    /// How many long functions the budget allows.
    #[arg(long, default_value_t = 5)]
    most_long: usize,
    /// No function may be longer than this.
    #[arg(long, default_value_t = 150)]
    too_long: usize,
    /// Folders whose files must stay under `--file-lines`.
    #[arg(long, default_value = "crates/lab/src/experiments")]
    folder: Vec<PathBuf>,
    #[arg(long, default_value_t = 1000)]
    file_lines: usize,
    /// Crates (folder names under `crates/`) that must have no import cycle.
    #[arg(long, default_value = "lab", value_delimiter = ',')]
    acyclic: Vec<String>,
    /// Exit with an error when a budget is broken.
    #[arg(long)]
    check: bool,
}

fn main() -> anyhow::Result<()> {
    let Command::Structure(budgets) = Cli::parse().command;
    let crates = sources::crates(&budgets.root).context("reading the workspace")?;
    let mut broken = Vec::new();

    println!("## Lines per crate (src / tests and benches)");
    for krate in &crates {
        println!(
            "{:<16} {:>6} {:>6}",
            krate.name,
            krate.lines(sources::Role::Source),
            krate.lines(sources::Role::Test)
        );
    }

    let mut long = Vec::new();
    for krate in &crates {
        for file in krate
            .files
            .iter()
            .filter(|f| f.role == sources::Role::Source)
        {
            long.extend(functions::over(file, budgets.long)?);
        }
    }
    long.sort_by_key(|f| std::cmp::Reverse(f.lines));
    println!(
        "\n## Non-test functions over {} lines: {}",
        budgets.long,
        long.len()
    );
    for f in &long {
        println!("{:>4}  {}:{}  {}", f.lines, f.file, f.line, f.name);
    }
    let too_long = long.iter().filter(|f| f.lines > budgets.too_long).count();
    if long.len() > budgets.most_long {
        broken.push(format!(
            "{} functions over {} lines (budget {})",
            long.len(),
            budgets.long,
            budgets.most_long
        ));
    }
    if too_long > 0 {
        broken.push(format!(
            "{too_long} functions over {} lines",
            budgets.too_long
        ));
    }

    for folder in &budgets.folder {
        let mut files = sources::files_under(&budgets.root, folder)?;
        files.sort_by_key(|f| std::cmp::Reverse(f.1));
        println!("\n## Largest files under {}", folder.display());
        for (path, lines) in files.iter().take(5) {
            println!("{lines:>5}  {path}");
        }
        for (path, lines) in files.iter().filter(|(_, n)| *n > budgets.file_lines) {
            broken.push(format!(
                "{path} has {lines} lines (budget {})",
                budgets.file_lines
            ));
        }
    }

    for name in &budgets.acyclic {
        let krate = crates
            .iter()
            .find(|k| &k.name == name)
            .with_context(|| format!("no crate {name} under crates/"))?;
        let cycles = modules::cycles(krate)?;
        println!(
            "\n## Import cycles among {name}'s modules: {}",
            cycles.len()
        );
        for cycle in &cycles {
            println!("- {}", cycle.join(" -> "));
        }
        if !cycles.is_empty() {
            broken.push(format!("{} import cycles in {name}", cycles.len()));
        }
    }

    if broken.is_empty() {
        println!("\nEvery budget holds.");
        return Ok(());
    }
    println!("\n## Budgets broken");
    for b in &broken {
        println!("- {b}");
    }
    if budgets.check {
        anyhow::bail!("{} budgets broken", broken.len());
    }
    Ok(())
}
