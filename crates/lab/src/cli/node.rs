//! `authlab node`: one server node in the foreground, what `authlab up`, the
//! experiments and the soak start for every node of a cluster (hidden from
//! `--help`: people start clusters, not nodes).
//!
//! The three servers are libraries; this is the process around one of them.
//! Unlike a server built inside a test, a node started here answers SIGINT
//! and SIGTERM itself, with actix's graceful stop (requests in flight finish
//! within `--shutdown-timeout`), so stopping a cluster is stopping its
//! processes.

use authlab_core::telemetry;
use clap::Subcommand;
use jwt_server::JwtServerConfig;
use session_server::SessionServerConfig;

#[derive(clap::Args)]
pub struct NodeArgs {
    #[command(subcommand)]
    stack: NodeStack,
}

#[derive(Subcommand)]
enum NodeStack {
    Session(Box<SessionServerConfig>),
    Jwt(Box<JwtServerConfig>),
    Orders(Box<orders_service::OrdersConfig>),
}

pub async fn run(args: NodeArgs) -> anyhow::Result<()> {
    telemetry::init("warn");
    match args.stack {
        NodeStack::Session(mut config) => {
            config.node.handle_signals = true;
            session_server::Application::build(*config)
                .await?
                .run_until_stopped()
                .await?;
        }
        NodeStack::Jwt(mut config) => {
            config.node.handle_signals = true;
            jwt_server::Application::build(*config)
                .await?
                .run_until_stopped()
                .await?;
        }
        NodeStack::Orders(mut config) => {
            config.handle_signals = true;
            orders_service::Application::build(*config)
                .await?
                .run_until_stopped()
                .await?;
        }
    }
    Ok(())
}
