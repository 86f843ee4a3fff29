//! `paasd`: the paas daemon. `paasd` (or `paasd all`) runs every part in one process;
//! `paasd controller` and `paasd router` run the two halves on their own, for multi-host setups.

mod access_log;
mod api_tls;
mod config;
mod controller_client;
mod controller_part;
mod log_shipper;
mod metrics_endpoint;
mod route_poll;
mod route_table;
mod router_part;
mod shutdown;
mod stack;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tokio::sync::watch;

use crate::config::{Command, Config};

fn main() {
    let mut config = Config::parse();
    if let Some(Command::GitHook { hook }) = &config.command {
        if hook != "pre-receive" {
            eprintln!("paasd git-hook: unknown hook {hook:?}");
            std::process::exit(2);
        }
        std::process::exit(paas_builder::hook::run_pre_receive());
    }
    if let Some(Command::Stack { command }) = &config.command {
        std::process::exit(stack::run(&config, command));
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PAAS_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("info,tower_http=warn,sqlx=warn")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let result = runtime.block_on(async {
        match config.command.take() {
            Some(Command::Controller) => controller_part::run(config).await,
            Some(Command::Router(args)) => router_part::run(config, &args).await,
            _ => run_all(config).await,
        }
    });
    if let Err(e) = result {
        eprintln!("paasd: {e:#}");
        std::process::exit(1);
    }
}

/// Every part in this process: the router follows the controller's table in memory and its
/// access log goes straight into the app log streams.
async fn run_all(config: Config) -> anyhow::Result<()> {
    let router = paas_router::Router::try_new(&config.domain).context("invalid --domain")?;
    let mut part = controller_part::start(&config, router.domain()).await?;
    // Serving starts only once everything else has: a daemon that cannot start says why on
    // its last line, with no router noise after it.
    let listeners = router_part::listen(&config, &router)?;
    let router_addr = listeners.local_addr();
    let routes = route_table::follow_local(part.controller.routes(), router.clone());
    let background = part.spawn_background().await?;
    tokio::spawn(access_log::into_streams(
        router.access_log(),
        part.controller.logs(),
        part.controller.metrics(),
    ));

    let (stop_tx, stop_rx) = watch::channel(false);
    if let Some(listener) = part.metrics_listener.take() {
        let (router, usage) = (router.clone(), part.controller.metrics());
        metrics_endpoint::serve(
            listener,
            Arc::new(move || format!("{}{}", router.metrics_text(), usage.prometheus_usage())),
            stop_rx.clone(),
        );
    }
    let api_addr = part.api.addr;
    let api = part.api.serve(&part.controller, &config, stop_rx);
    tracing::info!(api = %api_addr, router = %router_addr, domain = %router.domain(), instance = %part.instance, "paasd started");

    shutdown::signal().await;
    tracing::info!("stopping; app containers keep running and are adopted on the next start");
    background.abort();
    routes.abort();
    part.controller.begin_shutdown();
    let _ = stop_tx.send(true);
    // In-flight requests (a push mid-build) get a moment to finish, not forever.
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(api, listeners.shutdown())
    })
    .await;
    Ok(())
}
