//! What a node may believe about a request: the scheme and host the client
//! addressed, and the client's address.
//!
//! Behind HAProxy every connection comes from HAProxy, so the client's side of
//! it (HTTPS or not, the name it used, its address) only reaches a node in
//! headers: `X-Forwarded-Proto`, `X-Forwarded-Host`, `X-Forwarded-For`. Any
//! client can send those headers too. A node therefore believes them only
//! when the connection's peer is in `--trusted-proxies`; from anyone else it
//! uses what the connection itself shows: its own scheme (the nodes speak
//! clear text), the `Host` header (or HTTP/2's `:authority`), and the peer's
//! address.
//!
//! Every place that needs one of the three asks [`TrustedProxies::origin`]:
//! the DPoP `htu` check (`jwt_server::dpop_binding`) and login throttling
//! ([`crate::throttle`]). The session cookie's `Secure` attribute is not
//! decided per request at all: it is the `--secure-cookie` flag.
//!
//! The standard `Forwarded` header (RFC 7239) is read from no one: the lab's
//! and compose's HAProxy delete it and set the `X-Forwarded-*` headers
//! themselves, and one syntax per fact leaves no room for two proxies (or a
//! client and a proxy) to disagree.
//!
//! From a trusted peer, `X-Forwarded-Proto` and `X-Forwarded-Host` must be one
//! value each (HAProxy's `set-header` makes it so); a list, a second line or a
//! value that is not a scheme or host falls back to what the connection
//! shows, never to a value somebody chose. `X-Forwarded-For` is a list by
//! design: it is read right to left, skipping trusted proxies, and the first
//! other address is the client (so entries a client put in front of the
//! proxy's own are never reached).

use std::{net::IpAddr, str::FromStr, sync::Arc};

use actix_web::{
    http::{header::HeaderMap, uri::Authority},
    HttpRequest,
};
use serde::Serialize;

/// One address or a CIDR range (`10.0.0.0/8`, `::1`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRange {
    network: IpAddr,
    prefix: u8,
}

impl AddressRange {
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(address)) => prefix_matches(
                network.to_bits().into(),
                address.to_bits().into(),
                32,
                self.prefix,
            ),
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                prefix_matches(network.to_bits(), address.to_bits(), 128, self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_matches(network: u128, address: u128, bits: u8, prefix: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let shift = u32::from(bits - prefix);
    (network >> shift) == (address >> shift)
}

impl FromStr for AddressRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network = IpAddr::from_str(address)
            .map_err(|_| format!("{text:?} is not an IP address or CIDR range"))?
            .to_canonical();
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {bits}"))?,
        };
        Ok(Self { network, prefix })
    }
}

impl std::fmt::Display for AddressRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Serialize for AddressRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The scheme a client used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("http") {
            Some(Scheme::Http)
        } else if text.eq_ignore_ascii_case("https") {
            Some(Scheme::Https)
        } else {
            None
        }
    }
}

/// A request's scheme, host and client as this node may believe them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOrigin {
    pub scheme: Scheme,
    /// `host[:port]` as the client addressed it; `None` when the request
    /// names no usable host (no `Host` header, or one that is not a host).
    pub host: Option<String>,
    /// `None` only for a request with no peer (tests calling a handler directly).
    pub client: Option<IpAddr>,
    /// Whether the connection came from a trusted proxy (whose headers were read).
    pub proxied: bool,
}

impl RequestOrigin {
    /// `scheme://host` followed by `path`, or `None` without a host.
    pub fn url(&self, path: &str) -> Option<String> {
        let host = self.host.as_deref()?;
        Some(format!("{}://{host}{path}", self.scheme.as_str()))
    }
}

/// What the connection itself shows, apart from its headers.
#[derive(Debug, Clone, Copy)]
pub struct Connection<'a> {
    pub peer: Option<IpAddr>,
    /// The node's own listener speaks TLS.
    pub secure: bool,
    /// The request target's authority (HTTP/2's `:authority`, or an
    /// absolute-form HTTP/1.1 target).
    pub authority: Option<&'a str>,
}

