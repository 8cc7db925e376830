//! Capacity runs with wrk, an established high-throughput generator.
//!
//! goose is the right tool for user behaviour, but on a 2-core machine it
//! tops out far below what one node serves, so a goose-driven capacity
//! figure would measure goose. wrk (C, event loop) gets much closer; and
//! every capacity experiment also measures its ceiling (`/health` through
//! the same path) so a generator-bound comparison is recognised as such.
//!
//! Credentials: a small Lua script hands each request the next credential of
//! a list (cookies or bearer tokens of many logged-in users), so the load
//! looks like many users, not one.

use std::{process::Command, time::Duration};

use crate::LabError;

/// What wrk measured.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct WrkResult {
    pub requests: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p75_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub non_2xx: u64,
    pub socket_errors: u64,
}

/// One run: `connections` connections on `threads` threads for `duration`.
pub struct WrkRun<'a> {
    pub url: &'a str,
    /// Full header lines (`Cookie: …`, `Authorization: Bearer …`), one per user; empty = none.
    pub credentials: &'a [String],
    pub threads: u32,
    pub connections: u32,
    pub duration: Duration,
}

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

/// A Lua script that rotates through `credentials`, one per request.
fn script(credentials: &[String]) -> String {
    let mut lua = String::from("local creds = {\n");
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
    lua
}

fn to_ms(text: &str) -> Option<f64> {
    let (number, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic())?);
    let value: f64 = number.parse().ok()?;
    Some(match unit {
        "us" => value / 1000.0,
        "ms" => value,
        "s" => value * 1000.0,
        "m" => value * 60_000.0,
        _ => return None,
    })
}

/// Parses `wrk --latency` output.
pub fn parse(output: &str) -> Result<WrkResult, LabError> {
    let mut result = WrkResult::default();
    for line in output.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", v] => result.p50_ms = to_ms(v).unwrap_or(0.0),
            ["75%", v] => result.p75_ms = to_ms(v).unwrap_or(0.0),
            ["90%", v] => result.p90_ms = to_ms(v).unwrap_or(0.0),
            ["99%", v] => result.p99_ms = to_ms(v).unwrap_or(0.0),
            ["Requests/sec:", v] => result.rps = v.parse().unwrap_or(0.0),
            [n, "requests", "in", ..] => result.requests = n.parse().unwrap_or(0),
            ["Non-2xx", "or", "3xx", "responses:", n] => result.non_2xx = n.parse().unwrap_or(0),
            ["Socket", "errors:", rest @ ..] => {
                result.socket_errors = rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum();
            }
            _ => {}
        }
    }
    if result.rps <= 0.0 {
        return Err(LabError::Io(format!(
            "wrk printed no throughput:\n{output}"
        )));
    }
    Ok(result)
}

/// Runs wrk (blocking: call it from `spawn_blocking` in async code).
pub fn run(spec: &WrkRun<'_>) -> Result<WrkResult, LabError> {
    let mut command = Command::new("wrk");
    command
        .arg(format!("-t{}", spec.threads))
        .arg(format!("-c{}", spec.connections))
        // wrk takes whole seconds (or m, h), not milliseconds.
        .arg(format!("-d{}s", spec.duration.as_secs().max(1)))
        .arg("--latency");
    // The script holds live credentials: keep it in a temp file that is gone
    // when the run is, never beside the report.
    let script_file = if spec.credentials.is_empty() {
        None
    } else {
        let file = tempfile::Builder::new()
            .prefix("authlab-wrk-")
            .suffix(".lua")
            .tempfile()
            .map_err(|e| LabError::Io(e.to_string()))?;
        std::fs::write(file.path(), script(spec.credentials))
            .map_err(|e| LabError::Io(e.to_string()))?;
        command.arg("-s").arg(file.path());
        Some(file)
    };
    command.arg(spec.url);
    let output = command.output().map_err(|e| {
        LabError::Missing(format!(
            "wrk ({e}); install it with: sudo apt-get install -y wrk"
        ))
    })?;
    drop(script_file);
    parse(&String::from_utf8_lossy(&output.stdout)).map_err(|e| {
        LabError::Io(format!(
            "{e}\nwrk stderr: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrk_latency_output() {
        let out = "Running 2s test @ http://127.0.0.1:1/me\n  2 threads and 64 connections\n\
            Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency     1.10ms  300.00us   9.00ms   90.00%\n\
            Latency Distribution\n     50%  812.00us\n     75%    1.20ms\n     90%    1.90ms\n     99%    4.10ms\n\
            61234 requests in 2.00s, 10.00MB read\n  Socket errors: connect 0, read 2, write 0, timeout 1\n\
            Non-2xx or 3xx responses: 7\nRequests/sec:  30617.00\nTransfer/sec:      5.00MB\n";
        let r = parse(out).unwrap();
        assert_eq!((r.requests, r.non_2xx, r.socket_errors), (61234, 7, 3));
        assert!((r.p50_ms - 0.812).abs() < 1e-9 && (r.p99_ms - 4.1).abs() < 1e-9);
        assert!((r.rps - 30617.0).abs() < 1e-9);
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
    }
}
