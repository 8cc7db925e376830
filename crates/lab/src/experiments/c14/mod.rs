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
//! [`analysis`] turns the runs into a [`DownstreamSummary`] and judges C14;
//! [`report`] writes the tables, the chart and the lesson.

mod analysis;
mod measure;
mod pace;
mod report;

use std::time::{Duration, Instant};

use authlab_client::ApiClient;
use serde_json::json;

use crate::experiment::Outcome;
use crate::experiment::RunContext;
use crate::experiment::Runnable;
use crate::kit::schedule::{self, Trials};
use crate::{
    results::{ClaimVerdict, ExperimentResult},
    summaries::{DownstreamSummary, OrdersRoute, Summary},
};

const TRIALS: Trials = Trials::new(1, 3);

/// Every rate, duration and count of one run; quick mode shortens the
/// phases, never the outage below the cache TTL it has to outlast.
#[derive(Debug, Clone, Copy)]
struct Plan {
    trials: usize,
    /// Auth nodes per stack.
    nodes: usize,
    /// Users logged in per stack for every run (their credentials rotate).
    users: usize,
    /// The fixed offered load of the latency loop: far below what any
    /// route serves, so its latency is service time, not a queue.
    fixed_rate: u32,
    fixed_time: Duration,
    wrk_time: Duration,
    wrk_connections: u32,
    /// Per route, through the outage and the rotation.
    outage_rate: u32,
    /// Of each stopped stack's own `/health`.
    probe_rate: u32,
    before: Duration,
    /// Longer than the cached variant's TTL plus HAProxy's detection of
    /// the dead nodes, so the cache is seen to run out.
    down: Duration,
    after: Duration,
    rotation_rate: u32,
    /// Back to back; two at least, so a quick run meets a rotation within
    /// the refetch cooldown of the previous one's fetch.
    rotations: usize,
    new_logins: usize,
    /// How long the new tokens are sent after the activation.
    after_rotation: Duration,
    /// `introspection-cached`'s TTL, as the cluster starts it (`crate::orders`).
    cache_ttl: Duration,
    /// Per request; above `orders`' 2 s upstream timeout, so a slow upstream
    /// shows as the orders node's 503, not as the loop giving up.
    timeout: Duration,
}

impl Plan {
    fn new(quick: bool) -> Self {
        let s = Duration::from_secs;
        Self {
            trials: TRIALS.count(quick),
            nodes: 2,
            users: 32,
            fixed_rate: 100,
            fixed_time: s(if quick { 2 } else { 4 }),
            wrk_time: s(if quick { 2 } else { 3 }),
            wrk_connections: 8,
            outage_rate: 40,
            probe_rate: 10,
            before: s(if quick { 2 } else { 3 }),
            down: s(if quick { 8 } else { 10 }),
            after: s(if quick { 3 } else { 5 }),
            rotation_rate: 40,
            rotations: TRIALS.count(quick).max(2),
            new_logins: 8,
            after_rotation: s(if quick { 2 } else { 3 }),
            cache_ttl: s(5),
            timeout: s(3),
        }
    }
}

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

