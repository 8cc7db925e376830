//! The report's glossary: the terms of art its tables and lessons use, each
//! explained in a sentence or two for a reader who has not met it.
//!
//! These are definitions, not findings: nothing here is measured, so nothing
//! here may quote a figure. A report lists only the terms its own text uses,
//! so a short run does not carry a page of words it never says.

use serde::Serialize;

use crate::results::RunResults;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Term {
    pub term: &'static str,
    /// What to look for in the report's text (case-insensitive).
    #[serde(skip)]
    pub needle: &'static str,
    pub meaning: &'static str,
}

const fn term(term: &'static str, needle: &'static str, meaning: &'static str) -> Term {
    Term {
        term,
        needle,
        meaning,
    }
}

/// Every term the report may use, alphabetically.
pub const TERMS: &[Term] = &[
    term(
        "ALPN",
        "alpn",
        "Application-Layer Protocol Negotiation: the TLS extension in which client and server agree on HTTP/2 \
         (`h2`) or HTTP/1.1 during the handshake.",
    ),
    term(
        "cnf.jkt",
        "cnf.jkt",
        "The confirmation claim of a DPoP-bound token (RFC 9449): the thumbprint of the client's public key. The \
         server accepts the token only with a proof signed by that key.",
    ),
    term(
        "coordinated omission",
        "coordinated omission",
        "A load generator that waits for each answer before sending the next request sends fewer requests while \
         the server stalls, so the stall hides from its latencies. authlab paces requests on a fixed schedule and \
         measures from when a request was due, not from when it was sent.",
    ),
    term(
        "CV",
        "cv",
        "Coefficient of variation: standard deviation divided by the mean. 0 is a perfectly even spread; c2 uses \
         it for requests per node.",
    ),
    term(
        "denylist",
        "denylist",
        "A list of revoked token ids (`jti`) kept in the store. Every request must look it up, which gives back \
         the store round trip a stateless token was meant to save.",
    ),
    term(
        "DPoP",
        "dpop",
        "Demonstrating Proof of Possession (RFC 9449): every request carries a fresh proof, signed by the \
         client's key, of its method and URL, so a stolen token is useless without that key.",
    ),
    term(
        "generator-bound",
        "generator-bound",
        "A load run whose throughput was capped by the load generator (it shares the machine's cores), not by \
         the servers. Its req/s is not the servers' capacity, and authlab does not use it as such.",
    ),
    term(
        "GETEX",
        "getex",
        "A Redis command that reads a key and resets its expiry in one round trip: how the session store \
         slides a session's lifetime on every request.",
    ),
    term(
        "HPACK",
        "hpack",
        "HTTP/2's header compression (RFC 7541). Both ends keep a table of recent headers; a header already in \
         it is sent as a one- or two-byte index instead of its text.",
    ),
    term(
        "hrsp_*",
        "hrsp_",
        "HAProxy's per-server counters of responses by status class (`hrsp_2xx`, `hrsp_4xx`, `hrsp_5xx`), read \
         from its stats.",
    ),
    term(
        "introspection",
        "introspection",
        "RFC 7662: a service asks the auth server whether a credential is active and whose it is, one HTTP call \
         per check (unless it caches the answers).",
    ),
    term(
        "jku / x5u",
        "jku",
        "JWT header fields that name a URL to fetch the verification key from. A verifier that follows them lets \
         the token's author choose the key; authlab's server ignores them.",
    ),
    term(
        "JWKS",
        "jwks",
        "JSON Web Key Set: the document (`/.well-known/jwks.json`) in which the issuer publishes its public \
         keys, each with a `kid` that tokens name in their header.",
    ),
    term(
        "never-indexed",
        "never-indexed",
        "An HPACK representation that tells every hop never to put the header in its table. Clients use it for \
         `Authorization`, so a bearer token is sent in full on every HTTP/2 request.",
    ),
    term(
        "p50 / p99",
        "p99",
        "Percentiles of latency: half of the requests were faster than p50, 99% faster than p99. authlab merges \
         them from histograms, never by averaging percentiles.",
    ),
    term(
        "prior knowledge",
        "prior knowledge",
        "HTTP/2 over clear text without an upgrade: the client simply starts speaking HTTP/2 because it knows the \
         server accepts it.",
    ),
    term(
        "RSS",
        "rss",
        "Resident set size: the memory of a process actually held in RAM, as the kernel counts it.",
    ),
    term(
        "schedstat",
        "schedstat",
        "The kernel's per-thread count of nanoseconds spent on a CPU (`/proc/<pid>/task/*/schedstat`): how \
         authlab measures each process's CPU per request.",
    ),
    term(
        "sticky session",
        "sticky",
        "A load balancer setting that sends every request of a user to the same node (here with a cookie \
         HAProxy sets), so per-node state keeps working.",
    ),
    term(
        "x-node",
        "x-node",
        "The response header every authlab node adds with its own name, so a client sees where the load \
         balancer sent each request.",
    ),
];

/// The terms `run`'s report uses: its experiments' text and verdicts.
pub fn used_by(run: &RunResults) -> Vec<Term> {
    let text = serde_json::to_string(&run.experiments)
        .unwrap_or_default()
        .to_lowercase();
    TERMS
        .iter()
        .filter(|t| contains_word(&text, t.needle))
        .copied()
        .collect()
}

/// `needle` in `haystack` not inside a longer word ("cv" must not match "csv").
fn contains_word(haystack: &str, needle: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric();
    haystack.match_indices(needle).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + needle.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
            || needle.ends_with('_') && !before.is_some_and(word)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_and_every_needle_finds_its_own_term() {
        let names: Vec<String> = TERMS.iter().map(|t| t.term.to_lowercase()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        for t in TERMS {
            assert!(
                contains_word(&t.term.to_lowercase(), t.needle),
                "{}: {}",
                t.term,
                t.needle
            );
        }
    }

    #[test]
    fn only_the_terms_the_report_uses_are_listed() {
        let mut run = crate::results::tests::sample();
        run.experiments[0].lesson = "HPACK indexed the cookie; see hrsp_5xx and the CSV.".into();
        let terms: Vec<&str> = used_by(&run).iter().map(|t| t.term).collect();
        assert!(terms.contains(&"HPACK"), "{terms:?}");
        assert!(terms.contains(&"hrsp_*"), "{terms:?}");
        assert!(!terms.contains(&"CV"), "csv is not cv: {terms:?}");
        assert!(!terms.contains(&"GETEX"), "{terms:?}");
    }
}
