//! Capacity runs with wrk, an established high-throughput generator, on one
//! machine or as several generators on several hosts.
//!
//! goose is the right tool for user behaviour, but on a 2-core machine it
//! tops out far below what one node serves, so a goose-driven capacity
//! figure would measure goose. wrk (C, event loop) gets much closer; and
//! every capacity experiment also measures its ceiling (`/health` through
//! the same path) so a generator-bound comparison is recognised as such.
//! Where one generator is not enough, the engine runs several (see
//! [`harness::load`]) and their results are merged here.
//!
//! **What wrk is given.** A Lua script ([`script`]): with credentials, a
//! `request` function that hands each request the next credential of a list
//! (cookies or bearer tokens of many logged-in users), so the load looks
//! like many users, not one; always, a `done` function that prints what wrk
//! measured as machine-readable lines after wrk's own report:
//!
//! ```text
//! authlab-wrk summary duration_us=2000712 requests=61234 bytes=10485760 connect=0 read=2 write=0 status=7 timeout=1
//! authlab-wrk hist 812 4021
//! authlab-wrk hist 813 3977
//! …one line per distinct latency (µs) with the requests that took it…
//! authlab-wrk end values=1857 count=61240 read=ffi
//! ```
//!
//! `status` counts non-2xx/3xx answers; `connect`, `read`, `write` and
//! `timeout` are wrk's socket errors. The `hist` lines are wrk's whole
//! latency histogram, corrected by wrk for coordinated omission (which is
//! why their count may exceed `requests`). The `end` line says how many
//! lines and requests came before it, so an output cut short is refused
//! instead of read as a smaller run.
//!
//! **Why a histogram.** Percentiles of several generators cannot be
//! averaged (see [`kit::latency_histogram`](crate::kit::latency_histogram));
//! their histograms can be added. [`parse`] reads one generator's lines,
//! [`checked`] checks each generator's errors on its own with
//! [`load_check::check_each`] and only then [`merge`]s them.

use std::{process::Command, time::Duration};

use harness::GeneratorRun;
use serde::{Deserialize, Serialize};

use crate::{
    kit::{
        latency_histogram::LatencyHistogram,
        load_check::{self, Answers},
    },
    LabError,
};

/// What wrk measured: every generator's requests together.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WrkResult {
    /// Answered requests, all generators.
    pub requests: u64,
    /// `requests` over the longest generator's run.
    pub rps: f64,
    /// Quantiles of every generator's latencies pooled (never averaged).
    pub p50_ms: f64,
    pub p75_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub non_2xx: u64,
    pub socket_errors: u64,
    /// Each generator on its own (one on the local engine).
    #[serde(default)]
    pub generators: Vec<GeneratorSummary>,
}

/// One generator's share of a run, as a report lists it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GeneratorSummary {
    pub name: String,
    pub host: String,
    pub connections: u32,
    pub requests: u64,
    /// Its requests over its own run.
    pub rps: f64,
    pub non_2xx: u64,
    pub socket_errors: u64,
}

/// wrk's socket errors by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketErrors {
    pub connect: u64,
    pub read: u64,
    pub write: u64,
    pub timeout: u64,
}

impl SocketErrors {
    pub fn total(&self) -> u64 {
        self.connect + self.read + self.write + self.timeout
    }
}

/// One generator's run, read from the script's lines.
#[derive(Debug, Clone)]
pub struct GeneratorResult {
    pub name: String,
    pub host: String,
    pub connections: u32,
    /// How long wrk ran, as it measured it.
    pub duration: Duration,
    pub requests: u64,
    pub bytes: u64,
    pub non_2xx: u64,
    pub errors: SocketErrors,
    pub latency: LatencyHistogram,
}

impl GeneratorResult {
    /// Its answers, as the load check reads them.
    pub fn answers(&self) -> Answers {
        Answers {
            requests: self.requests,
            non_2xx: self.non_2xx,
            socket_errors: self.errors.total(),
        }
    }

