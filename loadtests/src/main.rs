//! `loadtests`: the authlab scenarios as a standalone goose load test.
//!
//! goose's whole command line (users, rates, run time, throttle, reports,
//! thresholds, logs, controllers) plus a few authlab options:
//!
//! ```text
//! cargo run -p loadtests --release -- --host http://127.0.0.1:PORT --scenario session-browse \
//!     -u 32 -r 32 -t 30s --report-file report.html --threshold "p99<50ms"
//! ```
//!
//! `--scenario NAME` picks a scenario by the names below; goose's own
//! `--scenarios` does the same with goose machine names (`sessionbrowse`,
//! `jwtrefresh`, …, see `--scenarios-list`) and wildcards. After goose's own summary it prints what goose does not
//! count: responses per node (`x-node`), logins, re-logins, refreshes.
//!
//! Only loopback hosts are accepted unless `--allow-remote` is given; the
//! target is then printed on stderr before any load starts.
//!
//! Every simulated user logs in from 127.0.0.1, so start the target with
//! login throttling off (`--login-throttle off` on a node, `authlab up
//! --login-throttle off` for a cluster); with the production limits most
//! logins would answer `429 too_many_attempts`.

use std::{process::ExitCode, sync::Arc, time::Duration};

use clap::{CommandFactory, FromArgMatches, Parser};
use goose::{
    config::{GooseConfiguration, GooseDefault, GooseDefaultType},
    GooseAttack,
};
use loadtests::{
    check_target,
    scenarios::{self, machine_name, NAMED, NAMES},
    Credentials, ScenarioSpec, Tally, Target,
};

#[derive(Parser)]
#[command(
    name = "loadtests",
    disable_version_flag = true,
    args_override_self = true,
    allow_negative_numbers = true
)]
struct Cli {
    /// Scenario to run (goose's --scenarios takes machine names instead)
    #[arg(long, value_name = "NAME", help_heading = "authlab",
          value_parser = clap::builder::PossibleValuesParser::new(NAMES))]
    scenario: Option<String>,
    /// Log in as load users user{OFFSET}..user{OFFSET+N-1} (seeded, password
    /// authlab-load); 0 logs in as the demo users alice, bob, carol
    #[arg(long, value_name = "N", default_value_t = 0, help_heading = "authlab")]
    load_users: usize,
    /// First load user
    #[arg(
        long,
        value_name = "OFFSET",
        default_value_t = 0,
        help_heading = "authlab"
    )]
    load_user_offset: usize,
    /// Shortest pause between transactions in *-think scenarios, in ms
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 500,
        help_heading = "authlab"
    )]
    think_min_ms: u64,
    /// Longest pause between transactions in *-think scenarios, in ms
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 1500,
        help_heading = "authlab"
    )]
    think_max_ms: u64,
    /// Accept a --host that is not this machine (only loopback otherwise);
    /// for a deployment of your own, e.g. a docker-compose project
    #[arg(long, help_heading = "authlab")]
    allow_remote: bool,
    #[command(flatten)]
    goose: GooseConfiguration,
}

#[tokio::main]
async fn main() -> ExitCode {
    // The flattened goose options bring goose's struct documentation along as
    // the long help's preamble; say what this program is instead.
    let command = Cli::command()
        .about("authlab's goose scenarios: session-browse[-think], jwt-browse[-think], jwt-refresh, baseline")
        .long_about(None);
    let cli = Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit());
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("loadtests: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    if let Some(host) = &cli.goose.host {
        let target = check_target(host, cli.allow_remote).map_err(|e| {
            format!("{e}; pass --allow-remote to send load to another host on purpose")
        })?;
        if target == Target::Remote {
            // Said before goose starts, so a wrong host can still be stopped with Ctrl-C.
            eprintln!("sending load to {host} (remote target allowed by --allow-remote)");
        }
    }
    let listing = cli.goose.list || cli.goose.scenarios_list;
    if cli.scenario.is_none() && cli.goose.scenarios.is_none() && !listing {
        // All six at once would send session requests and JWT requests to
        // one host: half of them would fail.
        return Err(format!(
            "pick a scenario with --scenario NAME, one of: {}",
            NAMES.join(", ")
        ));
    }
    let credentials = match cli.load_users {
        0 => Credentials::Demo,
        count => Credentials::LoadUsers {
            offset: cli.load_user_offset,
            count,
        },
    };
    let think = (
        Duration::from_millis(cli.think_min_ms),
        Duration::from_millis(cli.think_max_ms),
    );

    // With --scenario alone, register just that one, so goose's summary and
    // reports hold no empty rows for the other five; goose's --scenarios
    // (or --list) sees them all.
    let only = cli
        .scenario
        .clone()
        .filter(|_| cli.goose.scenarios.is_none() && !listing);
    let tally = Arc::new(Tally::new());
    let mut attack = GooseAttack::initialize_with_config(cli.goose).map_err(|e| e.to_string())?;
    for (name, stack, kind, thinks) in NAMED {
        if only.as_deref().is_some_and(|only| only != name) {
            continue;
        }
        let spec = ScenarioSpec {
            stack,
            kind,
            think_time: thinks.then_some(think),
            credentials: credentials.clone(),
            visit: loadtests::DEFAULT_VISIT,
        };
        attack =
            attack.register_scenario(scenarios::build(&spec, &tally).map_err(|e| e.to_string())?);
    }
    if let Some(name) = &cli.scenario {
        // A default, so goose's own --scenarios still wins when both are given.
        attack = *attack
            .set_default(GooseDefault::Scenarios, machine_name(name).as_str())
            .map_err(|e| e.to_string())?;
    }
    let result = attack.execute().await;

    let counts = tally.snapshot();
    println!("\n=== authlab ===");
    println!("responses per node (x-node):");
    for (node, count) in &counts.per_node {
        println!("  {node:<24} {count}");
    }
    println!(
        "logins {} (failed {}), re-logins after a 401 {}, refreshes {} (failed {})",
        counts.logins,
        counts.login_failures,
        counts.relogins,
        counts.refreshes,
        counts.refresh_failures
    );
    result.map(|_| ()).map_err(|e| e.to_string())
}
