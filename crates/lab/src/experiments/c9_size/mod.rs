//! c9 — how big is the credential, and when is it too big?
//!
//! A session cookie carries a random id and a signature: its size does not
//! depend on who the user is. A JWT carries the claims themselves, so every
//! permission added to a user is added to every request they make. This
//! experiment measures both credentials as the claims grow, then sends
//! validly signed tokens of growing size through HAProxy and straight to a
//! node, on each side of every limit as configured, and reads from the
//! answers which layer refused each one and how.
//!
//! The layer is read from evidence, never from the status alone: `x-node`
//! is set only by the node's application (actix answers a head it cannot
//! parse before any middleware runs), the node's JSON error body says which
//! check failed, and HAProxy's per-server pick counter says whether HAProxy
//! forwarded the request at all.

use std::time::{Duration, Instant};

use attack_corpus::{encoding_key, header, sign};
use authlab_client::{ApiClient, Credential};
use authlab_core::{
    error::{ApiError, ErrorBody},
    http::NODE_HEADER,
};
use clap::Parser;
use jsonwebtoken::{EncodingKey, Header};
use jwt_server::{
    keys::KeySetFile,
    routes::TokenResponse,
    tokens::{now_unix, Rejection},
    JwtServerConfig, SigningAlgorithm,
};
use serde::Serialize;
use serde_json::json;

mod wire;

use self::wire::{self as c9_wire, wire_facts, Carrier, Probe, Protocol, WireRow};
use crate::experiment::Outcome;
use crate::experiment::RunContext;
use crate::experiment::Runnable;
use crate::kit::err;
use crate::{
    results::{Chart, ChartKind, ClaimVerdict, ExperimentResult, Point, Series, Table, Verdict},
    summaries::{SizeSummary, Summary, WireFacts},
    tls::Frontend,
    wire_cost::{IndexThreshold, StatusClass},
    Cluster, ClusterSpec, LabError, Stack,
};

pub struct CredentialSize;

/// Extra permissions of the minted tokens of the growth table.
const GROWTH_ROLES: [usize; 7] = [0, 10, 25, 50, 100, 200, 400];
const GROWTH_ALGORITHMS: [SigningAlgorithm; 3] = [
    SigningAlgorithm::Hs256,
    SigningAlgorithm::EdDsa,
    SigningAlgorithm::Rs256,
];
/// actix-http 3 answers 431 to a request head that does not parse within
/// this many bytes (its h1 decoder's `MAX_BUFFER_SIZE`, not configurable).
const ACTIX_HEAD_BUFFER: usize = 131_072;
/// Left free for the request line and the other headers when a probe is
/// meant to fit a request-head budget.
const HEAD_ROOM: usize = 512;
/// What a proxy or an HTTP parser answers a too-big request head with.
const HEAD_REFUSALS: [u16; 4] = [400, 413, 414, 431];
/// A login token at least this many times the cookie is "much bigger".
pub const MUCH_BIGGER: f64 = 3.0;

/// Claims of a real access token with `roles` fine-grained permissions.
fn claims_with(roles: usize) -> serde_json::Value {
    let now = now_unix();
    let mut list = vec!["user".to_owned()];
    list.extend((0..roles).map(|i| format!("perm:orders:read:{i:04}")));
    json!({
        "iss": "authlab", "aud": "authlab-api", "sub": "alice", "exp": now + 600, "iat": now, "nbf": now,
        "jti": "c9-size-probe-0000000000", "roles": list, "name": "Alice", "sid": "c9sizeprobe00000"
    })
}

/// Signs access tokens with the first key of a key set.
struct Minter {
    header: Header,
    key: EncodingKey,
}

impl Minter {
    fn new(keys: &KeySetFile) -> Result<Self, LabError> {
        let entry = keys.keys.first().ok_or_else(|| err("empty key set"))?;
        Ok(Self {
            header: header(keys.alg.jwt(), &entry.kid),
            key: encoding_key(keys.alg, entry)?,
        })
    }

    fn token(&self, roles: usize) -> Result<String, LabError> {
        Ok(sign(&self.header, &claims_with(roles), &self.key)?)
    }

    /// The most extra permissions whose token is at most `bytes` long (0
    /// when even none is longer): the length grows with every permission.
    fn roles_within(&self, bytes: usize) -> Result<usize, LabError> {
        let fits = |roles| self.token(roles).map(|t| t.len() <= bytes);
        if !fits(0)? {
            return Ok(0);
        }
        let mut high = 1;
        while fits(high)? {
            high *= 2;
        }
        let mut low = high / 2;
        while high - low > 1 {
            let middle = (low + high) / 2;
            if fits(middle)? {
                low = middle;
            } else {
                high = middle;
            }
        }
        Ok(low)
    }
}

/// Bytes of `Authorization: Bearer <t>\r\n` and of `Cookie: <c>\r\n`.
fn bearer_header_bytes(token_bytes: usize) -> usize {
    "Authorization: Bearer \r\n".len() + token_bytes
}

fn cookie_header_bytes(cookie: &str) -> usize {
    "Cookie: \r\n".len() + cookie.len()
}

/// The limits a request meets on its way, as this run's cluster set them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// `--max-token-bytes` of the JWT nodes.
    pub node_token_bytes: usize,
    pub haproxy: HaproxyBuffers,
    pub actix_head_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HaproxyBuffers {
    pub bufsize: usize,
    pub maxrewrite: usize,
    /// Where the two figures came from.
    pub source: String,
}

impl HaproxyBuffers {
    /// What a request head may take: HAProxy keeps `maxrewrite` of its
    /// buffer free for header rewrites.
    pub fn head_bytes(&self) -> usize {
        self.bufsize.saturating_sub(self.maxrewrite)
    }
}

/// `<name> <number>` of a HAProxy config, if a line sets it.
fn tune(config: &str, name: &str) -> Option<usize> {
    config.lines().find_map(|line| {
        let mut words = line.split('#').next()?.split_whitespace();
        (words.next() == Some(name))
            .then(|| words.next()?.parse().ok())
            .flatten()
    })
}

/// `bufsize` and `maxrewrite` of the "Default settings" of `haproxy -vv`.
fn built_in_buffers(vv: &str) -> Option<(usize, usize)> {
    let line = vv.lines().find(|l| l.contains("bufsize ="))?;
    let value = |key: &str| {
        line.split(',').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k.trim() == key).then(|| v.trim().parse().ok()).flatten()
        })
    };
    Some((value("bufsize")?, value("maxrewrite")?))
}

/// The buffers HAProxy runs with: the config's `tune.*` lines, else its
/// built-in defaults (asked for only when the config leaves one unset).
fn haproxy_buffers(
    config: &str,
    built_in: impl FnOnce() -> Option<(usize, usize)>,
) -> Option<HaproxyBuffers> {
    let (size, rewrite) = (
        tune(config, "tune.bufsize"),
        tune(config, "tune.maxrewrite"),
    );
    let defaults = if size.is_none() || rewrite.is_none() {
        built_in()
    } else {
        None
    };
    let bufsize = size.or(defaults.map(|d| d.0))?;
    let maxrewrite = rewrite.or(defaults.map(|d| d.1))?;
    let source = match (size, rewrite) {
        (Some(_), Some(_)) => "both set in haproxy.cfg",
        (None, None) => "haproxy.cfg sets neither: HAProxy's built-in defaults, from `haproxy -vv`",
        _ => "partly set in haproxy.cfg, the rest HAProxy's built-in defaults",
    };
    Some(HaproxyBuffers {
        bufsize,
        // HAProxy caps the reserve at half the buffer.
        maxrewrite: maxrewrite.min(bufsize / 2),
        source: source.into(),
    })
}

/// The JWT nodes' flags, parsed as the node parses them (environment and
/// defaults included), so the limit is the one the nodes run with.
#[derive(Parser)]
#[command(no_binary_name = true)]
struct JwtNodeFlags {
    #[command(flatten)]
    config: JwtServerConfig,
}