impl Runnable for Downstream {
    fn id(&self) -> &'static str {
        "c14"
    }

    fn title(&self) -> &'static str {
        "Another service checks the user: JWKS, introspection, a gateway"
    }

    fn claims(&self) -> &'static [&'static str] {
        &["C14"]
    }

    fn estimate(&self, quick: bool) -> Duration {
        Duration::from_secs(if quick { 50 } else { 185 })
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> Outcome<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let plan = Plan::new(ctx.quick);
            ctx.variant("starting a cluster with the orders service in four modes");
            let mut cluster = measure::start(ctx, &plan).await?;
            let client = ApiClient::new();

            let load = schedule::run(
                ctx,
                &OrdersRoute::ALL,
                plan.trials,
                |route| format!("{}: a paced loop, then wrk", route.label()),
                async |route, trial| {
                    measure::load_run(&cluster, &client, &plan, *route, trial).await
                },
            )
            .await?
            .into_iter()
            .map(|m| m.value)
            .collect::<Vec<_>>();
            let outages = schedule::run(
                ctx,
                &["auth services down"],
                plan.trials,
                |what| format!("{what} under a paced loop on every route"),
                async |_, trial| {
                    measure::outage(&mut cluster, &client, &plan, self.stop_auth_service, trial)
                        .await
                },
            )
            .await?
            .into_iter()
            .map(|m| m.value)
            .collect::<Vec<_>>();
            let rotations = schedule::run(
                ctx,
                &["key rotation"],
                plan.rotations,
                |what| format!("{what} under a paced loop on the JWKS and gateway routes"),
                async |_, trial| measure::rotation(&mut cluster, &client, &plan, trial).await,
            )
            .await?
            .into_iter()
            .map(|m| m.value)
            .collect::<Vec<_>>();
            cluster.shutdown();

            let summary: DownstreamSummary = analysis::summarize(
                plan.trials,
                plan.cache_ttl.as_secs_f64(),
                &load,
                &outages,
                &rotations,
            );
            Ok(ExperimentResult {
                id: "c14".into(),
                title: self.title().into(),
                claims: vec!["C14".into()],
                question: "Can another service check a JWT on its own, while with a session it has to ask the auth \
                           service on every request, and what does each depend on?"
                    .into(),
                setup: setup(&plan),
                verdicts: vec![ClaimVerdict {
                    headline: analysis::c14_headline(&summary),
                    by_design: analysis::c14_by_design(&summary),
                    claim: "C14".into(),
                    verdict: analysis::c14_verdict(&summary),
                    rule: analysis::C14_RULE.into(),
                    evidence: report::evidence(&summary),
                }],
                tables: report::tables(&summary, &plan),
                chart: Some(report::chart(&outages)),
                lesson: report::lesson(&summary, &plan),
                summary: Some(Summary::Downstream(summary)),
                raw: json!({ "load": load, "outages": outages, "rotations": rotations }),
                seconds: started.elapsed().as_secs_f64(),
                error: None,
            })
        })
    }
}

fn setup(plan: &Plan) -> String {
    format!(
        "One cluster: {} nodes per auth stack behind HAProxy, the JWT stack signing with ES256 (HAProxy's jwt_verify \
         has no EdDSA), and one orders-service node per variant behind its own HAProxy frontend: jwks (fetches the \
         JWT stack's /.well-known/jwks.json through HAProxy, caches it), introspection (asks the session stack's \
         /introspect through HAProxy on every request), introspection-cached (the same, active answers cached {} s) \
         and gateway (HAProxy verifies the JWT, the node trusts it). {} load users log in on each stack before every \
         run: the JWT routes get their access tokens, the introspection routes their session cookie values, both \
         as Authorization: Bearer. Per request: a paced loop at {} requests/s for {} s (latency), then wrk -t2 \
         -c{} for {} s (throughput); the orders node's and the auth nodes' counters read before and after; a run \
         with more than {:.1}% errors is refused by the load check. Auth service down: paced loops of {} \
         requests/s on each orders route, every JWT and session node killed after {} s and restarted {} s later, \
         the loops running {} s past the recovery (every auth node ready and up in HAProxy), the stopped stacks' \
         own /health probed at {} requests/s; the outage is counted from the kill to the recovery, and every \
         figure of it by when each request was sent. Key rotation: paced loops of {} requests/s with old tokens on \
         the jwks and gateway routes while the key set is staged and activated, then {} fresh logins' tokens for \
         {} s; {} rotations back to back. {} trial(s) of the other parts, the per-request routes interleaved with \
         the order rotating per trial. The lab runs on the same cores as the cluster.",
        plan.nodes,
        plan.cache_ttl.as_secs(),
        plan.users,
        plan.fixed_rate,
        plan.fixed_time.as_secs(),
        plan.wrk_connections,
        plan.wrk_time.as_secs(),
        crate::kit::load_check::MAX_ERROR_SHARE * 100.0,
        plan.outage_rate,
        plan.before.as_secs(),
        plan.down.as_secs(),
        plan.after.as_secs(),
        plan.probe_rate,
        plan.rotation_rate,
        plan.new_logins,
        plan.after_rotation.as_secs(),
        plan.rotations,
        plan.trials,
    )
}
