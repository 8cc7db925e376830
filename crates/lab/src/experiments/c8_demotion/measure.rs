//! c8's runs: per set-up and trial a fresh cluster, carol demoted, and
//! every node polled until it stops granting her admin; then whether a
//! token reissued by refresh still does.

use authlab_client::{ApiClient, Credential};
use serde::Serialize;
use serde_json::json;

use crate::{
    experiment::RunContext,
    kit::{
        err,
        revocation::{
            cluster_for, collect, log_in_with_refresh, until_all_refuse, window, Observed, Variant,
        },
        schedule,
    },
    LabError,
};

/// What c8 saw: every set-up's trials; `after` is what a token reissued by
/// refresh after the demotion got from `/admin/stats`.
#[derive(Serialize)]
pub struct Raw {
    pub trials: usize,
    pub setups: Vec<Observed>,
}

pub async fn measure(
    ctx: &RunContext,
    demoted: &[Variant],
    trials: usize,
) -> Result<Raw, LabError> {
    let client = ApiClient::new();
    let measured = schedule::run(
        ctx,
        demoted,
        trials,
        |v| format!("{}: demote, then polling every node", v.name),
        async |variant, _trial| demotion_trial(ctx, &client, *variant).await,
    )
    .await?;
    Ok(Raw {
        trials,
        setups: collect(demoted, ctx.quick, &measured),
    })
}

/// One trial of one set-up: carol logs in and demotes herself, every node
/// is polled on `/admin/stats`; the seconds until all refused, and what a
/// refreshed token got.
async fn demotion_trial(
    ctx: &RunContext,
    client: &ApiClient,
    variant: Variant,
) -> Result<(Option<f64>, String), LabError> {
    let cluster = cluster_for(ctx, variant).await?;
    let base = cluster.url(variant.stack, "")?;
    let (carol, refresh) = log_in_with_refresh(client, &base, variant.stack, "carol").await;
    demote(client, &base, &carol, variant.name).await?;
    let window = window(variant, ctx.quick);
    let seconds = until_all_refuse(
        client,
        &*cluster,
        variant.stack,
        &carol,
        "/admin/stats",
        // 403 (demoted) and 401 (token expired) both end the admin rights.
        |s| s != 200,
        window,
    )
    .await;
    let after_refresh = match &refresh {
        Some(token) => admin_after_refresh(client, &base, token).await,
        None => "—".into(),
    };
    cluster.shutdown();
    Ok((seconds, after_refresh))
}

/// carol takes her own admin role away, with the credential she holds.
async fn demote(
    client: &ApiClient,
    base: &str,
    carol: &Credential,
    name: &str,
) -> Result<(), LabError> {
    let request = client
        .raw()
        .put(format!("{base}/admin/users/carol/roles"))
        .json(&json!({"roles": ["user"]}));
    let demote = match carol {
        Credential::Cookie(c) => request.header("cookie", c.clone()),
        Credential::Bearer(t) => request.bearer_auth(t),
    }
    .send()
    .await
    .map_err(err)?;
    if !demote.status().is_success() {
        return Err(err(format!(
            "{name}: demotion answered {}",
            demote.status()
        )));
    }
    Ok(())
}

/// The status `/admin/stats` gives a token reissued by refresh, or
/// "refresh refused".
async fn admin_after_refresh(client: &ApiClient, base: &str, token: &str) -> String {
    let response = client.refresh(base, token).await;
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    match body["access_token"].as_str() {
        Some(fresh) => client
            .get(
                &format!("{base}/admin/stats"),
                Some(&Credential::Bearer(fresh.into())),
            )
            .await
            .status()
            .as_u16()
            .to_string(),
        None => "refresh refused".into(),
    }
}
