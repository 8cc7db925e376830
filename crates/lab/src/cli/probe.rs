//! `authlab probe`: one HTTP GET, for a container's healthcheck.
//!
//! Docker reads the exit status (0: healthy) and keeps what the check
//! printed in the container's health log (`docker inspect`), so the answer
//! or the error goes to stdout as one line, and nothing else is printed.
//! How the request is made, and why so, is in [`lab::probe`].

use std::time::Duration;

#[derive(clap::Args)]
pub struct ProbeArgs {
    /// What to GET, e.g. http://127.0.0.1:8080/ready.
    url: String,
    /// Longest the whole request may take, connect to last byte.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

pub async fn run(args: ProbeArgs) -> anyhow::Result<()> {
    match lab::probe::probe(&args.url, args.timeout).await {
        // One line and an exit status are all a healthcheck reads.
        Ok(answer) if answer.is_success() => {
            println!("{answer}");
            Ok(())
        }
        Ok(answer) => {
            println!("{answer}");
            std::process::exit(1)
        }
        Err(error) => {
            println!("{error}");
            std::process::exit(1)
        }
    }
}
