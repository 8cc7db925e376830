//! c14's measurement: the cluster, and the three kinds of runs the analysis
//! reads. Every loop here is bounded in time (see [`pace`]), and every
//! figure is read from a process of the cluster: the orders nodes' and auth
//! nodes' `/metrics`, the answers the loops and wrk got.

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use authlab_client::ApiClient;
use futures::future::join_all;
use jwt_server::SigningAlgorithm;

use serde::Serialize;

use super::{
    pace::{self, LoopRecord, Pace},
    plan::Plan,
};
use crate::{
    experiment::RunContext,
    kit::{err, load_check, logins::log_in_load_users, schedule},
    orders::OrdersVariant,
    summaries::OrdersRoute,
    wrk::{self, WrkResult, WrkRun},
    Cluster, LabError, Stack,
};

/// Everything c14 measured: the plan it followed and every run's samples.
#[derive(Debug, Serialize)]
pub struct Raw {
    pub plan: Plan,
    pub load: Vec<LoadSample>,
    pub outages: Vec<OutageSample>,
    pub rotations: Vec<RotationSample>,
}

/// One route in one trial: a loop at a fixed offered load (latency), wrk at
/// saturation (throughput), and the auth-service counters read around both.
#[derive(Debug, Clone, Serialize)]
pub struct LoadSample {
    pub route: OrdersRoute,
    pub trial: usize,
    pub fixed: LoopRecord,
    pub wrk: WrkResult,
    /// Auth-service calls the orders node counted over both runs; `None`
    /// for the baseline, which has no orders node.
    pub calls: Option<f64>,
    /// The same calls as the auth nodes counted them.
    pub auth_side_calls: Option<f64>,
    /// Why the load check refused these runs; `None` when both passed.
    pub invalid: Option<String>,
}

impl LoadSample {
    pub fn requests(&self) -> u64 {
        self.fixed.requests() + self.wrk.requests
    }

    pub fn per_request(&self, calls: Option<f64>) -> Option<f64> {
        calls.map(|c| c / self.requests().max(1) as f64)
    }
}

/// One route's loop through an outage.
#[derive(Debug, Clone, Serialize)]
pub struct RouteLoop {
    pub route: OrdersRoute,
    /// The auth stack the route depends on, which was stopped.
    pub depends_on: Stack,
    pub record: LoopRecord,
}

/// A stopped stack's own `/health`, asked through HAProxy during the outage.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeLoop {
    pub stack: Stack,
    pub record: LoopRecord,
}

/// One outage: every auth node stopped at `stop_s`, all back (ready and up
/// in HAProxy) at `restart_s`, seconds on the loops' shared timeline.
#[derive(Debug, Clone, Serialize)]
pub struct OutageSample {
    pub trial: usize,
    pub stop_s: f64,
    pub restart_s: f64,
    pub routes: Vec<RouteLoop>,
    pub probes: Vec<ProbeLoop>,
}

/// One key rotation under load.
#[derive(Debug, Clone, Serialize)]
pub struct RotationSample {
    pub trial: usize,
    pub staged_kid: String,
    pub active_kid: String,
    /// Logins after the activation, and how many tokens named the new kid.
    pub new_logins: usize,
    pub new_logins_with_new_kid: usize,
    /// Old-kid tokens from before the stage until the new tokens were tried.
    pub jwks_old: LoopRecord,
    pub gateway_old: LoopRecord,
    /// New-kid tokens after the activation.
    pub jwks_new: LoopRecord,
    pub gateway_new: LoopRecord,
    /// `orders_upstream_requests_total{kind="jwks"}` of the JWKS node, after
    /// minus before.
    pub jwks_fetches: u64,
    pub seconds: f64,
}

/// However slow the restarts, a loop stops offering requests after this.
const LOOP_BOUND: Duration = Duration::from_secs(90);
/// Requests outstanding at once per loop: at 40–100 requests/s and
/// milliseconds per answer a handful would do; an outage whose requests
/// hang until the timeout needs more, and still has a ceiling.
const IN_FLIGHT: usize = 64;

/// The orders-service variant behind a route; `None` for the JWT stack's own `/orders`.
fn variant(route: OrdersRoute) -> Option<OrdersVariant> {
    match route {
        OrdersRoute::JwtStack => None,
        OrdersRoute::Jwks => Some(OrdersVariant::Jwks),
        OrdersRoute::Introspection => Some(OrdersVariant::Introspection),
        OrdersRoute::IntrospectionCached => Some(OrdersVariant::IntrospectionCached),
        OrdersRoute::Gateway => Some(OrdersVariant::Gateway),
    }
}

