//! c9 on the wire: what a credential costs per request, as sent.
//!
//! Header bytes are what a credential costs over HTTP/1.1, where every
//! request repeats every header. Deployed clients mostly speak HTTP/2, where
//! HPACK lets the client send a header it sent before as an index into a
//! table both ends keep: a byte or two instead of the value. Whether the
//! client indexes a header is the client's choice, and nghttp2 (the library
//! under h2load and curl) never indexes `Authorization`, so that a
//! compression oracle cannot guess it, nor a value that would fill more
//! than 3/4 of the 4,096-byte table. So over HTTP/2 a JWT sent as a bearer
//! token is paid in full (Huffman-coded) on every request, the same JWT in a
//! cookie costs about a byte, and so does the session cookie.
//!
//! This part measures instead of computing: h2load sends each request on a
//! kept-alive connection through the lab's counting relay
//! ([`crate::wire::WireCounter`]) in front of HAProxy's frontend, over
//! HTTP/1.1 and HTTP/2, in clear text and over TLS, and the relay counts
//! what really crossed ([`crate::wire_cost`]). A credential's cost is the
//! request's bytes minus those of the same request without it. Then the
//! longest cookie value the client still indexes is found by bisection.

use serde::Serialize;

use crate::kit::err;
use crate::{
    h2load::{H2load, HttpVersion},
    results::Table,
    summaries::WireFacts,
    wire::WireCounter,
    wire_cost::{index_threshold, wire_cost, IndexThreshold, StatusClass, WireCost},
    Cluster, LabError, Stack,
};

/// How a client talks to HAProxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Http1Clear,
    Http1Tls,
    Http2Clear,
    Http2Tls,
}

impl Protocol {
    pub const CLEAR: [Protocol; 2] = [Protocol::Http1Clear, Protocol::Http2Clear];
    pub const TLS: [Protocol; 2] = [Protocol::Http1Tls, Protocol::Http2Tls];

    pub fn label(self) -> &'static str {
        match self {
            Protocol::Http1Clear => "HTTP/1.1",
            Protocol::Http1Tls => "HTTP/1.1 + TLS",
            Protocol::Http2Clear => "HTTP/2 (clear, prior knowledge)",
            Protocol::Http2Tls => "HTTP/2 + TLS",
        }
    }

    pub fn version(self) -> HttpVersion {
        match self {
            Protocol::Http1Clear | Protocol::Http1Tls => HttpVersion::Http1,
            Protocol::Http2Clear | Protocol::Http2Tls => HttpVersion::Http2,
        }
    }

    pub fn is_http2(self) -> bool {
        self.version() == HttpVersion::Http2
    }

    /// What h2load must report having spoken.
    fn negotiated(self) -> &'static str {
        match self {
            Protocol::Http1Clear | Protocol::Http1Tls => "http/1.1",
            Protocol::Http2Clear => "h2c",
            Protocol::Http2Tls => "h2",
        }
    }
}

/// Where the credential travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Carrier {
    /// The same request with no credential: the baseline.
    Nothing,
    SessionCookie,
    /// `Authorization: Bearer <jwt>`: how the JWT server takes it.
    Bearer,
    /// `Cookie: authlab_token=<jwt>`: how many apps carry a JWT; the JWT
    /// server reads no cookie, so this request is answered 401 (only the
    /// bytes it sends are compared).
    JwtCookie,
}

impl Carrier {
    fn header(self, credential: &str) -> Option<(String, String)> {
        match self {
            Carrier::Nothing => None,
            Carrier::SessionCookie => Some(("cookie".into(), credential.into())),
            Carrier::Bearer => Some(("authorization".into(), format!("Bearer {credential}"))),
            Carrier::JwtCookie => Some(("cookie".into(), format!("authlab_token={credential}"))),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Carrier::Nothing => "no credential",
            Carrier::SessionCookie => "session cookie",
            Carrier::Bearer => "JWT as Authorization: Bearer",
            Carrier::JwtCookie => "JWT in a cookie",
        }
    }
}

/// One request measured on one protocol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WireRow {
    pub protocol: Protocol,
    pub stack: Stack,
    pub carrier: Carrier,
    /// The token's extra permissions, for minted tokens; `None` at login.
    pub roles: Option<usize>,
    /// Bytes of the credential itself (the cookie pair, or the token).
    pub credential_bytes: usize,
    pub expected: StatusClass,
    pub cost: WireCost,
}

