//! How c9 shows its figures: credential bytes per 1,000 requests, their
//! growth with permissions, each probe's fate, the wire tables, a chart of
//! the growth, the set-up and the lesson.

use jwt_server::SigningAlgorithm;

use super::analysis::{size_ratio, status_text, Fate, Findings, Route, Summary};
use super::measure::{bearer_header_bytes, Measured, GROWTH_ALGORITHMS, GROWTH_ROLES};
use super::wire::{self, wire_facts};
use crate::experiment::Presentation;
use crate::results::{Chart, ChartKind, Point, Series, Table};

/// The set-up, the tables, the chart and the lesson.
pub fn present(m: &Measured, summary: &Summary) -> Presentation {
    Presentation {
        setup: m.setup(),
        tables: m.tables(),
        chart: Some(m.chart()),
        lesson: m.lesson(&summary.found),
    }
}

impl Measured {
    fn ratio(&self) -> f64 {
        size_ratio(self.login_bytes, self.cookie_bytes)
    }

    /// Bytes a permission adds, from the first algorithm's growth column.
    fn bytes_per_permission(&self) -> Option<f64> {
        let (first, last) = (self.growth.first()?, self.growth.last()?);
        let roles = GROWTH_ROLES[GROWTH_ROLES.len() - 1] - GROWTH_ROLES[0];
        let (low, high) = (*first.first()? as f64, *last.first()? as f64);
        (roles > 0).then(|| (high - low) / roles as f64)
    }

    pub fn setup(&self) -> String {
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

    pub fn lesson(&self, found: &Findings) -> String {
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
            let on_wire = wire::per_permission(&self.wire);
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
        text += &wire::sentences(&wire_facts(&self.wire), self.threshold.as_ref());
        text + " Keep tokens small: put a role in them, not a permission list."
    }

    pub fn tables(&self) -> Vec<Table> {
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
            tables.extend(wire::tables(&self.wire, threshold, self.wire_requests));
        }
        tables
    }

    pub fn chart(&self) -> Chart {
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