/// The auth stack whose credentials a route takes, and which it depends on.
fn depends_on(route: OrdersRoute) -> Stack {
    match route {
        OrdersRoute::Introspection | OrdersRoute::IntrospectionCached => Stack::Session,
        OrdersRoute::JwtStack | OrdersRoute::Jwks | OrdersRoute::Gateway => Stack::Jwt,
    }
}

/// `GET /orders` of a route, through HAProxy.
fn orders_url(cluster: &dyn Cluster, route: OrdersRoute) -> Result<String, LabError> {
    match variant(route) {
        None => Ok(cluster.url(Stack::Jwt, "/orders")?),
        Some(v) => Ok(cluster.orders_url(v, "/orders")?),
    }
}

/// The whole measurement on one cluster: every route under load, the
/// outages, then the key rotations. `stop_auth_service` is `false` only in
/// the test whose "outage" leaves the auth nodes running.
pub async fn run(ctx: &RunContext, stop_auth_service: bool) -> Result<Raw, LabError> {
    let plan = Plan::new(ctx.quick);
    ctx.variant("starting a cluster with the orders service in four modes");
    let mut cluster = start(ctx, &plan).await?;
    let client = ApiClient::new();

    let load = schedule::run(
        ctx,
        &OrdersRoute::ALL,
        plan.trials,
        |route| format!("{}: a paced loop, then wrk", route.label()),
        async |route, trial| load_run(&*cluster, &client, &plan, *route, trial).await,
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
        async |_, trial| outage(&mut *cluster, &client, &plan, stop_auth_service, trial).await,
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
        async |_, trial| rotation(&mut *cluster, &client, &plan, trial).await,
    )
    .await?
    .into_iter()
    .map(|m| m.value)
    .collect::<Vec<_>>();
    cluster.shutdown();
    Ok(Raw {
        plan,
        load,
        outages,
        rotations,
    })
}

async fn start(ctx: &RunContext, plan: &Plan) -> Result<Box<dyn Cluster>, LabError> {
    let mut spec = ctx.spec();
    spec.nodes = plan.nodes;
    spec.alg = SigningAlgorithm::Es256;
    spec.seed_users = plan.users.max(plan.new_logins);
    spec.orders = OrdersVariant::ALL.to_vec();
    ctx.cluster(spec).await
}

/// `Authorization` header values of `users` fresh logins (`user0`, …) on
/// `stack`: the access token, or the session cookie's value, as a bearer.
async fn authorizations(
    client: &ApiClient,
    cluster: &dyn Cluster,
    stack: Stack,
    users: usize,
) -> Result<Vec<String>, LabError> {
    Ok(log_in_load_users(client, cluster, stack, users)
        .await?
        .iter()
        .map(|credential| format!("Bearer {}", credential.bearer_value()))
        .collect())
}

/// The sum of every sample of counter `name` whose labels include all of
/// `labels`, in a Prometheus text exposition. A name matches exactly or
/// after a namespace (`authlab_` + `name`).
fn counter(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let end = line.find(['{', ' '])?;
            let metric = &line[..end];
            if metric != name && !metric.ends_with(&format!("_{name}")) {
                return None;
            }
            let (label_text, value) = match line[end..].strip_prefix('{') {
                Some(rest) => rest.split_once('}')?,
                None => ("", &line[end..]),
            };
            labels
                .iter()
                .all(|(k, v)| label_text.contains(&format!("{k}=\"{v}\"")))
                .then(|| value.split_whitespace().next()?.parse::<f64>().ok())
                .flatten()
        })
        .sum()
}

async fn scrape(http: &reqwest::Client, url: &str) -> Result<String, LabError> {
    let response = http
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| err(format!("{url}: {e}")))?;
    if !response.status().is_success() {
        return Err(err(format!("{url}: {}", response.status())));
    }
    response.text().await.map_err(err)
}

/// What the route's orders node has asked the auth service so far (every
/// kind and outcome); `None` for the baseline.
async fn orders_calls(
    http: &reqwest::Client,
    cluster: &dyn Cluster,
    route: OrdersRoute,
) -> Result<Option<f64>, LabError> {
    let Some(v) = variant(route) else {
        return Ok(None);
    };
    let node = cluster
        .orders_node(v)
        .ok_or_else(|| err(format!("the cluster has no {} orders node", v.name())))?;
    let text = scrape(http, &node.url("/metrics")).await?;
    Ok(Some(counter(&text, "orders_upstream_requests_total", &[])))
}

