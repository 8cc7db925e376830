//! What a request costs on the wire, and when HTTP/2 stops compressing a header.
//!
//! Claim C9 is about the price of carrying a credential on every request.
//! Over HTTP/1.1 that price is simple: every request repeats every header in
//! full. Over HTTP/2 it depends on HPACK: a header the client's encoder put
//! in its dynamic table is sent again as an index of a byte or two, one it
//! did not is sent again in full (Huffman-coded). So the lab measures instead
//! of computing, through a [`WireCounter`] in front of the frontend:
//!
//! * [`wire_cost`] runs h2load twice on fresh connections, 1 request and
//!   then 1 + n: the first run is the price of the first request, handshake
//!   included (TCP payload: TLS handshake, h2 preface and SETTINGS); the
//!   difference between the two, over n, is the price of each further
//!   request on a connection that is up. The connection set-up and close
//!   cancel out in the difference, and so does the first request's filling
//!   of the HPACK table.
//!
//!   One frame does not always cancel: h2load acknowledges HAProxy's
//!   SETTINGS (a 9-byte frame) only if it has read them by the time its
//!   last answer is in, and on a connection of one request it sometimes has
//!   not (traced: preface, SETTINGS, WINDOW_UPDATE and HEADERS in one
//!   106-byte write, then a 17-byte GOAWAY, no ACK). So `first.to_server`
//!   varies by 9 bytes from run to run and the per-request figure by up to
//!   9/n: 21.0 or 21.45 bytes at n = 20 for the same request.
//! * [`index_threshold`] finds, by bisection, the longest value of one
//!   header the client still indexes. nghttp2 (the encoder h2load uses)
//!   never indexes `authorization`, nor a `cookie` shorter than 20 bytes,
//!   nor any entry bigger than 3/4 of its 4,096-byte table: name + value +
//!   32 > 3,072, so for a 15-byte name the last indexed value should be
//!   3,025 bytes. The lab reports what it measures, not that.
//!
//! Every run's h2load report is checked before its bytes are used: a run
//! with an errored or timed-out request, or an answer outside the expected
//! status class, measured something else (a refusal is shorter than an
//! answer) and is an error, never a figure.

use std::time::Duration;

use crate::{
    h2load::{H2load, H2loadReport, HttpVersion},
    wire::{WireBytes, WireCounter},
    LabError,
};

/// How long a run's connection may take to close once h2load is done: it
/// closes as h2load exits, so this only trips on a stuck frontend.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// The status every answer of a run must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum StatusClass {
    /// 2xx.
    Success,
    /// 4xx: measuring what a refused credential costs (401, 431).
    ClientError,
}

impl StatusClass {
    /// Whether `report` is a complete run of `requests` requests, each
    /// answered with a status of this class.
    ///
    /// h2load's own "succeeded" is no help for [`StatusClass::ClientError`]:
    /// it counts 2xx and 3xx only, a 4xx answer is "failed" to it. So the
    /// status counts decide, and "errored" and "timeout" (no answer) must be 0.
    pub fn check(self, report: &H2loadReport, requests: u64) -> Result<(), LabError> {
        let in_class = match self {
            StatusClass::Success => report.status_2xx,
            StatusClass::ClientError => report.status_4xx,
        };
        let complete = report.requests == requests
            && report.errored == 0
            && report.timeout == 0
            && report.answered() == requests
            && in_class == requests;
        if complete {
            return Ok(());
        }
        Err(LabError::InvalidRun(format!(
            "expected {requests} answer(s), all {}; h2load: {} total, {} succeeded, {} failed, \
             {} errored, {} timeout; status {} 2xx, {} 3xx, {} 4xx, {} 5xx",
            match self {
                StatusClass::Success => "2xx",
                StatusClass::ClientError => "4xx",
            },
            report.requests,
            report.succeeded,
            report.failed,
            report.errored,
            report.timeout,
            report.status_2xx,
            report.status_3xx,
            report.status_4xx,
            report.status_5xx,
        )))
    }
}

/// What one request costs on the wire, as C9 reads it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WireCost {
    /// First request on a fresh connection, handshake (TCP payload: TLS handshake, h2 preface/SETTINGS) included.
    pub first: WireBytes,
    /// Per request once the connection is up: (bytes of a run of 1+n requests − bytes of a run of 1) / n.
    pub to_server_per_request: f64,
    pub to_client_per_request: f64,
    /// n.
    pub requests: u32,
    /// As h2load negotiated: `h2` (TLS), `h2c` (clear) or `http/1.1`.
    pub protocol: String,
}

