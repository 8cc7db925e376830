//! `authlab`: run clusters of both stacks behind HAProxy, break them, measure them.

use std::{path::PathBuf, time::Duration};

use anyhow::{bail, Context};
use authlab_core::{directory::DEMO_PASSWORD, telemetry, throttle::Switch};
use clap::{Parser, Subcommand};
use jwt_server::{JwtServerConfig, RevocationMode, SigningAlgorithm};
use lab::{tls::Frontend, Balance, Cluster, ClusterSpec, Latency, OrdersVariant, Stack};
use session_server::{SessionServerConfig, StoreMode};
use tokio::signal::unix::{signal, SignalKind};

#[derive(Parser)]
#[command(
    version,
    about = "authlab: server-side sessions vs stateless tokens, measured"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a cluster on loopback and keep it running until Ctrl-C.
    Up(UpArgs),
    /// Check this machine has what authlab needs.
    Doctor,
    /// The experiments and the claims they answer.
    List,
    /// Run experiments and write reports/<run-id>/ (results.json, charts, report.md, report.html).
    Run(RunArgs),
    /// Run both stacks at a steady share of their capacity for N minutes and
    /// check that nothing fails and no process's memory grows
    /// (writes reports/soak-<run-id>/).
    Soak(SoakArgs),
    /// Judge a recorded soak again and rewrite its soak.md and charts from its soak.json.
    SoakReport {
        /// A soak directory, e.g. reports/soak-20261126-155914.
        dir: PathBuf,
    },
    /// How much CPU a login flood takes from /me traffic, login throttling off vs on
    /// (one node per setting and stack; about 2.5 minutes with the defaults).
    LoginFlood(FloodArgs),
    /// Re-render a run's report from its results.json, without re-running anything.
    Report {
        /// A run directory, e.g. reports/latest.
        dir: PathBuf,
    },
    /// One HTTP GET: exit status 0 iff the answer is 2xx (a container healthcheck).
    Probe(ProbeArgs),
    /// One-shot set-up of the docker-compose demo: seed users, write the
    /// shared cookie secret and JWT keys (only if absent) and HAProxy's config.
    ComposeInit(Box<lab::compose_init::ComposeInit>),
    /// Break the docker-compose demo on purpose: pause or crash the session
    /// store, drain or stop nodes through HAProxy (no Docker socket needed).
    Fault(lab::fault::FaultArgs),
    /// The web console over a deployment authlab did not start: the
    /// docker-compose demo (its `console` service runs this), driven through
    /// HAProxy's runtime API and the session store, no Docker socket.
    Console(Box<lab::console::compose::ComposeConsoleArgs>),
    /// A bounded goose run of the browse scenario against a deployment you
    /// name: requests, errors, req/s, p50/p99; fails if any request failed.
    Load(lab::load::LoadArgs),
    /// Run one server node (what `authlab up` starts for each node).
    #[command(hide = true)]
    Node {
        #[command(subcommand)]
        stack: NodeStack,
    },
}

