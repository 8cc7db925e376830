//! c14 — how another service learns who is calling: local JWT checks against
//! a call back to the auth service.
//!
//! A user logged in at the auth service now calls a second service, `orders`.
//! That service has to decide who the caller is, and there are two families
//! of answers:
//!
//! * **verify locally**: the caller sends a JWT, and `orders` checks its
//!   signature with the auth service's *public* keys, fetched once from the
//!   JWKS endpoint and cached (route `jwks`); or HAProxy in front of `orders`
//!   checks it with a key file and `orders` trusts the gateway (`gateway`);
//! * **ask**: the caller sends an opaque session credential, and `orders`
//!   asks the session server's `/introspect` (RFC 7662) on every request
//!   (`introspection`), or caches the answers for 5 s
//!   (`introspection-cached`).
//!
//! The experiment measures what each costs and what each depends on, on one
//! cluster (two nodes per auth stack, the four `orders` variants behind
//! HAProxy, ES256 keys so HAProxy can verify them):
//!
//! 1. **per request** ([`measure::load_run`]): latency at a fixed offered
//!    load (a paced loop, [`pace`]), throughput at saturation (wrk), and the
//!    auth-service calls each `GET /orders` caused, from the `orders` node's
//!    own counter and, as a cross-check, from the auth nodes'. The JWT
//!    stack's own `/orders` is the baseline without a second hop. Routes are
//!    interleaved, the order rotating per trial, and every run passes the
//!    load check before its figures are used;
//! 2. **auth service down** ([`measure::outage`]): every node of both auth
//!    stacks is killed under a steady loop on each route, then restarted.
//!    The outage runs from the kill to the recovery (every auth node back up
//!    in HAProxy), and every figure of it counts the requests by when they
//!    were sent. The stopped stacks' own `/health` is probed alongside, so
//!    an "outage" that did not happen cannot pass for a service that kept
//!    working. The outage outlasts the cache TTL, so whether the cached
//!    route runs out is measured; how long it answers before that is the
//!    TTL's doing, and the verdict says so apart (`by_design`);
//! 3. **key rotation** ([`measure::rotation`]): the JWT key set is staged,
//!    then activated, under a steady loop on the JWKS and gateway routes;
//!    then new logins get tokens with the new `kid`. Rotations run back to
//!    back, at least two even in a quick run: the second meets the unknown
//!    `kid` within a refetch cooldown of the first one's fetch. Failed
//!    requests (0 expected), counted over the new-key requests, and the JWKS
//!    fetches the `orders` node made (1 expected per rotation: the first
//!    token with the unknown `kid`).
//!
//! [`plan`] holds the run's numbers, [`analysis`] turns the runs into a
//! [`DownstreamSummary`], [`rule`] judges C14 from it, and [`report`] writes
//! the set-up, the tables, the chart and the lesson.

mod analysis;
mod measure;
mod pace;
mod plan;
mod report;
mod rule;

use self::measure::Raw;
use crate::{
    experiment::{About, Experiment, Presentation, RunContext},
    results::ClaimVerdict,
    summaries::{DownstreamSummary, Summary},
    LabError,
};

pub struct Downstream {
    /// Whether the outage really stops the auth nodes: `false` only in the
    /// test that runs the experiment with an "outage" that leaves them
    /// running, to see the verdict refuse to hold.
    pub stop_auth_service: bool,
}

impl Default for Downstream {
    fn default() -> Self {
        Self {
            stop_auth_service: true,
        }
    }
}

impl Experiment for Downstream {
    type Raw = Raw;
    type Summary = DownstreamSummary;

    const ABOUT: About = About {
        id: "c14",
        title: "Another service checks the user: JWKS, introspection, a gateway",
        claims: &["C14"],
        question: "Can another service check a JWT on its own, while with a session it has to ask the auth \
                   service on every request, and what does each depend on?",
        seconds: (50, 185),
    };

    const LOCAL_ONLY: Option<&'static str> = Some(
        "it starts the orders services with spec.orders, rotates the JWT keys with stage_key, and reads the orders nodes' counters past HAProxy",
    );

    async fn measure(&self, ctx: &RunContext) -> Result<Raw, LabError> {
        measure::run(ctx, self.stop_auth_service).await
    }

    fn summarize(&self, raw: &Raw) -> DownstreamSummary {
        analysis::summarize(
            raw.plan.trials,
            raw.plan.cache_ttl.as_secs_f64(),
            &raw.load,
            &raw.outages,
            &raw.rotations,
        )
    }

    fn judge(&self, summary: &DownstreamSummary) -> Vec<ClaimVerdict> {
        vec![ClaimVerdict {
            headline: rule::c14_headline(summary),
            by_design: rule::c14_by_design(summary),
            claim: "C14".into(),
            verdict: rule::c14_verdict(summary),
            rule: rule::C14_RULE.into(),
            evidence: report::evidence(summary),
        }]
    }

    fn present(&self, raw: &Raw, summary: &DownstreamSummary, _quick: bool) -> Presentation {
        Presentation {
            setup: report::setup(&raw.plan),
            tables: report::tables(summary, &raw.plan),
            chart: Some(report::chart(&raw.outages)),
            lesson: report::lesson(summary, &raw.plan),
        }
    }

    fn shared(&self, summary: &DownstreamSummary) -> Option<Summary> {
        Some(Summary::Downstream(summary.clone()))
    }
}