/// One h2load run of `requests` requests through `counter`, checked, with
/// the bytes it moved.
async fn counted_run(
    counter: &WireCounter,
    load: &H2load,
    requests: u32,
    expected: StatusClass,
) -> Result<(WireBytes, H2loadReport), LabError> {
    let mut run = load.clone();
    run.requests = requests;
    let report = tokio::task::spawn_blocking(move || run.run())
        .await
        .map_err(|e| LabError::Io(format!("h2load thread: {e}")))??;
    // Taken before the report is judged, so a failed run leaves nothing
    // behind to be counted with the next one.
    let bytes = counter.take(CLOSE_TIMEOUT).await?;
    expected
        .check(&report, u64::from(requests))
        .map_err(|e| match e {
            LabError::InvalidRun(why) => {
                LabError::InvalidRun(format!("h2load {}: {why}", load.url))
            }
            other => other,
        })?;
    if bytes.connections != 1 {
        return Err(LabError::InvalidRun(format!(
            "h2load {} made {} connection(s) through the wire counter at {}, not 1 \
             (does the URL point at the counter?)",
            load.url,
            bytes.connections,
            counter.address()
        )));
    }
    Ok((bytes, report))
}

/// Runs `load` through `counter` twice, 1 request and then 1 + `n` on one
/// connection each, checks every answer is in `expected`, and returns the
/// cost of the first request and of each further one.
///
/// `load.url` must point at `counter` (every run must pass exactly one
/// connection through it); `load.requests` is ignored. Whatever the counter
/// holds beforehand is discarded. h2load blocks, so it runs on tokio's
/// blocking pool while this runtime relays its bytes.
pub async fn wire_cost(
    counter: &WireCounter,
    load: &H2load,
    n: u32,
    expected: StatusClass,
) -> Result<WireCost, LabError> {
    if n == 0 {
        return Err(LabError::Config(
            "wire cost: n must be at least 1 (the run of 1 + n is compared with the run of 1)"
                .into(),
        ));
    }
    let requests = n
        .checked_add(1)
        .ok_or_else(|| LabError::Config(format!("wire cost: n = {n} is too many")))?;
    counter.take(CLOSE_TIMEOUT).await?;
    let (first, first_report) = counted_run(counter, load, 1, expected).await?;
    let (run, run_report) = counted_run(counter, load, requests, expected).await?;
    if first_report.protocol != run_report.protocol {
        return Err(LabError::InvalidRun(format!(
            "h2load {}: the runs spoke {:?} and {:?}",
            load.url, first_report.protocol, run_report.protocol
        )));
    }
    // Signed: a smaller long run would be a measurement error to show, not hide.
    let per_request = |long: u64, short: u64| (long as f64 - short as f64) / f64::from(n);
    Ok(WireCost {
        first,
        to_server_per_request: per_request(run.to_server, first.to_server),
        to_client_per_request: per_request(run.to_client, first.to_client),
        requests: n,
        protocol: run_report.protocol,
    })
}

/// One value length tried by [`index_threshold`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IndexProbe {
    pub value_len: usize,
    /// Per request, to the server, the header included.
    pub to_server_per_request: f64,
    /// Above the same requests without the header.
    pub extra_per_request: f64,
    pub indexed: bool,
}

/// Where the client's HPACK encoder stops indexing one header.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IndexThreshold {
    pub header: String,
    /// The longest value (bytes) still sent as an index after the first request.
    pub largest_indexed: usize,
    /// `largest_indexed + 1`: sent in full every time.
    pub smallest_not_indexed: usize,
    /// Per-request bytes to the server at `largest_indexed`.
    pub indexed_cost: f64,
    /// Per-request bytes to the server at `smallest_not_indexed`.
    pub not_indexed_cost: f64,
    /// Per-request bytes to the server without the header at all.
    pub baseline_cost: f64,
    /// Every length tried, in order.
    pub probes: Vec<IndexProbe>,
}

/// Above the requests without the header, an indexed header costs its index
/// (1-2 bytes) and one sent in full at least its Huffman-coded value: 5 bits
/// per filler `a`, 0.625 × its length. A quarter of the length splits the
/// two with a wide margin either way, at any length worth probing (from a
/// few dozen bytes up).
const NOT_INDEXED_ABOVE: f64 = 0.25;