fn node_token_limit(jwt_args: &[String]) -> Result<usize, LabError> {
    JwtNodeFlags::try_parse_from(jwt_args)
        .map(|flags| flags.config.max_token_bytes)
        .map_err(|e| err(format!("reading the JWT nodes' flags: {e}")))
}

fn read_limits(cluster: &Cluster) -> Result<Limits, LabError> {
    let path = cluster.dir().join("haproxy.cfg");
    let config =
        std::fs::read_to_string(&path).map_err(|e| err(format!("{}: {e}", path.display())))?;
    let haproxy = haproxy_buffers(&config, || {
        let output = std::process::Command::new("haproxy")
            .arg("-vv")
            .output()
            .ok()?;
        built_in_buffers(&String::from_utf8_lossy(&output.stdout))
    })
    .ok_or_else(|| {
        err("HAProxy's buffer sizes: neither haproxy.cfg nor `haproxy -vv` gives them")
    })?;
    Ok(Limits {
        node_token_bytes: node_token_limit(&cluster.spec.jwt_args)?,
        haproxy,
        actix_head_bytes: ACTIX_HEAD_BUFFER,
    })
}

/// Which way a probe went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    Haproxy,
    Direct,
}

impl Route {
    fn name(self) -> &'static str {
        match self {
            Route::Haproxy => "through HAProxy",
            Route::Direct => "straight to the node",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Route::Haproxy => "Through HAProxy",
            Route::Direct => "Straight to the node",
        }
    }
}

/// Why no HTTP answer came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "error", rename_all = "snake_case")]
pub enum Failure {
    /// The connection was never made: nothing was sent.
    NotConnected(String),
    /// The request went out and the connection closed without an answer.
    Closed(String),
    /// A timeout or anything else.
    Other(String),
}

/// One answer as the client saw it, plus HAProxy's counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    /// `None` when no HTTP answer came (see `failure`).
    pub status: Option<u16>,
    /// Only the node's application sets `x-node`.
    pub x_node: bool,
    /// The node's JSON error body, when the answer had one.
    pub error: Option<ErrorBody>,
    /// Through HAProxy: whether its pick counter for the node moved; `None`
    /// straight to the node, or when the counter could not be read.
    pub forwarded: Option<bool>,
    pub failure: Option<Failure>,
}

/// Who refused a request, by the evidence of its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "layer", rename_all = "snake_case")]
pub enum Layer {
    /// The node's own size check: 401 `invalid_token`, naming its limit.
    NodeTokenLimit { limit: usize },
    /// HAProxy answered a too-big head itself: it never picked the node.
    HaproxyHead,
    /// The node's HTTP parser (actix) refused the head: no `x-node`.
    NodeHead,
    /// Nothing above: another error code, a 5xx, no evidence of the layer.
    Other { what: String },
}

impl Layer {
    fn is_header_limit(&self) -> bool {
        matches!(self, Layer::HaproxyHead | Layer::NodeHead)
    }

    fn short(&self) -> String {
        match self {
            Layer::NodeTokenLimit { limit } => format!("node: token limit ({limit} B)"),
            Layer::HaproxyHead => "HAProxy: request head too big, node never picked".into(),
            Layer::NodeHead => "node's HTTP parser (actix): head too big, no x-node".into(),
            Layer::Other { what } => format!("unexplained: {what}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "fate", rename_all = "snake_case")]
pub enum Fate {
    /// 200 from the node.
    Accepted,
    /// `status` `None`: the connection closed without an answer.
    Refused { status: Option<u16>, layer: Layer },
    /// The request never reached anyone.
    NotDelivered { error: String },
}

/// The limit in a node's 401 when its size check refused the token: the
/// message is `ApiError::InvalidToken` around `Rejection::TooLarge`.
fn stated_limit(body: &ErrorBody) -> Option<usize> {
    let sentinel = usize::MAX.to_string();
    let sample = ApiError::InvalidToken {
        description: Rejection::TooLarge(usize::MAX).to_string(),
    };
    if body.error != sample.code() {
        return None;
    }
    let text = sample.to_string();
    let (before, after) = text.split_once(&sentinel)?;
    body.message
        .strip_prefix(before)?
        .strip_suffix(after)?
        .parse()
        .ok()
}

pub fn classify(route: Route, answer: &Answer) -> Fate {
    let refused = |layer| Fate::Refused {
        status: answer.status,
        layer,
    };
    match &answer.failure {
        Some(Failure::NotConnected(error)) => {
            return Fate::NotDelivered {
                error: error.clone(),
            }
        }
        Some(Failure::Other(error)) => {
            return refused(Layer::Other {
                what: format!("no answer: {error}"),
            })
        }
        Some(Failure::Closed(_)) | None => {}
    }
    if answer.x_node {
        if answer.status == Some(200) {
            return Fate::Accepted;
        }
        let limit = answer
            .error
            .as_ref()
            .filter(|_| answer.status == Some(401))
            .and_then(stated_limit);
        return refused(match limit {
            Some(limit) => Layer::NodeTokenLimit { limit },
            None => Layer::Other {
                what: format!(
                    "the node answered with error {}",
                    answer
                        .error
                        .as_ref()
                        .map_or("(no JSON body)", |b| b.error.as_str())
                ),
            },
        });
    }
    let head_refusal = answer
        .status
        .is_none_or(|status| HEAD_REFUSALS.contains(&status));
    if !head_refusal {
        return refused(Layer::Other {
            what: "an answer without x-node that no head limit gives".into(),
        });
    }
    refused(match (route, answer.forwarded) {
        (Route::Direct, _) | (Route::Haproxy, Some(true)) => Layer::NodeHead,
        (Route::Haproxy, Some(false)) => Layer::HaproxyHead,
        (Route::Haproxy, None) => Layer::Other {
            what: "HAProxy's counters could not say whether the node saw it".into(),
        },
    })
}

/// One token size, sent both ways.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeRow {
    pub roles: usize,
    pub token_bytes: usize,
    pub through: Answer,
    pub straight: Answer,
}

impl ProbeRow {
    fn fate(&self, route: Route) -> Fate {
        classify(
            route,
            match route {
                Route::Haproxy => &self.through,
                Route::Direct => &self.straight,
            },
        )
    }
}

/// The smallest size some layer refused, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub token_bytes: usize,
    pub route: Route,
    pub status: Option<u16>,
    pub layer: Layer,
}

fn status_text(status: Option<u16>) -> String {
    status.map_or_else(|| "no answer (connection closed)".into(), |s| s.to_string())
}

impl Refusal {
    fn describe(&self) -> String {
        format!(
            "{} from {} token bytes on, {} ({})",
            status_text(self.status),
            self.token_bytes,
            self.route.name(),
            self.layer.short()
        )
    }
}

/// What the probes showed, per layer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Findings {
    /// Probe tokens that reached HAProxy or the node at least one way.
    pub delivered: usize,
    pub largest_delivered: usize,
    pub node_limit: Option<Refusal>,
    /// HAProxy's or the node parser's, whichever came at the smaller size.
    pub header_limit: Option<Refusal>,
    pub haproxy_head: Option<Refusal>,
    pub node_head: Option<Refusal>,
    pub unexplained: Option<Refusal>,
    pub through_first: Option<Refusal>,
    pub straight_first: Option<Refusal>,
}

/// First refusal (smallest size; on a tie, in `routes` order) that `pick` keeps.
fn first(rows: &[ProbeRow], routes: &[Route], pick: impl Fn(&Layer) -> bool) -> Option<Refusal> {
    let mut sorted: Vec<&ProbeRow> = rows.iter().collect();
    sorted.sort_by_key(|row| row.token_bytes);
    sorted.iter().find_map(|row| {
        routes.iter().find_map(|&route| match row.fate(route) {
            Fate::Refused { status, layer } if pick(&layer) => Some(Refusal {
                token_bytes: row.token_bytes,
                route,
                status,
                layer,
            }),
            _ => None,
        })
    })
}

pub fn findings(rows: &[ProbeRow]) -> Findings {
    let both = [Route::Haproxy, Route::Direct];
    let delivered: Vec<&ProbeRow> = rows
        .iter()
        .filter(|row| {
            both.iter()
                .any(|&r| !matches!(row.fate(r), Fate::NotDelivered { .. }))
        })
        .collect();
    Findings {
        delivered: delivered.len(),
        largest_delivered: delivered.iter().map(|r| r.token_bytes).max().unwrap_or(0),
        node_limit: first(rows, &both, |l| matches!(l, Layer::NodeTokenLimit { .. })),
        header_limit: first(rows, &both, Layer::is_header_limit),
        haproxy_head: first(rows, &[Route::Haproxy], |l| *l == Layer::HaproxyHead),
        node_head: first(rows, &both, |l| *l == Layer::NodeHead),
        unexplained: first(rows, &both, |l| matches!(l, Layer::Other { .. })),
        through_first: first(rows, &[Route::Haproxy], |_| true),
        straight_first: first(rows, &[Route::Direct], |_| true),
    }
}

/// The figures C9's rule reads.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeFacts {
    /// Per protocol: what each credential at login added per request, on the wire.
    pub wire: Vec<WireFacts>,
    pub delivered: usize,
    pub largest_delivered_token_bytes: usize,
    pub node_limit: Option<Refusal>,
    pub header_limit: Option<Refusal>,
    pub unexplained: Option<Refusal>,
}

