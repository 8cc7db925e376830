//! What a connection costs at the load balancer, beside what a credential
//! check costs at a node (part of c6).
//!
//! C6 compares a signature check with a store lookup, a few microseconds
//! each. A deployed API has a third cost in the same request path that the
//! articles leave out: TLS ends at the load balancer, and a client that
//! opens a new connection pays a handshake there first. Whether a
//! signature check matters depends on how it compares with that.
//!
//! So this measures HAProxy's own CPU time (from /proc, its one thread) per
//! operation, for a TLS frontend in front of one JWT node:
//!
//! * a **new connection with a full handshake**, then one request
//!   (`openssl s_time -new`);
//! * a **new connection that resumes** an earlier session (TLS 1.3 ticket,
//!   `openssl s_time -reuse`): cheaper, as no certificate is signed;
//! * a **request on a kept-alive connection**, over HTTP/1.1 and HTTP/2
//!   (`h2load`, one connection): no handshake at all.
//!
//! Every figure includes forwarding the request to the node; the
//! difference between a new connection and a kept-alive request is what
//! the handshake itself adds. Variants are interleaved across trials, like
//! the rest of c6. Both clients check their own results before a figure is
//! used: `s_time` must have read an answer on every connection and resumed
//! (or not) as told, h2load must report every request answered 2xx.

use std::process::Command;

use serde::Serialize;

use crate::experiment::RunContext;
use crate::kit::err;
use crate::kit::schedule;
use crate::{
    h2load::{H2load, HttpVersion},
    summaries::Spread,
    tls::Frontend,
    Cluster, LabError, Stack,
};

/// How a request reaches HAProxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Connection {
    FullHandshake,
    Resumed,
    KeptAliveHttp1,
    KeptAliveHttp2,
}

impl Connection {
    pub const ALL: [Connection; 4] = [
        Connection::FullHandshake,
        Connection::Resumed,
        Connection::KeptAliveHttp1,
        Connection::KeptAliveHttp2,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Connection::FullHandshake => "new TLS connection, full handshake, 1 request",
            Connection::Resumed => "new TLS connection, resumed session, 1 request",
            Connection::KeptAliveHttp1 => "request on a kept-alive TLS connection, HTTP/1.1",
            Connection::KeptAliveHttp2 => "request on a kept-alive TLS connection, HTTP/2",
        }
    }
}

/// HAProxy's CPU per operation of each [`Connection`], over trials.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionCosts {
    /// Microseconds of HAProxy CPU per operation, per trial, in
    /// [`Connection::ALL`] order.
    pub micros: Vec<Vec<f64>>,
    /// Operations counted per trial, same order.
    pub operations: Vec<Vec<u64>>,
    /// The TLS version and cipher `s_time` reported, when it did.
    pub cipher: Option<String>,
}

impl ConnectionCosts {
    /// The per-trial figures of `connection`.
    fn micros_of(&self, connection: Connection) -> &[f64] {
        Connection::ALL
            .iter()
            .position(|c| *c == connection)
            .and_then(|index| self.micros.get(index))
            .map_or(&[], Vec::as_slice)
    }

    pub fn spread(&self, connection: Connection) -> Spread {
        Spread::of(self.micros_of(connection))
    }

    /// What a handshake adds to a request, per trial: the new connection's
    /// cost minus the HTTP/1.1 kept-alive request's of the same trial.
    pub fn handshake_extra(&self, connection: Connection) -> Spread {
        let extra: Vec<f64> = self
            .micros_of(connection)
            .iter()
            .zip(self.micros_of(Connection::KeptAliveHttp1))
            .map(|(with, without)| with - without)
            .collect();
        Spread::of(&extra)
    }
}

/// CPU time of every thread of `pid`, in nanoseconds, from
/// `/proc/<pid>/task/*/schedstat` (the scheduler's own account, exact to
/// the nanosecond, where /proc/<pid>/stat counts 10 ms ticks).
pub fn cpu_nanos(pid: u32) -> Result<u64, LabError> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map_err(|e| err(format!("HAProxy's threads (pid {pid}): {e}")))?;
    let mut total = 0;
    for task in tasks.flatten() {
        let text = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        total += text
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Ok(total)
}

/// What `openssl s_time` reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct STime {
    pub connections: u64,
    /// Connections marked `r` (session resumed) in its progress line.
    pub resumed: u64,
    /// Connections marked `*` (new session).
    pub new_sessions: u64,
    pub bytes_per_connection: u64,
}

