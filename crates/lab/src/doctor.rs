//! `authlab doctor`: what this machine has, and what to install if not.

use std::process::Command;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Program {
    pub name: &'static str,
    pub needed_for: &'static str,
    pub version: Option<String>,
    pub install: &'static str,
}

fn version_of(program: &str, arg: &str) -> Option<String> {
    let output = Command::new(program).arg(arg).output().ok()?;
    let text = if output.stdout.is_empty() {
        output.stderr
    } else {
        output.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .next()
        .map(|l| l.trim().to_owned())
}

/// Every external program authlab runs.
pub fn programs() -> Vec<Program> {
    vec![
        Program {
            name: "redis-server",
            needed_for: "user directory and session store (clusters, tests)",
            version: version_of("redis-server", "--version"),
            install: "sudo apt-get install -y redis-server",
        },
        Program {
            name: "haproxy",
            needed_for: "the load balancer in front of every cluster",
            version: version_of("haproxy", "-v"),
            install: "sudo apt-get install -y haproxy",
        },
        Program {
            name: "wrk",
            needed_for: "capacity measurements",
            version: version_of("wrk", "--version").filter(|v| v.starts_with("wrk")),
            install: "sudo apt-get install -y wrk",
        },
        Program {
            name: "h2load",
            needed_for: "bytes on the wire per request over HTTP/1.1 and HTTP/2 (c9), kept-alive requests (c6)",
            version: version_of("h2load", "--version"),
            install: "sudo apt-get install -y nghttp2-client",
        },
        Program {
            name: "openssl",
            needed_for: "TLS handshakes at HAProxy, full and resumed (c6)",
            version: version_of("openssl", "version"),
            install: "sudo apt-get install -y openssl",
        },
    ]
}

/// Can we bind loopback ports at all (sandboxes sometimes cannot)?
pub fn loopback_ports_ok() -> bool {
    (0..3).all(|_| std::net::TcpListener::bind("127.0.0.1:0").is_ok())
}

/// A human report; `true` when everything needed is there.
pub fn report() -> (String, bool) {
    let mut out = String::new();
    let mut ok = true;
    for program in programs() {
        match &program.version {
            Some(version) => out.push_str(&format!("  ok       {:<13} {version}\n", program.name)),
            None => {
                ok = false;
                out.push_str(&format!(
                    "  MISSING  {:<13} needed for {}; install: {}\n",
                    program.name, program.needed_for, program.install
                ));
            }
        }
    }
    if loopback_ports_ok() {
        out.push_str("  ok       loopback      free ports can be bound on 127.0.0.1\n");
    } else {
        ok = false;
        out.push_str("  FAIL     loopback      cannot bind free ports on 127.0.0.1\n");
    }
    out.push_str(&format!(
        "  info     machine       {} cores, {}\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        std::env::consts::OS
    ));
    (out, ok)
}