pub fn c9_rule() -> String {
    let statuses = HEAD_REFUSALS.map(|s| s.to_string()).join(", ");
    format!(
        "not measured when no probe token reached HAProxy or the node, or no request was measured on the wire; \
         a credential's cost on a protocol is the bytes client → server per request on a kept-alive connection \
         with it, minus the same request's without it (on the wire, through the lab's counting relay); \
         otherwise does not hold when on no protocol measured did the login token as Authorization cost more \
         than the session cookie; otherwise inconclusive when some probe was refused in a way \
         no size limit explains (the node answered other than 200 or its token-size check's 401, an answer \
         without x-node was neither a hang-up nor one of {statuses}, HAProxy's counter could not say whether it \
         forwarded, or the request timed out); otherwise holds when a header size limit (HAProxy refusing \
         without picking the node, or the node's HTTP parser refusing without x-node) refused some size sent, \
         on every protocol the login token as Authorization cost at least {MUCH_BIGGER}x the cookie (taken as \
         at least 1 byte); holds with a caveat, naming each, when no header size limit refused any size sent \
         (no layer refused, or only the node's own token-size limit did), or on some protocol the bearer token \
         cost under {MUCH_BIGGER}x the cookie. The same token in a cookie over HTTP/2 is not judged: when it is \
         shorter than the longest cookie value the client's encoder indexes, HPACK sends it as an index by \
         design, and the report says so apart from the verdict."
    )
}

