//! The names the console answers to.
//!
//! A browser sends the name it was pointed at in `Host`. A web page on a name
//! its owner makes resolve to 127.0.0.1 (DNS rebinding) would reach the
//! console as the same origin as itself: read the page and its token, and
//! drive the controls. So before anything else, the console checks `Host`
//! against the names it is served under, and answers any other with `421
//! Misdirected Request`: loopback names (`localhost`, `127.0.0.1`, `[::1]`),
//! the address it is bound to when that is not a wildcard, and the names
//! given with `--console-host` or `AUTHLAB_CONSOLE_HOSTS` (comma-separated,
//! for a console reached by a name of its own). The port is not part of the check: compose publishes the
//! console's port 8000 on whatever host port `AUTHLAB_CONSOLE_PORT` says,
//! and a rebinding page differs from the console by its name, never by its
//! port alone.
//!
//! A control's `Origin`, when a browser sends one, must be one of these
//! names on the port the request came to (`http` or `https`): the console's
//! own page, under any of its names.

use std::{net::IpAddr, str::FromStr};

use actix_web::http::uri::Authority;

/// The console's names, lowercased, IPv6 addresses in brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHosts {
    names: Vec<String>,
}

impl AllowedHosts {
    /// Loopback names, `bind` unless it is a wildcard, and `extra` (a
    /// comma-separated list, as `AUTHLAB_CONSOLE_HOSTS` holds it; ports in
    /// it are ignored).
    pub fn new(bind: IpAddr, extra: Option<&str>) -> Self {
        let mut names: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
            .iter()
            .map(|n| (*n).to_owned())
            .collect();
        if !bind.is_unspecified() {
            names.push(match bind {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("[{v6}]"),
            });
        }
        for entry in extra.unwrap_or_default().split(',') {
            if let Some(name) = host_name(entry) {
                names.push(name);
            }
        }
        names.sort();
        names.dedup();
        Self { names }
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether a `Host` header value names this console.
    pub fn allows(&self, host: &str) -> bool {
        host_name(host).is_some_and(|name| self.names.contains(&name))
    }

    /// Whether `origin` is this console's own page, for a request whose
    /// (already allowed) `Host` is `host`: `http(s)://<one of the names>`
    /// on the port the request came to.
    pub fn allows_origin(&self, origin: &str, host: &str) -> bool {
        let Some(authority) = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
        else {
            return false;
        };
        let (Ok(origin), Ok(host)) = (Authority::from_str(authority), Authority::from_str(host))
        else {
            return false;
        };
        self.allows(origin.as_str()) && origin.port_u16() == host.port_u16()
    }
}

/// The name of a `host[:port]`, lowercased; `None` if it is not one.
fn host_name(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let authority = Authority::from_str(text).ok()?;
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return None;
    }
    Some(authority.host().to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn loopback_names_and_a_specific_bind_address_are_allowed() {
        let hosts = AllowedHosts::new(ip("127.0.0.1"), None);
        for host in [
            "localhost",
            "localhost:8000",
            "LOCALHOST:8000",
            "127.0.0.1:8000",
            "[::1]:8000",
        ] {
            assert!(hosts.allows(host), "{host}");
        }
        let lan = AllowedHosts::new(ip("192.0.2.10"), None);
        assert!(lan.allows("192.0.2.10:8000"));
        let v6 = AllowedHosts::new(ip("2001:db8::1"), None);
        assert!(v6.allows("[2001:db8::1]:8000"));
    }

    #[test]
    fn other_names_a_wildcard_and_garbage_are_refused() {
        let any = AllowedHosts::new(ip("0.0.0.0"), None);
        assert_eq!(any.names(), ["127.0.0.1", "[::1]", "localhost"]);
        for host in [
            "evil.example:8000",
            "evil.example",
            "0.0.0.0:8000",
            "localhost.evil.example",
            "127.0.0.1.nip.io:8000",
            "",
            "user@localhost:8000",
            "local host",
        ] {
            assert!(!any.allows(host), "{host:?}");
        }
        assert!(!AllowedHosts::new(ip("::"), None).allows("[::]:8000"));
    }

    #[test]
    fn configured_names_are_added_without_their_ports() {
        let hosts = AllowedHosts::new(ip("0.0.0.0"), Some(" demo.lab:8000 , Class.Example,,"));
        assert!(hosts.allows("demo.lab:8000"));
        assert!(hosts.allows("demo.lab:9000"));
        assert!(hosts.allows("class.example"));
        assert!(!hosts.allows("evil.example"));
    }

    #[test]
    fn an_origin_must_be_one_of_the_names_on_the_requests_port() {
        let hosts = AllowedHosts::new(ip("127.0.0.1"), None);
        assert!(hosts.allows_origin("http://127.0.0.1:8000", "127.0.0.1:8000"));
        assert!(hosts.allows_origin("http://localhost:8000", "127.0.0.1:8000"));
        assert!(hosts.allows_origin("https://localhost:8000", "localhost:8000"));
        for (origin, host) in [
            // What a rebinding page sends, once its Host were let through.
            ("http://evil.example:8000", "evil.example:8000"),
            ("http://evil.example:8000", "127.0.0.1:8000"),
            // Another page on this machine, on another port.
            ("http://localhost:3000", "localhost:8000"),
            ("null", "localhost:8000"),
            ("http://localhost:8000/path", "localhost:8000"),
            ("ftp://localhost:8000", "localhost:8000"),
        ] {
            assert!(!hosts.allows_origin(origin, host), "{origin} for {host}");
        }
    }
}
