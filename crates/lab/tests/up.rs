//! `authlab up` as a user runs it: it prints the table, stops on Ctrl-C, and
//! leaves no process behind — not even when it is killed outright.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use nix::{sys::signal::Signal, unistd::Pid};

/// Every process below `pid`, from /proc's children lists.
fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut queue = vec![pid];
    while let Some(parent) = queue.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok())
            {
                found.push(child);
                queue.push(child);
            }
        }
    }
    found
}

fn alive(pid: u32) -> bool {
    // A zombie still answers kill(0); it is gone for our purposes once reaped or dead.
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !state.is_empty() && !state.contains(") Z ")
}

/// The `authlab up` child, killed if the test fails before it is stopped on
/// purpose, and its stdin, held open as a terminal would be.
struct Up(Child, Option<std::process::ChildStdin>);

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_up() -> (Up, Vec<String>) {
    start_up_with(&[])
}

fn start_up_with(extra: &[&str]) -> (Up, Vec<String>) {
    let child = Command::new(env!("CARGO_BIN_EXE_authlab"))
        .args(["up", "--nodes", "2", "--users", "0"])
        .args(extra)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut up = Up(child, None);
    up.1 = up.0.stdin.take();
    let mut lines = Vec::new();
    let mut reader = BufReader::new(up.0.stdout.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        let done = line.starts_with("type `help`");
        lines.push(line);
        if done {
            // Keep draining stdout so the child never blocks on a full pipe.
            std::thread::spawn(move || for _ in reader.lines() {});
            return (up, lines);
        }
    }
    panic!("authlab up never printed its table: {lines:?}");
}

/// The status line a plain `GET url` gets (the console is clear-text HTTP on loopback).
fn get_status(url: &str) -> String {
    use std::io::{Read, Write};
    let address = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("not an http URL: {url}"));
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET / HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.lines().next().unwrap_or_default().to_owned()
}

/// The child's exit status, or a panic if it has not exited within `timeout`.
fn wait_exit(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "authlab up did not exit within {timeout:?} of Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_gone(pids: &[u32], timeout: Duration) -> Vec<u32> {
    let deadline = Instant::now() + timeout;
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|p| alive(*p)).collect();
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ctrl_c_stops_every_process_and_removes_the_temp_dir() {
    let (mut up, lines) = start_up();
    let child = &mut up.0;
    let table = lines.concat();
    for expected in [
        "session stack (HAProxy)",
        "jwt stack (HAProxy)",
        "HAProxy stats",
        "node session-2",
        "node jwt-2",
        "authlab-demo",
    ] {
        assert!(
            table.contains(expected),
            "missing {expected:?} in:\n{table}"
        );
    }
    // The console comes first: it is where a demo starts.
    let first = lines
        .iter()
        .find(|l| !l.trim().is_empty() && !l.starts_with("WHAT"))
        .unwrap();
    let console = first
        .strip_prefix("console (open in a browser)")
        .unwrap_or_else(|| panic!("the first row is not the console: {first:?}"))
        .trim();
    assert_eq!(get_status(console), "HTTP/1.1 200 OK", "GET {console}");
    let children = descendants(child.id());
    assert!(
        children.len() >= 7,
        "2+2 nodes, haproxy, 2 redis: {children:?}"
    );
    let dir = lines
        .iter()
        .find_map(|l| l.strip_prefix("logs and configs"))
        .map(|rest| std::path::PathBuf::from(rest.trim()))
        .expect("the table names the cluster's directory");
    assert!(dir.join("haproxy.cfg").exists());

    nix::sys::signal::kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    // Its stdin is still open: the stop must not wait for a line typed there.
    let status = wait_exit(child, Duration::from_secs(20));
    assert!(status.success(), "a Ctrl-C stop is a clean exit: {status}");
    assert_eq!(
        wait_gone(&children, Duration::from_secs(5)),
        Vec::<u32>::new(),
        "orphans after Ctrl-C"
    );
    assert!(!dir.exists(), "{} was left behind", dir.display());
}

#[test]
fn even_a_killed_authlab_leaves_no_orphans() {
    let (mut up, _) = start_up();
    let child = &mut up.0;
    let children = descendants(child.id());
    assert!(!children.is_empty());
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        wait_gone(&children, Duration::from_secs(5)),
        Vec::<u32>::new(),
        "orphans after SIGKILL"
    );
}

#[test]
fn with_tls_and_h2_the_table_is_https_and_names_the_ca_that_curl_needs() {
    let (mut up, lines) = start_up_with(&[
        "--tls",
        "--h2",
        "--stack",
        "jwt",
        "--no-orders",
        "--no-console",
    ]);
    let table = lines.concat();
    assert!(
        !table.contains("console"),
        "--no-console still lists one:\n{table}"
    );
    let jwt = lines
        .iter()
        .find_map(|l| l.strip_prefix("jwt stack (HAProxy)"))
        .map(|rest| rest.trim().to_owned())
        .expect("the table names the JWT stack");
    assert!(jwt.starts_with("https://127.0.0.1:"), "{table}");
    assert!(
        table.contains("frontends speak") && table.contains("TLS, ALPN h2,http/1.1"),
        "{table}"
    );
    let ca = lines
        .iter()
        .find_map(|l| l.strip_prefix("CA to trust (generated)"))
        .map(|rest| std::path::PathBuf::from(rest.trim()))
        .expect("the table names the CA file");
    assert!(std::fs::read_to_string(&ca)
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));
    // The curl lines it prints pass that CA.
    assert!(
        table.contains(&format!("curl --cacert {} -si", ca.display())),
        "{table}"
    );
    // And curl, given it, speaks HTTP/2 to the stack.
    let output = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_version} %{http_code}",
            "--cacert",
        ])
        .arg(&ca)
        .arg(format!("{jwt}/health"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "2 200");
    let child = &mut up.0;
    nix::sys::signal::kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    assert!(wait_exit(child, Duration::from_secs(20)).success());
}
