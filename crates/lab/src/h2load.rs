//! Requests over HTTP/2 or HTTP/1.1 with h2load, nghttp2's load generator.
//!
//! C9 needs a client whose wire format is a real browser-grade HTTP/2 stack,
//! not the lab's own: how many bytes a repeated header costs depends on the
//! client's HPACK encoder (what it indexes, what it never indexes), so the
//! lab borrows nghttp2's, the library curl and many servers use. h2load is
//! its command-line face and Debian ships it (`nghttp2-client`).
//!
//! The lab runs it as the simplest possible client: one connection, one
//! request at a time (`-c 1 -m 1`), `requests` requests, so every request
//! after the first rides a connection that is already up and an HPACK table
//! that already holds whatever the encoder chose to index. Over `https` it
//! negotiates the protocol by ALPN (h2 unless [`HttpVersion::Http1`]) and
//! does not verify certificates; over `http` without `--h1` it speaks HTTP/2
//! with prior knowledge (HAProxy's clear binds recognise the h2 preface).
//!
//! What h2load calls "succeeded" is a 2xx or 3xx answer: a 4xx or 5xx
//! response counts as "failed" although it arrived whole (checked against
//! HAProxy: 2 × 401 gave `0 succeeded, 2 failed, 0 errored` and
//! `2 4xx`). "errored" is a request that got no answer (refused or reset
//! connection), "timeout" one that ran out of time. And h2load exits 0 even
//! when it could not connect at all: only its report says what happened,
//! so [`parse`] reads it and callers judge it.

use std::{
    io::Read,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::LabError;

/// The protocol h2load speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum HttpVersion {
    /// `--h1`: HTTP/1.1, keep-alive.
    Http1,
    /// HTTP/2: by ALPN over TLS, with prior knowledge over clear TCP.
    Http2,
}

/// One h2load run: one client, one connection, one request at a time.
#[derive(Debug, Clone)]
pub struct H2load {
    pub url: String,
    pub version: HttpVersion,
    pub requests: u32,
    /// Sent with every request, in this order.
    pub headers: Vec<(String, String)>,
}

/// What h2load reported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct H2loadReport {
    /// Requests asked for (h2load's "total").
    pub requests: u64,
    /// Answered 2xx or 3xx.
    pub succeeded: u64,
    /// Not answered 2xx or 3xx: 4xx and 5xx answers, and the errored ones.
    pub failed: u64,
    /// No answer at all (connection refused, reset, protocol error).
    pub errored: u64,
    pub timeout: u64,
    pub status_2xx: u64,
    pub status_3xx: u64,
    pub status_4xx: u64,
    pub status_5xx: u64,
    /// h2load's "Application protocol:", e.g. `h2` (over TLS), `h2c`
    /// (clear, prior knowledge) or `http/1.1`; empty if it never connected.
    pub protocol: String,
}

impl H2loadReport {
    /// Requests that got a response with a status, whatever it was.
    pub fn answered(&self) -> u64 {
        self.status_2xx + self.status_3xx + self.status_4xx + self.status_5xx
    }
}

/// Longest a run may take before h2load is killed. `-n` runs have no time
/// limit of their own (h2load's `-T`/`--duration` apply to timed runs only),
/// and a lab probe is a few hundred requests on loopback: seconds at most.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