/// A request to measure: which stack, how the credential travels, and the answer it must get.
#[derive(Debug, Clone)]
pub struct Probe {
    pub stack: Stack,
    pub carrier: Carrier,
    pub roles: Option<usize>,
    pub credential: String,
    pub expected: StatusClass,
}

/// Requests per measured run on a kept-alive connection (after the first).
pub fn requests(quick: bool) -> u32 {
    if quick {
        50
    } else {
        200
    }
}

/// Measures every probe on every protocol of `protocols` that this
/// cluster's frontend speaks, through one counting relay per stack.
pub async fn measure(
    cluster: &dyn Cluster,
    protocols: &[Protocol],
    probes: &[Probe],
    n: u32,
) -> Result<Vec<WireRow>, LabError> {
    let mut counters = Vec::new();
    for stack in [Stack::Session, Stack::Jwt] {
        let port = cluster.frontend_port(stack)?;
        counters.push((
            stack,
            WireCounter::start(([127, 0, 0, 1], port).into()).await?,
        ));
    }
    let scheme = cluster.spec().frontend.scheme();
    let mut rows = Vec::new();
    for &protocol in protocols {
        for probe in probes {
            let counter = counters
                .iter()
                .find(|(s, _)| *s == probe.stack)
                .map(|(_, c)| c)
                .ok_or_else(|| err("no relay for the stack"))?;
            let load = H2load {
                url: format!("{scheme}://{}/me", counter.address()),
                version: protocol.version(),
                requests: 1,
                headers: probe
                    .carrier
                    .header(&probe.credential)
                    .into_iter()
                    .collect(),
            };
            let cost = wire_cost(counter, &load, n, probe.expected).await?;
            if cost.protocol != protocol.negotiated() {
                return Err(err(format!(
                    "h2load spoke {:?} where {} ({}) was meant",
                    cost.protocol,
                    protocol.label(),
                    protocol.negotiated()
                )));
            }
            rows.push(WireRow {
                protocol,
                stack: probe.stack,
                carrier: probe.carrier,
                roles: probe.roles,
                credential_bytes: probe.credential.len(),
                expected: probe.expected,
                cost,
            });
        }
    }
    Ok(rows)
}

/// The longest cookie value h2load's encoder (nghttp2) still indexes, over
/// clear HTTP/2 to the JWT stack's `/health` (which ignores cookies).
pub async fn cookie_threshold(cluster: &dyn Cluster) -> Result<IndexThreshold, LabError> {
    let counter =
        WireCounter::start(([127, 0, 0, 1], cluster.frontend_port(Stack::Jwt)?).into()).await?;
    let base = H2load {
        url: format!(
            "{}://{}/health",
            cluster.spec().frontend.scheme(),
            counter.address()
        ),
        version: HttpVersion::Http2,
        requests: 1,
        headers: Vec::new(),
    };
    index_threshold(&counter, &base, "cookie", 64, 8_192, 20).await
}

/// The distinct values of `key` over `rows`, in the order they first
/// appear (the order the run measured them in).
fn first_seen<T: PartialEq>(rows: &[WireRow], key: impl Fn(&WireRow) -> T) -> Vec<T> {
    let mut seen = Vec::new();
    for value in rows.iter().map(key) {
        if !seen.contains(&value) {
            seen.push(value);
        }
    }
    seen
}

/// What each credential added per request, from the measured rows (login
/// credentials only: rows without `roles`).
pub fn wire_facts(rows: &[WireRow]) -> Vec<WireFacts> {
    let protocols = first_seen(rows, |r| r.protocol);
    protocols
        .into_iter()
        .filter_map(|protocol| {
            let cost = |stack: Stack, carrier: Carrier| {
                rows.iter()
                    .find(|r| {
                        r.protocol == protocol
                            && r.stack == stack
                            && r.carrier == carrier
                            && r.roles.is_none()
                    })
                    .map(|r| r.cost.to_server_per_request)
            };
            let session_base = cost(Stack::Session, Carrier::Nothing)?;
            let jwt_base = cost(Stack::Jwt, Carrier::Nothing)?;
            let cookie_value_bytes = rows
                .iter()
                .find(|r| {
                    r.protocol == protocol
                        && r.carrier == Carrier::SessionCookie
                        && r.roles.is_none()
                })
                .map_or(0, |r| r.credential_bytes as u64);
            Some(WireFacts {
                protocol: protocol.label().into(),
                http2: protocol.is_http2(),
                cookie: cost(Stack::Session, Carrier::SessionCookie)? - session_base,
                bearer: cost(Stack::Jwt, Carrier::Bearer)? - jwt_base,
                jwt_cookie: cost(Stack::Jwt, Carrier::JwtCookie)? - jwt_base,
                cookie_value_bytes,
            })
        })
        .collect()
}

