//! Building and running the service: [`Application::build`] binds (port 0
//! works), fetches the JWKS once in JWKS mode (a failure is not fatal: the
//! node answers 503 until a fetch succeeds), and hands back the port before
//! anything is served. Same shape as the two auth servers' `Application`.

use std::{net::TcpListener, sync::Arc, time::Duration};

use actix_web::{web, App, HttpServer};
use authlab_core::{
    config::ConfigError,
    http::{self, NodeInfo},
    introspection::ClientCredentials,
    metrics::{Metrics, MetricsError},
    server::RunningNode,
};

use crate::{
    configuration::{Mode, OrdersConfig},
    credential::{OrdersMetrics, Verifier},
    introspection::{IntrospectionSettings, IntrospectionVerifier},
    jwks::{JwksSettings, JwksVerifier},
    routes::{self, OrdersState, Upstream},
};

pub const STACK: &str = "orders";

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// The client for JWKS and introspection calls. No proxy from the
/// environment: the auth service is addressed directly. No redirects: a
/// JWKS or an introspection endpoint that redirects is misconfigured, and
/// following it would send client credentials elsewhere.
/// Over https it trusts `ca` only, when given (the lab's own CA), else no
/// root at all: this service talks to the auth stacks and nobody else.
fn upstream_client(
    timeout: Duration,
    ca: Option<&reqwest::Certificate>,
) -> Result<reqwest::Client, StartupError> {
    let mut builder = reqwest::Client::builder().tls_built_in_root_certs(false);
    if let Some(ca) = ca {
        builder = builder.add_root_certificate(ca.clone());
    }
    builder
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .map_err(|e| StartupError::Client(e.to_string()))
}

/// A running orders node: `port()`, `node()`, `handle()` come from
/// [`RunningNode`], as for the two auth servers.
pub struct Application(RunningNode);

impl Application {
    pub async fn build(config: OrdersConfig) -> Result<Self, StartupError> {
        config.validate()?;
        let address = format!("{}:{}", config.host, config.port);
        let bind_error = |source| StartupError::Bind {
            address: address.clone(),
            source,
        };
        let listener = TcpListener::bind(&address).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        let node = config.node_name.clone();
        let metrics = Metrics::new(&node)?;
        let orders_metrics = OrdersMetrics::register(&metrics)?;
        let ca = upstream_ca(&config)?;
        let http = upstream_client(config.upstream_timeout, ca.as_ref())?;
        let verifier = verifier(&config, &http, &orders_metrics).await?;
        let info = NodeInfo::new(node.clone(), STACK);
        let state = web::Data::new(OrdersState {
            mode: config.mode,
            verifier,
            metrics: orders_metrics,
            node: info.clone(),
        });
        let prometheus = metrics.http_middleware()?;
        let timeout = config.upstream_timeout;

        let server = HttpServer::new(move || {
            // The start-up client proved building one works; a worker that
            // still fails to build its own shares it rather than panic.
            let worker_http =
                upstream_client(timeout, ca.as_ref()).unwrap_or_else(|_| http.clone());
            App::new()
                .wrap(info.header())
                .wrap(prometheus.clone())
                .app_data(state.clone())
                .app_data(web::Data::new(Upstream(worker_http)))
                .app_data(web::Data::new(info.clone()))
                .service(http::resource("/health").route(web::get().to(http::health)))
                .service(http::resource("/ready").route(web::get().to(routes::ready)))
                .service(http::resource("/orders").route(web::get().to(routes::orders)))
                .default_service(web::to(http::not_found))
        });
        let mut server = server
            .listen(listener)
            .map_err(bind_error)?
            .workers(config.workers)
            .shutdown_timeout(config.shutdown_timeout.as_secs());
        if !config.handle_signals {
            server = server.disable_signals();
        }
        tracing::info!(%node, port, mode = config.mode.name(), "orders service listening");
        Ok(Self(RunningNode::new(port, node, server.run())))
    }

    /// Serves until stopped; SIGTERM/SIGINT drain in-flight requests first.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.0.run_until_stopped().await
    }
}

/// The CA `--upstream-ca` names, read and parsed once at start-up: a
/// missing or unreadable file stops the node rather than its first call.
fn upstream_ca(config: &OrdersConfig) -> Result<Option<reqwest::Certificate>, StartupError> {
    config
        .upstream_ca
        .as_ref()
        .map(|path| {
            std::fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|pem| reqwest::Certificate::from_pem(&pem).map_err(|e| e.to_string()))
                .map_err(|e| StartupError::Client(format!("{}: {e}", path.display())))
        })
        .transpose()
}

/// How this node checks a token, by mode. In JWKS mode the keys are fetched
/// once here, and a failed fetch only leaves the node unready (503) until a
/// later fetch succeeds.
async fn verifier(
    config: &OrdersConfig,
    http: &reqwest::Client,
    orders_metrics: &OrdersMetrics,
) -> Result<Verifier, StartupError> {
    Ok(match config.mode {
        Mode::Jwks => {
            let jwks = Arc::new(JwksVerifier::new(
                JwksSettings {
                    url: config.jwks_url.clone().unwrap_or_default(),
                    issuer: config.issuer.clone(),
                    audience: config.audience.clone(),
                    leeway: config.leeway,
                    refetch_cooldown: config.jwks_refetch_cooldown,
                    unknown_kid_wait: config.unknown_kid_wait(),
                    max_stale: config.jwks_max_stale,
                },
                orders_metrics.clone(),
            ));
            jwks.refresh(http).await;
            Verifier::Jwks(jwks)
        }
        Mode::Introspection => {
            let client = ClientCredentials::new(
                config
                    .introspection_client_id
                    .as_deref()
                    .unwrap_or_default(),
                config
                    .introspection_client_secret
                    .as_deref()
                    .unwrap_or_default(),
            )?;
            Verifier::Introspection(Arc::new(IntrospectionVerifier::new(
                IntrospectionSettings {
                    url: config.introspection_url.clone().unwrap_or_default(),
                    client,
                    cache_ttl: config.introspection_cache_ttl,
                },
                orders_metrics.clone(),
            )))
        }
        Mode::Gateway => {
            tracing::warn!(
                "gateway mode: tokens are decoded, not verified; this node must be reachable only through the verifying gateway"
            );
            Verifier::Gateway
        }
    })
}

impl std::ops::Deref for Application {
    type Target = RunningNode;

    fn deref(&self) -> &RunningNode {
        &self.0
    }
}
