//! `authlab up`: a cluster to try things on, until Ctrl-C.
//!
//! It starts, on the engine `--engine` names (processes on loopback by
//! default, or a Docker Swarm), the nodes of the chosen stacks behind
//! HAProxy, with a session store, a user directory and (unless
//! `--no-orders`) one orders service per variant the stacks and the signing
//! algorithm allow, then prints where everything is and how to log in with
//! curl ([`table`]).
//!
//! Then it waits, and while it waits it is the only owner of the cluster's
//! processes: faults typed at the prompt ([`prompt`]) and the web console's
//! buttons both come to this task to be carried out, one at a time. It stops
//! on Ctrl-C, SIGTERM, `quit` or a crashed node, and leaves nothing running;
//! a second Ctrl-C during the stop kills every process at once.

mod prompt;
mod table;

use std::{net::IpAddr, path::PathBuf, time::Duration};

use anyhow::{bail, Context};
use authlab_core::{telemetry, throttle::Switch};
use jwt_server::{RevocationMode, SigningAlgorithm};
use lab::{
    console::{Console, Controller, Request},
    experiment::EngineChoice,
    tls::Frontend,
    Balance, Cluster, ClusterSpec, Latency, OrdersVariant, Stack,
};
use session_server::StoreMode;
use tokio::{
    signal::unix::{signal, Signal, SignalKind},
    sync::mpsc,
};

use super::StackChoice;

#[derive(clap::Args)]
pub struct UpArgs {
    /// What runs the cluster: processes on this machine's loopback, or a
    /// stack on the Docker Swarm the docker CLI points at (the image
    /// authlab:$AUTHLAB_TAG, `local` by default).
    #[arg(long, value_enum, default_value = "local")]
    engine: EngineChoice,
    /// Nodes per stack.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    #[arg(long, value_enum, default_value = "both")]
    stack: StackChoice,
    #[arg(long, value_enum, default_value = "roundrobin")]
    balance: Balance,
    #[arg(long, value_enum, default_value = "redis")]
    session_store: StoreMode,
    /// JWT signing algorithm. ES256 by default because the orders gateway
    /// needs it: HAProxy 2.6's jwt_verify has no EdDSA.
    #[arg(long, value_enum, default_value = "ES256")]
    alg: SigningAlgorithm,
    #[arg(long, value_enum, default_value = "none")]
    revocation: RevocationMode,
    /// DPoP on the JWT nodes. `optional` by default: bearer logins work as
    /// ever, and a client that sends a proof gets a key-bound token (the demo
    /// of docs/dpop.md).
    #[arg(long, value_enum, default_value = "optional")]
    dpop: jwt_server::DpopMode,
    /// Start no orders service (by default one per variant: jwks,
    /// introspection, introspection-cached, gateway, as the stacks allow).
    #[arg(long)]
    no_orders: bool,
    /// Latency added to every round trip between the nodes and the session store.
    #[arg(long, default_value = "0ms", value_parser = humantime::parse_duration)]
    store_latency: Duration,
    /// Jitter (±) around --store-latency.
    #[arg(long, default_value = "0ms", value_parser = humantime::parse_duration)]
    store_jitter: Duration,
    /// Give the session store an append-only file, so a restart keeps sessions.
    #[arg(long)]
    store_persistence: bool,
    /// Load users to seed (user0 …), password `authlab-load`.
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Login throttling on the nodes, with their production defaults; `off`
    /// before pointing a load generator that logs in many users at the cluster.
    #[arg(long, value_enum, default_value = "on")]
    login_throttle: Switch,
    /// Terminate TLS at HAProxy, with a certificate from a CA generated for
    /// this cluster (its file is printed; pass it to `curl --cacert`). The
    /// session cookie is then marked Secure.
    #[arg(long)]
    tls: bool,
    /// Offer HTTP/2 in the TLS handshake (ALPN h2,http/1.1); needs --tls.
    #[arg(long, requires = "tls")]
    h2: bool,
    /// Port of the web console (0: any free port; the URL is printed first).
    #[arg(long, default_value_t = 0)]
    console_port: u16,
    /// Address the console listens on. Loopback by default: its buttons
    /// break the cluster, so only this machine should reach them.
    #[arg(long, default_value = "127.0.0.1")]
    console_bind: IpAddr,
    /// The run whose report the console's controls link to.
    #[arg(long, default_value = "reports/latest")]
    console_report: PathBuf,
    /// Names the console answers to besides loopback and its bind address
    /// (a `Host` naming anything else gets 421: DNS rebinding).
    #[arg(
        long = "console-host",
        env = "AUTHLAB_CONSOLE_HOSTS",
        value_delimiter = ','
    )]
    console_hosts: Vec<String>,
    /// Serve no console (the table and the prompt only).
    #[arg(long, conflicts_with_all = ["console_port", "console_bind"])]
    no_console: bool,
}

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    telemetry::init("warn,lab=info");
    let spec = spec(&args)?;
    // The programs doctor checks run here only on the local engine.
    if args.engine == EngineChoice::Local {
        let (doctor, ok) = lab::doctor::report();
        if !ok {
            eprint!("{doctor}");
            bail!("install what is missing first (or run ./scripts/setup.sh)");
        }
    }
    let engine = args.engine.connect().await?;

    // Listen for signals before anything is printed: a Ctrl-C that arrives
    // between the table and the first poll must not be lost (and a process
    // started with SIGINT ignored, as shells do for background jobs, must
    // still hear it).
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    eprintln!(
        "starting {} node(s) per stack on the {} engine …",
        spec.nodes,
        engine.name()
    );
    let mut cluster = engine.start(spec).await?;
    let (controller, requests) = Controller::channel();
    let console = if args.no_console {
        None
    } else {
        Some(start_console(&args, &*cluster, controller).await?)
    };
    table::print(&*cluster, console.as_ref());

    // First Ctrl-C: orderly shutdown. A second one during it: kill at once.
    let pids = cluster.pids();
    let dir = cluster.dir().to_owned();
    let console_open = console.is_some();
    let outcome = serve(
        &mut *cluster,
        &mut interrupt,
        &mut terminate,
        requests,
        console_open,
    )
    .await;
    kill_on_second_interrupt(interrupt, pids, dir);
    eprintln!("stopping the cluster (Ctrl-C again to kill at once) …");
    if let Some(console) = console {
        console.stop().await;
    }
    cluster.shutdown();
    eprintln!("stopped; nothing left running");
    outcome
}

