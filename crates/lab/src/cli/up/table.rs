//! What `authlab up` prints once the cluster is up: where everything is,
//! then how to log in and call each stack with curl.
//!
//! The curl lines are meant to be pasted as they are, so they carry the
//! cluster's real URLs, the demo password and, behind TLS, the `--cacert` of
//! the CA generated for this cluster.

use std::path::PathBuf;

use authlab_core::directory::DEMO_PASSWORD;
use lab::{console::Console, Cluster, OrdersVariant, Stack};

pub fn print(cluster: &dyn Cluster, console: Option<&Console>) {
    let ca = addresses(cluster, console);
    let cacert = ca
        .map(|ca| format!(" --cacert {}", ca.display()))
        .unwrap_or_default();
    println!();
    println!("users: alice, bob (role user), carol (user, admin); password {DEMO_PASSWORD}");
    login_throttle(cluster);
    examples(cluster, &cacert);
    println!("\ntype `help` for faults (store stop, kill session-2, latency 2ms, …); Ctrl-C stops everything");
}

/// The WHAT / WHERE table; returns the CA file to trust, if the frontends
/// speak TLS.
fn addresses(cluster: &dyn Cluster, console: Option<&Console>) -> Option<PathBuf> {
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
    for variant in &cluster.spec().orders {
        if let Ok(url) = cluster.orders_url(*variant, "/orders") {
            println!("{:<32} {url}", format!("orders {variant}"));
        }
    }
    println!("{:<32} {}", "HAProxy stats", cluster.stats_url());
    let on = hosts_of(cluster);
    for stack in [Stack::Session, Stack::Jwt] {
        for node in cluster.nodes(stack) {
            println!(
                "{:<32} {}{}",
                format!("  node {}", node.name),
                node.url(""),
                on(&node.name)
            );
        }
    }
    for variant in &cluster.spec().orders {
        if let Some(node) = cluster.orders_node(*variant) {
            println!("{:<32} {}", format!("  node {}", node.name), node.url(""));
        }
    }
    println!(
        "{:<32} {}{}",
        "user directory",
        cluster.directory_url(),
        on("user directory")
    );
    println!(
        "{:<32} {} (sessions db 0, tokens db 1){}",
        "session store",
        cluster.store_url(0),
        on("session store")
    );
    println!("{:<32} {}", "logs and configs", cluster.dir().display());
    println!(
        "{:<32} {}",
        "frontends speak",
        cluster.spec().frontend.describe()
    );
    let ca = cluster.ca_file();
    if let Some(ca) = &ca {
        println!("{:<32} {}", "CA to trust (generated)", ca.display());
    }
    ca
}

/// ` (on HOST)` after a part, where the cluster's parts run on more than
/// one host (a swarm); nothing where they all share this one.
fn hosts_of(cluster: &dyn Cluster) -> impl Fn(&str) -> String {
    let placement = cluster.placement();
    let mut hosts: Vec<&str> = placement.iter().map(|p| p.host.as_str()).collect();
    hosts.sort_unstable();
    hosts.dedup();
    let several = hosts.len() > 1;
    move |part: &str| {
        placement
            .iter()
            .find(|p| several && p.part == part)
            .map(|p| format!("  (on {})", p.host))
            .unwrap_or_default()
    }
}

/// The limits a load test would run into, so whoever starts one knows to
/// turn them off first.
fn login_throttle(cluster: &dyn Cluster) {
    if cluster.spec().login_throttle {
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
}

/// curl lines for each stack and orders service that is running: the
/// session stack's cookie jar and the JWT stack's token are what the orders
/// examples then present.
fn examples(cluster: &dyn Cluster, cacert: &str) {
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
}
