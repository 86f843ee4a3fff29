//! The listeners: plain HTTP/1.1, TLS (HTTP/1.1 or HTTP/2 by ALPN), and metrics; each with
//! graceful shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, error, info, warn};

use crate::body::ResponseBody;
use crate::deadlines::Deadlines;
use crate::error::RouterError;
use crate::gate::gated;
use crate::headers::ClientInfo;
use crate::proxy::{self, ConnCtx};
use crate::router::{Router, RouterSettings};

/// hyper's own limit on request header fields.
const HYPER_DEFAULT_MAX_HEADERS: usize = 100;

/// Serves apps over plain HTTP/1.1 on `listener` until `shutdown` resolves, then lets
/// requests in flight finish (for up to [`RouterSettings::shutdown_grace`]) and returns.
pub async fn serve(
    listener: TcpListener,
    router: Arc<Router>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RouterError> {
    let local = listener.local_addr().map_err(RouterError::LocalAddr)?;
    let port = HeaderValue::from(local.port());
    info!(addr = %local, domain = router.domain(), "router listening (HTTP)");
    let grace = router.current_settings().shutdown_grace;
    accept_loop(listener, shutdown, grace, move |stream, peer, stop| {
        let settings = router.current_settings();
        let ctx = Arc::new(ConnCtx {
            router: Arc::clone(&router),
            client: ClientInfo::new(peer.ip(), port.clone(), false),
            deadlines: Deadlines::new(),
        });
        async move { crate::h1::serve(stream, ctx, &settings, stop).await }
    })
    .await;
    Ok(())
}

/// Serves apps over TLS on `listener`: the certificate by SNI (see
/// [`Router::set_certificates`]), HTTP/2 or HTTP/1.1 as the client offers by ALPN. Returns
/// after `shutdown` like [`serve`].
pub async fn serve_tls(
    listener: TcpListener,
    router: Arc<Router>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RouterError> {
    let local = listener.local_addr().map_err(RouterError::LocalAddr)?;
    let port = HeaderValue::from(local.port());
    router.tls_port.store(local.port(), Ordering::Relaxed);
    let acceptor = TlsAcceptor::from(router.certs.config());
    info!(addr = %local, domain = router.domain(), "router listening (HTTPS)");
    let grace = router.current_settings().shutdown_grace;
    accept_loop(listener, shutdown, grace, move |stream, peer, stop| {
        let settings = router.current_settings();
        let ctx = Arc::new(ConnCtx {
            router: Arc::clone(&router),
            client: ClientInfo::new(peer.ip(), port.clone(), true),
            deadlines: Deadlines::new(),
        });
        let acceptor = acceptor.clone();
        async move {
            // The handshake is bounded like a request head: no slow clients holding sockets.
            let handshake =
                tokio::time::timeout(settings.header_read_timeout, acceptor.accept(stream)).await;
            let tls = match handshake {
                Ok(Ok(tls)) => tls,
                Ok(Err(err)) => return debug!(%peer, error = %err, "TLS handshake failed"),
                Err(_) => return debug!(%peer, "TLS handshake timed out"),
            };
            let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
            let io = TokioIo::new(tls);
            if h2 {
                serve_h2(io, ctx, &settings, stop).await;
            } else {
                serve_h1(io, ctx, &settings, stop).await;
            }
        }
    })
    .await;
    Ok(())
}

/// Serves the router's metrics in the Prometheus text format at `/metrics` on `listener`
/// (keep it off the public network). Returns after `shutdown`.
pub async fn serve_metrics(
    listener: TcpListener,
    router: Arc<Router>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RouterError> {
    let local = listener.local_addr().map_err(RouterError::LocalAddr)?;
    info!(addr = %local, "router metrics listening");
    accept_loop(
        listener,
        shutdown,
        Duration::from_secs(1),
        move |stream, _, _| {
            let router = Arc::clone(&router);
            async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let router = Arc::clone(&router);
                    async move { Ok::<_, std::convert::Infallible>(metrics_response(&router, &req)) }
                });
                let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                if let Err(err) = conn.await {
                    debug!(error = %err, "metrics connection ended with an error");
                }
            }
        },
    )
    .await;
    Ok(())
}