    pub fn summary(&self) -> GeneratorSummary {
        GeneratorSummary {
            name: self.name.clone(),
            host: self.host.clone(),
            connections: self.connections,
            requests: self.requests,
            rps: self.requests as f64 / self.duration.as_secs_f64().max(f64::MIN_POSITIVE),
            non_2xx: self.non_2xx,
            socket_errors: self.errors.total(),
        }
    }
}

/// One run on this machine: `connections` connections on `threads` threads
/// for `duration` against any URL (a node's own, an orders service's), for
/// the runs that do not go through a cluster's generators.
pub struct WrkRun<'a> {
    pub url: &'a str,
    /// Full header lines (`Cookie: …`, `Authorization: Bearer …`), one per user; empty = none.
    pub credentials: &'a [String],
    pub threads: u32,
    pub connections: u32,
    pub duration: Duration,
}

/// The prefix of every line the script prints.
const PREFIX: &str = "authlab-wrk";

/// The script's `done`: prints the summary, the histogram and the end line
/// (formats in the module doc).
///
/// `latency(i)` (wrk's `stats_value_at`) scans the histogram from its
/// minimum on every call, so reading all n distinct values through it costs
/// the sum of their distances from the minimum: about 0.06 s for 1,857
/// values on loopback, but 1e10 steps and more for 1e5 values spread over
/// wrk's 2 s range. So the script reads wrk's `stats` struct once through
/// LuaJIT's FFI (the layout every wrk since 4.0 has: four `uint64_t`, then
/// the counts indexed by µs), one pass from min to max. It trusts that
/// reading only when it agrees with wrk's own API (min, max, a limit above
/// max, and counts that add up to wrk's total); otherwise, or without FFI,
/// it falls back to `latency(i)`, exact but slow. `read=` on the end line
/// says which way was taken.
const DONE: &str = r#"
local authlab_ffi_ok, authlab_ffi = pcall(require, "ffi")
if authlab_ffi_ok then
  authlab_ffi_ok = pcall(authlab_ffi.cdef, [[
    typedef struct {
      uint64_t count, limit, min, max;
      uint64_t data[?];
    } authlab_wrk_stats;
  ]])
end