/// Parses `s_time`'s output: one progress mark per connection, then
/// `N connections in T real seconds, B bytes read per connection`.
pub fn parse_s_time(output: &str) -> Result<STime, LabError> {
    let summary = output
        .lines()
        .find(|l| l.contains("connections in") && l.contains("real seconds"))
        .ok_or_else(|| err(format!("s_time printed no summary: {}", tail(output))))?;
    let words: Vec<&str> = summary.split_whitespace().collect();
    let number = |i: usize| words.get(i).and_then(|w| w.parse::<u64>().ok());
    let connections = number(0).ok_or_else(|| err(format!("s_time: {summary}")))?;
    let bytes_per_connection = words
        .iter()
        .position(|w| *w == "bytes")
        .and_then(|i| i.checked_sub(1))
        .and_then(number)
        .ok_or_else(|| err(format!("s_time: {summary}")))?;
    let marks = output
        .lines()
        .filter(|l| !l.is_empty() && l.chars().all(|c| c == 'r' || c == '*'))
        .collect::<String>();
    Ok(STime {
        connections,
        resumed: marks.matches('r').count() as u64,
        new_sessions: marks.matches('*').count() as u64,
        bytes_per_connection,
    })
}

fn tail(text: &str) -> String {
    let start = text.len().saturating_sub(300);
    text.get(start..).unwrap_or(text).trim().to_owned()
}

/// `openssl s_time` for `seconds` against `address`, each connection
/// fetching `path` with HTTP/1.0 and closing.
fn s_time(address: &str, resume: bool, seconds: u64, path: &str) -> Result<STime, LabError> {
    let output = Command::new("timeout")
        .arg((seconds + 20).to_string())
        .args(["openssl", "s_time", "-connect", address])
        .arg(if resume { "-reuse" } else { "-new" })
        .args(["-www", path, "-time"])
        .arg(seconds.to_string())
        .output()
        .map_err(|e| {
            LabError::Missing(format!(
                "openssl ({e}); install it with: sudo apt-get install -y openssl"
            ))
        })?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(err(format!(
            "openssl s_time exited with {}: {}{}",
            output.status,
            tail(&text),
            tail(&String::from_utf8_lossy(&output.stderr))
        )));
    }
    // With -reuse, s_time first times new sessions, then resumed ones: the
    // second block is the one asked for.
    let part = if resume {
        text.rsplit_once("Now timing with session id reuse.")
            .map_or(text.as_ref(), |(_, after)| after)
    } else {
        text.split("Now timing with session id reuse.")
            .next()
            .unwrap_or_default()
    };
    parse_s_time(part)
}

/// Checks a `s_time` run before its count is used: every connection got an
/// answer, and resumed (or not) as the variant says.
pub fn check_s_time(run: &STime, resume: bool, min_answer_bytes: u64) -> Result<(), LabError> {
    if run.connections == 0 {
        return Err(err("s_time made no connection"));
    }
    if run.bytes_per_connection < min_answer_bytes {
        return Err(err(format!(
            "s_time read {} bytes per connection, fewer than one answer ({min_answer_bytes}): requests failed",
            run.bytes_per_connection
        )));
    }
    let (expected, other) = if resume {
        (run.resumed, run.new_sessions)
    } else {
        (run.new_sessions, run.resumed)
    };
    // The first connection of a resuming run may be marked either way.
    if other > 1 || expected + other < run.connections.saturating_sub(1) {
        return Err(err(format!(
            "s_time {}: {} of {} connections resumed, {} new: not the variant asked for",
            if resume { "-reuse" } else { "-new" },
            run.resumed,
            run.connections,
            run.new_sessions
        )));
    }
    Ok(())
}

/// `s_time`'s cipher line, e.g. "TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384".
fn cipher(address: &str) -> Option<String> {
    let output = Command::new("timeout")
        .args(["10", "openssl", "s_client", "-connect", address, "-brief"])
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    let protocol = text
        .lines()
        .find_map(|l| l.strip_prefix("Protocol version: "))?;
    let suite = text.lines().find_map(|l| l.strip_prefix("Ciphersuite: "))?;
    Some(format!("{protocol}, {suite}"))
}

