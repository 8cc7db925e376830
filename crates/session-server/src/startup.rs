//! Building and running the server: [`Application::build`] wires stores,
//! middleware and routes, binds (port 0 works, so tests spawn the real app),
//! and hands back the port before anything is served.
//!
//! Middleware order matters here, outermost first:
//!
//! 1. Prometheus: sees every request, including the 503s below.
//! 2. `x-node`: every answer says which node gave it.
//! 3. store-outage mapping: actix-session turns any store failure into a bare
//!    500; this layer turns it into `503 {"error":"store_unavailable"}`.
//! 4. actix-session: loads the session before the handler and saves it after.

use std::sync::Arc;

use actix_session::{
    config::{BrowserSession, CookieContentSecurity, TtlExtensionPolicy},
    storage::SessionStore,
    SessionMiddleware,
};
use actix_web::{
    body::MessageBody,
    cookie::{time::Duration as CookieDuration, Key, SameSite},
    dev::{ServiceRequest, ServiceResponse},
    middleware::{from_fn, Next},
    web, App, HttpServer, ResponseError,
};
use authlab_core::{
    config::ConfigError,
    error::ApiError,
    http::{self, NodeInfo},
    introspection::{ClientCredentials, IntrospectionEndpoint},
    metrics::MetricsError,
    redis_client::{RedisStore, StoreError},
    server::{NodeBase, RunningNode, ServerError},
    wire::SESSION_COOKIE,
};

use crate::{
    configuration::{SessionServerConfig, StoreMode},
    introspect,
    routes::{self, SessionMetrics},
    session::SessionSettings,
    store::{MemorySessions, RedisSessions, SessionBackend},
};

pub const STACK: &str = "session";

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Metrics(#[from] MetricsError),
}

/// A running session node: `port()`, `node()`, `handle()` come from [`RunningNode`].
pub struct Application(RunningNode);

impl Application {
    pub async fn build(config: SessionServerConfig) -> Result<Self, StartupError> {
        let cookie_key = config.validate()?;
        let base = NodeBase::bind(STACK, &config.node, &config.redis)?;
        let (node, metrics, directory, throttle) = (
            base.node.clone(),
            base.metrics.clone(),
            base.directory.clone(),
            base.throttle.clone(),
        );
        let sessions = match config.session_store {
            StoreMode::Redis => SessionBackend::Redis(Arc::new(RedisSessions::new(
                RedisStore::new(
                    "session store",
                    &config.session_store_url,
                    &config.redis,
                    metrics.store("session_store"),
                )?,
                config.idle_ttl,
                config.absolute_ttl,
            ))),
            StoreMode::Memory => {
                SessionBackend::Memory(Arc::new(MemorySessions::new(config.idle_ttl)))
            }
        };
        let session_metrics = SessionMetrics {
            logins: metrics.counter_vec(
                "logins_total",
                "Login attempts by outcome",
                &["outcome"],
            )?,
            logouts: metrics.counter_vec("logouts_total", "Logouts by scope", &["scope"])?,
            store_outages: metrics.counter(
                "session_store_outage_responses_total",
                "503s answered because the session middleware could not reach the store",
            )?,
        };
        let prometheus = metrics.http_middleware()?;
        let settings = SessionSettings {
            idle_ttl: config.idle_ttl,
            absolute_ttl: config.absolute_ttl,
        };
        let introspection = Arc::new(introspect::Introspection {
            endpoint: IntrospectionEndpoint::new(
                ClientCredentials::from_option(config.introspection_client.as_deref())?,
                &metrics,
            )?,
            cookie_key: cookie_key.clone(),
            settings,
        });
        let info = NodeInfo::new(node.clone(), STACK);
        let secure = config.secure_cookie;

        let server = HttpServer::new(move || {
            // Each worker gets its own store connection; see SessionBackend::for_worker.
            let worker_sessions = sessions.for_worker();
            App::new()
                .wrap(session_middleware(
                    worker_sessions.clone(),
                    cookie_key.clone(),
                    settings,
                    secure,
                ))
                .wrap(from_fn(store_failure_as_503))
                .wrap(info.header())
                .wrap(prometheus.clone())
                .app_data(http::json_config())
                .app_data(http::path_config())
                .app_data(web::Data::new(info.clone()))
                .app_data(web::Data::new(directory.clone()))
                .app_data(web::Data::new(throttle.clone()))
                .app_data(web::Data::new(worker_sessions))
                .app_data(web::Data::new(settings))
                .app_data(web::Data::new(session_metrics.clone()))
                .service(http::resource("/health").route(web::get().to(http::health)))
                .service(http::resource("/ready").route(web::get().to(routes::ready)))
                .service(http::resource("/login").route(web::post().to(routes::login)))
                .service(http::resource("/me").route(web::get().to(routes::me)))
                .service(http::resource("/orders").route(web::get().to(routes::orders)))
                .service(http::resource("/logout").route(web::post().to(routes::logout)))
                .service(http::resource("/logout/all").route(web::post().to(routes::logout_all)))
                .service(introspect::resource(introspection.clone()))
                .service(http::resource("/admin/stats").route(web::get().to(routes::admin_stats)))
                .service(
                    http::resource("/admin/users/{username}/roles")
                        .route(web::put().to(routes::set_roles)),
                )
                .default_service(web::to(http::not_found))
        });
        let running = base.serve(&config.node, server)?;
        tracing::info!(node = running.node(), port = running.port(), store = ?config.session_store, "session server listening");
        Ok(Self(running))
    }
}