local function authlab_by_ffi(latency, lines)
  if not authlab_ffi_ok then return nil end
  local ok, s = pcall(function()
    return authlab_ffi.cast("authlab_wrk_stats **", latency)[0]
  end)
  if not ok then return nil end
  local min, max = tonumber(s.min), tonumber(s.max)
  if min ~= latency.min or max ~= latency.max or tonumber(s.limit) <= max then
    return nil
  end
  local total = 0
  for v = min, max do
    local n = tonumber(s.data[v])
    if n > 0 then
      lines[#lines + 1] = string.format("authlab-wrk hist %.0f %.0f", v, n)
      total = total + n
    end
  end
  if total ~= tonumber(s.count) then return nil end
  return total
end

local function authlab_by_scan(latency, lines)
  local total = 0
  for i = 1, #latency do
    local v, n = latency(i)
    lines[#lines + 1] = string.format("authlab-wrk hist %.0f %.0f", v, n)
    total = total + n
  end
  return total
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "authlab-wrk summary duration_us=%.0f requests=%.0f bytes=%.0f connect=%.0f read=%.0f write=%.0f status=%.0f timeout=%.0f\n",
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout))
  local lines, read = {}, "ffi"
  local total = authlab_by_ffi(latency, lines)
  if not total then
    lines, read = {}, "scan"
    total = authlab_by_scan(latency, lines)
  end
  if #lines > 0 then io.write(table.concat(lines, "\n"), "\n") end
  io.write(string.format("authlab-wrk end values=%d count=%.0f read=%s\n", #lines, total, read))
end
"#;

fn lua_string(value: &str) -> String {
    let escaped: String = value
        .chars()
        .flat_map(|c| match c {
            '\\' => vec!['\\', '\\'],
            '"' => vec!['\\', '"'],
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}

/// wrk's script: with `credentials` (header lines), a `request` that
/// rotates through them, one per request; always, the `done` that prints
/// the lines [`parse`] reads. Without credentials (a `/health` ceiling) it
/// is the `done` alone.
pub fn script(credentials: &[String]) -> String {
    let mut lua = String::new();
    if !credentials.is_empty() {
        lua.push_str("local creds = {\n");
        for line in credentials {
            if let Some((name, value)) = line.split_once(':') {
                lua.push_str(&format!(
                    "  {{ {}, {} }},\n",
                    lua_string(name.trim()),
                    lua_string(value.trim())
                ));
            }
        }
        lua.push_str(
            "}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  local c = creds[(i % #creds) + 1]\n  \
             return wrk.format(\"GET\", nil, { [c[1]] = c[2] })\nend\n",
        );
    }
    lua.push_str(DONE);
    lua
}

/// `key=value` words, each key required.
fn fields<'a>(words: &[&'a str], keys: &[&str]) -> Result<Vec<&'a str>, String> {
    keys.iter()
        .map(|key| {
            words
                .iter()
                .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
                .ok_or_else(|| format!("no {key}="))
        })
        .collect()
}

fn number(text: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a whole number"))
}

/// The script's lines in one generator's stdout.
struct Printed {
    duration: Duration,
    requests: u64,
    bytes: u64,
    non_2xx: u64,
    errors: SocketErrors,
    latency: LatencyHistogram,
}

fn read_lines(stdout: &str) -> Result<Printed, String> {
    let mut summary = None;
    let mut latency = LatencyHistogram::new();
    let (mut values, mut count) = (0u64, 0u64);
    for line in stdout.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [PREFIX, "summary", rest @ ..] => {
                let keys = [
                    "duration_us",
                    "requests",
                    "bytes",
                    "connect",
                    "read",
                    "write",
                    "status",
                    "timeout",
                ];
                let n = fields(rest, &keys)?
                    .into_iter()
                    .map(number)
                    .collect::<Result<Vec<u64>, String>>()?;
                summary = Some(Printed {
                    duration: Duration::from_micros(n[0]),
                    requests: n[1],
                    bytes: n[2],
                    errors: SocketErrors {
                        connect: n[3],
                        read: n[4],
                        write: n[5],
                        timeout: n[7],
                    },
                    non_2xx: n[6],
                    latency: LatencyHistogram::new(),
                });
            }
            [PREFIX, "hist", micros, n] => {
                let n = number(n)?;
                latency
                    .record(number(micros)?, n)
                    .map_err(|e| e.to_string())?;
                values += 1;
                count += n;
            }
            [PREFIX, "end", rest @ ..] => {
                let end = fields(rest, &["values", "count"])?;
                let (said_values, said_count) = (number(end[0])?, number(end[1])?);
                if (said_values, said_count) != (values, count) {
                    return Err(format!(
                        "the histogram was cut short: {values} values of {count} requests \
                         read, the script printed {said_values} of {said_count}"
                    ));
                }
                let mut printed = summary.ok_or("no summary line before the end line")?;
                printed.latency = latency;
                return Ok(printed);
            }
            _ => {}
        }
    }
    Err(format!(
        "no `{PREFIX} end` line: wrk stopped before the end of its run, or ran without the lab's script"
    ))
}

/// One generator's result from what it printed.
pub fn parse(run: &GeneratorRun) -> Result<GeneratorResult, LabError> {
    let printed = read_lines(&run.stdout).map_err(|why| {
        LabError::Io(format!(
            "wrk ({} on {}): {why}\nwrk stderr: {}",
            run.name,
            run.host,
            run.stderr.trim()
        ))
    })?;
    Ok(GeneratorResult {
        name: run.name.clone(),
        host: run.host.clone(),
        connections: run.connections,
        duration: printed.duration,
        requests: printed.requests,
        bytes: printed.bytes,
        non_2xx: printed.non_2xx,
        errors: printed.errors,
        latency: printed.latency,
    })
}