/// Measures [`Connection::ALL`] at HAProxy in a cluster of its own.
pub async fn measure(ctx: &RunContext, trials: usize) -> Result<ConnectionCosts, LabError> {
    let mut spec = ctx.spec();
    spec.nodes = 1;
    spec.stacks = vec![Stack::Jwt];
    spec.seed_users = 0;
    spec.frontend = Frontend {
        tls: true,
        h2: true,
    };
    ctx.variant("starting a cluster with TLS at HAProxy");
    let cluster = ctx.cluster(spec).await?;
    let result = measure_on(&*cluster, ctx, trials).await;
    cluster.shutdown();
    result
}

async fn measure_on(
    cluster: &dyn Cluster,
    ctx: &RunContext,
    trials: usize,
) -> Result<ConnectionCosts, LabError> {
    let pid = cluster
        .haproxy_pid()
        .ok_or_else(|| err("HAProxy is not running"))?;
    let address = format!("127.0.0.1:{}", cluster.frontend_port(Stack::Jwt)?);
    let url = cluster.url(Stack::Jwt, "/health")?;
    let (seconds, requests) = if ctx.quick { (1, 2_000) } else { (2, 5_000) };
    // The node's /health answer with its headers, through HAProxy.
    let min_answer = 100;
    let measured = schedule::run(
        ctx,
        &Connection::ALL,
        trials,
        |c| c.label().to_owned(),
        async |connection, _trial| {
            let address = address.clone();
            let url = url.clone();
            let connection = *connection;
            tokio::task::spawn_blocking(move || {
                let before = cpu_nanos(pid)?;
                let operations = match connection {
                    Connection::FullHandshake | Connection::Resumed => {
                        let resume = connection == Connection::Resumed;
                        let run = s_time(&address, resume, seconds, "/health")?;
                        check_s_time(&run, resume, min_answer)?;
                        run.connections
                    }
                    Connection::KeptAliveHttp1 | Connection::KeptAliveHttp2 => {
                        let report = H2load {
                            url,
                            version: if connection == Connection::KeptAliveHttp1 {
                                HttpVersion::Http1
                            } else {
                                HttpVersion::Http2
                            },
                            requests,
                            headers: Vec::new(),
                        }
                        .run()?;
                        if report.status_2xx != u64::from(requests) {
                            return Err(err(format!(
                                "h2load: {} of {requests} requests answered 2xx ({report:?})",
                                report.status_2xx
                            )));
                        }
                        u64::from(requests)
                    }
                };
                let cpu = cpu_nanos(pid)?.saturating_sub(before);
                Ok::<(f64, u64), LabError>((
                    cpu as f64 / 1e3 / operations.max(1) as f64,
                    operations,
                ))
            })
            .await
            .map_err(err)?
        },
    )
    .await?;
    let micros = (0..Connection::ALL.len())
        .map(|i| schedule::figure(&measured, i, |m| m.0))
        .collect();
    let operations = (0..Connection::ALL.len())
        .map(|i| {
            schedule::of_variant(&measured, i)
                .into_iter()
                .map(|m| m.1)
                .collect()
        })
        .collect();
    Ok(ConnectionCosts {
        micros,
        operations,
        cipher: cipher(&address),
    })
}

/// A handshake this many times a signature check or more "dwarfs" it.
pub const DWARFS: f64 = 10.0;

