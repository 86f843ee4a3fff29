//! Upgraded connections (WebSocket and the like): once the process answers 101, bytes are
//! copied both ways until either side closes or nothing moves for the app's idle timeout.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use http::header::{HeaderMap, HeaderName, HeaderValue, CONNECTION, UPGRADE};
use http::{Method, Request, StatusCode};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Instant;
use tracing::debug;

use crate::client::Conn;

static UPGRADE_TOKEN: HeaderValue = HeaderValue::from_static("upgrade");

/// The protocol an HTTP/1.1 request asks to upgrade to (`Connection: upgrade` plus `Upgrade`).
pub(crate) fn requested(headers: &HeaderMap) -> Option<HeaderValue> {
    let upgrade = headers.get(UPGRADE)?;
    let asks = headers.get_all(CONNECTION).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
        })
    });
    asks.then(|| upgrade.clone())
}

/// The protocol an HTTP/2 extended CONNECT (RFC 8441: a WebSocket over one stream of an
/// HTTP/2 connection) asks for.
pub(crate) fn extended_connect<B>(req: &Request<B>) -> Option<HeaderValue> {
    if req.method() != Method::CONNECT {
        return None;
    }
    let protocol = req.extensions().get::<hyper::ext::Protocol>()?;
    HeaderValue::from_str(protocol.as_str()).ok()
}

static SEC_WEBSOCKET_KEY: HeaderName = HeaderName::from_static("sec-websocket-key");
static SEC_WEBSOCKET_ACCEPT: HeaderName = HeaderName::from_static("sec-websocket-accept");

/// Makes an extended CONNECT's headers what an HTTP/1.1 process expects of a WebSocket
/// handshake: RFC 8441 drops `Sec-WebSocket-Key`, which RFC 6455 requires, so the router makes
/// one up (the process's `Sec-WebSocket-Accept` answers it, and the router alone sees that).
pub(crate) fn as_http1_handshake(headers: &mut HeaderMap, protocol: &HeaderValue) {
    if protocol.as_bytes().eq_ignore_ascii_case(b"websocket")
        && !headers.contains_key(&SEC_WEBSOCKET_KEY)
    {
        let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 16]>());
        if let Ok(key) = HeaderValue::try_from(key) {
            headers.insert(SEC_WEBSOCKET_KEY.clone(), key);
        }
    }
}

/// Turns a process's 101 into what an HTTP/2 client takes as an established tunnel: 200, and
/// none of HTTP/1.1's handshake fields (RFC 8441 section 5).
pub(crate) fn as_http2_answer(parts: &mut http::response::Parts) {
    parts.status = StatusCode::OK;
    parts.headers.remove(CONNECTION);
    parts.headers.remove(UPGRADE);
    parts.headers.remove(&SEC_WEBSOCKET_ACCEPT);
}

/// Puts back what hop-by-hop stripping removed from an upgrade request or its 101 answer.
pub(crate) fn restore(headers: &mut HeaderMap, protocol: HeaderValue) {
    headers.insert(CONNECTION, UPGRADE_TOKEN.clone());
    headers.insert(UPGRADE, protocol);
}

/// Joins the client's connection, once hyper hands it over, and the process's.
pub(crate) fn tunnel(client: OnUpgrade, backend: Conn, idle: Duration, app: Arc<str>) {
    tokio::spawn(async move {
        let mut client = match client.await {
            Ok(client) => TokioIo::new(client),
            Err(err) => {
                debug!(%app, error = %err, "upgrade did not complete");
                return;
            }
        };
        // What the process sent right behind its 101 belongs to the client.
        let (backend, early) = backend.into_parts();
        if !early.is_empty() {
            if let Err(err) = client.write_all(&early).await {
                debug!(%app, error = %err, "upgraded connection ended with an error");
                return;
            }
        }
        let epoch = Instant::now();
        let last = Arc::new(AtomicU64::new(0));
        let mut client = Watched::new(client, &last, epoch);
        let mut backend = Watched::new(backend, &last, epoch);
        let watchdog = async {
            loop {
                let quiet_since = epoch + Duration::from_millis(last.load(Relaxed));
                if quiet_since.elapsed() >= idle {
                    return;
                }
                tokio::time::sleep_until(quiet_since + idle).await;
            }
        };
        tokio::select! {
            result = tokio::io::copy_bidirectional(&mut client, &mut backend) => {
                if let Err(err) = result {
                    debug!(%app, error = %err, "upgraded connection ended with an error");
                }
            }
            () = watchdog => debug!(%app, ?idle, "upgraded connection idle; closing it"),
        }
    });
}

/// Notes the time of every byte moved, for the idle watchdog.
struct Watched<T> {
    io: T,
    last: Arc<AtomicU64>,
    epoch: Instant,
}

impl<T> Watched<T> {
    fn new(io: T, last: &Arc<AtomicU64>, epoch: Instant) -> Self {
        Watched {
            io,
            last: Arc::clone(last),
            epoch,
        }
    }

    fn touch(&self) {
        self.last
            .store(self.epoch.elapsed().as_millis() as u64, Relaxed);
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