fn metrics_response(router: &Router, req: &Request<Incoming>) -> Response<ResponseBody> {
    let (status, body) = if req.uri().path() == "/metrics" {
        (StatusCode::OK, router.metrics_text())
    } else {
        (
            StatusCode::NOT_FOUND,
            "metrics are at /metrics\n".to_owned(),
        )
    };
    let mut response = Response::new(ResponseBody::full(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

pub(crate) async fn serve_h1<I>(
    io: I,
    ctx: Arc<ConnCtx>,
    settings: &RouterSettings,
    mut stop: watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let mut http = http1::Builder::new();
    // The header read timeout is the connection's own (see `Deadlines`: cheaper than hyper's
    // timer per request); hyper still needs a timer for its other waits.
    http.timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(None::<Duration>)
        .max_header_size(settings.max_header_bytes);
    // hyper parses into a stack array of its default size; any other limit costs a heap
    // array per request.
    if settings.max_headers != HYPER_DEFAULT_MAX_HEADERS {
        http.max_headers(settings.max_headers);
    }
    let service_ctx = Arc::clone(&ctx);
    let service = service_fn(move |req| proxy::handle(Arc::clone(&service_ctx), req));
    let conn = http.serve_connection(io, service).with_upgrades();
    let mut conn = std::pin::pin!(conn);
    let limit = settings.header_read_timeout;
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = gated(stop.changed()) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
        // No request is in flight: dropping the connection closes it, as hyper would.
        () = gated(ctx.deadlines.watch(limit)) => {
            debug!(?limit, "client sent no complete request head in time; closing");
            return;
        }
    };
    if let Err(err) = result {
        debug!(error = %err, "client connection ended with an error");
    }
}

async fn serve_h2<I>(
    io: I,
    ctx: Arc<ConnCtx>,
    settings: &RouterSettings,
    mut stop: watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let mut http = http2::Builder::new(TokioExecutor::new());
    http.timer(TokioTimer::new())
        // WebSockets over HTTP/2 (RFC 8441), which browsers use on a connection that has it.
        .enable_connect_protocol()
        .max_concurrent_streams(settings.http2_max_streams)
        .max_header_list_size(u32::try_from(settings.max_header_bytes).unwrap_or(u32::MAX));
    let service = service_fn(move |req| proxy::handle(Arc::clone(&ctx), req));
    let idle = settings.http2_idle_timeout;
    let (io, activity) = Active::new(io);
    let conn = http.serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = gated(stop.changed()) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
        () = gated(activity.idle_for(idle)) => {
            debug!(?idle, "HTTP/2 client connection idle; closing it");
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(err) = result {
        debug!(error = %err, "HTTP/2 client connection ended with an error");
    }
}

/// A connection's I/O that notes when bytes last moved either way, for the idle timeout.
struct Active<I> {
    io: I,
    activity: Activity,
}

/// Milliseconds since `epoch` at which bytes last moved.
#[derive(Clone)]
struct Activity {
    epoch: tokio::time::Instant,
    last: Arc<AtomicU64>,
}

impl<I> Active<I> {
    fn new(io: I) -> (Self, Activity) {
        let activity = Activity {
            epoch: tokio::time::Instant::now(),
            last: Arc::new(AtomicU64::new(0)),
        };
        let io = Active {
            io,
            activity: activity.clone(),
        };
        (io, activity)
    }
}

impl Activity {
    fn touch(&self) {
        let now = self.epoch.elapsed().as_millis() as u64;
        self.last.store(now, Ordering::Relaxed);
    }

    /// Resolves once nothing has moved for `idle`; one timer per connection, re-armed only
    /// when it fires (between deadlines a poll is only the timer's).
    async fn idle_for(&self, idle: Duration) {
        let mut deadline = self.epoch + idle;
        loop {
            tokio::time::sleep_until(deadline).await;
            deadline = self.epoch + Duration::from_millis(self.last.load(Ordering::Relaxed)) + idle;
            if tokio::time::Instant::now() >= deadline {
                return;
            }
        }
    }
}

impl<I: hyper::rt::Read + Unpin> hyper::rt::Read for Active<I> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let polled = std::pin::Pin::new(&mut self.io).poll_read(cx, buf);
        if polled.is_ready() {
            self.activity.touch();
        }
        polled
    }
}

impl<I: hyper::rt::Write + Unpin> hyper::rt::Write for Active<I> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.io).poll_write(cx, buf);
        if polled.is_ready() {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> std::task::Poll<io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if polled.is_ready() {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Accepts until `shutdown`, running `on_conn` for each connection in its own task; then
/// tells the connections to finish (the `watch` flips) and gives them `grace` to do so.
async fn accept_loop<F, Fut>(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
    mut on_conn: F,
) where
    F: FnMut(TcpStream, SocketAddr, watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
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
        connections.spawn(on_conn(stream, peer, stop_rx.clone()));
    }
    drop(listener);
    info!(
        connections = connections.len(),
        "listener stopping; finishing requests in flight"
    );
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        warn!(
            connections = connections.len(),
            "requests still running at shutdown are cut off"
        );
    }
    connections.shutdown().await;
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