/// The generators as one run: counts summed, quantiles from the pooled
/// histogram, throughput over the longest generator's run.
pub fn merge(generators: &[GeneratorResult]) -> Result<WrkResult, LabError> {
    let longest = generators
        .iter()
        .map(|g| g.duration)
        .max()
        .ok_or_else(|| LabError::InvalidRun("no load generator ran".into()))?;
    let latency = LatencyHistogram::pooled(generators.iter().map(|g| &g.latency))?;
    let requests = generators.iter().map(|g| g.requests).sum::<u64>();
    let quantile = |q| latency.quantile_ms(q).unwrap_or(0.0);
    Ok(WrkResult {
        requests,
        // Every request of every generator was answered within the longest
        // generator's run (they run side by side, for the same -d), so this
        // is the rate the stack sustained over that window. Summing each
        // generator's own rate instead would credit a shorter run's requests
        // (one that started late or stopped early) to time it did not fill.
        rps: requests as f64 / longest.as_secs_f64().max(f64::MIN_POSITIVE),
        p50_ms: quantile(0.50),
        p75_ms: quantile(0.75),
        p90_ms: quantile(0.90),
        p99_ms: quantile(0.99),
        non_2xx: generators.iter().map(|g| g.non_2xx).sum(),
        socket_errors: generators.iter().map(|g| g.errors.total()).sum(),
        generators: generators.iter().map(GeneratorResult::summary).collect(),
    })
}

/// What a cluster's generators printed for the run `label`, parsed, each
/// generator checked by [`load_check::check_each`] (so one that was all
/// errors refuses the run however well the others did), then merged.
pub fn checked(label: &str, runs: &[GeneratorRun]) -> Result<WrkResult, LabError> {
    let generators = runs.iter().map(parse).collect::<Result<Vec<_>, _>>()?;
    let answers: Vec<(String, Answers)> = generators
        .iter()
        .map(|g| (format!("{} on {}", g.name, g.host), g.answers()))
        .collect();
    load_check::check_each(label, &answers)?;
    merge(&generators)
}