/// The session middleware exactly as every node runs it: the cookie's name
/// and attributes, signed (not encrypted) content, and the lifecycle. It is
/// also what turns a request's `Cookie` header into the session key a store
/// is asked for, so the fuzz harness (`crates/fuzz-harness`) builds it through
/// this function with a recording store instead of copying the configuration.
pub fn session_middleware<Store: SessionStore + 'static>(
    store: Store,
    cookie_key: Key,
    settings: SessionSettings,
    secure: bool,
) -> SessionMiddleware<Store> {
    SessionMiddleware::builder(store, cookie_key)
        .cookie_name(SESSION_COOKIE.into())
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_secure(secure)
        // Signed, not encrypted: the id is random and reveals nothing,
        // and a signature lets forged ids fail without a store lookup.
        .cookie_content_security(CookieContentSecurity::Signed)
        .session_lifecycle(
            BrowserSession::default()
                .state_ttl(CookieDuration::milliseconds(
                    settings.idle_ttl.as_millis() as i64
                ))
                // The store's load already slides the TTL (GETEX): no
                // second round trip per request.
                .state_ttl_extension_policy(TtlExtensionPolicy::OnStateChanges),
        )
        .build()
}

impl std::ops::Deref for Application {
    type Target = RunningNode;

    fn deref(&self) -> &RunningNode {
        &self.0
    }
}

impl Application {
    /// Serves until stopped; SIGTERM/SIGINT drain in-flight requests first.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.0.run_until_stopped().await
    }
}

/// The session middleware fails a request only when the store fails (loading
/// before the handler or saving after it). Answer that as what it is: the
/// store is unavailable, try again, nothing about the request was wrong.
///
/// The failure arrives as an `Err`, not a response, and it must leave as an
/// `Err`: building a response would need the `HttpRequest`, and holding a
/// clone of it across the inner call breaks actix's router. So the error
/// itself renders the 503 and stamps `x-node`, since the outer header
/// middleware never sees it; `store_outages` counts what Prometheus's
/// per-route histogram cannot.
async fn store_failure_as_503(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let node = request
        .app_data::<web::Data<NodeInfo>>()
        .map(|info| info.node.clone());
    let outages = request
        .app_data::<web::Data<SessionMetrics>>()
        .map(|metrics| metrics.store_outages.clone());
    next.call(request).await.map_err(|error| {
        tracing::warn!(%error, "session store failed inside the session middleware");
        if let Some(outages) = outages {
            outages.inc();
        }
        StoreOutage { node }.into()
    })
}

#[derive(Debug, thiserror::Error)]
#[error("session store unavailable")]
struct StoreOutage {
    node: Option<Arc<str>>,
}

impl ResponseError for StoreOutage {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE
    }

    fn error_response(&self) -> actix_web::HttpResponse {
        let mut response = ApiError::StoreUnavailable {
            what: "session store",
        }
        .error_response();
        if let Some(value) = self
            .node
            .as_deref()
            .and_then(|node| actix_web::http::header::HeaderValue::from_str(node).ok())
        {
            response.headers_mut().insert(
                actix_web::http::header::HeaderName::from_static(http::NODE_HEADER),
                value,
            );
        }
        response
    }
}