/// A figure as the prose prints it with one decimal.
fn tenths(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

fn micros(s: &Spread) -> String {
    if (s.max - s.min).abs() < 0.5 {
        format!("{:.0}", s.median)
    } else {
        format!("{:.0} ({:.0}–{:.0})", s.median, s.min, s.max)
    }
}

impl ConnectionCosts {
    /// The table c6 shows: HAProxy's CPU per operation of each connection kind.
    pub fn table(&self, trials: usize) -> crate::results::Table {
        crate::results::Table {
            title: format!(
                "HAProxy's CPU per operation at a TLS frontend{} (µs, median and min–max over {trials} interleaved trials; every figure includes forwarding one request to the node)",
                self.cipher
                    .as_ref()
                    .map_or(String::new(), |c| format!(" ({c})"))
            ),
            columns: ["how the request arrived", "HAProxy CPU µs", "handshake's share µs", "operations per trial"]
                .map(String::from)
                .to_vec(),
            rows: Connection::ALL
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let extra = match c {
                        Connection::FullHandshake | Connection::Resumed => {
                            micros(&self.handshake_extra(*c))
                        }
                        _ => "—".into(),
                    };
                    let counts = self.operations.get(i).cloned().unwrap_or_default();
                    vec![
                        c.label().to_owned(),
                        micros(&self.spread(*c)),
                        extra,
                        counts
                            .iter()
                            .map(u64::to_string)
                            .collect::<Vec<_>>()
                            .join(", "),
                    ]
                })
                .collect(),
        }
    }

    /// Sets the handshake beside the signature checks' CPU (`(alg, µs)`
    /// medians, measured by c6 in the same run); every number from the run.
    pub fn sentence(&self, verify_cpu: &[(&str, f64)], lookup_cpu: Option<f64>) -> String {
        let full = self.handshake_extra(Connection::FullHandshake);
        let resumed = self.handshake_extra(Connection::Resumed);
        let mut text = format!(
            "At the load balancer, a new TLS connection cost HAProxy {} µs of CPU with a full handshake and {} µs when it resumed a session, against {} µs (HTTP/1.1) and {} µs (HTTP/2) for a request on a kept-alive connection: the full handshake adds {} µs, a resumed one {} µs.",
            micros(&self.spread(Connection::FullHandshake)),
            micros(&self.spread(Connection::Resumed)),
            micros(&self.spread(Connection::KeptAliveHttp1)),
            micros(&self.spread(Connection::KeptAliveHttp2)),
            micros(&full),
            micros(&resumed),
        );
        let positive = verify_cpu.iter().filter(|(_, v)| *v > 0.0);
        let costliest = positive.clone().max_by(|a, b| a.1.total_cmp(&b.1));
        let cheapest = positive.min_by(|a, b| a.1.total_cmp(&b.1));
        if let (Some(high), Some(low)) = (costliest, cheapest) {
            // Each ratio from the figures as the sentence prints them, so a
            // reader dividing the printed numbers gets the printed ratio.
            let handshake = full.median.round();
            let (high_shown, low_shown) = (tenths(high.1), tenths(low.1));
            let ratio = |check: f64| {
                if check > 0.0 {
                    handshake / check
                } else {
                    f64::INFINITY
                }
            };
            let (to_high, to_low) = (ratio(high_shown), ratio(low_shown));
            text += &format!(
                " That handshake ({handshake:.0} µs) is {to_high:.0}x the CPU of the costliest signature check above ({} {high_shown:.1} µs) and {to_low:.0}x the cheapest ({} {low_shown:.1} µs).",
                high.0, low.0
            );
            if let Some(lookup) = lookup_cpu.filter(|l| *l > 0.0) {
                let lookup = tenths(lookup);
                text += &format!(
                    " It is {:.0}x the CPU of a store lookup ({lookup:.1} µs).",
                    handshake / lookup
                );
            }
            text += &if to_high >= DWARFS {
                format!(
                    " At {to_high:.0}x the costliest check (this lab says \"dwarfs\" from {DWARFS:.0}x), the handshake dwarfs every signature check for a client that opens a new connection per request; with kept-alive connections it is paid once per connection, and the check or the lookup is what each request adds."
                )
            } else if to_low >= DWARFS {
                format!(
                    " The handshake is {to_low:.0}x the cheapest check but only {to_high:.0}x the costliest (under the {DWARFS:.0}x this lab calls \"dwarfs\")."
                )
            } else {
                format!(
                    " The handshake and the signature checks are of the same order here (under {DWARFS:.0}x apart)."
                )
            };
            // The handshake sits in front of both stacks: it weighs on the
            // connection, not on the choice of credential.
            text += " Both stacks pay the handshake alike: HAProxy completes it before any credential is read, so it is a cost of the connection, not of sessions or JWTs.";
        }
        text
    }
}

