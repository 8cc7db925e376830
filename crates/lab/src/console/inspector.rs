//! The credential inspector: what each stack hands alice and carol, and
//! which node still honours it.
//!
//! A session cookie is an opaque id: its bytes say nothing, and every node
//! asks the store what it means on every request. A JWT carries its meaning:
//! anyone can decode the payload (no key needed; the signature only proves
//! who wrote it), and a node decides from the token alone. The inspector puts
//! the two side by side, then asks every node directly, once a second,
//! whether it still accepts each credential:
//!
//! * alice's, on `GET /me`: after a logout the session is refused at once on
//!   every node, while her JWT stays good until it expires (unless the JWT
//!   stack runs with a denylist);
//! * carol's, on `GET /admin/stats`: after she is demoted the session stack
//!   refuses her at once (it rewrites the roles inside her session), while
//!   her JWT still says `admin` until it expires.
//!
//! Nodes are asked directly, not through HAProxy: the question is what each
//! node does, and the load balancer would answer it for one node at a time.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use authlab_core::directory::DEMO_PASSWORD;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use futures::future::join_all;
use serde::Serialize;

use super::facts::NodeFacts as NodeAddress;
use crate::Stack;

/// Longest one probe of one node may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Who is inspected, and on which request their credential is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Person {
    /// A user; tried on `GET /me`.
    Alice,
    /// An admin; tried on `GET /admin/stats`.
    Carol,
}

impl Person {
    pub fn username(self) -> &'static str {
        match self {
            Person::Alice => "alice",
            Person::Carol => "carol",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Person::Alice => "/me",
            Person::Carol => "/admin/stats",
        }
    }
}

/// What one node answered to a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "status", rename_all = "lowercase")]
pub enum Access {
    /// 2xx.
    Accepted,
    /// 401 or 403: the node knows the credential and says no.
    Refused(u16),
    /// Any other status, or no answer (a node down, a store down).
    Failed(Option<u16>),
}

impl Access {
    fn of(status: Option<u16>) -> Self {
        match status {
            Some(s) if (200..300).contains(&s) => Access::Accepted,
            Some(s @ (401 | 403)) => Access::Refused(s),
            other => Access::Failed(other),
        }
    }
}

/// The last thing done to a person's credentials that should end them.
#[derive(Debug, Clone)]
struct Event {
    what: String,
    at: Instant,
}

/// One node's answers since the event.
#[derive(Debug, Clone, Default)]
struct Watch {
    last: Option<Access>,
    /// Seconds after the event the node first refused.
    refused_after: Option<f64>,
}

/// A credential as it was handed out.
#[derive(Debug, Clone)]
struct Held {
    /// What goes on the wire: `name=value` of the cookie, or the token.
    value: String,
    /// Seconds since the epoch when a token expires.
    expires_at: Option<u64>,
}

#[derive(Debug, Default)]
struct Subject {
    credentials: BTreeMap<Stack, Held>,
    /// Why the last login on a stack gave no credential.
    login_failures: BTreeMap<Stack, String>,
    event: Option<Event>,
    watches: BTreeMap<(Stack, String), Watch>,
}

/// The inspector's state for both people.
pub struct Inspector {
    client: reqwest::Client,
    frontends: Vec<(Stack, String)>,
    nodes: Vec<NodeAddress>,
    subjects: BTreeMap<Person, Subject>,
}

// ----- what the page gets -----