/// Bytes a permission adds to a bearer request on the wire, per protocol:
/// the slope between the fewest and the most extra permissions measured
/// (the minted tokens' rows). HTTP/1.1 sends the token as it is; HTTP/2
/// Huffman-codes it, so the figure differs per protocol and is measured on
/// each rather than taken from the header size.
pub fn per_permission(rows: &[WireRow]) -> Vec<(Protocol, f64)> {
    first_seen(rows, |r| r.protocol)
        .into_iter()
        .filter_map(|protocol| {
            let minted: Vec<(usize, f64)> = rows
                .iter()
                .filter(|r| r.protocol == protocol && r.carrier == Carrier::Bearer)
                .filter_map(|r| Some((r.roles?, r.cost.to_server_per_request)))
                .collect();
            let low = minted.iter().min_by_key(|m| m.0)?;
            let high = minted.iter().max_by_key(|m| m.0)?;
            (high.0 > low.0).then(|| (protocol, (high.1 - low.1) / (high.0 - low.0) as f64))
        })
        .collect()
}

/// What HPACK and the client's encoder decide, not the run: a JWT in a
/// cookie shorter than the longest value the encoder indexes goes as an
/// index after the first request, on any machine with this client. Said
/// only when this run's own figures show it: the threshold was found, the
/// login token's cookie fits under it, and on every HTTP/2 protocol the
/// token in a cookie cost under `much_bigger` times the session cookie.
pub fn indexing_by_design(
    facts: &[WireFacts],
    rows: &[WireRow],
    threshold: Option<&IndexThreshold>,
    much_bigger: f64,
) -> Option<String> {
    let threshold = threshold?;
    let http2: Vec<&WireFacts> = facts.iter().filter(|w| w.http2).collect();
    if http2.is_empty()
        || http2
            .iter()
            .any(|w| w.jwt_cookie >= much_bigger * w.cookie.max(1.0))
    {
        return None;
    }
    let value_bytes = rows
        .iter()
        .filter(|r| r.carrier == Carrier::JwtCookie && r.roles.is_none())
        .filter_map(|r| Carrier::JwtCookie.header(&"x".repeat(r.credential_bytes)))
        .map(|(_, value)| value.len())
        .max()?;
    if value_bytes > threshold.largest_indexed {
        return None;
    }
    let costs = http2
        .iter()
        .map(|w| format!("{} B over {}", bytes(w.jwt_cookie), w.protocol))
        .collect::<Vec<_>>()
        .join(", ");
    Some(format!(
        "Over HTTP/2 the login token in a cookie costs a byte or two per request by design: HPACK lets the client \
         send a header it indexed as a reference, and nghttp2's encoder (h2load's, curl's) indexes a cookie value of \
         up to {} bytes (found by bisection in this run) while it never indexes Authorization. The token's cookie \
         ({value_bytes} B) is under that size, so it cost {costs}, as it would on any machine with this client; \
         the verdict judges the bearer token, which this encoder sends in full.",
        threshold.largest_indexed
    ))
}

