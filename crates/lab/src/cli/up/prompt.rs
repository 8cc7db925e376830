//! The prompt of `authlab up`: faults typed on stdin (`kill session-2`,
//! `store stop`, `latency 2ms`, …; `help` lists them), carried out on the
//! cluster by the task that owns it.
//!
//! Lines are read on a thread of their own ([`lines`]) and handled one at a
//! time ([`handle`]); a line that fails prints its error and the prompt goes
//! on, since a fault that could not be made is no reason to stop the cluster.

use std::time::Duration;

use anyhow::bail;
use lab::{Cluster, HostFault, Latency, Stack};

/// What `authlab up` does after a line.
pub enum Prompt {
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
  drain|activate HOST         (swarm) move a host's tasks elsewhere, or let it take tasks again
  cut|reconnect HOST          (swarm) take a host's containers off the cluster's networks, or put them back
  quit                        stop everything";

/// Lines typed at the prompt, read on a thread of its own. A read of a
/// terminal (or of a pipe nobody closes) never ends by itself: on tokio's
/// blocking pool it would hold the runtime, and so the process, open after
/// the cluster has stopped. A plain thread does not keep a process alive.
pub fn lines() -> tokio::sync::mpsc::Receiver<String> {
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

fn parse_node(cluster: &dyn Cluster, name: &str) -> anyhow::Result<(Stack, usize)> {
    for stack in [Stack::Session, Stack::Jwt] {
        if let Some(index) = cluster.nodes(stack).iter().position(|n| n.name == name) {
            return Ok((stack, index));
        }
    }
    bail!("no node named {name:?} (see `status`)")
}

pub async fn handle(cluster: &mut dyn Cluster, line: &str) -> anyhow::Result<Prompt> {
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
        [verb @ ("drain" | "activate" | "cut" | "reconnect"), host] => {
            let fault = match *verb {
                "drain" => HostFault::Drain,
                "activate" => HostFault::Activate,
                "cut" => HostFault::Cut,
                _ => HostFault::Reconnect,
            };
            cluster.host_fault(host, fault).await?;
            println!("{host}: {verb} done");
        }
        _ => println!("unknown command; try `help`"),
    }
    Ok(Prompt::Continue)
}
