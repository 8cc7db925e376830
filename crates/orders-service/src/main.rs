//! `orders-service`: serve the orders API behind one of the three verification modes.

use anyhow::Context;
use authlab_core::telemetry;
use clap::Parser;
use orders_service::{Application, OrdersConfig};

#[derive(Parser)]
#[command(
    version,
    about = "authlab's downstream orders service (JWKS, introspection or gateway verification)"
)]
struct Cli {
    #[command(flatten)]
    config: OrdersConfig,
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("info");
    let mut config = Cli::parse().config;
    config.handle_signals = true;
    let app = Application::build(config).await?;
    println!(
        "orders-service {} listening on port {}",
        app.node(),
        app.port()
    );
    app.run_until_stopped().await.context("server failed")
}
