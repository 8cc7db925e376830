//! What c9's answers say: which layer refused each probe, the figures
//! C9's rule reads, and the rule.
//!
//! A refusal is told apart by evidence (see [`classify`]): the node's own
//! token-size check answers 401 naming its limit, a header limit answers
//! without `x-node`, and HAProxy's pick counter says whether it forwarded.
//! A refusal none of these explains makes the verdict inconclusive instead
//! of counting as a size limit.

use authlab_core::{error::ApiError, wire::ErrorBody};
use jwt_server::tokens::Rejection;
use serde::Serialize;

use super::measure::{
    Answer, Failure, Limits, Measured, ProbeRow, GROWTH_ALGORITHMS, GROWTH_ROLES,
};
use super::wire::{self, wire_facts};
use crate::{results::Verdict, summaries::WireFacts};

/// What a proxy or an HTTP parser answers a too-big request head with.
const HEAD_REFUSALS: [u16; 4] = [400, 413, 414, 431];
/// A login token at least this many times the cookie is "much bigger".
pub const MUCH_BIGGER: f64 = 3.0;

/// Which way a probe went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    Haproxy,
    Direct,
}

impl Route {
    pub fn name(self) -> &'static str {
        match self {
            Route::Haproxy => "through HAProxy",
            Route::Direct => "straight to the node",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Route::Haproxy => "Through HAProxy",
            Route::Direct => "Straight to the node",
        }
    }
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

    pub fn short(&self) -> String {
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

impl ProbeRow {
    pub fn fate(&self, route: Route) -> Fate {
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub token_bytes: usize,
    pub route: Route,
    pub status: Option<u16>,
    pub layer: Layer,
}

pub fn status_text(status: Option<u16>) -> String {
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
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    // encoder indexes it is its design (wire::indexing_by_design says so
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

    /// The sizes the probes spanned, in bytes and in extra permissions.
    pub fn probe_span(&self) -> String {
        match (self.probes.first(), self.probes.last()) {
            (Some(a), Some(b)) => format!(
                "from {} to {} bytes ({} to {} extra permissions)",
                a.token_bytes, b.token_bytes, a.roles, b.roles
            ),
            _ => "(none)".into(),
        }
    }
}

/// The login token's header line over the session cookie's.
pub fn size_ratio(login_bytes: usize, cookie_bytes: usize) -> f64 {
    login_bytes as f64 / cookie_bytes.max(1) as f64
}

/// What the verdict, the first screen and c15 read of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub cookie_bytes: usize,
    pub login_bytes: usize,
    /// Header bytes of the tokens with the most extra permissions, per
    /// [`GROWTH_ALGORITHMS`] entry.
    pub most_permissions: Option<Vec<usize>>,
    pub probes: usize,
    pub probe_span: String,
    pub limits: Limits,
    /// Each probe's fate both ways, as [`classify`] read its answers.
    pub fates: Vec<ProbeFates>,
    pub found: Findings,
    pub facts: SizeFacts,
    /// HTTP/2's indexed cookie, said apart from the verdict.
    pub by_design: Option<String>,
}

/// One probe's fate through HAProxy and straight to the node.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeFates {
    pub token_bytes: usize,
    pub haproxy: Fate,
    pub direct: Fate,
}

/// Each layer's first refusal, the figures the rule reads, and what the
/// report says apart from the verdict.
pub fn summarize(m: &Measured) -> Summary {
    let found = findings(&m.probes);
    let facts = m.facts(&found);
    let by_design =
        wire::indexing_by_design(&facts.wire, &m.wire, m.threshold.as_ref(), MUCH_BIGGER);
    Summary {
        cookie_bytes: m.cookie_bytes,
        login_bytes: m.login_bytes,
        most_permissions: m.growth.last().cloned(),
        probes: m.probes.len(),
        probe_span: m.probe_span(),
        limits: m.limits.clone(),
        fates: m
            .probes
            .iter()
            .map(|row| ProbeFates {
                token_bytes: row.token_bytes,
                haproxy: row.fate(Route::Haproxy),
                direct: row.fate(Route::Direct),
            })
            .collect(),
        found,
        facts,
        by_design,
    }
}

/// The verdict's evidence: sizes, every layer's first refusal, the wire.
pub fn evidence(s: &Summary) -> String {
    let found = &s.found;
    let or_none = |r: &Option<Refusal>| {
        r.as_ref()
            .map_or_else(|| "refused none".into(), Refusal::describe)
    };
    let last = s.most_permissions.as_ref();
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
        s.cookie_bytes,
        s.login_bytes,
        size_ratio(s.login_bytes, s.cookie_bytes),
        GROWTH_ROLES[GROWTH_ROLES.len() - 1],
        found.delivered,
        s.probes,
        s.probe_span,
        s.limits.node_token_bytes,
        or_none(&found.node_limit),
        s.limits.haproxy.head_bytes(),
        or_none(&found.haproxy_head),
        s.limits.actix_head_bytes,
        or_none(&found.node_head),
        found.unexplained.as_ref().map_or_else(|| "none".into(), Refusal::describe),
        or_none(&found.through_first),
        or_none(&found.straight_first),
    ) + &wire_evidence(&s.facts.wire)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::c9_size::{
        measure::{HaproxyBuffers, ACTIX_HEAD_BUFFER},
        wire::{Carrier, Protocol, WireRow},
    };
    use crate::Stack;
    use jwt_server::SigningAlgorithm;

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
        let row = |stack, carrier, extra: f64| wire::row(protocol, stack, carrier, 40.0 + extra);
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
        // encoder's design (said apart, by wire::indexing_by_design); the
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
            let mut r = wire::row(Protocol::Http1Clear, Stack::Jwt, Carrier::Bearer, bytes);
            r.roles = Some(roles);
            minted.wire.push(r);
        }
        for (roles, bytes) in [(10, 615.0), (400, 10_450.0)] {
            let mut r = wire::row(Protocol::Http2Clear, Stack::Jwt, Carrier::Bearer, bytes);
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
        let evidence = evidence(&summarize(&m));
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
}