/// C9's verdict; [`c9_rule`] says the same in words.
pub fn c9_verdict(facts: &SizeFacts) -> Verdict {
    if facts.delivered == 0 {
        return Verdict::NotMeasured(
            "no probe token reached HAProxy or the node, so no size limit was tried".into(),
        );
    }
    if facts.wire.is_empty() {
        return Verdict::NotMeasured("no request was measured on the wire".into());
    }
    if facts.wire.iter().all(|w| w.bearer <= w.cookie) {
        return Verdict::DoesNotHold(format!(
            "on no protocol did the login token as Authorization cost more on the wire than the session \
             cookie: {}",
            facts
                .wire
                .iter()
                .map(|w| format!("{} {:.1} B vs {:.1} B", w.protocol, w.bearer, w.cookie))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if let Some(refusal) = &facts.unexplained {
        return Verdict::Inconclusive(format!(
            "a refusal no size limit explains: {}",
            refusal.describe()
        ));
    }
    let mut caveats = Vec::new();
    if facts.header_limit.is_none() {
        caveats.push(match &facts.node_limit {
            None => format!(
                "no layer refused any size sent, up to {} token bytes",
                facts.largest_delivered_token_bytes
            ),
            Some(refusal) => format!(
                "only the node's own token limit refused ({}); no header size limit was reached up to {} token bytes",
                refusal.describe(),
                facts.largest_delivered_token_bytes
            ),
        });
    }
    for w in &facts.wire {
        let ratio = w.bearer / w.cookie.max(1.0);
        if ratio < MUCH_BIGGER {
            caveats.push(format!(
                "on {} the token as Authorization cost only {ratio:.1}x the cookie per request ({:.1} B vs {:.1} B)",
                w.protocol, w.bearer, w.cookie
            ));
        }
    }
    // The token in a cookie over HTTP/2 is not judged: whether the client's
    // encoder indexes it is its design (c9_wire::indexing_by_design says so
    // apart from the verdict), not something this run could find otherwise.
    if caveats.is_empty() {
        Verdict::Holds
    } else {
        Verdict::HoldsWithCaveat(caveats.join("; "))
    }
}

/// The first screen's figure: what the login token as Authorization and
/// the session cookie added per request, on the first HTTP/1.1 and the
/// last HTTP/2 protocol measured (clear HTTP/1.1 and HTTP/2 + TLS in a
/// full run: the plainest and the most deployed).
pub fn c9_headline(wire: &[WireFacts]) -> String {
    let picked: Vec<&WireFacts> = [
        wire.iter().find(|w| !w.http2),
        wire.iter().rev().find(|w| w.http2),
    ]
    .into_iter()
    .flatten()
    .collect();
    if picked.is_empty() {
        return String::new();
    }
    let each: Vec<String> = picked
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let vs = if i == 0 {
                "per request vs session cookie"
            } else {
                "vs"
            };
            format!("{:.0} B {vs} {:.0} B ({})", w.bearer, w.cookie, w.protocol)
        })
        .collect();
    format!("login JWT {}", each.join("; "))
}

/// Everything the run measured, for the tables and the prose.
#[derive(Debug, Clone)]
struct Measured {
    nodes: usize,
    alg: SigningAlgorithm,
    limits: Limits,
    cookie_bytes: usize,
    login_bytes: usize,
    login_roles: usize,
    /// Header bytes per [`GROWTH_ROLES`] entry, per [`GROWTH_ALGORITHMS`] entry.
    growth: Vec<Vec<usize>>,
    probes: Vec<ProbeRow>,
    /// Every request measured on the wire, clear-text and TLS clusters.
    wire: Vec<WireRow>,
    /// The longest cookie value h2load's encoder still indexed.
    threshold: Option<IndexThreshold>,
    /// Requests per kept-alive run.
    wire_requests: u32,
}

impl Measured {
    fn facts(&self, found: &Findings) -> SizeFacts {
        SizeFacts {
            wire: wire_facts(&self.wire),
            delivered: found.delivered,
            largest_delivered_token_bytes: found.largest_delivered,
            node_limit: found.node_limit.clone(),
            header_limit: found.header_limit.clone(),
            unexplained: found.unexplained.clone(),
        }
    }

    fn ratio(&self) -> f64 {
        self.login_bytes as f64 / self.cookie_bytes.max(1) as f64
    }

    /// Bytes a permission adds, from the first algorithm's growth column.
    fn bytes_per_permission(&self) -> Option<f64> {
        let (first, last) = (self.growth.first()?, self.growth.last()?);
        let roles = GROWTH_ROLES[GROWTH_ROLES.len() - 1] - GROWTH_ROLES[0];
        let (low, high) = (*first.first()? as f64, *last.first()? as f64);
        (roles > 0).then(|| (high - low) / roles as f64)
    }

    fn probe_span(&self) -> String {
        match (self.probes.first(), self.probes.last()) {
            (Some(a), Some(b)) => format!(
                "from {} to {} bytes ({} to {} extra permissions)",
                a.token_bytes, b.token_bytes, a.roles, b.roles
            ),
            _ => "(none)".into(),
        }
    }

    fn setup(&self) -> String {
        let l = &self.limits;
        format!(
            "A cluster with {nodes} node{s} per stack behind HAProxy. Limits as configured for this run: the JWT \
             nodes refuse tokens over {token} bytes (--max-token-bytes, parsed from their flags and environment); \
             HAProxy holds a request head in tune.bufsize {bufsize} − tune.maxrewrite {rewrite} = {head} bytes \
             ({source}); actix-http answers 431 to a request head it cannot parse within {actix} bytes (a constant \
             of actix-http 3). Alice logs in on each stack; credential sizes are the bytes of the Cookie or \
             Authorization header line. Tokens with {gmin} to {gmax} extra permissions are minted for {algs} key \
             sets. Then {n} tokens signed with the cluster's {alg} key, {span}, sized to fall on each side of each \
             limit above (plus sizes doubling from 1 KiB), are each sent to GET /me through HAProxy and straight \
             to the node. The refusing layer is read from evidence: x-node on the answer (set only by the node's \
             application), the node's JSON error code and message, and HAProxy's per-server pick counter \
             (unchanged: HAProxy answered without forwarding). Then bytes on the wire: h2load (nghttp2-client) \
             sends each credential to GET /me through a counting TCP relay of the lab's in front of HAProxy's \
             frontend, over HTTP/1.1 and HTTP/2 (prior knowledge) in clear text, then over HTTP/1.1 and HTTP/2 \
             to a second, identical cluster with TLS at HAProxy (ALPN h2,http/1.1, a certificate from a CA \
             generated for the run); per request = (a run of 1 + {wire_n} requests on one connection − a run of \
             1) ÷ {wire_n}, each run's answers checked first. Last, the longest cookie value h2load's encoder \
             still indexes, by bisection over 64–8192 bytes.",
            nodes = self.nodes,
            s = if self.nodes == 1 { "" } else { "s" },
            token = l.node_token_bytes,
            bufsize = l.haproxy.bufsize,
            rewrite = l.haproxy.maxrewrite,
            head = l.haproxy.head_bytes(),
            source = l.haproxy.source,
            actix = l.actix_head_bytes,
            gmin = GROWTH_ROLES[0],
            gmax = GROWTH_ROLES[GROWTH_ROLES.len() - 1],
            algs = GROWTH_ALGORITHMS.map(SigningAlgorithm::name).join(", "),
            n = self.probes.len(),
            alg = self.alg,
            span = self.probe_span(),
            wire_n = self.wire_requests,
        )
    }

    fn evidence(&self, found: &Findings) -> String {
        let or_none = |r: &Option<Refusal>| {
            r.as_ref()
                .map_or_else(|| "refused none".into(), Refusal::describe)
        };
        let last = self.growth.last();
        let growth_span = GROWTH_ALGORITHMS
            .iter()
            .enumerate()
            .filter_map(|(i, a)| Some(format!("{} B ({a})", last?.get(i)?)))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "cookie header {} B; JWT header at login {} B ({:.1}x); with {} extra permissions {growth_span}; \
             {} of {} probe tokens delivered, {}; node's token limit (configured {} B): {}; HAProxy's head \
             budget (configured {} B): {}; node's HTTP parser (actix, {} B): {}; unexplained refusals: {}; \
             first refusal through HAProxy: {}; first refusal straight to the node: {}",
            self.cookie_bytes,
            self.login_bytes,
            self.ratio(),
            GROWTH_ROLES[GROWTH_ROLES.len() - 1],
            found.delivered,
            self.probes.len(),
            self.probe_span(),
            self.limits.node_token_bytes,
            or_none(&found.node_limit),
            self.limits.haproxy.head_bytes(),
            or_none(&found.haproxy_head),
            self.limits.actix_head_bytes,
            or_none(&found.node_head),
            found.unexplained.as_ref().map_or_else(|| "none".into(), Refusal::describe),
            or_none(&found.through_first),
            or_none(&found.straight_first),
        ) + &wire_evidence(&wire_facts(&self.wire))
    }

    fn lesson(&self, found: &Findings) -> String {
        let mut text = format!(
            "A session cookie header is {} bytes whatever the user may do; the token issued at login is {} bytes \
             ({:.1}x)",
            self.cookie_bytes,
            self.login_bytes,
            self.ratio()
        );
        if let Some(per) = self.bytes_per_permission() {
            text += &format!(
                ", and each permission put into a token adds {per:.0} bytes to its header line"
            );
            let on_wire = c9_wire::per_permission(&self.wire);
            if !on_wire.is_empty() {
                text += &format!(
                    "; measured on the wire, per request, a permission in a bearer token added {}",
                    on_wire
                        .iter()
                        .map(|(protocol, b)| format!("{b:.0} B over {}", protocol.label()))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        text.push('.');
        let largest = found.largest_delivered;
        for (route, refusal) in [
            (Route::Haproxy, &found.through_first),
            (Route::Direct, &found.straight_first),
        ] {
            text += &match refusal {
                Some(r) => format!(
                    " {}, the first refusal came at {} token bytes: {}, by {}.",
                    route.title(),
                    r.token_bytes,
                    status_text(r.status),
                    r.layer.short()
                ),
                None => format!(
                    " {}, no size sent was refused (up to {largest} token bytes).",
                    route.title()
                ),
            };
        }
        text += &match (&found.node_limit, &found.header_limit) {
            (Some(node), Some(head)) if node.token_bytes < head.token_bytes => format!(
                " The node's own limit refused a too-big token with a 401 the client can read before any header \
                 limit was reached; from {} token bytes the request failed at the header layer instead ({}, {}).",
                head.token_bytes,
                status_text(head.status),
                head.layer.short()
            ),
            (Some(node), Some(head)) => format!(
                " A header limit ({}) was reached at {} token bytes, no later than the node's own limit ({} bytes): \
                 such requests fail with {}, not with the node's 401.",
                head.layer.short(),
                head.token_bytes,
                node.token_bytes,
                status_text(head.status)
            ),
            (None, Some(head)) => format!(
                " The node's own limit refused nothing; the first refusal was a header limit at {} token bytes ({}).",
                head.token_bytes,
                head.layer.short()
            ),
            (Some(_), None) => format!(" No header size limit was reached up to {largest} token bytes."),
            (None, None) => String::new(),
        };
        text += &c9_wire::sentences(&wire_facts(&self.wire), self.threshold.as_ref());
        text + " Keep tokens small: put a role in them, not a permission list."
    }

    fn tables(&self) -> Vec<Table> {
        let kib = |bytes: usize| format!("{:.1}", bytes as f64 * 1000.0 / 1024.0);
        let per_thousand = Table {
            title: "Credential header bytes per 1,000 requests, as issued at login to alice on the clear-text \
                    cluster (the whole Cookie or Authorization header line, CRLF included; the clear-text wire \
                    tables below send these same credentials, the TLS cluster its own login's)"
                .into(),
            columns: vec![
                "credential".into(),
                "bytes per request".into(),
                "KiB per 1,000 requests".into(),
            ],
            rows: vec![
                vec![
                    "session cookie".into(),
                    self.cookie_bytes.to_string(),
                    kib(self.cookie_bytes),
                ],
                vec![
                    format!(
                        "JWT {} as issued by the cluster ({} role{})",
                        self.alg,
                        self.login_roles,
                        if self.login_roles == 1 { "" } else { "s" }
                    ),
                    self.login_bytes.to_string(),
                    kib(self.login_bytes),
                ],
            ],
        };
        let mut growth = Table {
            title: "Credential header bytes per request as permissions grow (request line and other headers excluded)"
                .into(),
            columns: vec!["extra permissions in the token".into(), "session cookie".into()],
            rows: Vec::new(),
        };
        growth
            .columns
            .extend(GROWTH_ALGORITHMS.iter().map(|a| format!("JWT {a}")));
        for (roles, sizes) in GROWTH_ROLES.iter().zip(&self.growth) {
            let mut row = vec![roles.to_string(), self.cookie_bytes.to_string()];
            row.extend(sizes.iter().map(usize::to_string));
            growth.rows.push(row);
        }
        let cell = |fate: Fate| match fate {
            Fate::Accepted => "200, node".into(),
            Fate::Refused { status, layer } => {
                format!("{}, {}", status_text(status), layer.short())
            }
            Fate::NotDelivered { error } => format!("not delivered: {error}"),
        };
        let l = &self.limits;
        let probes = Table {
            title: format!(
                "GET /me with validly signed {} tokens: status and refusing layer by size (node token limit {} B, \
                 HAProxy request-head budget {} B, actix request-head buffer {} B)",
                self.alg,
                l.node_token_bytes,
                l.haproxy.head_bytes(),
                l.actix_head_bytes
            ),
            columns: vec![
                "token bytes".into(),
                "Authorization header bytes".into(),
                "extra permissions".into(),
                "through HAProxy: status, layer".into(),
                "straight to the node: status, layer".into(),
            ],
            rows: self
                .probes
                .iter()
                .map(|row| {
                    vec![
                        row.token_bytes.to_string(),
                        bearer_header_bytes(row.token_bytes).to_string(),
                        row.roles.to_string(),
                        cell(row.fate(Route::Haproxy)),
                        cell(row.fate(Route::Direct)),
                    ]
                })
                .collect(),
        };
        let mut tables = vec![per_thousand, growth, probes];
        if let Some(threshold) = &self.threshold {
            tables.extend(c9_wire::tables(&self.wire, threshold, self.wire_requests));
        }
        tables
    }

    fn chart(&self) -> Chart {
        let point = |roles: usize, bytes: usize| Point {
            x: roles.to_string(),
            y: bytes as f64,
            low: None,
            high: None,
        };
        let mut series = vec![Series {
            name: "session cookie".into(),
            points: GROWTH_ROLES
                .iter()
                .map(|&r| point(r, self.cookie_bytes))
                .collect(),
        }];
        series.extend(GROWTH_ALGORITHMS.iter().enumerate().map(|(i, a)| {
            Series {
                name: format!("JWT {a}"),
                points: GROWTH_ROLES
                    .iter()
                    .zip(&self.growth)
                    .filter_map(|(&r, sizes)| Some(point(r, *sizes.get(i)?)))
                    .collect(),
            }
        }));
        Chart {
            title: "Credential bytes per request as permissions grow".into(),
            kind: ChartKind::Lines,
            x_label: "extra permissions carried in the token".into(),
            y_label: "header bytes per request".into(),
            series,
        }
    }
}

/// The innermost cause: reqwest's own text only names the URL.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = error;
    while let Some(source) = inner.source() {
        inner = source;
    }
    inner.to_string()
}

async fn ask(client: &reqwest::Client, url: &str, token: &str) -> Answer {
    match client.get(url).bearer_auth(token).send().await {
        Err(e) => {
            let cause = root_cause(&e);
            Answer {
                status: None,
                x_node: false,
                error: None,
                forwarded: None,
                failure: Some(if e.is_connect() {
                    Failure::NotConnected(cause)
                } else if e.is_timeout() {
                    Failure::Other(cause)
                } else {
                    Failure::Closed(cause)
                }),
            }
        }
        Ok(response) => {
            let status = response.status().as_u16();
            let x_node = response.headers().contains_key(NODE_HEADER);
            let body = response.text().await.unwrap_or_default();
            Answer {
                status: Some(status),
                x_node,
                error: serde_json::from_str(&body).ok(),
                forwarded: None,
                failure: None,
            }
        }
    }
}

/// Token sizes on each side of each limit, plus a doubling ladder.
fn probe_roles(minter: &Minter, limits: &Limits) -> Result<Vec<usize>, LabError> {
    let line = bearer_header_bytes(0);
    let mut roles = vec![0];
    let mut bytes = 1024;
    while bytes < limits.actix_head_bytes {
        roles.push(minter.roles_within(bytes)?);
        bytes *= 2;
    }
    let node = minter.roles_within(limits.node_token_bytes)?;
    roles.extend([node, node + 1]);
    for head in [limits.haproxy.head_bytes(), limits.actix_head_bytes] {
        roles.push(minter.roles_within(head.saturating_sub(line + HEAD_ROOM))?);
        // Its header line alone is over the budget.
        roles.push(minter.roles_within(head.saturating_sub(line))? + 1);
    }
    roles.sort_unstable();
    roles.dedup();
    Ok(roles)
}

/// What c9 sends on the wire on each protocol: each stack's request
/// without a credential, the credentials issued at login, and the tokens of
/// the growth table (as Authorization, answered 200 up to the node's limit
/// and 401 beyond, and in a cookie, which the JWT server never reads: 401).
fn wire_probes(
    cookie: &str,
    login_token: &str,
    minter: &Minter,
    node_limit: usize,
) -> Result<Vec<Probe>, LabError> {
    let probe = |stack, carrier, roles, credential: &str, expected| Probe {
        stack,
        carrier,
        roles,
        credential: credential.to_owned(),
        expected,
    };
    let mut probes = vec![
        probe(
            Stack::Session,
            Carrier::Nothing,
            None,
            "",
            StatusClass::ClientError,
        ),
        probe(
            Stack::Session,
            Carrier::SessionCookie,
            None,
            cookie,
            StatusClass::Success,
        ),
        probe(
            Stack::Jwt,
            Carrier::Nothing,
            None,
            "",
            StatusClass::ClientError,
        ),
        probe(
            Stack::Jwt,
            Carrier::Bearer,
            None,
            login_token,
            StatusClass::Success,
        ),
        probe(
            Stack::Jwt,
            Carrier::JwtCookie,
            None,
            login_token,
            StatusClass::ClientError,
        ),
    ];
    for &roles in &GROWTH_ROLES[1..] {
        let token = minter.token(roles)?;
        let bearer = if token.len() <= node_limit {
            StatusClass::Success
        } else {
            StatusClass::ClientError
        };
        probes.push(probe(
            Stack::Jwt,
            Carrier::Bearer,
            Some(roles),
            &token,
            bearer,
        ));
        probes.push(probe(
            Stack::Jwt,
            Carrier::JwtCookie,
            Some(roles),
            &token,
            StatusClass::ClientError,
        ));
    }
    Ok(probes)
}

/// Alice's session cookie (`name=value`) and JWT login on `cluster`,
/// through its frontends (over TLS when they speak it).
async fn alice(cluster: &Cluster) -> Result<(String, TokenResponse), LabError> {
    let client = ApiClient::with_client(cluster.client_builder()?.build().map_err(err)?);
    let Credential::Cookie(cookie) = client
        .session_login(&cluster.url(Stack::Session, "")?, "alice")
        .await
    else {
        return Err(err("no session cookie"));
    };
    let (_, login) = client
        .jwt_login(&cluster.url(Stack::Jwt, "")?, "alice")
        .await;
    Ok((cookie, login))
}

/// Mints tokens with the key `cluster`'s JWT nodes sign with.
fn cluster_minter(cluster: &Cluster) -> Result<Minter, LabError> {
    let keys = cluster
        .keyset_path()
        .map(|path| KeySetFile::read(path, false))
        .transpose()
        .map_err(err)?
        .ok_or_else(|| err("cluster has no key set"))?;
    Minter::new(&keys)
}

/// Measures [`wire_probes`] on `protocols` with alice's `cookie` and
/// `token`: the caller's, so that the header table and the wire tables of
/// one cluster quote one login (a signed cookie's length varies by a few
/// bytes from login to login).
async fn measure_wire(
    cluster: &Cluster,
    ctx: &RunContext,
    protocols: &[Protocol],
    cookie: &str,
    token: &str,
) -> Result<Vec<WireRow>, LabError> {
    let probes = wire_probes(
        cookie,
        token,
        &cluster_minter(cluster)?,
        node_token_limit(&cluster.spec.jwt_args)?,
    )?;
    ctx.variant(format!(
        "bytes on the wire: {}",
        protocols
            .iter()
            .map(|p| p.label())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    c9_wire::measure(cluster, protocols, &probes, c9_wire::requests(ctx.quick)).await
}

async fn measure(cluster: &Cluster, ctx: &RunContext) -> Result<Measured, LabError> {
    let (cookie, login) = alice(cluster).await?;

    ctx.variant("credential bytes as claims grow");
    let minters: Vec<Minter> = GROWTH_ALGORITHMS
        .iter()
        .map(|a| {
            KeySetFile::generate(*a)
                .map_err(err)
                .and_then(|k| Minter::new(&k))
        })
        .collect::<Result<_, _>>()?;
    let growth = GROWTH_ROLES
        .iter()
        .map(|&roles| {
            minters
                .iter()
                .map(|m| m.token(roles).map(|t| bearer_header_bytes(t.len())))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()?;

    ctx.variant("sending tokens of growing size through HAProxy and straight to the node");
    let limits = read_limits(cluster)?;
    let minter = cluster_minter(cluster)?;
    let node = cluster
        .nodes(Stack::Jwt)
        .first()
        .ok_or_else(|| err("cluster has no JWT node"))?;
    let (via_haproxy, direct) = (cluster.url(Stack::Jwt, "/me")?, node.url("/me"));
    let backend = Stack::Jwt.backend();
    let picks = || {
        cluster.stats().ok().and_then(|servers| {
            servers
                .iter()
                .find(|s| s.backend == backend && s.server == node.name)
                .map(|s| s.selected)
        })
    };
    // No pooled connections: a refusing layer may close one after answering.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .build()
        .map_err(err)?;
    let mut probes = Vec::new();
    for roles in probe_roles(&minter, &limits)? {
        let token = minter.token(roles)?;
        let before = picks();
        let mut through = ask(&http, &via_haproxy, &token).await;
        through.forwarded = before.zip(picks()).map(|(b, a)| a > b);
        let straight = ask(&http, &direct, &token).await;
        probes.push(ProbeRow {
            roles,
            token_bytes: token.len(),
            through,
            straight,
        });
    }
    let wire = measure_wire(cluster, ctx, &Protocol::CLEAR, &cookie, &login.access_token).await?;
    ctx.variant("where HTTP/2's encoder stops indexing a cookie");
    let threshold = c9_wire::cookie_threshold(cluster).await?;
    Ok(Measured {
        nodes: cluster.spec.nodes,
        alg: cluster.spec.alg,
        limits,
        cookie_bytes: cookie_header_bytes(&cookie),
        login_bytes: bearer_header_bytes(login.access_token.len()),
        login_roles: login.roles.len(),
        growth,
        probes,
        wire,
        threshold: Some(threshold),
        wire_requests: c9_wire::requests(ctx.quick),
    })
}

/// The wire figures in the evidence line, per protocol.
fn wire_evidence(wire: &[WireFacts]) -> String {
    if wire.is_empty() {
        return "; nothing measured on the wire".into();
    }
    let per = wire
        .iter()
        .map(|w| {
            format!(
                "{} {:.1} / {:.1} / {:.1} B",
                w.protocol, w.cookie, w.bearer, w.jwt_cookie
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!("; on the wire per request (session cookie / login token as Authorization / in a cookie): {per}")
}

impl Runnable for CredentialSize {
    fn id(&self) -> &'static str {
        "c9"
    }

    fn title(&self) -> &'static str {
        "Credential size per request, and where big tokens are refused"
    }

    fn claims(&self) -> &'static [&'static str] {
        &["C9"]
    }

    fn estimate(&self, quick: bool) -> Duration {
        Duration::from_secs(if quick { 5 } else { 10 })
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> Outcome<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let mut spec = ClusterSpec::new(ctx.launcher.clone());
            spec.nodes = 1;
            spec.seed_users = 0;
            ctx.variant(format!(
                "starting a cluster ({} node per stack)",
                spec.nodes
            ));
            let cluster = Cluster::start(spec.clone()).await?;
            let measured = measure(&cluster, ctx).await;
            cluster.shutdown();
            let mut m = measured?;

            // As deployed: TLS at HAProxy, HTTP/2 offered in ALPN.
            spec.frontend = Frontend {
                tls: true,
                h2: true,
            };
            ctx.variant("starting a cluster with TLS and HTTP/2 at HAProxy");
            let tls = Cluster::start(spec).await?;
            let measured = async {
                let (cookie, login) = alice(&tls).await?;
                measure_wire(&tls, ctx, &Protocol::TLS, &cookie, &login.access_token).await
            }
            .await;
            tls.shutdown();
            m.wire.extend(measured?);

            let found = findings(&m.probes);
            let facts = m.facts(&found);
            let by_design = c9_wire::indexing_by_design(
                &facts.wire,
                &m.wire,
                m.threshold.as_ref(),
                MUCH_BIGGER,
            );
            Ok(ExperimentResult {
                id: "c9".into(),
                title: self.title().into(),
                claims: vec!["C9".into()],
                question: "Is a JWT much bigger than a session id, so that it costs bandwidth on every request, and can it hit header size limits?".into(),
                setup: m.setup(),
                verdicts: vec![ClaimVerdict {
                    headline: c9_headline(&facts.wire),
                    by_design,
                    claim: "C9".into(),
                    verdict: c9_verdict(&facts),
                    rule: c9_rule(),
                    evidence: m.evidence(&found),
                }],
                tables: m.tables(),
                chart: Some(m.chart()),
                lesson: m.lesson(&found),
                summary: Some(Summary::Size(SizeSummary {
                    cookie_header_bytes: m.cookie_bytes as u64,
                    login_jwt_header_bytes: m.login_bytes as u64,
                    wire: wire_facts(&m.wire),
                })),
                raw: json!({
                    "growth": GROWTH_ROLES.iter().zip(&m.growth).map(|(roles, sizes)| json!({"roles": roles, "cookie": m.cookie_bytes, "jwt": sizes})).collect::<Vec<_>>(),
                    "growth_algorithms": GROWTH_ALGORITHMS.map(SigningAlgorithm::name),
                    "limits": m.limits,
                    "probes": m.probes.iter().map(|row| json!({
                        "row": row,
                        "haproxy": row.fate(Route::Haproxy),
                        "direct": row.fate(Route::Direct),
                    })).collect::<Vec<_>>(),
                    "cookie_header_bytes": m.cookie_bytes,
                    "login_jwt_header_bytes": m.login_bytes,
                    "login_roles": m.login_roles,
                    "wire": m.wire,
                    "wire_requests": m.wire_requests,
                    "cookie_index_threshold": m.threshold,
                }),
                seconds: started.elapsed().as_secs_f64(),
                error: None,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOKIE: usize = 95;
    const LOGIN: usize = 420;

    fn node_ok() -> Answer {
        Answer {
            status: Some(200),
            x_node: true,
            error: None,
            forwarded: Some(true),
            failure: None,
        }
    }

    fn node_error(status: u16, error: ApiError) -> Answer {
        Answer {
            status: Some(status),
            x_node: true,
            error: Some(error.body()),
            forwarded: Some(true),
            failure: None,
        }
    }

    /// What the node answers when its size check refuses a token.
    fn too_large(limit: usize) -> Answer {
        node_error(
            401,
            ApiError::InvalidToken {
                description: Rejection::TooLarge(limit).to_string(),
            },
        )
    }

    /// An answer no node application gave (no x-node, no JSON body).
    fn bare(status: Option<u16>, forwarded: Option<bool>) -> Answer {
        Answer {
            status,
            x_node: false,
            error: None,
            forwarded,
            failure: status
                .is_none()
                .then(|| Failure::Closed("connection reset by peer".into())),
        }
    }

    fn row(token_bytes: usize, through: Answer, straight: Answer) -> ProbeRow {
        ProbeRow {
            roles: token_bytes / 33,
            token_bytes,
            through,
            straight,
        }
    }

    /// The default set-up: node 8192 B, HAProxy 15360 B, actix 131072 B.
    fn default_rows() -> Vec<ProbeRow> {
        vec![
            row(380, node_ok(), node_ok()),
            row(8190, node_ok(), node_ok()),
            row(8213, too_large(8192), too_large(8192)),
            row(14800, too_large(8192), too_large(8192)),
            row(15350, bare(Some(400), Some(false)), too_large(8192)),
            row(131_060, bare(None, Some(false)), bare(Some(431), None)),
        ]
    }

    /// A protocol's five login rows: each stack bare (40 B), then each
    /// credential adding the bytes given.
    fn wire(protocol: Protocol, cookie: f64, bearer: f64, jwt_cookie: f64) -> Vec<WireRow> {
        let row = |stack, carrier, extra: f64| c9_wire::row(protocol, stack, carrier, 40.0 + extra);
        vec![
            row(Stack::Session, Carrier::Nothing, 0.0),
            row(Stack::Session, Carrier::SessionCookie, cookie),
            row(Stack::Jwt, Carrier::Nothing, 0.0),
            row(Stack::Jwt, Carrier::Bearer, bearer),
            row(Stack::Jwt, Carrier::JwtCookie, jwt_cookie),
        ]
    }

    fn measured(probes: Vec<ProbeRow>) -> Measured {
        Measured {
            nodes: 1,
            alg: SigningAlgorithm::EdDsa,
            limits: Limits {
                node_token_bytes: 8192,
                haproxy: HaproxyBuffers {
                    bufsize: 16384,
                    maxrewrite: 1024,
                    source: "test".into(),
                },
                actix_head_bytes: ACTIX_HEAD_BUFFER,
            },
            cookie_bytes: COOKIE,
            login_bytes: LOGIN,
            login_roles: 1,
            growth: vec![vec![330, 360, 640], vec![13_650, 13_680, 13_960]],
            probes,
            wire: wire(Protocol::Http1Clear, 95.0, 430.0, 445.0),
            threshold: None,
            wire_requests: 50,
        }
    }

    fn facts_of(probes: Vec<ProbeRow>) -> SizeFacts {
        let m = measured(probes);
        m.facts(&findings(&m.probes))
    }

    #[test]
    fn the_nodes_size_refusal_is_told_from_a_header_limit() {
        // Old c9 counted every non-200 as "a size limit was reached".
        assert_eq!(
            classify(Route::Direct, &too_large(8192)),
            Fate::Refused {
                status: Some(401),
                layer: Layer::NodeTokenLimit { limit: 8192 }
            }
        );
        assert_eq!(
            classify(Route::Haproxy, &bare(Some(400), Some(false))),
            Fate::Refused {
                status: Some(400),
                layer: Layer::HaproxyHead
            }
        );
        assert_eq!(
            classify(Route::Haproxy, &bare(None, Some(false))),
            Fate::Refused {
                status: None,
                layer: Layer::HaproxyHead
            }
        );
        assert_eq!(
            classify(Route::Direct, &bare(Some(431), None)),
            Fate::Refused {
                status: Some(431),
                layer: Layer::NodeHead
            }
        );
        // Forwarded, then refused without x-node: the node's parser, relayed.
        assert_eq!(
            classify(Route::Haproxy, &bare(Some(431), Some(true))),
            Fate::Refused {
                status: Some(431),
                layer: Layer::NodeHead
            }
        );
        assert_eq!(classify(Route::Haproxy, &node_ok()), Fate::Accepted);
    }

    #[test]
    fn refusals_no_size_limit_explains_are_not_size_limits() {
        let signature = node_error(
            401,
            ApiError::InvalidToken {
                description: Rejection::BadSignature.to_string(),
            },
        );
        let other = |answer: &Answer, route| {
            matches!(
                classify(route, answer),
                Fate::Refused {
                    layer: Layer::Other { .. },
                    ..
                }
            )
        };
        assert!(other(&signature, Route::Direct));
        // HAProxy's 503 (no server up) is not a head limit.
        assert!(other(&bare(Some(503), Some(false)), Route::Haproxy));
        assert!(other(&bare(Some(400), None), Route::Haproxy));
        let timeout = Answer {
            failure: Some(Failure::Other("timed out".into())),
            ..bare(None, None)
        };
        assert!(other(&timeout, Route::Direct));
        let refused = Answer {
            failure: Some(Failure::NotConnected("connection refused".into())),
            ..bare(None, None)
        };
        assert!(matches!(
            classify(Route::Direct, &refused),
            Fate::NotDelivered { .. }
        ));
    }

    #[test]
    fn the_limit_is_read_from_the_nodes_own_message() {
        let body = |message: &str| ErrorBody {
            error: "invalid_token".into(),
            message: message.into(),
        };
        assert_eq!(stated_limit(&too_large(4096).error.unwrap()), Some(4096));
        assert_eq!(
            stated_limit(&body("invalid token: signature does not verify")),
            None
        );
        let wrong_code = ErrorBody {
            error: "payload_too_large".into(),
            ..too_large(4096).error.unwrap()
        };
        assert_eq!(stated_limit(&wrong_code), None);
    }

    #[test]
    fn findings_name_each_layer_separately() {
        let found = findings(&default_rows());
        assert_eq!(found.delivered, 6);
        assert_eq!(found.largest_delivered, 131_060);
        let node = found.node_limit.unwrap();
        assert_eq!((node.token_bytes, node.status), (8213, Some(401)));
        let haproxy = found.haproxy_head.unwrap();
        assert_eq!(
            (haproxy.token_bytes, haproxy.status, haproxy.route),
            (15350, Some(400), Route::Haproxy)
        );
        assert_eq!(found.header_limit.unwrap().layer, Layer::HaproxyHead);
        let parser = found.node_head.unwrap();
        assert_eq!(
            (parser.token_bytes, parser.status, parser.route),
            (131_060, Some(431), Route::Direct)
        );
        assert_eq!(
            found.through_first.unwrap().layer,
            Layer::NodeTokenLimit { limit: 8192 }
        );
        assert_eq!(found.unexplained, None);
    }

    #[test]
    fn verdict_not_measured_when_no_token_reached_anyone() {
        let nowhere = Answer {
            failure: Some(Failure::NotConnected("connection refused".into())),
            ..bare(None, None)
        };
        let facts = facts_of(vec![row(380, nowhere.clone(), nowhere)]);
        assert_eq!(facts.delivered, 0);
        assert!(matches!(c9_verdict(&facts), Verdict::NotMeasured(_)));
        assert!(matches!(
            c9_verdict(&facts_of(Vec::new())),
            Verdict::NotMeasured(_)
        ));
    }

    #[test]
    fn verdict_does_not_hold_when_the_token_costs_no_more_on_the_wire_than_the_cookie() {
        // A broken set-up: a fat session cookie (say, the whole user record
        // signed into it), bigger than the token on every protocol.
        let mut m = measured(default_rows());
        m.wire = wire(Protocol::Http1Clear, 500.0, 430.0, 445.0);
        m.wire.extend(wire(Protocol::Http2Tls, 480.0, 330.0, 1.0));
        let facts = m.facts(&findings(&m.probes));
        assert_eq!(
            c9_verdict(&facts),
            Verdict::DoesNotHold(
                "on no protocol did the login token as Authorization cost more on the wire than the session \
                 cookie: HTTP/1.1 430.0 B vs 500.0 B; HTTP/2 + TLS 330.0 B vs 480.0 B"
                    .into()
            )
        );
        // Nothing measured on the wire: no verdict from header sizes alone.
        m.wire.clear();
        assert!(matches!(
            c9_verdict(&m.facts(&findings(&m.probes))),
            Verdict::NotMeasured(n) if n.contains("on the wire")
        ));
    }

    #[test]
    fn on_http2_an_indexed_token_in_a_cookie_is_design_not_a_caveat() {
        // As measured with nghttp2: the cookie and the token in a cookie are
        // indexed, the bearer token is not. The indexed cookie is the
        // encoder's design (said apart, by c9_wire::indexing_by_design); the
        // verdict judges the bearer token, measured.
        let mut m = measured(default_rows());
        m.wire.extend(wire(Protocol::Http2Tls, 1.0, 330.0, 1.5));
        let facts = m.facts(&findings(&m.probes));
        assert_eq!(c9_verdict(&facts), Verdict::Holds);
        assert!(!c9_rule().contains("on some HTTP/2 protocol the token in a cookie cost under"));
        assert_eq!(
            c9_headline(&facts.wire),
            "login JWT 430 B per request vs session cookie 95 B (HTTP/1.1); 330 B vs 1 B (HTTP/2 + TLS)"
        );
        assert_eq!(c9_headline(&[]), "");
        // A client that indexes Authorization too: the bearer token is cheap as well.
        let mut m = measured(default_rows());
        m.wire.extend(wire(Protocol::Http2Tls, 1.0, 1.5, 1.5));
        let verdict = c9_verdict(&m.facts(&findings(&m.probes)));
        assert!(
            matches!(&verdict, Verdict::HoldsWithCaveat(n)
                if n.starts_with("on HTTP/2 + TLS the token as Authorization cost only 1.5x the cookie per request (1.5 B vs 1.0 B)")),
            "{verdict:?}"
        );
        // A token past the encoder's table limit costs its size in a cookie too: no caveat.
        let mut m = measured(default_rows());
        m.wire.extend(wire(Protocol::Http2Tls, 1.0, 3300.0, 3290.0));
        assert_eq!(c9_verdict(&m.facts(&findings(&m.probes))), Verdict::Holds);
    }

    #[test]
    fn verdict_inconclusive_on_a_refusal_no_limit_explains() {
        let signature = node_error(
            401,
            ApiError::InvalidToken {
                description: Rejection::BadSignature.to_string(),
            },
        );
        let facts = facts_of(vec![row(380, signature.clone(), signature)]);
        assert!(matches!(
            c9_verdict(&facts),
            Verdict::Inconclusive(n) if n.contains("error invalid_token")
        ));
    }

    #[test]
    fn verdict_holds_when_a_header_limit_refused_and_the_token_is_much_bigger() {
        assert_eq!(c9_verdict(&facts_of(default_rows())), Verdict::Holds);
    }

    #[test]
    fn verdict_caveats() {
        // Only the node's own limit refused.
        let node_only = facts_of(default_rows().into_iter().take(4).collect());
        assert!(matches!(
            c9_verdict(&node_only),
            Verdict::HoldsWithCaveat(n) if n.starts_with("only the node's own token limit refused (401 from 8213")
                && n.ends_with("no header size limit was reached up to 14800 token bytes")
        ));
        // Nothing refused.
        let none = facts_of(default_rows().into_iter().take(2).collect());
        assert_eq!(
            c9_verdict(&none),
            Verdict::HoldsWithCaveat(
                "no layer refused any size sent, up to 8190 token bytes".into()
            )
        );
        // Login token under 3x the cookie on the wire, header limit reached.
        let mut m = measured(default_rows());
        m.wire = wire(Protocol::Http1Clear, 95.0, 250.0, 260.0);
        let facts = m.facts(&findings(&m.probes));
        assert_eq!(
            c9_verdict(&facts),
            Verdict::HoldsWithCaveat(
                "on HTTP/1.1 the token as Authorization cost only 2.6x the cookie per request (250.0 B vs 95.0 B)"
                    .into()
            )
        );
    }

    #[test]
    fn the_rule_text_states_the_threshold_the_code_uses() {
        let rule = c9_rule();
        assert!(
            rule.contains("at least 3x the cookie (taken as at least 1 byte)")
                && rule.contains("under 3x")
        );
        assert!(rule.contains("one of 400, 413, 414, 431"));
    }

    #[test]
    fn prose_states_only_what_the_run_sent_and_found() {
        let m = measured(default_rows());
        let found = findings(&m.probes);
        let setup = m.setup();
        assert!(setup.contains("from 380 to 131060 bytes"), "{setup}");
        assert!(setup.contains("tune.bufsize 16384 − tune.maxrewrite 1024 = 15360 bytes"));
        assert!(setup.contains("over 8192 bytes"));
        assert!(!setup.contains("25 KB"));
        let lesson = m.lesson(&found);
        assert!(
            lesson.contains("Through HAProxy, the first refusal came at 8213 token bytes: 401"),
            "{lesson}"
        );
        // (13650 − 330) ÷ 400 header bytes; nothing minted on the wire here,
        // so no per-protocol figure is claimed.
        assert!(
            lesson.contains("each permission put into a token adds 33 bytes to its header line."),
            "{lesson}"
        );
        assert!(
            !lesson.contains("about 32 bytes to every request"),
            "{lesson}"
        );
        let mut minted = m.clone();
        for (roles, bytes) in [(10, 842.0), (400, 13_322.0)] {
            let mut r = c9_wire::row(Protocol::Http1Clear, Stack::Jwt, Carrier::Bearer, bytes);
            r.roles = Some(roles);
            minted.wire.push(r);
        }
        for (roles, bytes) in [(10, 615.0), (400, 10_450.0)] {
            let mut r = c9_wire::row(Protocol::Http2Clear, Stack::Jwt, Carrier::Bearer, bytes);
            r.roles = Some(roles);
            minted.wire.push(r);
        }
        let lesson = minted.lesson(&found);
        assert!(
            lesson.contains(
                "measured on the wire, per request, a permission in a bearer token added 32 B over HTTP/1.1, \
                 25 B over HTTP/2 (clear, prior knowledge)."
            ),
            "{lesson}"
        );
        assert!(lesson.contains(
            "from 15350 token bytes the request failed at the header layer instead (400"
        ));
        // Sizes below every limit: no sentence about a refusal.
        let small = measured(default_rows().into_iter().take(2).collect());
        let lesson = small.lesson(&findings(&small.probes));
        assert!(
            lesson.contains("no size sent was refused (up to 8190 token bytes)"),
            "{lesson}"
        );
        assert!(!lesson.contains("header layer"));
        let evidence = m.evidence(&found);
        assert!(
            evidence.contains(
                "HAProxy's head budget (configured 15360 B): 400 from 15350 token bytes on"
            ),
            "{evidence}"
        );
        let tables = m.tables();
        assert_eq!(
            tables[2].columns,
            [
                "token bytes",
                "Authorization header bytes",
                "extra permissions",
                "through HAProxy: status, layer",
                "straight to the node: status, layer"
            ]
        );
        assert_eq!(
            tables[2].rows[4][3],
            "400, HAProxy: request head too big, node never picked"
        );
        assert_eq!(tables[2].rows[4][4], "401, node: token limit (8192 B)");
    }

    #[test]
    fn haproxy_buffers_come_from_the_config_else_the_built_in_defaults() {
        let vv = "Default settings :\n  bufsize = 16384, maxrewrite = 1024, maxpollevents = 200\n";
        assert_eq!(built_in_buffers(vv), Some((16384, 1024)));
        let unset = haproxy_buffers("global\n    maxconn 4096\n", || built_in_buffers(vv)).unwrap();
        assert_eq!(
            (unset.bufsize, unset.maxrewrite, unset.head_bytes()),
            (16384, 1024, 15360)
        );
        let set = haproxy_buffers(
            "global\n    tune.bufsize 32768 # bigger\n    tune.maxrewrite 2048\n",
            || panic!("not asked when the config sets both"),
        )
        .unwrap();
        assert_eq!(set.head_bytes(), 30720);
        let small = haproxy_buffers("    tune.bufsize 1024\n", || Some((16384, 1024))).unwrap();
        assert_eq!(small.maxrewrite, 512);
        assert_eq!(haproxy_buffers("", || None), None);
        // The template the cluster renders leaves them to HAProxy's defaults.
        assert_eq!(tune(crate::haproxy::TEMPLATE, "tune.bufsize"), None);
    }

    #[test]
    fn the_node_limit_is_parsed_as_the_node_parses_its_flags() {
        assert_eq!(
            node_token_limit(&[]).unwrap(),
            jwt_server::tokens::TokenSettings::default().max_token_bytes
        );
        assert_eq!(
            node_token_limit(&["--max-token-bytes", "4096"].map(String::from)).unwrap(),
            4096
        );
    }
}