/// Runs wrk on this machine (blocking: call it from `spawn_blocking` in
/// async code) and reads it as one generator. Not checked: the caller
/// decides what errors mean for its run.
pub fn run(spec: &WrkRun<'_>) -> Result<WrkResult, LabError> {
    // The script holds live credentials: keep it in a temp file that is gone
    // when the run is, never beside the report.
    let file = tempfile::Builder::new()
        .prefix("authlab-wrk-")
        .suffix(".lua")
        .tempfile()
        .map_err(|e| LabError::Io(e.to_string()))?;
    std::fs::write(file.path(), script(spec.credentials))
        .map_err(|e| LabError::Io(e.to_string()))?;
    let output = Command::new("wrk")
        .arg(format!("-t{}", spec.threads.min(spec.connections).max(1)))
        .arg(format!("-c{}", spec.connections))
        // wrk takes whole seconds (or m, h), not milliseconds.
        .arg(format!("-d{}s", spec.duration.as_secs().max(1)))
        .arg("-s")
        .arg(file.path())
        .arg(spec.url)
        .output()
        .map_err(|e| {
            LabError::Missing(format!(
                "wrk ({e}); install it with: sudo apt-get install -y wrk"
            ))
        })?;
    drop(file);
    let run = GeneratorRun {
        name: "generator-1".into(),
        host: harness::host::this_machine().name,
        connections: spec.connections,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    merge(&[parse(&run)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the script prints for a run of `requests` answers, `status`
    /// of them non-2xx, `connect` connect errors, over `duration_us`.
    fn printed(
        duration_us: u64,
        requests: u64,
        status: u64,
        connect: u64,
        hist: &[(u64, u64)],
    ) -> String {
        let mut out = format!(
            "Running 2s test @ http://127.0.0.1:1/me\n  61234 requests in 2.00s, 10.00MB read\n\
             authlab-wrk summary duration_us={duration_us} requests={requests} bytes=999 \
             connect={connect} read=0 write=0 status={status} timeout=0\n"
        );
        for (micros, n) in hist {
            out.push_str(&format!("authlab-wrk hist {micros} {n}\n"));
        }
        let count: u64 = hist.iter().map(|(_, n)| n).sum();
        out.push_str(&format!(
            "authlab-wrk end values={} count={count} read=ffi\n",
            hist.len()
        ));
        out
    }

    fn run(name: &str, connections: u32, stdout: String) -> GeneratorRun {
        GeneratorRun {
            name: name.into(),
            host: format!("host-{name}"),
            connections,
            stdout,
            stderr: String::new(),
        }
    }

    #[test]
    fn parses_one_generators_lines() {
        let out = printed(2_000_000, 10_000, 7, 3, &[(812, 9_000), (4_100, 1_002)]);
        let g = parse(&run("generator-1", 64, out)).unwrap();
        assert_eq!((g.requests, g.non_2xx, g.bytes), (10_000, 7, 999));
        assert_eq!(
            g.errors,
            SocketErrors {
                connect: 3,
                ..SocketErrors::default()
            }
        );
        assert_eq!(g.duration, Duration::from_secs(2));
        assert_eq!(g.latency.count(), 10_002);
        assert_eq!(g.latency.quantile_ms(0.5), Some(0.812));
        let s = g.summary();
        assert_eq!(
            (s.requests, s.socket_errors, s.connections),
            (10_000, 3, 64)
        );
        assert!((s.rps - 5_000.0).abs() < 1e-9);
    }

    #[test]
    fn an_output_cut_short_or_without_the_script_is_refused() {
        let whole = printed(1_000_000, 3, 0, 0, &[(100, 1), (200, 2)]);
        let cut = whole.replace("authlab-wrk hist 200 2\n", "");
        let error = parse(&run("g", 1, cut)).unwrap_err().to_string();
        assert!(error.contains("cut short"), "{error}");
        let plain = "Requests/sec:  30617.00\n".to_owned();
        let error = parse(&run("g", 1, plain)).unwrap_err().to_string();
        assert!(error.contains("no `authlab-wrk end` line"), "{error}");
    }

    #[test]
    fn generators_merge_by_histogram_and_the_longest_run() {
        // One generator near the nodes, fast; one farther, with a long tail.
        let near = printed(
            10_000_000,
            10_000,
            0,
            0,
            &[(800, 9_000), (1_200, 900), (3_000, 100)],
        );
        let far = printed(
            10_500_000,
            1_000,
            1,
            0,
            &[(2_500, 800), (9_000, 150), (30_000, 50)],
        );
        let generators = [
            parse(&run("generator-1", 48, near)).unwrap(),
            parse(&run("generator-2", 16, far)).unwrap(),
        ];
        let merged = merge(&generators).unwrap();
        assert_eq!((merged.requests, merged.non_2xx), (11_000, 1));
        assert!(
            (merged.rps - 11_000.0 / 10.5).abs() < 1e-9,
            "{}",
            merged.rps
        );
        let (p99_near, p99_far) = (1.2, 30.0);
        assert_eq!(generators[0].latency.quantile_ms(0.99), Some(p99_near));
        assert_eq!(generators[1].latency.quantile_ms(0.99), Some(p99_far));
        // The pooled samples' p99 (rank 10,890 of 11,000) is 9 ms, far from
        // the 15.6 ms an average of the two p99s would claim.
        assert_eq!(merged.p99_ms, 9.0);
        assert!((merged.p99_ms - (p99_near + p99_far) / 2.0).abs() > 6.0);
        assert_eq!((merged.p50_ms, merged.p90_ms), (0.8, 1.2));
        let names: Vec<&str> = merged.generators.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["generator-1", "generator-2"]);
        assert!(merge(&[]).is_err());
    }

    #[test]
    fn a_generator_of_errors_refuses_the_merged_run() {
        let good = printed(10_000_000, 1_000_000, 0, 0, &[(800, 1_000_000)]);
        // All 500 of its answers were 401s: 0.05% of the sum, 100% of its own.
        let bad = printed(10_000_000, 500, 500, 0, &[(300, 500)]);
        let runs = [
            run("generator-1", 32, good.clone()),
            run("generator-2", 32, bad),
        ];
        let error = checked("JWT /me", &runs).unwrap_err().to_string();
        assert!(
            error.contains("generator-2 on host-generator-2: 500 non-2xx"),
            "{error}"
        );
        let merged = checked("JWT /me", &[run("generator-1", 32, good)]).unwrap();
        assert_eq!(merged.requests, 1_000_000);
    }

    #[test]
    fn old_results_without_generators_still_load() {
        let old = r#"{"requests":1,"rps":2.0,"p50_ms":1.0,"p75_ms":1.0,"p90_ms":1.0,"p99_ms":1.0,"non_2xx":0,"socket_errors":0}"#;
        let result: WrkResult = serde_json::from_str(old).unwrap();
        assert!(result.generators.is_empty());
    }

    #[test]
    fn the_script_rotates_credentials_and_escapes_them() {
        let lua = script(&[
            "Cookie: a=\"b\"".into(),
            "Authorization: Bearer x.y.z".into(),
        ]);
        assert!(lua.contains(r#"{ "Cookie", "a=\"b\"" }"#), "{lua}");
        assert!(lua.contains(r#"{ "Authorization", "Bearer x.y.z" }"#));
        assert!(lua.contains("(i % #creds) + 1"));
        assert!(lua.contains("done = function(summary, latency, requests)"));
        let bare = script(&[]);
        assert!(!bare.contains("request = function") && bare.contains("done = function"));
    }

    /// An HTTP/1.1 server on a free loopback port that answers every
    /// request `200 ok` and keeps the `Cookie` values it saw.
    fn tiny_server() -> (
        String,
        std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
    ) {
        use std::{
            io::{BufRead, BufReader, Write},
            net::TcpListener,
            sync::{Arc, Mutex},
        };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/me", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
        let cookies = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let cookies = cookies.clone();
                std::thread::spawn(move || {
                    let mut writer = stream.try_clone().unwrap();
                    let mut lines = BufReader::new(stream).lines();
                    while let Some(Ok(line)) = lines.next() {
                        if let Some(value) = line.strip_prefix("Cookie: ") {
                            cookies.lock().unwrap().insert(value.to_owned());
                        }
                        if line.is_empty()
                            && writer
                                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                                .is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        (url, seen)
    }

    #[test]
    fn real_wrk_prints_lines_that_parse_with_and_without_credentials() {
        let (url, seen) = tiny_server();
        let credentials: Vec<String> = (0..5).map(|i| format!("Cookie: s={i}")).collect();
        for creds in [credentials.clone(), Vec::new()] {
            let job = harness::LoadJob {
                stack: harness::Stack::Session,
                path: "/me".into(),
                script: Some(script(&creds)),
                threads: 1,
                connections: 4,
                duration: Duration::from_secs(1),
            };
            let generated = harness::load::run_here(&job, &url, "here").unwrap();
            assert!(
                generated.stdout.contains("read=ffi"),
                "Debian's wrk has LuaJIT's FFI: {}\n{}",
                generated.stdout,
                generated.stderr
            );
            let g = parse(&generated).unwrap();
            assert!(g.requests > 100, "{}", generated.stdout);
            assert_eq!(
                (g.non_2xx, g.errors.total()),
                (0, 0),
                "{}",
                generated.stdout
            );
            // wrk adds to its histogram for coordinated omission, never takes away.
            assert!(g.latency.count() >= g.requests, "{}", generated.stdout);
            assert!(g.duration >= Duration::from_millis(900), "{:?}", g.duration);
            let merged = checked("tiny", &[generated]).unwrap();
            assert!(merged.p50_ms > 0.0 && merged.p50_ms <= merged.p99_ms);
        }
        let expected: std::collections::BTreeSet<String> =
            (0..5).map(|i| format!("s={i}")).collect();
        assert_eq!(*seen.lock().unwrap(), expected);
    }
}