/// What the auth nodes have answered so far that only a downstream service
/// asks for: introspections (both stacks) and JWKS documents (JWT stack).
async fn auth_side_calls(
    http: &reqwest::Client,
    cluster: &dyn Cluster,
    route: OrdersRoute,
) -> Result<Option<f64>, LabError> {
    if variant(route).is_none() {
        return Ok(None);
    }
    let mut total = 0.0;
    for stack in [Stack::Session, Stack::Jwt] {
        for node in cluster.nodes(stack) {
            let text = scrape(http, &node.url("/metrics")).await?;
            total += counter(&text, "introspection_requests_total", &[]);
            total += counter(
                &text,
                "http_requests_total",
                &[("endpoint", "/.well-known/jwks.json")],
            );
        }
    }
    Ok(Some(total))
}

fn checked(run: &str, requests: u64, non_2xx: u64, socket_errors: u64) -> Option<String> {
    load_check::check(
        run,
        load_check::Answers {
            requests,
            non_2xx,
            socket_errors,
        },
    )
    .err()
    .map(|e| e.to_string())
}

/// One route in one trial: fresh logins, the paced loop, wrk, the counters around both.
async fn load_run(
    cluster: &dyn Cluster,
    client: &ApiClient,
    plan: &Plan,
    route: OrdersRoute,
    trial: usize,
) -> Result<LoadSample, LabError> {
    let credentials = authorizations(client, cluster, depends_on(route), plan.users).await?;
    let url = orders_url(cluster, route)?;
    let http = reqwest::Client::new();
    let calls_before = orders_calls(&http, cluster, route).await?;
    let auth_before = auth_side_calls(&http, cluster, route).await?;
    let fixed = pace::run(
        &http,
        &url,
        &credentials,
        Pace {
            rate: plan.fixed_rate,
            in_flight: IN_FLIGHT,
            timeout: plan.timeout,
            max: plan.fixed_time,
            keep_sends: false,
        },
        Instant::now(),
        &AtomicBool::new(false),
    )
    .await;
    let lines: Vec<String> = credentials
        .iter()
        .map(|value| format!("Authorization: {value}"))
        .collect();
    let (wrk_url, duration, connections) = (url.clone(), plan.wrk_time, plan.wrk_connections);
    let wrk = tokio::task::spawn_blocking(move || {
        wrk::run(&WrkRun {
            url: &wrk_url,
            credentials: &lines,
            threads: 2,
            connections,
            duration,
        })
    })
    .await
    .map_err(err)??;
    let calls_after = orders_calls(&http, cluster, route).await?;
    let auth_after = auth_side_calls(&http, cluster, route).await?;
    let delta = |before: Option<f64>, after: Option<f64>| Some(after? - before?);
    let refusals: Vec<String> = [
        checked(
            &format!("{} (paced loop)", route.label()),
            fixed.requests(),
            fixed.errors(),
            0,
        ),
        checked(
            &format!("{} (wrk)", route.label()),
            wrk.requests,
            wrk.non_2xx,
            wrk.socket_errors,
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    Ok(LoadSample {
        route,
        trial,
        invalid: (!refusals.is_empty()).then(|| refusals.join("; ")),
        calls: delta(calls_before, calls_after),
        auth_side_calls: delta(auth_before, auth_after),
        fixed,
        wrk,
    })
}

/// Kills every node of both auth stacks `plan.before` into the loops,
/// restarts them `plan.down` later and waits until HAProxy has them all up
/// again; returns (stop, restart) on the loops' timeline. With `really`
/// false it only waits (the broken set-up of the end-to-end test).
async fn stop_and_restart(
    cluster: &mut dyn Cluster,
    plan: &Plan,
    really: bool,
    started: Instant,
) -> Result<(f64, f64), LabError> {
    let stacks = if really {
        vec![Stack::Jwt, Stack::Session]
    } else {
        Vec::new()
    };
    tokio::time::sleep(plan.before).await;
    let stop_s = started.elapsed().as_secs_f64();
    for &stack in &stacks {
        for i in 0..cluster.nodes(stack).len() {
            cluster.kill_node(stack, i)?;
        }
    }
    tokio::time::sleep(plan.down).await;
    for &stack in &stacks {
        for i in 0..cluster.nodes(stack).len() {
            cluster.restart_node(stack, i).await?;
        }
    }
    for &stack in &stacks {
        for i in 0..cluster.nodes(stack).len() {
            cluster
                .wait_node_health(stack, i, true, Duration::from_secs(20))
                .await?;
        }
    }
    let restart_s = started.elapsed().as_secs_f64();
    tokio::time::sleep(plan.after).await;
    Ok((stop_s, restart_s))
}

/// Both auth services down under a paced loop on every orders route.
async fn outage(
    cluster: &mut dyn Cluster,
    client: &ApiClient,
    plan: &Plan,
    stop_auth_service: bool,
    trial: usize,
) -> Result<OutageSample, LabError> {
    let jwt = authorizations(client, cluster, Stack::Jwt, plan.users).await?;
    let session = authorizations(client, cluster, Stack::Session, plan.users).await?;
    let routes = [
        OrdersRoute::Jwks,
        OrdersRoute::Introspection,
        OrdersRoute::IntrospectionCached,
        OrdersRoute::Gateway,
    ];
    let targets = routes
        .iter()
        .map(|&route| {
            let credentials = match depends_on(route) {
                Stack::Jwt => &jwt,
                Stack::Session => &session,
            };
            Ok((route, orders_url(cluster, route)?, credentials))
        })
        .collect::<Result<Vec<_>, LabError>>()?;
    let probes = [Stack::Jwt, Stack::Session]
        .into_iter()
        .map(|stack| Ok((stack, cluster.url(stack, "/health")?)))
        .collect::<Result<Vec<_>, LabError>>()?;
    let http = reqwest::Client::new();
    let stop = AtomicBool::new(false);
    let pace = |rate| Pace {
        rate,
        in_flight: IN_FLIGHT,
        timeout: plan.timeout,
        max: LOOP_BOUND,
        keep_sends: true,
    };
    let started = Instant::now();
    let route_loops = join_all(targets.iter().map(|(_, url, credentials)| {
        pace::run(
            &http,
            url,
            credentials,
            pace(plan.outage_rate),
            started,
            &stop,
        )
    }));
    let probe_loops = join_all(
        probes
            .iter()
            .map(|(_, url)| pace::run(&http, url, &[], pace(plan.probe_rate), started, &stop)),
    );
    let faults = async {
        let times = stop_and_restart(cluster, plan, stop_auth_service, started).await;
        // Also on an error: the loops must not run on to their bound.
        stop.store(true, Ordering::Relaxed);
        times
    };
    let (route_records, probe_records, times) = tokio::join!(route_loops, probe_loops, faults);
    let (stop_s, restart_s) = times?;
    Ok(OutageSample {
        trial,
        stop_s,
        restart_s,
        routes: targets
            .iter()
            .zip(route_records)
            .map(|((route, _, _), record)| RouteLoop {
                route: *route,
                depends_on: depends_on(*route),
                record,
            })
            .collect(),
        probes: probes
            .iter()
            .zip(probe_records)
            .map(|((stack, _), record)| ProbeLoop {
                stack: *stack,
                record,
            })
            .collect(),
    })
}

/// The `kid` in the header of a bearer token, if it has one.
fn kid_of(authorization: &str) -> Option<String> {
    let token = authorization.strip_prefix("Bearer ")?;
    jsonwebtoken::decode_header(token).ok()?.kid
}

/// The JWKS fetches the JWKS orders node has made so far.
async fn jwks_fetches(http: &reqwest::Client, cluster: &dyn Cluster) -> Result<u64, LabError> {
    let node = cluster
        .orders_node(OrdersVariant::Jwks)
        .ok_or_else(|| err("the cluster has no jwks orders node"))?;
    let text = scrape(http, &node.url("/metrics")).await?;
    Ok(counter(&text, "orders_upstream_requests_total", &[("kind", "jwks")]) as u64)
}

/// A key rotation while the JWKS and gateway routes serve old tokens, then
/// new logins' tokens on both.
async fn rotation(
    cluster: &mut dyn Cluster,
    client: &ApiClient,
    plan: &Plan,
    trial: usize,
) -> Result<RotationSample, LabError> {
    let old = authorizations(client, cluster, Stack::Jwt, plan.users).await?;
    let jwks_url = orders_url(cluster, OrdersRoute::Jwks)?;
    let gateway_url = orders_url(cluster, OrdersRoute::Gateway)?;
    let http = reqwest::Client::new();
    let fetches_before = jwks_fetches(&http, cluster).await?;
    let stop = AtomicBool::new(false);
    let pace = |max| Pace {
        rate: plan.rotation_rate,
        in_flight: IN_FLIGHT,
        timeout: plan.timeout,
        max,
        keep_sends: false,
    };
    let started = Instant::now();
    let old_loops = futures::future::join(
        pace::run(&http, &jwks_url, &old, pace(LOOP_BOUND), started, &stop),
        pace::run(&http, &gateway_url, &old, pace(LOOP_BOUND), started, &stop),
    );
    let steps = async {
        let result = async {
            let staged_kid = cluster.stage_key().await?;
            let active_kid = cluster.activate_staged_key().await?;
            let new = authorizations(client, cluster, Stack::Jwt, plan.new_logins).await?;
            let with_new_kid = new
                .iter()
                .filter(|a| kid_of(a).as_deref() == Some(active_kid.as_str()))
                .count();
            let never = AtomicBool::new(false);
            let (jwks_new, gateway_new) = tokio::join!(
                pace::run(
                    &http,
                    &jwks_url,
                    &new,
                    pace(plan.after_rotation),
                    started,
                    &never
                ),
                pace::run(
                    &http,
                    &gateway_url,
                    &new,
                    pace(plan.after_rotation),
                    started,
                    &never
                ),
            );
            Ok::<_, LabError>((
                staged_kid,
                active_kid,
                new.len(),
                with_new_kid,
                jwks_new,
                gateway_new,
            ))
        }
        .await;
        stop.store(true, Ordering::Relaxed);
        result
    };
    let ((jwks_old, gateway_old), steps) = tokio::join!(old_loops, steps);
    let (staged_kid, active_kid, new_logins, new_logins_with_new_kid, jwks_new, gateway_new) =
        steps?;
    let fetches_after = jwks_fetches(&http, cluster).await?;
    Ok(RotationSample {
        trial,
        staged_kid,
        active_kid,
        new_logins,
        new_logins_with_new_kid,
        jwks_old,
        gateway_old,
        jwks_new,
        gateway_new,
        jwks_fetches: fetches_after.saturating_sub(fetches_before),
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const METRICS: &str = "\
# HELP authlab_orders_upstream_requests_total Calls to the auth service
# TYPE authlab_orders_upstream_requests_total counter
authlab_orders_upstream_requests_total{kind=\"jwks\",node=\"orders-jwks\",outcome=\"ok\"} 1
authlab_orders_upstream_requests_total{kind=\"jwks\",node=\"orders-jwks\",outcome=\"error\"} 2
authlab_orders_upstream_requests_total{kind=\"introspection\",node=\"orders-jwks\",outcome=\"ok\"} 40
authlab_http_requests_total{endpoint=\"/.well-known/jwks.json\",method=\"GET\",node=\"jwt-1\",status=\"200\"} 3
authlab_http_requests_total{endpoint=\"/me\",method=\"GET\",node=\"jwt-1\",status=\"200\"} 300
introspection_requests_total{result=\"active\"} 7
introspection_requests_total 5
";

    #[test]
    fn counters_are_summed_over_the_matching_samples() {
        assert_eq!(
            counter(METRICS, "orders_upstream_requests_total", &[]),
            43.0
        );
        assert_eq!(
            counter(
                METRICS,
                "orders_upstream_requests_total",
                &[("kind", "jwks")]
            ),
            3.0
        );
        assert_eq!(
            counter(
                METRICS,
                "http_requests_total",
                &[("endpoint", "/.well-known/jwks.json")]
            ),
            3.0
        );
        // Without a namespace and without labels too.
        assert_eq!(counter(METRICS, "introspection_requests_total", &[]), 12.0);
        assert_eq!(counter(METRICS, "requests_total_missing", &[]), 0.0);
        // A name must match whole, not as a prefix.
        assert_eq!(counter(METRICS, "orders_upstream_requests", &[]), 0.0);
    }

    #[test]
    fn the_kid_is_read_from_a_bearer_token_header() {
        let header = jsonwebtoken::Header {
            kid: Some("k-2".into()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        };
        let token = jsonwebtoken::encode(
            &header,
            &serde_json::json!({"sub": "a"}),
            &jsonwebtoken::EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        assert_eq!(kid_of(&format!("Bearer {token}")).as_deref(), Some("k-2"));
        assert_eq!(kid_of(&token), None);
        assert_eq!(kid_of("Bearer not-a-jwt"), None);
    }

    #[test]
    fn every_orders_route_has_a_variant_and_depends_on_its_stack() {
        for route in OrdersRoute::ALL {
            assert_eq!(variant(route).is_none(), route == OrdersRoute::JwtStack);
        }
        assert_eq!(depends_on(OrdersRoute::IntrospectionCached), Stack::Session);
        assert_eq!(depends_on(OrdersRoute::Gateway), Stack::Jwt);
    }
}