/// How many trials c6's connection costs run.
pub const TRIALS: schedule::Trials = schedule::Trials::new(3, 5);

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: &str = "Collecting connection statistics for 1 seconds\n\
        ****\n\n4 connections in 0.01s; 400.00 connections/user sec, bytes read 612\n\
        4 connections in 1 real seconds, 153 bytes read per connection\n";

    #[test]
    fn s_time_output_is_read_and_checked() {
        let run = parse_s_time(NEW).unwrap();
        assert_eq!(
            run,
            STime {
                connections: 4,
                resumed: 0,
                new_sessions: 4,
                bytes_per_connection: 153
            }
        );
        assert!(check_s_time(&run, false, 100).is_ok());
        // Asked to resume, got new sessions: not the variant.
        assert!(check_s_time(&run, true, 100).is_err());
        // No answer read: the requests failed.
        assert!(check_s_time(&run, false, 200).is_err());
        let resumed = parse_s_time(&NEW.replace("****", "*rrr")).unwrap();
        assert_eq!((resumed.resumed, resumed.new_sessions), (3, 1));
        assert!(check_s_time(&resumed, true, 100).is_ok());
        assert!(parse_s_time("ERROR\nconnect:errno=111\n").is_err());
    }

    #[test]
    fn the_handshake_is_what_a_new_connection_adds_to_a_kept_alive_request() {
        let costs = ConnectionCosts {
            micros: vec![
                vec![900.0, 1000.0],
                vec![300.0, 320.0],
                vec![40.0, 50.0],
                vec![30.0, 35.0],
            ],
            operations: vec![vec![1; 2]; 4],
            cipher: None,
        };
        let extra = costs.handshake_extra(Connection::FullHandshake);
        assert_eq!((extra.min, extra.max), (860.0, 950.0));
        assert_eq!(costs.spread(Connection::KeptAliveHttp2).min, 30.0);
    }

    fn costs(full: f64) -> ConnectionCosts {
        ConnectionCosts {
            micros: vec![vec![full], vec![300.0], vec![40.0], vec![30.0]],
            operations: vec![vec![1]; 4],
            cipher: Some("TLSv1.3, TLS_AES_256_GCM_SHA384".into()),
        }
    }

    #[test]
    fn the_sentence_says_dwarfs_only_when_the_numbers_do() {
        let verify = [("HS256", 2.0), ("RS256", 60.0)];
        let text = costs(1040.0).sentence(&verify, Some(20.0));
        assert!(text.contains("the full handshake adds 1000 µs"), "{text}");
        assert!(
            text.contains("17x the CPU of the costliest signature check above (RS256 60.0 µs)"),
            "{text}"
        );
        assert!(
            text.contains("At 17x the costliest check (this lab says \"dwarfs\" from 10x), the handshake dwarfs"),
            "{text}"
        );
        assert!(
            text.contains("Both stacks pay the handshake alike"),
            "{text}"
        );
        assert!(
            text.contains("It is 50x the CPU of a store lookup (20.0 µs)."),
            "{text}"
        );
        let text = costs(400.0).sentence(&verify, None);
        assert!(
            text.contains("180x the cheapest check but only 6x the costliest (under the 10x"),
            "{text}"
        );
        assert!(!text.contains("dwarfs every"), "{text}");
        let text = costs(60.0).sentence(&[("HS256", 10.0)], None);
        assert!(text.contains("same order"), "{text}");
        assert!(!text.contains("dwarfs"), "{text}");
        // No verification measured: no comparison is made.
        let text = costs(1040.0).sentence(&[], Some(20.0));
        assert!(!text.contains("signature check"), "{text}");
        let table = costs(1040.0).table(1);
        assert!(table.title.contains("TLSv1.3"));
        assert_eq!(table.rows[0][2], "1000");
        assert_eq!(table.rows[2][2], "—");
    }

    #[test]
    fn each_ratio_is_the_quotient_of_the_figures_the_sentence_prints() {
        // The sample's figures: a 588 µs handshake, HS256 at 1.26 µs (printed
        // 1.3), ES256 at 51.8 µs, a lookup at 4.7 µs. 588 / 1.26 would say
        // 467x beside a printed 1.3 µs; 588 / 1.3 is 452x.
        let verify = [("HS256", 1.26), ("ES256", 51.8)];
        let text = costs(628.0).sentence(&verify, Some(4.7));
        assert!(text.contains("That handshake (588 µs) is 11x"), "{text}");
        assert!(text.contains("452x the cheapest (HS256 1.3 µs)"), "{text}");
        assert!(
            text.contains("125x the CPU of a store lookup (4.7 µs)"),
            "{text}"
        );
    }

    /// A busy child process, not this one: the test binary's other threads
    /// come and go, and a thread that exits takes its CPU time out of the
    /// sum over `/proc/PID/task`, so this process's total can go down.
    #[test]
    fn cpu_is_read_for_a_busy_process() {
        let mut busy = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        let before = cpu_nanos(busy.id()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let after = cpu_nanos(busy.id()).unwrap();
        busy.kill().unwrap();
        busy.wait().unwrap();
        assert!(after > before, "{before} then {after}");
    }
}
