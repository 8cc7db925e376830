//! c7's runs: per set-up and trial a fresh cluster, a logout, and every
//! node polled until it refuses; then the denylist's price on `/me`.

use std::time::Instant;

use authlab_client::{ApiClient, Credential};
use serde::Serialize;

use crate::{
    experiment::RunContext,
    kit::{
        err,
        revocation::{
            cluster_for, collect, log_in_with_refresh, until_all_refuse, window, Observed, Variant,
        },
        schedule,
        stats::median,
    },
    Cluster, LabError, Stack,
};

/// What c7 saw: every set-up's trials and the denylist's cost runs.
#[derive(Serialize)]
pub struct Raw {
    pub trials: usize,
    /// Per set-up, in the set-ups' order; `after` is what a refresh after
    /// the logout answered.
    pub setups: Vec<Observed>,
    pub denylist_cost: DenylistCost,
}

/// Per cost trial, the median `/me` latency (µs) on one node.
#[derive(Serialize)]
pub struct DenylistCost {
    pub trials: usize,
    /// Sequential requests per trial and set-up.
    pub requests: usize,
    pub none_us: Vec<f64>,
    pub denylist_us: Vec<f64>,
}

pub async fn measure(ctx: &RunContext, all: &[Variant], trials: usize) -> Result<Raw, LabError> {
    let client = ApiClient::new();
    // A fresh cluster per set-up and trial.
    let measured = schedule::run(
        ctx,
        all,
        trials,
        |v| format!("{}: logout, then polling every node", v.name),
        async |variant, _trial| logout_trial(ctx, &client, *variant).await,
    )
    .await?;
    let setups = collect(all, ctx.quick, &measured);
    let denylist_cost = denylist_cost(ctx, &client, all[1], all[3]).await?;
    Ok(Raw {
        trials,
        setups,
        denylist_cost,
    })
}

/// One trial of one set-up: log in, log out, poll `/me` on every node;
/// the seconds until all refused, and what a refresh answered afterwards.
async fn logout_trial(
    ctx: &RunContext,
    client: &ApiClient,
    variant: Variant,
) -> Result<(Option<f64>, String), LabError> {
    let cluster = cluster_for(ctx, variant).await?;
    let base = cluster.url(variant.stack, "")?;
    let (who, refresh) = log_in_with_refresh(client, &base, variant.stack, "alice").await;
    let status = client
        .post(&format!("{base}/logout"), Some(&who), None)
        .await
        .status();
    if !status.is_success() {
        return Err(err(format!("{}: logout answered {status}", variant.name)));
    }
    let window = window(variant, ctx.quick);
    let seconds = until_all_refuse(
        client,
        &*cluster,
        variant.stack,
        &who,
        "/me",
        |s| s == 401,
        window,
    )
    .await;
    let refresh_after = match &refresh {
        Some(token) => client
            .refresh(&base, token)
            .await
            .status()
            .as_u16()
            .to_string(),
        None => "— (no refresh token)".into(),
    };
    cluster.shutdown();
    Ok((seconds, refresh_after))
}

async fn log_in(
    client: &ApiClient,
    cluster: &dyn Cluster,
    stack: Stack,
    user: &str,
) -> Result<Credential, LabError> {
    let base = cluster.url(stack, "")?;
    Ok(log_in_with_refresh(client, &base, stack, user).await.0)
}

/// Median and spread of `/me` latency over `n` sequential requests to one node.
async fn me_latency(client: &ApiClient, url: &str, who: &Credential, n: usize) -> Vec<f64> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let _ = client.get(url, Some(who)).await;
        samples.push(started.elapsed().as_secs_f64() * 1e6);
    }
    samples
}

/// `/me` latency on one node of the plain JWT set-up and of the denylist
/// set-up, the two interleaved.
async fn denylist_cost(
    ctx: &RunContext,
    client: &ApiClient,
    plain: Variant,
    denylist: Variant,
) -> Result<DenylistCost, LabError> {
    ctx.variant("cost of the denylist: /me latency with and without it");
    let cost_trials = if ctx.quick { 2 } else { 3 };
    let requests = if ctx.quick { 150 } else { 500 };
    let none_cluster = cluster_for(ctx, plain).await?;
    let deny_cluster = cluster_for(ctx, denylist).await?;
    let none_who = log_in(client, &*none_cluster, Stack::Jwt, "alice").await?;
    let deny_who = log_in(client, &*deny_cluster, Stack::Jwt, "alice").await?;
    let none_url = none_cluster.nodes(Stack::Jwt)[0].url("/me");
    let deny_url = deny_cluster.nodes(Stack::Jwt)[0].url("/me");
    let (mut none_us, mut denylist_us) = (Vec::new(), Vec::new());
    for trial in 0..cost_trials {
        // Interleaved, the order alternating per trial.
        for which in schedule::order(2, trial) {
            if which == 0 {
                none_us.push(median(
                    &me_latency(client, &none_url, &none_who, requests).await,
                ));
            } else {
                denylist_us.push(median(
                    &me_latency(client, &deny_url, &deny_who, requests).await,
                ));
            }
        }
    }
    none_cluster.shutdown();
    deny_cluster.shutdown();
    Ok(DenylistCost {
        trials: cost_trials,
        requests,
        none_us,
        denylist_us,
    })
}