/// The cluster the flags ask for; says on stderr which orders services are
/// left out, and why.
fn spec(args: &UpArgs) -> anyhow::Result<ClusterSpec> {
    let mut spec = ClusterSpec::new(super::launcher()?);
    spec.nodes = args.nodes;
    spec.stacks = super::stacks(args.stack);
    spec.balance = args.balance;
    spec.session_store = args.session_store;
    spec.alg = args.alg;
    spec.revocation = args.revocation;
    spec.jwt.dpop = Some(args.dpop);
    // Locally always through the proxy, so latency can be changed from the
    // prompt; the swarm engine runs no latency proxy.
    if args.engine == EngineChoice::Local {
        spec.store_latency = Some(Latency {
            delay: args.store_latency,
            jitter: args.store_jitter,
        });
    }
    spec.store_persistence = args.store_persistence;
    spec.seed_users = args.users;
    spec.login_throttle = args.login_throttle == Switch::On;
    spec.frontend = Frontend {
        tls: args.tls,
        h2: args.h2,
    };
    if args.engine != EngineChoice::Local {
        if args.tls || args.h2 {
            bail!(
                "the swarm engine's frontends speak clear text only; --tls and --h2 are local only"
            );
        }
        if !args.no_orders {
            eprintln!("not starting the orders services: the swarm engine runs none (local only)");
        }
    } else if !args.no_orders {
        let (variants, skipped) = orders_for(&spec.stacks, spec.alg);
        for reason in skipped {
            eprintln!("not starting {reason}");
        }
        spec.orders = variants;
    }
    Ok(spec)
}

/// The orders variants `authlab up` can start on these stacks, and why the
/// others are left out.
fn orders_for(stacks: &[Stack], alg: SigningAlgorithm) -> (Vec<OrdersVariant>, Vec<String>) {
    let mut variants = Vec::new();
    let mut skipped = Vec::new();
    for variant in OrdersVariant::ALL {
        let stack = variant.auth_stack();
        if !stacks.contains(&stack) {
            skipped.push(format!("orders {variant}: it needs the {stack} stack"));
        } else if let Some(reason) = (stack == Stack::Jwt)
            .then(|| variant.unsupported(alg))
            .flatten()
        {
            skipped.push(format!("orders {variant}: {reason}"));
        } else {
            variants.push(variant);
        }
    }
    (variants, skipped)
}

async fn start_console(
    args: &UpArgs,
    cluster: &dyn Cluster,
    controller: Controller,
) -> anyhow::Result<Console> {
    let config = lab::console::ConsoleConfig {
        bind: args.console_bind,
        port: args.console_port,
        report_dir: args.console_report.clone(),
        hosts: args.console_hosts.clone(),
    };
    let facts = lab::console::ClusterFacts::of(cluster)?;
    Ok(Console::start(config, facts, controller).await?)
}

/// Runs until a signal, `quit` or a crashed node, carrying out meanwhile
/// what the prompt and the console ask of the cluster.
async fn serve(
    cluster: &mut dyn Cluster,
    interrupt: &mut Signal,
    terminate: &mut Signal,
    mut requests: mpsc::Receiver<Request>,
    mut console_open: bool,
) -> anyhow::Result<()> {
    let mut lines = prompt::lines();
    let mut stdin_open = true;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = interrupt.recv() => break Ok(()),
            _ = terminate.recv() => break Ok(()),
            _ = tick.tick() => {
                if let Some(reason) = cluster.crashed() {
                    break Err(anyhow::anyhow!("stopping the cluster: {reason}"));
                }
            }
            // The console's controls: carried out here, by the task that
            // owns the cluster's processes.
            request = requests.recv(), if console_open => match request {
                Some(request) => {
                    let outcome = lab::console::carry_out(cluster, request.action).await;
                    let _ = request.reply.send(outcome);
                }
                None => console_open = false,
            },
            line = lines.recv(), if stdin_open => match line {
                Some(line) => match prompt::handle(cluster, line.trim()).await {
                    Ok(prompt::Prompt::Continue) => {}
                    Ok(prompt::Prompt::Quit) => break Ok(()),
                    Err(error) => eprintln!("error: {error}"),
                },
                // No terminal (or end of input): keep running until Ctrl-C.
                None => stdin_open = false,
            },
        }
    }
}

/// From here on a Ctrl-C means "now": the orderly stop may hang on a node
/// that will not die, and the user asked twice.
fn kill_on_second_interrupt(mut interrupt: Signal, pids: Vec<u32>, dir: PathBuf) {
    tokio::spawn(async move {
        if interrupt.recv().await.is_some() {
            eprintln!("\nkilling everything now");
            for pid in pids {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = std::fs::remove_dir_all(&dir);
            std::process::exit(130);
        }
    });
}