impl H2load {
    /// The arguments h2load is run with (without the program name).
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            "-n".to_owned(),
            self.requests.to_string(),
            "-c".to_owned(),
            "1".to_owned(),
            "-m".to_owned(),
            "1".to_owned(),
        ];
        if self.version == HttpVersion::Http1 {
            args.push("--h1".to_owned());
        }
        for (name, value) in &self.headers {
            args.push("-H".to_owned());
            args.push(format!("{name}: {value}"));
        }
        args.push(self.url.clone());
        args
    }

    /// Runs h2load and parses its report; blocking (call it from
    /// `spawn_blocking` in async code), killed after a minute.
    ///
    /// The report is returned whatever it says (failed or errored requests
    /// included): judging it is the caller's business.
    pub fn run(&self) -> Result<H2loadReport, LabError> {
        if self.requests == 0 {
            return Err(LabError::Config("h2load: at least one request".into()));
        }
        if let Some((name, _)) = self
            .headers
            .iter()
            .find(|(name, value)| name.is_empty() || name.contains(':') || value.contains('\n'))
        {
            return Err(LabError::Config(format!(
                "h2load: header {name:?} cannot be sent as `-H name: value`"
            )));
        }
        let mut child = Command::new("h2load")
            .args(self.args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => LabError::Missing(format!(
                    "h2load ({e}); install it with: sudo apt-get install -y nghttp2-client"
                )),
                _ => LabError::Io(format!("h2load: cannot start: {e}")),
            })?;
        // Read both pipes while it runs: a full pipe would stall it.
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);
        let deadline = Instant::now() + RUN_TIMEOUT;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(LabError::Timeout(format!(
                        "h2load {} still running after {RUN_TIMEOUT:?}; killed",
                        self.url
                    )));
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(LabError::Io(format!("h2load: cannot wait for it: {e}")));
                }
            }
        };
        // Both ends closed with the process: these joins return.
        let stdout = stdout.map(collect).unwrap_or_default();
        let stderr = stderr.map(collect).unwrap_or_default();
        parse(&stdout).map_err(|e| {
            LabError::Io(format!(
                "h2load {} ({status}): {e}\nstderr: {}",
                self.url,
                stderr.trim()
            ))
        })
    }
}

fn drain<R: Read + Send + 'static>(mut pipe: R) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn collect(reader: std::thread::JoinHandle<String>) -> String {
    reader.join().unwrap_or_default()
}

/// `"3 total, 3 started, 0 failed"` as `[(3, "total"), (3, "started"), (0, "failed")]`.
fn counts(list: &str) -> Result<Vec<(u64, &str)>, String> {
    list.split(',')
        .map(|item| {
            let item = item.trim();
            let (number, label) = item
                .split_once(' ')
                .ok_or_else(|| format!("no count in {item:?}"))?;
            let number = number
                .parse::<u64>()
                .map_err(|e| format!("{number:?} in {item:?}: {e}"))?;
            Ok((number, label.trim()))
        })
        .collect()
}

