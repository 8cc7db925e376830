//! c12's runs: per algorithm a fresh key set and a one-node JWT cluster,
//! the corpus sent to it and handed to the naive verifier; then the server
//! started with a weak HS256 secret.

use std::{net::TcpListener, time::Duration};

use attack_corpus::{self as attacks, Attack};
use authlab_client::{ApiClient, Credential};
use jwt_server::{keys::KeySetFile, JwtServerConfig, SigningAlgorithm};
use serde::Serialize;

use crate::{
    experiment::RunContext,
    kit::err,
    naive::{Checks, NaiveVerifier},
    Cluster, LabError, Stack,
};

/// What c12 saw.
#[derive(Serialize)]
pub struct Raw {
    pub algorithms: Vec<SigningAlgorithm>,
    pub rows: Vec<Row>,
    /// Whether anything connected to the jku/x5u lure.
    pub lure_contacted: bool,
    /// The start-up error with a 6-byte HS256 secret; `None`: it started.
    pub weak_secret_refusal: Option<String>,
}

/// One token of the corpus, for one algorithm.
#[derive(Serialize)]
pub struct Row {
    pub alg: SigningAlgorithm,
    pub attack: String,
    pub class: String,
    pub server_status: u16,
    pub naive_accepts: bool,
    pub stopped_by: Vec<&'static str>,
}

/// A one-node JWT cluster signing with a fresh `alg` key set (the node is a
/// child process, as in `authlab up`), and that key set: the corpus is
/// forged with its private keys.
async fn jwt_node(
    ctx: &RunContext,
    alg: SigningAlgorithm,
    leeway: Option<Duration>,
) -> Result<(Box<dyn Cluster>, KeySetFile), LabError> {
    let mut spec = ctx.spec();
    spec.nodes = 1;
    spec.stacks = vec![Stack::Jwt];
    spec.seed_users = 0;
    spec.alg = alg;
    if let Some(leeway) = leeway {
        spec.jwt.leeway = Some(Duration::from_secs(leeway.as_secs()));
    }
    let cluster = ctx.cluster(spec).await?;
    let path = cluster
        .keyset_path()
        .ok_or_else(|| err("the cluster wrote no key set"))?;
    let keys = KeySetFile::read(path, false).map_err(err)?;
    Ok((cluster, keys))
}

pub async fn measure(
    ctx: &RunContext,
    algorithms: &[SigningAlgorithm],
    leeway: Option<Duration>,
) -> Result<Raw, LabError> {
    let mut cluster = None;
    let client = ApiClient::new();
    let lure = TcpListener::bind("127.0.0.1:0").map_err(err)?;
    lure.set_nonblocking(true).map_err(err)?;
    let lure_url = format!("http://{}/jwks.json", lure.local_addr().map_err(err)?);

    let mut rows = Vec::new();
    for &alg in algorithms {
        ctx.variant(format!(
            "{alg}: corpus against the server and the naive verifier"
        ));
        // One cluster at a time: the previous algorithm's stops first.
        drop(cluster.take());
        let (one_node, keys) = jwt_node(ctx, alg, leeway).await?;
        let one_node = cluster.insert(one_node);
        rows.extend(corpus_run(&client, &**one_node, &keys, alg, &lure_url).await?);
    }
    let lure_contacted = lure.accept().is_ok();

    ctx.variant("start-up with a weak HS256 secret");
    let cluster = cluster.ok_or_else(|| err("no algorithm was run"))?;
    Ok(Raw {
        algorithms: algorithms.to_vec(),
        rows,
        lure_contacted,
        weak_secret_refusal: weak_secret_refusal(&*cluster).await,
    })
}

/// The corpus of `alg` against the node and the naive verifiers, after a
/// genuine token has been seen to pass.
async fn corpus_run(
    client: &ApiClient,
    cluster: &dyn Cluster,
    keys: &KeySetFile,
    alg: SigningAlgorithm,
    lure_url: &str,
) -> Result<Vec<Row>, LabError> {
    let node = cluster
        .nodes(Stack::Jwt)
        .into_iter()
        .next()
        .ok_or_else(|| err("the cluster has no JWT node"))?;
    let (_, tokens) = client.jwt_login(&node.url(""), "alice").await;
    let control = attacks::genuine(keys)?;
    let status = client
        .get(&node.url("/me"), Some(&Credential::Bearer(control)))
        .await
        .status();
    if status != 200 {
        return Err(LabError::Config(format!(
            "{alg}: a genuine token was refused ({status})"
        )));
    }
    let naive = NaiveVerifier::new(keys, Checks::NONE).map_err(err)?;
    let singles: Vec<(&'static str, NaiveVerifier)> = Checks::each()
        .into_iter()
        .map(|(name, checks)| NaiveVerifier::new(keys, checks).map(|v| (name, v)))
        .collect::<Result<_, _>>()
        .map_err(err)?;
    let mut rows = Vec::new();
    for Attack { name, class, token } in attacks::corpus(keys, &tokens.access_token, lure_url)? {
        let response = client
            .get(
                &node.url("/admin/stats"),
                Some(&Credential::Bearer(token.clone())),
            )
            .await;
        let naive_accepts = naive.verify(&token).is_ok();
        // Only a token the bare verifier accepts can be "stopped" by a check;
        // malformed ones fail parsing whatever the checks.
        let stopped_by = if naive_accepts {
            singles
                .iter()
                .filter(|(_, v)| v.verify(&token).is_err())
                .map(|(n, _)| *n)
                .collect()
        } else {
            Vec::new()
        };
        rows.push(Row {
            alg,
            naive_accepts,
            stopped_by,
            server_status: response.status().as_u16(),
            attack: name,
            class,
        });
    }
    Ok(rows)
}

/// Builds a JWT server with a 6-byte HS256 secret against the last
/// cluster's directory and store: the error it refuses with, if it does.
async fn weak_secret_refusal(cluster: &dyn Cluster) -> Option<String> {
    let mut weak = JwtServerConfig::local(&cluster.directory_url(), &cluster.store_url(1));
    weak.hs256_secret = Some("secret".into());
    match jwt_server::Application::build(weak).await {
        Ok(_) => None,
        Err(error) => Some(error.to_string()),
    }
}
