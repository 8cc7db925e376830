//! Building and running the JWT server; same shape as the session server's
//! `Application`, minus the session middleware: nothing is loaded per request
//! unless the denylist is on.

use std::sync::Arc;

use actix_web::{web, App, HttpServer};
use authlab_core::{
    config::ConfigError,
    http::{self, NodeInfo},
    introspection::{ClientCredentials, IntrospectionEndpoint},
    metrics::{Metrics, MetricsError},
    redis_client::{RedisStore, StoreError},
    server::{NodeBase, RunningNode, ServerError},
};

use crate::{
    configuration::{JwtServerConfig, ReplayCacheMode},
    dpop_binding::DpopPolicy,
    dpop_replay::{NodeCache, ReplayCache},
    keys::{KeyError, KeySet, KeySetFile},
    refresh::RefreshTokens,
    revocation::WorkerDenylist,
    routes,
    state::{JwtMetrics, JwtState},
    tokens::TokenService,
};

pub const STACK: &str = "jwt";

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("signing keys: {0}")]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Metrics(#[from] MetricsError),
}

/// Loads the key set the configuration points at.
pub fn load_keys(config: &JwtServerConfig) -> Result<KeySet, KeyError> {
    let keys = if let Some(path) = &config.keyset_file {
        KeySet::from_file(&KeySetFile::read(path, config.allow_insecure_key_file)?)?
    } else if let Some(json) = &config.keyset_json {
        KeySet::from_file(&KeySetFile::parse(json)?)?
    } else if let Some(secret) = &config.hs256_secret {
        KeySet::from_hs256_secret(secret)?
    } else {
        return Err(KeyError::ActiveCount(0));
    };
    match config.alg {
        Some(expected) if expected != keys.alg() => Err(KeyError::WrongAlgorithm {
            expected,
            found: keys.alg(),
        }),
        _ => Ok(keys),
    }
}

/// A running JWT node: `port()`, `node()`, `handle()` come from [`RunningNode`].
pub struct Application(RunningNode);

impl Application {
    pub async fn build(config: JwtServerConfig) -> Result<Self, StartupError> {
        config.validate()?;
        let keys = load_keys(&config)?;
        let base = NodeBase::bind(STACK, &config.node, &config.redis)?;
        let (node, metrics, directory, throttle) = (
            base.node.clone(),
            base.metrics.clone(),
            base.directory.clone(),
            base.throttle.clone(),
        );
        let token_store = RedisStore::new(
            "token store",
            &config.token_store_url,
            &config.redis,
            metrics.store("token_store"),
        )?;
        let alg = keys.alg();
        let dpop = dpop_policy(&config, &base, &token_store)?;
        let jwt_metrics = jwt_metrics(&metrics)?;
        let state = web::Data::new(JwtState {
            node: NodeInfo::new(node.clone(), STACK),
            tokens: TokenService::new(keys, config.token_settings()),
            refresh: RefreshTokens::new(token_store, config.refresh_ttl),
            refresh_ttl: config.refresh_ttl,
            directory,
            throttle,
            revocation: config.revocation,
            dpop,
            metrics: jwt_metrics,
        });
        let introspection = Arc::new(IntrospectionEndpoint::new(
            ClientCredentials::from_option(config.introspection_client.as_deref())?,
            &metrics,
        )?);
        let prometheus = metrics.http_middleware()?;
        let info = state.node.clone();

        let server = HttpServer::new(move || {
            // Lazily connected: a worker opens its connection on its first
            // denylist check, so mode `none` never opens one.
            let worker_denylist =
                web::Data::new(WorkerDenylist(state.refresh.store().per_worker()));
            App::new()
                .wrap(info.header())
                .wrap(prometheus.clone())
                .app_data(http::json_config())
                .app_data(http::path_config())
                .app_data(state.clone())
                .app_data(worker_denylist)
                .app_data(web::Data::new(info.clone()))
                .configure(|cfg| endpoints(cfg, introspection.clone()))
                .default_service(web::to(http::not_found))
        });
        let running = base.serve(&config.node, server)?;
        tracing::info!(node = running.node(), port = running.port(), %alg, revocation = ?config.revocation, dpop = ?config.dpop, "jwt server listening");
        Ok(Self(running))
    }
}

/// DPoP checking as configured: where spent proofs are remembered (this
/// node's memory, or the token store every node shares, so that a proof
/// replayed to another node is caught too), whose forwarded headers name
/// the URL a proof must match, and which origins a proof may name.
fn dpop_policy(
    config: &JwtServerConfig,
    base: &NodeBase,
    token_store: &RedisStore,
) -> Result<DpopPolicy, StartupError> {
    let replay_cache = match config.dpop_replay_cache {
        ReplayCacheMode::Node => ReplayCache::Node(NodeCache::default()),
        ReplayCacheMode::Shared => ReplayCache::Shared(token_store.per_worker()),
    };
    Ok(DpopPolicy::new(
        config.dpop,
        replay_cache,
        base.trusted_proxies.clone(),
        base.metrics.counter_vec(
            "dpop_proofs_total",
            "DPoP proofs checked, by outcome (ok, invalid, replayed, key_mismatch)",
            &["outcome"],
        )?,
    )
    .with_origins(config.dpop_origins()?))
}

/// The counters only the JWT stack has, registered with the node's metrics.
fn jwt_metrics(metrics: &Metrics) -> Result<JwtMetrics, MetricsError> {
    Ok(JwtMetrics {
        logins: metrics.counter_vec("logins_total", "Login attempts by outcome", &["outcome"])?,
        logouts: metrics.counter_vec("logouts_total", "Logouts by scope", &["scope"])?,
        issued: metrics.counter_vec(
            "tokens_issued_total",
            "Access tokens issued, by grant",
            &["grant"],
        )?,
        rejections: metrics.counter_vec(
            "token_rejections_total",
            "Access tokens refused, by the check that failed",
            &["reason"],
        )?,
        refresh_reuse: metrics.counter(
            "refresh_reuse_detected_total",
            "Spent refresh tokens presented again (family revoked)",
        )?,
    })
}

/// Every route the JWT server answers, in the order actix matches them.
fn endpoints(cfg: &mut web::ServiceConfig, introspection: Arc<IntrospectionEndpoint>) {
    cfg.service(http::resource("/health").route(web::get().to(http::health)))
        .service(http::resource("/ready").route(web::get().to(routes::ready)))
        .service(http::resource("/login").route(web::post().to(routes::login)))
        .service(http::resource("/token/refresh").route(web::post().to(routes::refresh)))
        .service(http::resource("/me").route(web::get().to(routes::me)))
        .service(http::resource("/orders").route(web::get().to(routes::orders)))
        .service(http::resource("/logout").route(web::post().to(routes::logout)))
        .service(http::resource("/logout/all").route(web::post().to(routes::logout_all)))
        .service(crate::introspect::resource(introspection))
        .service(http::resource("/admin/stats").route(web::get().to(routes::admin_stats)))
        .service(
            http::resource("/admin/users/{username}/roles").route(web::put().to(routes::set_roles)),
        )
        .service(http::resource("/.well-known/jwks.json").route(web::get().to(routes::jwks)));
}

impl std::ops::Deref for Application {
    type Target = RunningNode;

    fn deref(&self) -> &RunningNode {
        &self.0
    }
}

impl Application {
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.0.run_until_stopped().await
    }
}