/// The largest value length (bytes) of header `name` that the client (h2load/nghttp2)
/// still indexes: found by bisection over value lengths in [low, high] using per-request
/// to_server bytes: indexed ⇒ a few bytes per request; not indexed ⇒ at least the value's
/// length.
///
/// `base` is an HTTP/2 run through `counter` that is answered 2xx with or
/// without the header (e.g. `/health`); a header `name` already in it is
/// replaced. Values are `a` repeated. Each probe is a [`wire_cost`] of `n`
/// requests. Fails if `low` is not indexed or `high` is (the threshold is
/// not in the range; `authorization`, never indexed, fails at `low`).
pub async fn index_threshold(
    counter: &WireCounter,
    base: &H2load,
    name: &str,
    low: usize,
    high: usize,
    n: u32,
) -> Result<IndexThreshold, LabError> {
    if base.version != HttpVersion::Http2 {
        return Err(LabError::Config(
            "index threshold: HPACK indexing is HTTP/2's; HTTP/1.1 repeats every header".into(),
        ));
    }
    if low >= high {
        return Err(LabError::Config(format!(
            "index threshold: empty range [{low}, {high}]"
        )));
    }
    let mut without = base.clone();
    without
        .headers
        .retain(|(header, _)| !header.eq_ignore_ascii_case(name));
    let baseline = wire_cost(counter, &without, n, StatusClass::Success)
        .await?
        .to_server_per_request;
    let mut probes = Vec::new();
    let mut probe = async |value_len: usize| -> Result<IndexProbe, LabError> {
        let mut load = without.clone();
        load.headers.push((name.to_owned(), "a".repeat(value_len)));
        let cost = wire_cost(counter, &load, n, StatusClass::Success)
            .await?
            .to_server_per_request;
        let extra = cost - baseline;
        let probe = IndexProbe {
            value_len,
            to_server_per_request: cost,
            extra_per_request: extra,
            indexed: extra <= NOT_INDEXED_ABOVE * value_len as f64,
        };
        tracing::debug!(?probe, header = name, "index threshold probe");
        probes.push(probe.clone());
        Ok(probe)
    };
    let mut indexed = probe(low).await?;
    if !indexed.indexed {
        return Err(LabError::InvalidRun(format!(
            "index threshold: {name} is not indexed even at {low} bytes \
             ({:.1} bytes per request above the {baseline:.1} without it)",
            indexed.extra_per_request
        )));
    }
    let mut not_indexed = probe(high).await?;
    if not_indexed.indexed {
        return Err(LabError::InvalidRun(format!(
            "index threshold: {name} is still indexed at {high} bytes \
             ({:.1} bytes per request above the {baseline:.1} without it)",
            not_indexed.extra_per_request
        )));
    }
    // Halving a usize range ends within its bit width; the bound is a guard.
    for _ in 0..usize::BITS {
        if not_indexed.value_len - indexed.value_len <= 1 {
            break;
        }
        let middle = indexed.value_len + (not_indexed.value_len - indexed.value_len) / 2;
        let tried = probe(middle).await?;
        if tried.indexed {
            indexed = tried;
        } else {
            not_indexed = tried;
        }
    }
    Ok(IndexThreshold {
        header: name.to_owned(),
        largest_indexed: indexed.value_len,
        smallest_not_indexed: not_indexed.value_len,
        indexed_cost: indexed.to_server_per_request,
        not_indexed_cost: not_indexed.to_server_per_request,
        baseline_cost: baseline,
        probes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(requests: u64, failed: u64, errored: u64, statuses: [u64; 4]) -> H2loadReport {
        H2loadReport {
            requests,
            succeeded: statuses[0] + statuses[1],
            failed,
            errored,
            timeout: 0,
            status_2xx: statuses[0],
            status_3xx: statuses[1],
            status_4xx: statuses[2],
            status_5xx: statuses[3],
            protocol: "h2c".into(),
        }
    }

    #[test]
    fn a_run_counts_only_if_every_answer_is_in_the_class() {
        let ok = report(3, 0, 0, [3, 0, 0, 0]);
        assert!(StatusClass::Success.check(&ok, 3).is_ok());
        assert!(StatusClass::ClientError.check(&ok, 3).is_err());
        assert!(
            StatusClass::Success.check(&ok, 4).is_err(),
            "fewer than asked"
        );

        // h2load calls a 401 "failed"; for ClientError that is the point.
        let denied = report(2, 2, 0, [0, 0, 2, 0]);
        assert!(StatusClass::ClientError.check(&denied, 2).is_ok());
        assert!(StatusClass::Success.check(&denied, 2).is_err());

        let mixed = report(2, 1, 0, [1, 0, 1, 0]);
        assert!(StatusClass::Success.check(&mixed, 2).is_err());
        assert!(StatusClass::ClientError.check(&mixed, 2).is_err());

        let refused = report(2, 2, 2, [0, 0, 0, 0]);
        let error = StatusClass::ClientError.check(&refused, 2).unwrap_err();
        assert!(
            matches!(&error, LabError::InvalidRun(why) if why.contains("2 errored")),
            "names the counts: {error}"
        );
    }

    #[test]
    fn the_split_is_far_from_both_outcomes() {
        // Indexed: an index of 1-2 bytes; not indexed: 5 bits per `a`.
        for length in [40usize, 1_000, 3_025, 4_000] {
            let split = NOT_INDEXED_ABOVE * length as f64;
            assert!(split >= 4.0 * 2.0, "{length}: an index is well below");
            assert!(
                split <= 0.625 * length as f64 / 2.0,
                "{length}: a literal is well above"
            );
        }
    }
}