#[derive(Debug, Clone, Serialize)]
pub struct CredentialView {
    pub stack: Stack,
    /// `cookie` or `bearer token`.
    pub kind: &'static str,
    pub bytes: usize,
    /// The value as sent, shortened for the page.
    pub shown: String,
    /// A JWT's header and payload, decoded without any key.
    pub decoded: Option<Decoded>,
    pub seconds_left: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decoded {
    pub header: serde_json::Value,
    pub payload: serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeView {
    pub stack: Stack,
    pub node: String,
    pub access: Option<Access>,
    /// The counter the page shows: "accepted 12 s after logout" or "refused".
    pub label: String,
    /// Seconds since the event while this node still accepts.
    pub still_accepted_s: Option<f64>,
    pub refused_after_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PersonView {
    pub person: Person,
    pub credentials: Vec<CredentialView>,
    pub login_failures: Vec<(Stack, String)>,
    pub event: Option<String>,
    pub seconds_since_event: Option<f64>,
    pub nodes: Vec<NodeView>,
}

impl Inspector {
    pub fn new(
        client: reqwest::Client,
        frontends: Vec<(Stack, String)>,
        nodes: Vec<NodeAddress>,
    ) -> Self {
        let subjects = [Person::Alice, Person::Carol]
            .into_iter()
            .map(|p| (p, Subject::default()))
            .collect();
        Self {
            client,
            frontends,
            nodes,
            subjects,
        }
    }

    /// The nodes to ask from now on (compose replicas come and go).
    pub fn set_nodes(&mut self, nodes: Vec<NodeAddress>) {
        self.nodes = nodes;
    }

    /// Logs `person` in on every stack, through the load balancer, and
    /// starts watching the new credentials.
    pub async fn log_in(&mut self, person: Person) -> String {
        let mut subject = Subject::default();
        for (stack, base) in &self.frontends {
            match self.login(*stack, base, person).await {
                Ok(held) => {
                    subject.credentials.insert(*stack, held);
                }
                Err(reason) => {
                    subject.login_failures.insert(*stack, reason);
                }
            }
        }
        let logged = subject.credentials.len();
        let failures: Vec<String> = subject
            .login_failures
            .iter()
            .map(|(s, r)| format!("{s}: {r}"))
            .collect();
        self.subjects.insert(person, subject);
        if failures.is_empty() {
            format!("{} logged in on {logged} stack(s)", person.username())
        } else {
            format!(
                "{} logged in on {logged} stack(s); refused on {}",
                person.username(),
                failures.join(", ")
            )
        }
    }

    async fn login(&self, stack: Stack, base: &str, person: Person) -> Result<Held, String> {
        let response = self
            .client
            .post(format!("{base}/login"))
            .json(&serde_json::json!({"username": person.username(), "password": DEMO_PASSWORD}))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| format!("no answer ({e})"))?;
        if !response.status().is_success() {
            return Err(format!("login answered {}", response.status().as_u16()));
        }
        match stack {
            Stack::Session => authlab_client::response::session_cookie(
                &response,
                authlab_core::wire::SESSION_COOKIE,
            )
            .map(|value| Held {
                value,
                expires_at: None,
            })
            .ok_or_else(|| "the login set no session cookie".to_owned()),
            Stack::Jwt => {
                let tokens: authlab_core::wire::TokenResponse = response
                    .json()
                    .await
                    .map_err(|e| format!("no token response ({e})"))?;
                let expires_at = decode(&tokens.access_token)
                    .and_then(|d| d.payload["exp"].as_u64())
                    .or_else(|| Some(now_epoch() + tokens.expires_in));
                Ok(Held {
                    value: tokens.access_token,
                    expires_at,
                })
            }
        }
    }

    /// Sends `method path` through each stack's load balancer with the
    /// person's credential on that stack, then marks `what` as the moment
    /// the credentials should stop working. Returns one line per stack.
    pub async fn revoke(
        &mut self,
        person: Person,
        what: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<String, String> {
        let subject = self
            .subjects
            .get(&person)
            .filter(|s| !s.credentials.is_empty())
            .ok_or_else(|| format!("{} is not logged in; log her in first", person.username()))?;
        let mut lines = Vec::new();
        for (stack, base) in &self.frontends {
            let Some(held) = subject.credentials.get(stack) else {
                continue;
            };
            let mut request = self
                .client
                .request(method.clone(), format!("{base}{path}"))
                .timeout(Duration::from_secs(5));
            request = match stack {
                Stack::Session => request.header("cookie", &held.value),
                Stack::Jwt => request.bearer_auth(&held.value),
            };
            if let Some(body) = &body {
                request = request.json(body);
            }
            lines.push(match request.send().await {
                Ok(response) => format!("{stack}: {}", response.status().as_u16()),
                Err(e) => format!("{stack}: no answer ({e})"),
            });
        }
        self.mark(person, what);
        Ok(lines.join(", "))
    }

    /// Starts the per-node counters: from now on, each node's first refusal is timed.
    pub fn mark(&mut self, person: Person, what: &str) {
        if let Some(subject) = self.subjects.get_mut(&person) {
            subject.event = Some(Event {
                what: what.to_owned(),
                at: Instant::now(),
            });
            subject.watches.clear();
        }
    }

    /// Asks every node, concurrently, whether it accepts each credential.
    pub async fn probe(&mut self) {
        let mut asks = Vec::new();
        for (person, subject) in &self.subjects {
            for node in &self.nodes {
                if let Some(held) = subject.credentials.get(&node.stack) {
                    asks.push((*person, node.clone(), held.value.clone()));
                }
            }
        }
        let client = &self.client;
        let answers = join_all(asks.into_iter().map(|(person, node, value)| async move {
            let url = format!("{}{}", node.url, person.path());
            let request = client.get(url).timeout(PROBE_TIMEOUT);
            let request = match node.stack {
                Stack::Session => request.header("cookie", value),
                Stack::Jwt => request.bearer_auth(value),
            };
            let status = request.send().await.ok().map(|r| r.status().as_u16());
            (person, node, Access::of(status))
        }))
        .await;
        for (person, node, access) in answers {
            let Some(subject) = self.subjects.get_mut(&person) else {
                continue;
            };
            let since = subject.event.as_ref().map(|e| e.at.elapsed().as_secs_f64());
            let watch = subject.watches.entry((node.stack, node.name)).or_default();
            watch.last = Some(access);
            if let (Access::Refused(_), None, Some(since)) = (access, watch.refused_after, since) {
                watch.refused_after = Some(since);
            }
        }
    }

    pub fn view(&self) -> Vec<PersonView> {
        self.subjects
            .iter()
            .map(|(person, subject)| view_of(*person, subject, &self.nodes))
            .collect()
    }
}

fn view_of(person: Person, subject: &Subject, nodes: &[NodeAddress]) -> PersonView {
    let since = subject.event.as_ref().map(|e| e.at.elapsed().as_secs_f64());
    let what = subject.event.as_ref().map(|e| e.what.as_str());
    PersonView {
        person,
        credentials: subject
            .credentials
            .iter()
            .map(|(stack, held)| credential_view(*stack, held))
            .collect(),
        login_failures: subject
            .login_failures
            .iter()
            .map(|(s, r)| (*s, r.clone()))
            .collect(),
        event: what.map(str::to_owned),
        seconds_since_event: since,
        nodes: nodes
            .iter()
            .filter(|n| subject.credentials.contains_key(&n.stack))
            .map(|n| {
                let watch = subject
                    .watches
                    .get(&(n.stack, n.name.clone()))
                    .cloned()
                    .unwrap_or_default();
                node_view(n, &watch, what, since)
            })
            .collect(),
    }
}

fn node_view(
    node: &NodeAddress,
    watch: &Watch,
    what: Option<&str>,
    since: Option<f64>,
) -> NodeView {
    let still = match (watch.last, since) {
        (Some(Access::Accepted), Some(since)) => Some(since),
        _ => None,
    };
    NodeView {
        stack: node.stack,
        node: node.name.clone(),
        access: watch.last,
        label: counter_label(watch.last, what, still, watch.refused_after),
        still_accepted_s: still,
        refused_after_s: watch.refused_after,
    }
}

/// The words of one node's counter.
pub fn counter_label(
    access: Option<Access>,
    event: Option<&str>,
    still_accepted_s: Option<f64>,
    refused_after_s: Option<f64>,
) -> String {
    match (access, event) {
        (None, _) => "not asked yet".into(),
        (Some(Access::Accepted), Some(event)) => format!(
            "accepted {:.0} s after {event}",
            still_accepted_s.unwrap_or_default()
        ),
        (Some(Access::Accepted), None) => "accepted".into(),
        // Nodes are asked once a second: the first refusal is seen, not timed to the millisecond.
        (Some(Access::Refused(status)), Some(event)) => match refused_after_s {
            Some(after) => format!("refused ({status}), first seen {after:.1} s after {event}"),
            None => format!("refused ({status})"),
        },
        (Some(Access::Refused(status)), None) => format!("refused ({status})"),
        (Some(Access::Failed(Some(status))), _) => format!("failed ({status})"),
        (Some(Access::Failed(None)), _) => "no answer".into(),
    }
}

fn credential_view(stack: Stack, held: &Held) -> CredentialView {
    let decoded = match stack {
        Stack::Jwt => decode(&held.value),
        Stack::Session => None,
    };
    CredentialView {
        stack,
        kind: match stack {
            Stack::Session => "cookie",
            Stack::Jwt => "bearer token",
        },
        bytes: held.value.len(),
        shown: shorten(&held.value, 72),
        decoded,
        seconds_left: held.expires_at.map(|exp| exp as i64 - now_epoch() as i64),
    }
}

/// A JWT's header and payload, read the way anyone can: base64url and JSON,
/// no key involved.
pub fn decode(token: &str) -> Option<Decoded> {
    let mut parts = token.split('.');
    let (header, payload) = (parts.next()?, parts.next()?);
    let json = |part: &str| -> Option<serde_json::Value> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
    };
    Some(Decoded {
        header: json(header)?,
        payload: json(payload)?,
    })
}

fn shorten(value: &str, most: usize) -> String {
    if value.chars().count() <= most {
        return value.to_owned();
    }
    let head: String = value.chars().take(most - 1).collect();
    format!("{head}…")
}

fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jwt_decodes_without_a_key() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","kid":"k1"}"#);
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"alice","roles":["user"],"exp":99}"#);
        let decoded = decode(&format!("{header}.{payload}.c2lnbmF0dXJl")).unwrap();
        assert_eq!(decoded.header["kid"], "k1");
        assert_eq!(decoded.payload["sub"], "alice");
        assert_eq!(decoded.payload["exp"], 99);
    }

    #[test]
    fn an_opaque_value_does_not_decode() {
        assert_eq!(decode("authlab_session=abcdef"), None);
        assert_eq!(decode("a.b.c"), None);
    }

    #[test]
    fn statuses_are_sorted_into_accepted_refused_and_failed() {
        assert_eq!(Access::of(Some(200)), Access::Accepted);
        assert_eq!(Access::of(Some(401)), Access::Refused(401));
        assert_eq!(Access::of(Some(403)), Access::Refused(403));
        assert_eq!(Access::of(Some(503)), Access::Failed(Some(503)));
        assert_eq!(Access::of(None), Access::Failed(None));
    }

    #[test]
    fn the_counter_runs_while_accepted_and_stops_at_the_first_refusal() {
        assert_eq!(
            counter_label(Some(Access::Accepted), Some("logout"), Some(12.4), None),
            "accepted 12 s after logout"
        );
        assert_eq!(
            counter_label(Some(Access::Refused(401)), Some("logout"), None, Some(0.3)),
            "refused (401), first seen 0.3 s after logout"
        );
        assert_eq!(
            counter_label(Some(Access::Accepted), None, None, None),
            "accepted"
        );
        assert_eq!(counter_label(None, None, None, None), "not asked yet");
        assert_eq!(
            counter_label(Some(Access::Failed(Some(503))), Some("logout"), None, None),
            "failed (503)"
        );
    }

    #[test]
    fn long_values_are_shortened_for_the_page_but_not_their_size() {
        let held = Held {
            value: "x".repeat(300),
            expires_at: None,
        };
        let view = credential_view(Stack::Session, &held);
        assert_eq!(view.bytes, 300);
        assert_eq!(view.shown.chars().count(), 72);
    }
}