#[derive(Subcommand)]
enum NodeStack {
    Session(Box<SessionServerConfig>),
    Jwt(Box<JwtServerConfig>),
    Orders(Box<orders_service::OrdersConfig>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum StackChoice {
    Session,
    Jwt,
    Both,
}

#[derive(clap::Args)]
struct ProbeArgs {
    /// What to GET, e.g. http://127.0.0.1:8080/ready.
    url: String,
    /// Longest the whole request may take, connect to last byte.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Short trials: every experiment, a few minutes in all.
    #[arg(long)]
    quick: bool,
    /// Only these experiments, by id (see `authlab list`), comma-separated.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Where run directories go.
    #[arg(long, default_value = "reports")]
    out: PathBuf,
    /// What --out is called outside this container (the compose `lab`
    /// service's bind mount), so the last lines name the report where the
    /// user will open it.
    #[arg(long, env = "AUTHLAB_OUT_ON_HOST")]
    out_on_host: Option<PathBuf>,
}

#[derive(clap::Args)]
struct SoakArgs {
    /// Minutes of load after the capacity run (the first one is the warm-up).
    #[arg(long, default_value_t = 30)]
    minutes: u32,
    /// Share of the measured capacity offered to each stack.
    #[arg(long, default_value_t = 0.7)]
    load: f64,
    /// Nodes per stack.
    #[arg(long, default_value_t = 2)]
    nodes: usize,
    /// goose users per stack.
    #[arg(long, default_value_t = 16)]
    users: usize,
    /// Where the soak's directory goes.
    #[arg(long, default_value = "reports")]
    out: PathBuf,
    /// Length of a "minute" (a window), for a short trial run of the soak itself.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration, hide = true)]
    window: Duration,
    /// Length of the capacity run.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration, hide = true)]
    capacity_run: Duration,
}

#[derive(clap::Args)]
struct FloodArgs {
    #[arg(long, value_enum, default_value = "both")]
    stack: StackChoice,
    /// Interleaved trials of every variant.
    #[arg(long, default_value_t = 3)]
    trials: usize,
    /// Length of each wrk run on /me (and of the flood beside it).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Wrong-password login attempts offered per second.
    #[arg(long, default_value_t = 500)]
    rate: u32,
    /// Most login attempts outstanding at once.
    #[arg(long, default_value_t = 100)]
    in_flight: usize,
    /// wrk connections on /me.
    #[arg(long, default_value_t = 64)]
    connections: u32,
    /// wrk threads on /me.
    #[arg(long, default_value_t = 2)]
    threads: u32,
    /// HTTP workers per node.
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

#[derive(clap::Args)]
struct UpArgs {
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
    console_bind: std::net::IpAddr,
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Doctor => {
            let (report, ok) = lab::doctor::report();
            print!("{report}");
            if !ok {
                bail!("something authlab needs is missing (see above)");
            }
            Ok(())
        }
        Command::List => {
            println!("{:<6} {:<10} TITLE", "ID", "CLAIMS");
            for experiment in lab::experiments::all() {
                println!(
                    "{:<6} {:<10} {}",
                    experiment.id(),
                    experiment.claims().join(","),
                    experiment.title()
                );
            }
            println!(
                "\n{:<6} {:<10} CLAIM ({} explains each)",
                "CLAIM",
                "ANSWERED BY",
                lab::claims::DOC
            );
            for claim in &lab::claims::CLAIMS {
                println!(
                    "{:<6} {:<10} {}",
                    claim.id,
                    claim.experiment.unwrap_or("(none yet)"),
                    claim.statement
                );
            }
            Ok(())
        }
        Command::Run(args) => {
            // goose logs one warning per failed request; an outage experiment fails thousands on purpose.
            telemetry::init("warn,goose=error");
            let dir = lab::experiments::run(&args.only, args.quick, &args.out, launcher()?).await?;
            let results = lab::results::RunResults::read(&dir)?;
            for row in lab::claims::rows(&results) {
                println!("{:<4} {}", row.claim, row.verdict.label());
            }
            let shown = match (&args.out_on_host, dir.file_name()) {
                (Some(host), Some(run)) => host.join(run),
                _ => dir.clone(),
            };
            println!("report: {}", shown.join("report.html").display());
            println!("        {}", shown.join("report.md").display());
            Ok(())
        }
        Command::Soak(args) => {
            telemetry::init("warn,goose=error");
            soak(args).await
        }
        Command::SoakReport { dir } => {
            let checks = lab::soak::rerender(&dir)?;
            print_checks(&checks);
            println!("re-rendered {}", dir.join("soak.md").display());
            Ok(())
        }
        Command::LoginFlood(args) => {
            telemetry::init("warn");
            let spec = lab::flood::FloodSpec {
                stacks: stacks(args.stack),
                trials: args.trials,
                duration: args.duration,
                rate: args.rate,
                in_flight: args.in_flight,
                connections: args.connections,
                threads: args.threads,
                workers: args.workers,
                launcher: launcher()?,
            };
            let report = lab::flood::run(spec).await?;
            print!("{}", report.render());
            Ok(())
        }
        Command::Report { dir } => {
            let results = lab::results::RunResults::read(&dir)?;
            lab::report::render(&results, &dir)?;
            println!("re-rendered {}", dir.join("report.html").display());
            Ok(())
        }
        Command::Probe(args) => match lab::probe::probe(&args.url, args.timeout).await {
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
        },
        Command::ComposeInit(init) => {
            telemetry::init("warn,lab=info");
            for line in init.run().await? {
                println!("{line}");
            }
            Ok(())
        }
        Command::Fault(fault) => {
            telemetry::init("warn");
            for line in fault.run()? {
                println!("{line}");
            }
            Ok(())
        }
        Command::Load(args) => {
            telemetry::init("warn,goose=error");
            let plan = args.plan();
            match plan.validate() {
                Err(error @ loadtests::LoadError::NotLoopback { .. }) => {
                    bail!("{error}; pass --allow-remote to load another host on purpose")
                }
                other => other?,
            }
            if loadtests::check_target(&plan.host, plan.allow_remote)? == loadtests::Target::Remote
            {
                // Before any load: a wrong host can still be stopped with Ctrl-C.
                eprintln!(
                    "sending load to {} (remote target allowed by --allow-remote)",
                    plan.host
                );
            }
            let report = lab::load::run(&plan).await?;
            print!("{}", lab::load::render(&report));
            lab::load::judge(&report)?;
            Ok(())
        }
        Command::Node { stack } => {
            telemetry::init("warn");
            run_node(stack).await
        }
        Command::Up(args) => {
            telemetry::init("warn,lab=info");
            up(args).await
        }
        Command::Console(args) => {
            telemetry::init("warn,lab=info");
            console(*args).await
        }
    }
}

async fn console(args: lab::console::compose::ComposeConsoleArgs) -> anyhow::Result<()> {
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    eprintln!(
        "waiting for HAProxy at {} to name the nodes …",
        args.haproxy_api
    );
    let facts = args.facts().await?;
    let config = lab::console::ConsoleConfig {
        bind: args.bind,
        port: args.port,
        report_dir: args.report.clone(),
        hosts: args.hosts.clone(),
    };
    let console = lab::console::Console::start(config, facts, args.controller()).await?;
    println!("console listening on {}", console.url());
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    console.stop().await;
    Ok(())
}

async fn run_node(stack: NodeStack) -> anyhow::Result<()> {
    match stack {
        NodeStack::Session(mut config) => {
            config.node.handle_signals = true;
            session_server::Application::build(*config)
                .await?
                .run_until_stopped()
                .await?;
        }
        NodeStack::Jwt(mut config) => {
            config.node.handle_signals = true;
            jwt_server::Application::build(*config)
                .await?
                .run_until_stopped()
                .await?;
        }
        NodeStack::Orders(mut config) => {
            config.handle_signals = true;
            orders_service::Application::build(*config)
                .await?
                .run_until_stopped()
                .await?;
        }
    }
    Ok(())
}

async fn soak(args: SoakArgs) -> anyhow::Result<()> {
    let mut plan = lab::soak::SoakPlan::new(args.minutes);
    plan.load = args.load;
    plan.nodes = args.nodes;
    plan.users = args.users;
    plan.window = args.window;
    plan.capacity_run = args.capacity_run;
    let (dir, checks) = lab::soak::run(plan, launcher()?, &args.out).await?;
    print_checks(&checks);
    println!("soak: {}", dir.join("soak.md").display());
    if !lab::soak::judge::passed(&checks) {
        bail!("the soak failed (see the checks above)");
    }
    Ok(())
}

fn print_checks(checks: &[lab::soak::Check]) {
    for check in checks {
        println!(
            "{:<10} {} ({})",
            check.status.label(),
            check.what,
            check.detail
        );
    }
}

fn stacks(choice: StackChoice) -> Vec<Stack> {
    match choice {
        StackChoice::Session => vec![Stack::Session],
        StackChoice::Jwt => vec![Stack::Jwt],
        StackChoice::Both => vec![Stack::Session, Stack::Jwt],
    }
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

fn launcher() -> anyhow::Result<PathBuf> {
    std::env::current_exe().context("locating the authlab binary")
}

async fn up(args: UpArgs) -> anyhow::Result<()> {
    let mut spec = ClusterSpec::new(launcher()?);
    spec.nodes = args.nodes;
    spec.stacks = stacks(args.stack);
    spec.balance = args.balance;
    spec.session_store = args.session_store;
    spec.alg = args.alg;
    spec.revocation = args.revocation;
    spec.jwt_args.extend([
        "--dpop".to_owned(),
        match args.dpop {
            jwt_server::DpopMode::Off => "off",
            jwt_server::DpopMode::Optional => "optional",
            jwt_server::DpopMode::Required => "required",
        }
        .to_owned(),
    ]);
    // Always through the proxy, so latency can be changed from the prompt.
    spec.store_latency = Some(Latency {
        delay: args.store_latency,
        jitter: args.store_jitter,
    });
    spec.store_persistence = args.store_persistence;
    spec.seed_users = args.users;
    spec.login_throttle = args.login_throttle == Switch::On;
    spec.frontend = Frontend {
        tls: args.tls,
        h2: args.h2,
    };
    if !args.no_orders {
        let (variants, skipped) = orders_for(&spec.stacks, spec.alg);
        for reason in skipped {
            eprintln!("not starting {reason}");
        }
        spec.orders = variants;
    }
    let (doctor, ok) = lab::doctor::report();
    if !ok {
        eprint!("{doctor}");
        bail!("install what is missing first (or run ./scripts/setup.sh)");
    }

    // Listen for signals before anything is printed: a Ctrl-C that arrives
    // between the table and the first poll must not be lost (and a process
    // started with SIGINT ignored, as shells do for background jobs, must
    // still hear it).
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    eprintln!("starting {} node(s) per stack …", spec.nodes);
    let mut cluster = Cluster::start(spec).await?;
    let (controller, mut requests) = lab::console::Controller::channel();
    let console = if args.no_console {
        None
    } else {
        let config = lab::console::ConsoleConfig {
            bind: args.console_bind,
            port: args.console_port,
            report_dir: args.console_report.clone(),
            hosts: args.console_hosts.clone(),
        };
        let facts = lab::console::ClusterFacts::of(&cluster)?;
        Some(lab::console::Console::start(config, facts, controller).await?)
    };
    let mut console_open = console.is_some();
    print_table(&cluster, console.as_ref());

    // First Ctrl-C: orderly shutdown. A second one during it: kill at once.
    let pids = cluster.pids();
    let dir = cluster.dir().to_owned();
    let mut lines = prompt_lines();
    let mut stdin_open = true;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let outcome = loop {
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
                    let outcome = lab::console::carry_out(&mut cluster, request.action).await;
                    let _ = request.reply.send(outcome);
                }
                None => console_open = false,
            },
            line = lines.recv(), if stdin_open => match line {
                Some(line) => match handle(&mut cluster, line.trim()).await {
                    Ok(Prompt::Continue) => {}
                    Ok(Prompt::Quit) => break Ok(()),
                    Err(error) => eprintln!("error: {error}"),
                },
                // No terminal (or end of input): keep running until Ctrl-C.
                None => stdin_open = false,
            },
        }
    };
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
    eprintln!("stopping the cluster (Ctrl-C again to kill at once) …");
    if let Some(console) = console {
        console.stop().await;
    }
    cluster.shutdown();
    eprintln!("stopped; nothing left running");
    outcome
}

