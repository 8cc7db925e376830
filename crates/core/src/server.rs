//! What every authlab node does around its routes: bind first (so port 0
//! works and the real port is known before anything is served), name itself,
//! open the user directory, and run actix with the node's worker, signal and
//! shutdown settings. Both stacks build their `Application` from these
//! pieces, so the two servers differ only in what they do per request.

use std::{fmt, net::TcpListener, sync::Arc};

use actix_http::{body::MessageBody, Request, Response};
use actix_service::{IntoServiceFactory, Service, ServiceFactory};
use actix_web::{
    dev::{AppConfig, Server, ServerHandle},
    HttpServer,
};

use crate::{
    config::{ConfigError, NodeArgs, RedisClientArgs},
    directory::UserDirectory,
    forwarded::TrustedProxies,
    metrics::{Metrics, MetricsError},
    redis_client::{RedisStore, StoreError},
    throttle::LoginThrottle,
};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
}

/// A node that is bound but not serving yet.
pub struct NodeBase {
    listener: TcpListener,
    pub port: u16,
    /// The `x-node` name: `--node-id`, or `<stack>-<port>`.
    pub node: String,
    pub metrics: Metrics,
    pub directory: Arc<UserDirectory>,
    /// In front of every password verification, shared by all workers.
    pub throttle: Arc<LoginThrottle>,
    /// Whose `X-Forwarded-*` headers this node believes.
    pub trusted_proxies: TrustedProxies,
}

impl NodeBase {
    pub fn bind(
        stack: &str,
        args: &NodeArgs,
        redis: &RedisClientArgs,
    ) -> Result<Self, ServerError> {
        let address = format!("{}:{}", args.host, args.port);
        let bind_error = |source| ServerError::Bind {
            address: address.clone(),
            source,
        };
        let listener = TcpListener::bind(&address).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        let node = args
            .node_id
            .clone()
            .unwrap_or_else(|| format!("{stack}-{port}"));
        let metrics = Metrics::new(&node)?;
        let directory = Arc::new(UserDirectory::new(RedisStore::new(
            "user directory",
            &args.user_directory_url,
            redis,
            metrics.store("user_directory"),
        )?));
        let trusted_proxies = TrustedProxies::new(&args.trusted_proxies);
        let throttle = Arc::new(LoginThrottle::new(
            &args.throttle,
            trusted_proxies.clone(),
            &metrics,
            directory.clone(),
        )?);
        Ok(Self {
            listener,
            port,
            node,
            metrics,
            directory,
            throttle,
            trusted_proxies,
        })
    }

    /// Serves `server` on the bound socket with the node's settings.
    pub fn serve<F, I, S, B>(
        self,
        args: &NodeArgs,
        server: HttpServer<F, I, S, B>,
    ) -> Result<RunningNode, ServerError>
    where
        F: Fn() -> I + Send + Clone + 'static,
        I: IntoServiceFactory<S, Request>,
        S: ServiceFactory<Request, Config = AppConfig> + 'static,
        S::Error: Into<actix_web::Error> + 'static,
        S::InitError: fmt::Debug,
        S::Response: Into<Response<B>> + 'static,
        <S::Service as Service<Request>>::Future: 'static,
        S::Service: 'static,
        B: MessageBody + 'static,
    {
        let mut server = server
            .listen(self.listener)
            .map_err(|source| ServerError::Bind {
                address: format!("{}:{}", args.host, self.port),
                source,
            })?
            .shutdown_timeout(args.shutdown_timeout.as_secs());
        if let Some(workers) = args.workers {
            server = server.workers(workers);
        }
        if !args.handle_signals {
            server = server.disable_signals();
        }
        Ok(RunningNode {
            port: self.port,
            node: self.node,
            server: server.run(),
        })
    }
}

/// A node accepting requests; what each stack's `Application` wraps.
pub struct RunningNode {
    port: u16,
    node: String,
    server: Server,
}

impl RunningNode {
    /// A node from a server already listening on `port`: for a service that
    /// binds with settings of its own rather than [`NodeBase`]'s (the orders
    /// service has no user directory).
    pub fn new(port: u16, node: String, server: Server) -> Self {
        Self { port, node, server }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// Stops the server from outside (tests; SIGTERM does the same in production).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped; SIGTERM/SIGINT drain in-flight requests first.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