/// `--trusted-proxies`: the peers whose `X-Forwarded-*` headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    ranges: Arc<[AddressRange]>,
}

impl TrustedProxies {
    pub fn new(ranges: &[AddressRange]) -> Self {
        Self {
            ranges: ranges.into(),
        }
    }

    /// Nobody: every peer is the client and speaks for itself only.
    pub fn none() -> Self {
        Self::default()
    }

    pub fn trusts(&self, address: IpAddr) -> bool {
        self.ranges.iter().any(|range| range.contains(address))
    }

    /// The origin of an actix request.
    pub fn origin(&self, request: &HttpRequest) -> RequestOrigin {
        let connection = Connection {
            peer: request.peer_addr().map(|a| a.ip()),
            secure: request.app_config().secure(),
            authority: request.uri().authority().map(Authority::as_str),
        };
        self.believe(connection, request.headers())
    }

    /// The rule itself, on plain data.
    pub fn believe(&self, connection: Connection<'_>, headers: &HeaderMap) -> RequestOrigin {
        let peer = connection.peer.map(|p| p.to_canonical());
        let proxied = peer.is_some_and(|p| self.trusts(p));
        let own_scheme = if connection.secure {
            Scheme::Https
        } else {
            Scheme::Http
        };
        let own_host = || {
            single(headers, "host")
                .and_then(valid_host)
                .or_else(|| connection.authority.and_then(valid_host))
        };
        if !proxied {
            return RequestOrigin {
                scheme: own_scheme,
                host: own_host(),
                client: peer,
                proxied,
            };
        }
        RequestOrigin {
            scheme: single(headers, "x-forwarded-proto")
                .and_then(Scheme::parse)
                .unwrap_or(own_scheme),
            host: single(headers, "x-forwarded-host")
                .and_then(valid_host)
                .or_else(own_host),
            client: peer.map(|p| self.forwarded_client(p, headers)),
            proxied,
        }
    }

    /// Right to left through `X-Forwarded-For` (every header line, in order),
    /// skipping trusted proxies: the first address that is not one is the
    /// client. An entry that does not parse ends the walk at the last trusted
    /// hop, which then counts as the client: never an address anyone could
    /// have chosen.
    fn forwarded_client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(address) = parse_hop(hop) else {
                return client;
            };
            client = address;
            if !self.trusts(address) {
                return address;
            }
        }
        client
    }
}

/// The header's value when it appears exactly once, as one item (no comma).
fn single<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let mut values = headers.get_all(name);
    let value = values.next()?.to_str().ok()?;
    if values.next().is_some() || value.contains(',') {
        return None;
    }
    Some(value.trim())
}

/// `host[:port]`, lowercased, or `None` for anything else (user info, a
/// path, an empty name): the value ends up inside a URL.
fn valid_host(text: &str) -> Option<String> {
    let authority = Authority::from_str(text.trim()).ok()?;
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return None;
    }
    Some(authority.as_str().to_ascii_lowercase())
}

