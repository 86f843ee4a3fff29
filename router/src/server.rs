//! The accept loop: HTTP/1.1 with keep-alive to clients, graceful shutdown.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tracing::{debug, error, info, warn};

use crate::error::RouterError;
use crate::headers::ClientInfo;
use crate::proxy::{self, ConnCtx};
use crate::table::Router;

/// A client must send a whole request head within this (slowloris guard; also closes idle
/// keep-alive connections).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// On shutdown, requests in flight get this long to finish before their connections are cut.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves apps on `listener` until `shutdown` resolves, then lets requests in flight finish
/// (for up to 10 s) and returns.
pub async fn serve(
    listener: TcpListener,
    router: Arc<Router>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RouterError> {
    let local = listener.local_addr().map_err(RouterError::LocalAddr)?;
    let port = HeaderValue::from(local.port());
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    info!(addr = %local, domain = router.domain(), "router listening");

    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            // Reap finished connection tasks so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(err).await;
                    continue;
                }
            },
        };
        // Proxied responses are often small; do not let Nagle hold them back.
        let _ = stream.set_nodelay(true);
        let ctx = Arc::new(ConnCtx {
            router: Arc::clone(&router),
            client: ClientInfo::new(peer.ip(), port.clone()),
        });
        let service = service_fn(move |req| proxy::handle(Arc::clone(&ctx), req));
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        connections.spawn(async move {
            if let Err(err) = conn.await {
                debug!(%peer, error = %err, "client connection ended with an error");
            }
        });
    }

    drop(listener);
    info!(
        connections = connections.len(),
        "router stopping; finishing requests in flight"
    );
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            warn!(connections = connections.len(), "requests still running at shutdown are cut off");
        }
    }
    connections.shutdown().await;
    Ok(())
}

async fn accept_failed(err: io::Error) {
    match err.kind() {
        // The client gave up before we got to it: nothing to do.
        io::ErrorKind::ConnectionAborted
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionRefused => debug!(error = %err, "accept"),
        // Typically out of file descriptors: back off instead of spinning.
        _ => {
            error!(error = %err, "cannot accept connections");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