/// Reads h2load's report: its `requests:`, `status codes:` and
/// `Application protocol:` lines. Fails if either count line is missing
/// (h2load did not get as far as a report) or unreadable.
pub fn parse(output: &str) -> Result<H2loadReport, LabError> {
    let mut report = H2loadReport {
        requests: 0,
        succeeded: 0,
        failed: 0,
        errored: 0,
        timeout: 0,
        status_2xx: 0,
        status_3xx: 0,
        status_4xx: 0,
        status_5xx: 0,
        protocol: String::new(),
    };
    let (mut requests_line, mut status_line) = (false, false);
    let unreadable = |line: &str, why: String| {
        LabError::Io(format!("h2load printed an unreadable line {line:?}: {why}"))
    };
    for line in output.lines().map(str::trim) {
        if let Some(protocol) = line.strip_prefix("Application protocol:") {
            report.protocol = protocol.trim().to_owned();
        } else if let Some(list) = line.strip_prefix("requests:") {
            for (number, label) in counts(list).map_err(|why| unreadable(line, why))? {
                match label {
                    "total" => report.requests = number,
                    "succeeded" => report.succeeded = number,
                    "failed" => report.failed = number,
                    "errored" => report.errored = number,
                    "timeout" => report.timeout = number,
                    _ => {}
                }
            }
            requests_line = true;
        } else if let Some(list) = line.strip_prefix("status codes:") {
            for (number, label) in counts(list).map_err(|why| unreadable(line, why))? {
                match label {
                    "2xx" => report.status_2xx = number,
                    "3xx" => report.status_3xx = number,
                    "4xx" => report.status_4xx = number,
                    "5xx" => report.status_5xx = number,
                    _ => {}
                }
            }
            status_line = true;
        }
    }
    if !(requests_line && status_line) {
        return Err(LabError::Io(format!(
            "h2load printed no report:\n{}",
            output.trim()
        )));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real h2load 1.52.0 output (Debian 12), against HAProxy 2.6 on loopback.

    const H2C_OK: &str = "starting benchmark...
spawning thread #0: 1 total client(s). 3 total requests
Application protocol: h2c
progress: 33% done
progress: 66% done
progress: 100% done

finished in 5.13ms, 584.45 req/s, 37.67KB/s
requests: 3 total, 3 started, 3 done, 3 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 3 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 198B (198) total, 69B (69) headers (space savings 57.41%), 45B (45) data
                     min         max         mean         sd        +/- sd
time for request:       29us       280us       116us       141us    66.67%
time for connect:      799us       799us       799us         0us   100.00%
time to 1st byte:     1.49ms      1.49ms      1.49ms         0us   100.00%
req/s           :    1819.01     1819.01     1819.01        0.00   100.00%
";

    const H1_OK: &str = "starting benchmark...
spawning thread #0: 1 total client(s). 3 total requests
Application protocol: http/1.1
progress: 33% done
progress: 66% done
progress: 100% done

finished in 3.78ms, 793.44 req/s, 66.64KB/s
requests: 3 total, 3 started, 3 done, 3 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 3 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 258B (258) total, 132B (132) headers (space savings 0.00%), 45B (45) data
                     min         max         mean         sd        +/- sd
time for request:       32us       301us       125us       152us    66.67%
time for connect:      214us       214us       214us         0us   100.00%
time to 1st byte:      575us       575us       575us         0us   100.00%
req/s           :    4421.54     4421.54     4421.54        0.00   100.00%
";

    /// Over TLS (ALPN h2, self-signed certificate, not verified).
    const TLS_H2_OK: &str = "starting benchmark...
spawning thread #0: 1 total client(s). 3 total requests
TLS Protocol: TLSv1.3
Cipher: TLS_AES_256_GCM_SHA384
Server Temp Key: X25519 253 bits
Application protocol: h2
progress: 33% done
progress: 66% done
progress: 100% done

finished in 3.80ms, 789.89 req/s, 50.91KB/s
requests: 3 total, 3 started, 3 done, 3 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 3 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 198B (198) total, 69B (69) headers (space savings 57.41%), 45B (45) data
                     min         max         mean         sd        +/- sd
time for request:       45us       181us        93us        76us    66.67%
time for connect:     2.96ms      2.96ms      2.96ms         0us   100.00%
time to 1st byte:     3.24ms      3.24ms      3.24ms         0us   100.00%
req/s           :     854.76      854.76      854.76        0.00   100.00%
";

    /// Two 401s: answered, yet "failed" to h2load.
    const H2C_401: &str = "starting benchmark...
spawning thread #0: 1 total client(s). 2 total requests
Application protocol: h2c
progress: 50% done
progress: 100% done

finished in 4.34ms, 461.04 req/s, 38.27KB/s
requests: 2 total, 2 started, 2 done, 0 succeeded, 2 failed, 0 errored, 0 timeout
status codes: 0 2xx, 0 3xx, 2 4xx, 0 5xx
traffic: 170B (170) total, 54B (54) headers (space savings 50.00%), 50B (50) data
                     min         max         mean         sd        +/- sd
time for request:       43us       200us       122us       110us   100.00%
time for connect:      533us       533us       533us         0us   100.00%
time to 1st byte:      870us       870us       870us         0us   100.00%
req/s           :    2085.28     2085.28     2085.28        0.00   100.00%
";

    /// Nothing listening: no protocol line, and h2load still exits 0.
    const REFUSED: &str = "starting benchmark...
spawning thread #0: 1 total client(s). 2 total requests

finished in 2.04ms, 0.00 req/s, 0B/s
requests: 2 total, 0 started, 0 done, 0 succeeded, 2 failed, 2 errored, 0 timeout
status codes: 0 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 0B (0) total, 0B (0) headers (space savings 0.00%), 0B (0) data
                     min         max         mean         sd        +/- sd
time for request:        0us         0us         0us         0us     0.00%
time for connect:        0us         0us         0us         0us     0.00%
time to 1st byte:        0us         0us         0us         0us     0.00%
req/s           :       0.00        0.00        0.00        0.00   100.00%
";

    fn report(
        requests: u64,
        (succeeded, failed, errored): (u64, u64, u64),
        [s2, s3, s4, s5]: [u64; 4],
        protocol: &str,
    ) -> H2loadReport {
        H2loadReport {
            requests,
            succeeded,
            failed,
            errored,
            timeout: 0,
            status_2xx: s2,
            status_3xx: s3,
            status_4xx: s4,
            status_5xx: s5,
            protocol: protocol.into(),
        }
    }

    #[test]
    fn parses_real_reports() {
        assert_eq!(
            parse(H2C_OK).unwrap(),
            report(3, (3, 0, 0), [3, 0, 0, 0], "h2c")
        );
        assert_eq!(
            parse(TLS_H2_OK).unwrap(),
            report(3, (3, 0, 0), [3, 0, 0, 0], "h2")
        );
        assert_eq!(
            parse(H1_OK).unwrap(),
            report(3, (3, 0, 0), [3, 0, 0, 0], "http/1.1")
        );
        let denied = parse(H2C_401).unwrap();
        assert_eq!(denied, report(2, (0, 2, 0), [0, 0, 2, 0], "h2c"));
        assert_eq!(denied.answered(), 2);
        let refused = parse(REFUSED).unwrap();
        assert_eq!(refused, report(2, (0, 2, 2), [0, 0, 0, 0], ""));
        assert_eq!(refused.answered(), 0);
    }

    #[test]
    fn output_without_a_report_is_an_error() {
        let started =
            "starting benchmark...\nspawning thread #0: 1 total client(s). 2 total requests\n";
        assert!(matches!(parse(started), Err(LabError::Io(_))));
        let mangled = H2C_OK.replace("3 succeeded", "three succeeded");
        assert!(matches!(parse(&mangled), Err(LabError::Io(_))));
    }

    #[test]
    fn arguments_one_connection_one_stream() {
        let load = H2load {
            url: "http://127.0.0.1:9/health".into(),
            version: HttpVersion::Http1,
            requests: 21,
            headers: vec![("x-pad".into(), "a b".into())],
        };
        assert_eq!(
            load.args(),
            [
                "-n",
                "21",
                "-c",
                "1",
                "-m",
                "1",
                "--h1",
                "-H",
                "x-pad: a b",
                "http://127.0.0.1:9/health"
            ]
        );
        let h2 = H2load {
            version: HttpVersion::Http2,
            ..load
        };
        assert!(!h2.args().contains(&"--h1".to_owned()));
    }

    #[test]
    fn runs_h2load_and_reads_a_refused_connection_as_errored() {
        // A port that was free a moment ago: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let load = H2load {
            url: format!("http://127.0.0.1:{port}/"),
            version: HttpVersion::Http2,
            requests: 2,
            headers: Vec::new(),
        };
        match load.run() {
            Ok(report) => {
                assert_eq!((report.requests, report.errored), (2, 2), "{report:?}");
                assert_eq!(report.answered(), 0);
            }
            Err(LabError::Missing(why)) => assert!(why.contains("nghttp2-client"), "{why}"),
            Err(other) => panic!("{other}"),
        }
    }
}