/// One `X-Forwarded-For` entry: an address, possibly with a port
/// (`192.0.2.1:5000`, `[2001:db8::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(address) = hop.parse::<IpAddr>() {
        return Some(address.to_canonical());
    }
    hop.parse::<std::net::SocketAddr>()
        .ok()
        .map(|socket| socket.ip().to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn trusted(list: &[&str]) -> TrustedProxies {
        let ranges: Vec<AddressRange> = list.iter().map(|r| r.parse().unwrap()).collect();
        TrustedProxies::new(&ranges)
    }

    fn headers(lines: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in lines {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    fn from(peer: &str) -> Connection<'static> {
        Connection {
            peer: Some(ip(peer)),
            secure: false,
            authority: None,
        }
    }

    /// What a client sends to pose as someone it is not.
    fn spoofed() -> HeaderMap {
        headers(&[
            ("host", "node.example:8081"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-for", "198.51.100.9"),
            ("forwarded", "for=192.0.2.1;proto=https;host=evil.example"),
        ])
    }

    #[test]
    fn ranges_parse_and_match() {
        let loopback: AddressRange = "127.0.0.0/8".parse().unwrap();
        assert!(loopback.contains(ip("127.1.2.3")));
        assert!(loopback.contains(ip("::ffff:127.0.0.1")));
        assert!(!loopback.contains(ip("128.0.0.1")));
        let single: AddressRange = "192.0.2.7".parse().unwrap();
        assert!(single.contains(ip("192.0.2.7")) && !single.contains(ip("192.0.2.8")));
        let v6: AddressRange = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:1::1")) && !v6.contains(ip("2001:db9::1")));
        let any: AddressRange = "0.0.0.0/0".parse().unwrap();
        assert!(any.contains(ip("203.0.113.1")) && !any.contains(ip("::1")));
        for bad in ["", "x", "10.0.0.0/33", "::/129", "10.0.0.0/-1"] {
            assert!(bad.parse::<AddressRange>().is_err(), "{bad}");
        }
        assert_eq!(loopback.to_string(), "127.0.0.0/8");
    }

    #[test]
    fn an_untrusted_peers_forwarded_headers_are_ignored() {
        let origin = trusted(&["127.0.0.2"]).believe(from("127.0.0.1"), &spoofed());
        assert_eq!(
            origin,
            RequestOrigin {
                scheme: Scheme::Http,
                host: Some("node.example:8081".into()),
                client: Some(ip("127.0.0.1")),
                proxied: false,
            }
        );
        assert_eq!(
            origin.url("/me").as_deref(),
            Some("http://node.example:8081/me")
        );
        // Nothing trusted at all: the same.
        assert_eq!(
            TrustedProxies::none().believe(from("127.0.0.1"), &spoofed()),
            origin
        );
    }

    #[test]
    fn a_trusted_proxys_forwarded_headers_are_believed() {
        let origin = trusted(&["127.0.0.2"]).believe(from("127.0.0.2"), &spoofed());
        assert_eq!(
            origin,
            RequestOrigin {
                scheme: Scheme::Https,
                host: Some("evil.example".into()),
                client: Some(ip("198.51.100.9")),
                proxied: true,
            }
        );
        assert_eq!(
            origin.url("/me").as_deref(),
            Some("https://evil.example/me")
        );
    }

    #[test]
    fn the_forwarded_header_is_read_from_no_one() {
        let only_forwarded = headers(&[
            ("host", "node.example"),
            ("forwarded", "for=192.0.2.1;proto=https;host=evil.example"),
        ]);
        for peer in ["127.0.0.1", "127.0.0.2"] {
            let origin = trusted(&["127.0.0.2"]).believe(from(peer), &only_forwarded);
            assert_eq!(origin.scheme, Scheme::Http, "{peer}");
            assert_eq!(origin.host.as_deref(), Some("node.example"), "{peer}");
            assert_eq!(origin.client, Some(ip(peer)), "{peer}");
        }
    }

    #[test]
    fn a_trusted_proxys_ambiguous_or_bad_values_fall_back_to_the_connection() {
        let proxies = trusted(&["127.0.0.2"]);
        let ambiguous = headers(&[
            ("host", "node.example"),
            ("x-forwarded-proto", "https, http"),
            ("x-forwarded-host", "a.example"),
            ("x-forwarded-host", "b.example"),
        ]);
        let origin = proxies.believe(from("127.0.0.2"), &ambiguous);
        assert_eq!(origin.scheme, Scheme::Http);
        assert_eq!(origin.host.as_deref(), Some("node.example"));
        let bad = headers(&[
            ("host", "node.example"),
            ("x-forwarded-proto", "gopher"),
            ("x-forwarded-host", "user@evil.example"),
        ]);
        let origin = proxies.believe(from("127.0.0.2"), &bad);
        assert_eq!(origin.scheme, Scheme::Http);
        assert_eq!(origin.host.as_deref(), Some("node.example"));
        // Case does not matter in a scheme or a host name.
        let upper = headers(&[
            ("x-forwarded-proto", "HTTPS"),
            ("x-forwarded-host", "API.Example:443"),
        ]);
        let origin = proxies.believe(from("127.0.0.2"), &upper);
        assert_eq!(
            origin.url("/x").as_deref(),
            Some("https://api.example:443/x")
        );
    }

    #[test]
    fn hosts_come_from_one_host_header_or_the_authority_and_nothing_else() {
        let none = TrustedProxies::none();
        // HTTP/2: no Host header, the authority names the host.
        let h2 = Connection {
            authority: Some("api.example:8443"),
            ..from("192.0.2.1")
        };
        assert_eq!(
            none.believe(h2, &HeaderMap::new()).host.as_deref(),
            Some("api.example:8443")
        );
        assert_eq!(
            none.believe(from("192.0.2.1"), &HeaderMap::new()).host,
            None
        );
        let two = headers(&[("host", "a.example"), ("host", "b.example")]);
        assert_eq!(none.believe(from("192.0.2.1"), &two).host, None);
        for bad in ["", "a b", "a.example/path", "user@a.example"] {
            let origin = none.believe(from("192.0.2.1"), &headers(&[("host", bad)]));
            assert_eq!(origin.host, None, "{bad:?}");
            assert_eq!(origin.url("/me"), None, "{bad:?}");
        }
        // A listener of its own speaking TLS is https without any header.
        let tls = Connection {
            secure: true,
            ..from("192.0.2.1")
        };
        assert_eq!(none.believe(tls, &HeaderMap::new()).scheme, Scheme::Https);
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_peer() {
        let proxies = trusted(&["127.0.0.1"]);
        let xff = headers(&[("x-forwarded-for", "198.51.100.9")]);
        let client = |proxies: &TrustedProxies, peer: &str, headers: &HeaderMap| {
            proxies.believe(from(peer), headers).client.unwrap()
        };
        assert_eq!(client(&proxies, "203.0.113.5", &xff), ip("203.0.113.5"));
        assert_eq!(client(&proxies, "127.0.0.1", &xff), ip("198.51.100.9"));
        // No header: the proxy itself is all we know.
        assert_eq!(
            client(&proxies, "127.0.0.1", &HeaderMap::new()),
            ip("127.0.0.1")
        );
        assert_eq!(
            client(&TrustedProxies::none(), "127.0.0.1", &xff),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn a_spoofed_entry_left_of_the_proxys_own_is_ignored() {
        let proxies = trusted(&["127.0.0.1", "10.0.0.0/8"]);
        let client = |lines: &[&str]| {
            let lines: Vec<_> = lines.iter().map(|l| ("x-forwarded-for", *l)).collect();
            proxies
                .believe(from("127.0.0.1"), &headers(&lines))
                .client
                .unwrap()
        };
        // The client sent its own header; HAProxy appended the real address.
        assert_eq!(client(&["192.0.2.66", "198.51.100.9"]), ip("198.51.100.9"));
        // One header, comma-separated, through two trusted hops.
        assert_eq!(
            client(&["192.0.2.66, 198.51.100.9, 10.1.1.1"]),
            ip("198.51.100.9")
        );
        // Garbage stops the walk at the last trusted hop.
        assert_eq!(client(&["198.51.100.9, nonsense"]), ip("127.0.0.1"));
        // Ports and brackets are accepted.
        assert_eq!(client(&["[2001:db8::5]:443"]), ip("2001:db8::5"));
    }
}