/// What the wire measurement says, in the report's words; every figure
/// from `facts` and `threshold`.
pub fn sentences(facts: &[WireFacts], threshold: Option<&IndexThreshold>) -> String {
    if facts.is_empty() {
        return String::new();
    }
    let per = facts
        .iter()
        .map(|w| {
            let mut text = format!(
                "over {} the session cookie added {} B and the login token as Authorization {} B",
                w.protocol,
                bytes(w.cookie),
                bytes(w.bearer)
            );
            if w.http2 {
                text += &format!(", the same token in a cookie {} B", bytes(w.jwt_cookie));
            }
            text
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut text = format!(" On the wire, per request on a kept-alive connection: {per}.");
    // Each cluster logs alice in for itself, and a signed cookie's length
    // differs by a few bytes between logins: say so where the figures differ.
    let mut lengths: Vec<(u64, Vec<&str>)> = Vec::new();
    for w in facts.iter().filter(|w| w.cookie_value_bytes > 0) {
        match lengths.iter_mut().find(|(n, _)| *n == w.cookie_value_bytes) {
            Some((_, protocols)) => protocols.push(&w.protocol),
            None => lengths.push((w.cookie_value_bytes, vec![&w.protocol])),
        }
    }
    if lengths.len() > 1 {
        text += &format!(
            " The session cookies differ because each cluster issued its own at login, and a signed cookie's \
             length varies by a few bytes from login to login (characters of its base64 signature are \
             percent-encoded): {}.",
            lengths
                .iter()
                .map(|(n, protocols)| format!("{n} B of name=value over {}", protocols.join(", ")))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    if facts.iter().any(|w| w.http2) {
        text += " HTTP/2 sends a header the client's encoder indexed (HPACK) as a byte or two; h2load's encoder \
                 (nghttp2, also curl's) never indexes Authorization, so a bearer token is paid in full on every \
                 request while a cookie is not.";
        if let Some(t) = threshold {
            text += &format!(
                " It indexed a cookie value of up to {} bytes and sent a longer one ({} bytes and up) in full \
                 every time: past that size a token costs its whole length on every request, whatever header \
                 carries it. Browsers have encoders of their own and may index differently; this is \
                 nghttp2's policy, measured.",
                t.largest_indexed, t.smallest_not_indexed
            );
        }
    }
    text
}

fn bytes(value: f64) -> String {
    if (value - value.round()).abs() < 0.05 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// The report's tables of the wire measurement.
pub fn tables(rows: &[WireRow], threshold: &IndexThreshold, n: u32) -> Vec<Table> {
    let protocols = first_seen(rows, |r| r.protocol);
    // A row per request kind; the clear-text and TLS clusters issue
    // credentials of their own, whose lengths may differ by a few bytes.
    let kinds = first_seen(rows, |r| (r.stack, r.carrier, r.roles));
    let name = |(stack, carrier, roles): (Stack, Carrier, Option<usize>)| {
        let lengths: Vec<usize> = rows
            .iter()
            .filter(|r| (r.stack, r.carrier, r.roles) == (stack, carrier, roles))
            .map(|r| r.credential_bytes)
            .collect();
        let (low, high) = (
            lengths.iter().min().copied().unwrap_or(0),
            lengths.iter().max().copied().unwrap_or(0),
        );
        let len = if low == high {
            format!("{low} B")
        } else {
            format!("{low}–{high} B")
        };
        match (carrier, roles) {
            (Carrier::Nothing, _) => format!("{stack} stack, no credential"),
            (_, None) => format!("{} ({len}), at login", carrier.label()),
            (_, Some(roles)) => format!("{} ({len}), {roles} extra permissions", carrier.label()),
        }
    };
    let table = |title: String, figure: &dyn Fn(&WireRow) -> String| {
        let mut columns = vec!["request (GET /me)".to_owned()];
        columns.extend(protocols.iter().map(|p| p.label().to_owned()));
        Table {
            title,
            columns,
            rows: kinds
                .iter()
                .map(|kind| {
                    let mut cells = vec![name(*kind)];
                    cells.extend(protocols.iter().map(|p| {
                        rows.iter()
                            .find(|r| r.protocol == *p && (r.stack, r.carrier, r.roles) == *kind)
                            .map_or("—".into(), figure)
                    }));
                    cells
                })
                .collect(),
        }
    };
    let status = |r: &WireRow| match r.expected {
        StatusClass::Success => "",
        StatusClass::ClientError => " (401)",
    };
    let mut out = vec![
        table(
            format!(
                "Bytes client → server per request on a kept-alive connection, on the wire (TCP payload: TLS \
                 records and HTTP/2 frames included), h2load (nghttp2's HPACK encoder): (run of 1 + {n} requests \
                 − run of 1) ÷ {n}"
            ),
            &|r| format!("{}{}", bytes(r.cost.to_server_per_request), status(r)),
        ),
        table(
            "Bytes server → client per request, same runs (401: the node refused the credential; its answer is \
             shorter)"
                .into(),
            &|r| format!("{}{}", bytes(r.cost.to_client_per_request), status(r)),
        ),
        table(
            "The first request on a fresh connection, handshake included: bytes client → server / server → client"
                .into(),
            &|r| format!("{} / {}", r.cost.first.to_server, r.cost.first.to_client),
        ),
    ];
    out.push(Table {
        title: format!(
            "HPACK indexing of a `cookie` header by h2load's encoder (nghttp2), HTTP/2: bytes per request to the \
             server above the same request without it, by value length (bisection; a value counts as not indexed \
             when it costs more than a quarter of its length per request). Longest value indexed: {} bytes",
            threshold.largest_indexed
        ),
        columns: ["cookie value bytes", "extra bytes per request", "indexed"]
            .map(String::from)
            .to_vec(),
        rows: {
            let mut probes = threshold.probes.clone();
            probes.sort_by_key(|p| p.value_len);
            probes
                .iter()
                .map(|p| {
                    vec![
                        p.value_len.to_string(),
                        bytes(p.extra_per_request),
                        if p.indexed { "yes" } else { "no" }.into(),
                    ]
                })
                .collect()
        },
    });
    out
}

/// A measured row with the given bytes to the server per request, for tests.
#[cfg(test)]
pub(super) fn row(protocol: Protocol, stack: Stack, carrier: Carrier, to_server: f64) -> WireRow {
    WireRow {
        protocol,
        stack,
        carrier,
        roles: None,
        credential_bytes: 100,
        expected: StatusClass::Success,
        cost: WireCost {
            first: crate::wire::WireBytes::default(),
            to_server_per_request: to_server,
            to_client_per_request: 100.0,
            requests: 10,
            protocol: protocol.negotiated().into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credentials_cost_is_its_request_minus_the_bare_one() {
        let p = Protocol::Http2Tls;
        let mut rows = vec![
            row(p, Stack::Session, Carrier::Nothing, 30.0),
            row(p, Stack::Session, Carrier::SessionCookie, 31.0),
            row(p, Stack::Jwt, Carrier::Nothing, 29.0),
            row(p, Stack::Jwt, Carrier::Bearer, 350.0),
            row(p, Stack::Jwt, Carrier::JwtCookie, 30.5),
        ];
        // A minted token's row is not the login's.
        let mut minted = row(p, Stack::Jwt, Carrier::Bearer, 9_000.0);
        minted.roles = Some(400);
        rows.push(minted);
        assert_eq!(
            wire_facts(&rows),
            [WireFacts {
                protocol: "HTTP/2 + TLS".into(),
                http2: true,
                cookie: 1.0,
                bearer: 321.0,
                jwt_cookie: 1.5,
                cookie_value_bytes: 100,
            }]
        );
        // A protocol missing a row gives no facts rather than a guess.
        rows.remove(0);
        assert!(wire_facts(&rows).is_empty());
    }

    #[test]
    fn a_request_kind_is_one_row_across_clusters_whose_credentials_differ_in_length() {
        let mut clear = row(
            Protocol::Http1Clear,
            Stack::Session,
            Carrier::SessionCookie,
            214.0,
        );
        clear.credential_bytes = 126;
        let mut tls = row(
            Protocol::Http2Tls,
            Stack::Session,
            Carrier::SessionCookie,
            41.0,
        );
        tls.credential_bytes = 128;
        let threshold = IndexThreshold {
            header: "cookie".into(),
            largest_indexed: 3034,
            smallest_not_indexed: 3035,
            indexed_cost: 19.0,
            not_indexed_cost: 1920.0,
            baseline_cost: 18.0,
            probes: Vec::new(),
        };
        let tables = tables(&[clear, tls], &threshold, 10);
        assert_eq!(tables[0].rows.len(), 1);
        assert_eq!(
            tables[0].rows[0],
            ["session cookie (126–128 B), at login", "214", "41"]
        );
        assert!(tables[3]
            .title
            .ends_with("Longest value indexed: 3034 bytes"));
    }

    /// A minted bearer token's row: `roles` extra permissions, `to_server` B.
    fn minted(protocol: Protocol, roles: usize, to_server: f64) -> WireRow {
        let mut r = row(protocol, Stack::Jwt, Carrier::Bearer, to_server);
        r.roles = Some(roles);
        r
    }

    #[test]
    fn a_permission_costs_what_each_protocol_measured() {
        // The sample's figures: 842 → 13322 B over HTTP/1.1, 615 → 10450 B
        // over HTTP/2, for 10 → 400 extra permissions. One figure of 32 B
        // taken from the header size was wrong for HTTP/2.
        let rows = vec![
            minted(Protocol::Http1Clear, 10, 842.0),
            minted(Protocol::Http1Clear, 400, 13_322.0),
            minted(Protocol::Http2Clear, 10, 615.0),
            minted(Protocol::Http2Clear, 200, 5_408.0),
            minted(Protocol::Http2Clear, 400, 10_450.0),
            // A login row carries no permission count: left out.
            row(Protocol::Http2Clear, Stack::Jwt, Carrier::Bearer, 363.0),
        ];
        let per = per_permission(&rows);
        assert_eq!(per.len(), 2);
        assert_eq!(per[0].0, Protocol::Http1Clear);
        assert!((per[0].1 - 32.0).abs() < 1e-9, "{per:?}");
        assert!((per[1].1 - 25.2179).abs() < 1e-3, "{per:?}");
        // One size only: no slope to give.
        assert!(per_permission(&rows[..1]).is_empty());
    }

    fn facts(
        protocol: &str,
        http2: bool,
        cookie: f64,
        bearer: f64,
        jwt_cookie: f64,
        value: u64,
    ) -> WireFacts {
        WireFacts {
            protocol: protocol.into(),
            http2,
            cookie,
            bearer,
            jwt_cookie,
            cookie_value_bytes: value,
        }
    }

    fn threshold(largest: usize) -> IndexThreshold {
        IndexThreshold {
            header: "cookie".into(),
            largest_indexed: largest,
            smallest_not_indexed: largest + 1,
            indexed_cost: 19.0,
            not_indexed_cost: 1920.0,
            baseline_cost: 18.0,
            probes: Vec::new(),
        }
    }

    #[test]
    fn the_indexed_cookie_is_said_to_be_the_encoders_design_only_when_the_run_shows_it() {
        let mut jwt_cookie = row(Protocol::Http2Tls, Stack::Jwt, Carrier::JwtCookie, 41.0);
        jwt_cookie.credential_bytes = 418;
        let rows = vec![jwt_cookie.clone()];
        let indexed = [facts("HTTP/2 + TLS", true, 1.0, 346.0, 1.0, 126)];
        let said = indexing_by_design(&indexed, &rows, Some(&threshold(3034)), 3.0).unwrap();
        assert!(
            said.contains("indexes a cookie value of up to 3034 bytes"),
            "{said}"
        );
        assert!(
            said.contains(
                "The token's cookie (432 B) is under that size, so it cost 1 B over HTTP/2 + TLS"
            ),
            "{said}"
        );
        // A broken set-up: a token too big for the encoder's table, sent in
        // full in a cookie too. Nothing is put down to design.
        let full = [facts("HTTP/2 + TLS", true, 1.0, 3300.0, 3290.0, 126)];
        assert_eq!(
            indexing_by_design(&full, &rows, Some(&threshold(3034)), 3.0),
            None
        );
        // A threshold under the token's cookie contradicts the claim: not said.
        assert_eq!(
            indexing_by_design(&indexed, &rows, Some(&threshold(300)), 3.0),
            None
        );
        // No HTTP/2 measured, or no threshold found: nothing to say.
        let http1 = [facts("HTTP/1.1", false, 136.0, 442.0, 442.0, 126)];
        assert_eq!(
            indexing_by_design(&http1, &rows, Some(&threshold(3034)), 3.0),
            None
        );
        assert_eq!(indexing_by_design(&indexed, &rows, None, 3.0), None);
    }

    #[test]
    fn cookies_of_different_logins_are_labelled_not_left_to_contradict() {
        let same = [
            facts("HTTP/1.1", false, 136.0, 442.0, 442.0, 126),
            facts(
                "HTTP/2 (clear, prior knowledge)",
                true,
                1.0,
                345.0,
                1.0,
                126,
            ),
        ];
        assert!(!sentences(&same, None).contains("each cluster issued its own"));
        // The sample: 138 B over clear HTTP/1.1 beside 136 B over TLS.
        let differ = [
            facts("HTTP/1.1", false, 138.0, 442.0, 442.0, 128),
            facts("HTTP/1.1 + TLS", false, 136.0, 442.0, 442.0, 126),
        ];
        let text = sentences(&differ, None);
        assert!(
            text.contains("each cluster issued its own at login")
                && text.contains(
                    "128 B of name=value over HTTP/1.1; 126 B of name=value over HTTP/1.1 + TLS"
                ),
            "{text}"
        );
    }

    #[test]
    fn headers_are_what_each_carrier_sends() {
        assert_eq!(Carrier::Nothing.header("x"), None);
        assert_eq!(
            Carrier::Bearer.header("t"),
            Some(("authorization".into(), "Bearer t".into()))
        );
        assert_eq!(
            Carrier::JwtCookie.header("t"),
            Some(("cookie".into(), "authlab_token=t".into()))
        );
        assert_eq!(
            Carrier::SessionCookie.header("authlab_session=s"),
            Some(("cookie".into(), "authlab_session=s".into()))
        );
    }
}