/// Lines typed at the prompt, read on a thread of its own. A read of a
/// terminal (or of a pipe nobody closes) never ends by itself: on tokio's
/// blocking pool it would hold the runtime, and so the process, open after
/// the cluster has stopped. A plain thread does not keep a process alive.
fn prompt_lines() -> tokio::sync::mpsc::Receiver<String> {
    let (lines, receiver) = tokio::sync::mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if lines.blocking_send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

fn print_table(cluster: &Cluster, console: Option<&lab::console::Console>) {
    println!();
    println!("{:<32} WHERE", "WHAT");
    if let Some(console) = console {
        println!("{:<32} {}", "console (open in a browser)", console.url());
    }
    for stack in [Stack::Session, Stack::Jwt] {
        if let Ok(url) = cluster.url(stack, "") {
            println!("{:<32} {url}", format!("{stack} stack (HAProxy)"));
        }
    }
    for variant in &cluster.spec.orders {
        if let Ok(url) = cluster.orders_url(*variant, "/orders") {
            println!("{:<32} {url}", format!("orders {variant}"));
        }
    }
    println!("{:<32} {}", "HAProxy stats", cluster.stats_url());
    for stack in [Stack::Session, Stack::Jwt] {
        for node in cluster.nodes(stack) {
            println!("{:<32} {}", format!("  node {}", node.name), node.url(""));
        }
    }
    for variant in &cluster.spec.orders {
        if let Some(node) = cluster.orders_node(*variant) {
            println!("{:<32} {}", format!("  node {}", node.name), node.url(""));
        }
    }
    println!("{:<32} {}", "user directory", cluster.directory_url());
    println!(
        "{:<32} {} (sessions db 0, tokens db 1)",
        "session store",
        cluster.store_url(0)
    );
    println!("{:<32} {}", "logs and configs", cluster.dir().display());
    println!(
        "{:<32} {}",
        "frontends speak",
        cluster.spec.frontend.describe()
    );
    let ca = cluster.ca_file();
    if let Some(ca) = &ca {
        println!("{:<32} {}", "CA to trust (generated)", ca.display());
    }
    let cacert = ca
        .map(|ca| format!(" --cacert {}", ca.display()))
        .unwrap_or_default();
    println!();
    println!("users: alice, bob (role user), carol (user, admin); password {DEMO_PASSWORD}");
    if cluster.spec.login_throttle {
        let limits = authlab_core::throttle::LoginThrottleArgs::default();
        println!(
            "login throttling on: {} attempts per client address, then 1 per {}; {} per username, then 1 per {} \
             (429 + Retry-After); `authlab up --login-throttle off` before a load test",
            limits.login_client_burst,
            humantime::format_duration(limits.login_client_period),
            limits.login_user_burst,
            humantime::format_duration(limits.login_user_period),
        );
    } else {
        println!("login throttling off");
    }
    if let Ok(url) = cluster.url(Stack::Session, "") {
        println!("\n# session stack: the cookie jar carries the session id");
        println!("curl{cacert} -s -c jar -H 'content-type: application/json' -d '{{\"username\":\"alice\",\"password\":\"{DEMO_PASSWORD}\"}}' {url}/login");
        println!("curl{cacert} -si -b jar {url}/me | grep -E 'x-node|user'");
    }
    if let Ok(url) = cluster.url(Stack::Jwt, "") {
        println!("\n# JWT stack: the token is the credential");
        println!("token=$(curl{cacert} -s -H 'content-type: application/json' -d '{{\"username\":\"alice\",\"password\":\"{DEMO_PASSWORD}\"}}' {url}/login | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')");
        println!(
            "curl{cacert} -si -H \"authorization: Bearer $token\" {url}/me | grep -E 'x-node|user'"
        );
    }
    let orders = |variant| cluster.orders_url(variant, "/orders").ok();
    if let Some(url) = orders(OrdersVariant::Introspection) {
        println!("\n# orders, asking the session stack per request (/introspect): the cookie's value as Bearer");
        println!(
            "curl{cacert} -si -H \"authorization: Bearer $(grep authlab_session jar | cut -f7)\" {url}"
        );
    }
    for variant in [OrdersVariant::Jwks, OrdersVariant::Gateway] {
        if let Some(url) = orders(variant) {
            println!("\n# orders {variant}: the access token");
            println!("curl{cacert} -si -H \"authorization: Bearer $token\" {url}");
        }
    }
    println!("\ntype `help` for faults (store stop, kill session-2, latency 2ms, …); Ctrl-C stops everything");
}

enum Prompt {
    Continue,
    Quit,
}

const HELP: &str = "\
  status                      HAProxy's view: per-node state and request counts
  store stop|start|restart    stop/start the session store (data survives only with --store-persistence)
  kill NODE                   SIGKILL a node, e.g. `kill session-2`
  restart NODE                start a killed node again
  maint NODE on|off           drain a node through HAProxy, or return it
  latency DELAY [JITTER]      store round-trip latency, e.g. `latency 2ms 0.5ms`; `latency 0ms` to remove
  quit                        stop everything";

fn parse_node(cluster: &Cluster, name: &str) -> anyhow::Result<(Stack, usize)> {
    for stack in [Stack::Session, Stack::Jwt] {
        if let Some(index) = cluster.nodes(stack).iter().position(|n| n.name == name) {
            return Ok((stack, index));
        }
    }
    bail!("no node named {name:?} (see `status`)")
}

async fn handle(cluster: &mut Cluster, line: &str) -> anyhow::Result<Prompt> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        [] => {}
        ["help"] | ["?"] => println!("{HELP}"),
        ["quit"] | ["exit"] => return Ok(Prompt::Quit),
        ["status"] => {
            println!(
                "{:<16} {:<10} {:>10} {:>10}",
                "node", "state", "selected", "responses"
            );
            for server in cluster.stats()? {
                println!(
                    "{:<16} {:<10} {:>10} {:>10}",
                    server.server, server.status, server.selected, server.responses
                );
            }
            if let Some(latency) = cluster.store_latency() {
                println!("store latency: {:?} ± {:?}", latency.delay, latency.jitter);
            }
        }
        ["store", "stop"] => {
            cluster.stop_store();
            println!("session store stopped");
        }
        ["store", "start"] => {
            cluster.start_store()?;
            println!("session store started");
        }
        ["store", "restart"] => {
            cluster.restart_store()?;
            println!("session store restarted");
        }
        ["kill", name] => {
            let (stack, index) = parse_node(cluster, name)?;
            cluster.kill_node(stack, index)?;
            println!("{name} killed; HAProxy marks it down within a second");
        }
        ["restart", name] => {
            let (stack, index) = parse_node(cluster, name)?;
            cluster.restart_node(stack, index).await?;
            println!("{name} is back");
        }
        ["maint", name, state @ ("on" | "off")] => {
            let (stack, index) = parse_node(cluster, name)?;
            cluster.set_maintenance(stack, index, *state == "on")?;
            println!("{name} maintenance {state}");
        }
        ["latency", delay, rest @ ..] => {
            let delay = humantime::parse_duration(delay)?;
            let jitter = match rest {
                [jitter] => humantime::parse_duration(jitter)?,
                _ => Duration::ZERO,
            };
            cluster.set_store_latency(Latency { delay, jitter })?;
            println!("store latency now {delay:?} ± {jitter:?}");
        }
        _ => println!("unknown command; try `help`"),
    }
    Ok(Prompt::Continue)
}
