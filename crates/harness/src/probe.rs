//! `authlab probe URL`: one GET, judged by its status, for container healthchecks.
//!
//! The session and JWT images have no curl or wget (and should not need one
//! to say whether they are healthy); the `authlab` binary is already in
//! them. A healthcheck wants exactly one answer, fast: so one request, a
//! hard timeout covering connect and body, no retries (Docker retries), and
//! success only for a 2xx, since a node that is up but not ready answers
//! `/ready` with 503.

use std::{error::Error as _, time::Duration};

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeAnswer {
    pub url: String,
    pub status: reqwest::StatusCode,
}

impl ProbeAnswer {
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }
}

impl std::fmt::Display for ProbeAnswer {
    /// `200 OK http://127.0.0.1:8080/ready`: the status line as HTTP has it, then the URL.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.status.as_u16(),
            self.status.canonical_reason().unwrap_or(""),
            self.url
        )
    }
}

/// No answer at all.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{url}: not a URL ({reason})")]
    Url { url: String, reason: String },
    #[error("{url}: {reason}")]
    Request { url: String, reason: String },
}

/// One `GET url`, bounded by `timeout` from connect to the end of the body.
pub async fn probe(url: &str, timeout: Duration) -> Result<ProbeAnswer, ProbeError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| ProbeError::Url {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    let failed = |e: reqwest::Error| ProbeError::Request {
        url: url.to_owned(),
        reason: describe(&e),
    };
    let client = reqwest::Client::builder()
        .timeout(timeout)
        // A healthcheck of this container must not follow a redirect elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(failed)?;
    let response = client.get(parsed).send().await.map_err(failed)?;
    let status = response.status();
    // Read the body, so a server that sends the head and then hangs fails the probe.
    response.bytes().await.map_err(failed)?;
    Ok(ProbeAnswer {
        url: url.to_owned(),
        status,
    })
}

/// reqwest's own message is "error sending request for url (…)"; the cause
/// ("Connection refused", "operation timed out") is what an operator needs.
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".into();
    }
    let mut deepest = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        deepest = cause.to_string();
        source = cause.source();
    }
    deepest
}
