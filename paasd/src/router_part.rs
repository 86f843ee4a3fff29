//! The router part: the HTTP (and HTTPS) listeners for apps. In one process it follows the
//! controller's table directly; `paasd router` runs it alone, polling a controller's API for
//! the table and shipping its access log back (no Docker, no database).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

use crate::config::{Config, RouterArgs};
use crate::controller_client::ControllerClient;
use crate::{log_shipper, metrics_endpoint, route_poll, shutdown};

/// The router's listeners, serving until [`Listeners::shutdown`].
pub struct Listeners {
    http: paas_router::RouterThreads,
    https: Option<paas_router::RouterThreads>,
}

/// Starts the listeners of `--router-listen` (and `--router-tls-listen`).
pub fn listen(config: &Config, router: &Arc<paas_router::Router>) -> anyhow::Result<Listeners> {
    // The router runs on threads of its own, one per core with its own socket, like nginx's
    // workers: about 1.3x the throughput of sharing paasd's runtime (bench/README.md).
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let serve = |addr, protocol, what: &str| {
        paas_router::serve_threads(addr, router.clone(), protocol, threads)
            .with_context(|| format!("cannot listen on {addr} for the {what}"))
    };
    let http = serve(config.router_listen, paas_router::Protocol::Http, "router")?;
    let https = match config.router_tls_listen {
        Some(addr) => Some(serve(addr, paas_router::Protocol::Https, "HTTPS router")?),
        None => None,
    };
    Ok(Listeners { http, https })
}

impl Listeners {
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.http.local_addr()
    }

    /// Stops accepting and lets requests in flight finish (up to the router's grace).
    pub async fn shutdown(self) {
        let stopping = tokio::task::spawn_blocking(move || {
            for threads in std::iter::once(self.http).chain(self.https) {
                if let Err(e) = threads.shutdown() {
                    tracing::warn!(error = %e, "stopping the router");
                }
            }
        });
        let _ = stopping.await;
    }
}

/// `paasd router`: only the router, fed by a controller over HTTP.
pub async fn run(config: Config, args: &RouterArgs) -> anyhow::Result<()> {
    let router = paas_router::Router::try_new(&config.domain).context("invalid --domain")?;
    let client = ControllerClient::new(args, &config.data_dir)?;
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for the metrics"))?,
        ),
        None => None,
    };
    let listeners = listen(&config, &router)?;
    // Until the first table arrives every host is unknown (404), as in a paasd just started.
    let poll = route_poll::spawn(client.clone(), router.clone());
    let shipper = log_shipper::spawn(router.access_log(), client.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    if let Some(listener) = metrics_listener {
        let (router, dropped) = (router.clone(), shipper.dropped.clone());
        metrics_endpoint::serve(
            listener,
            Arc::new(move || format!("{}{}", router.metrics_text(), dropped.prometheus())),
            stop_rx,
        );
    }
    tracing::info!(router = %listeners.local_addr(), controller = %client.url(), domain = %router.domain(), "paasd router started");

    shutdown::signal().await;
    tracing::info!("stopping the router");
    poll.abort();
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), listeners.shutdown()).await;
    shipper.finish(Duration::from_secs(3)).await;
    Ok(())
}
