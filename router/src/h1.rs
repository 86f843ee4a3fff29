//! The router's own HTTP/1.1 server for plain connections, for the requests most traffic is
//! made of: HTTP/1.1 requests without a body, in origin form, not asking for an upgrade.
//!
//! hyper's server builds a header map for every request and again for every response, runs
//! its dispatcher's state machine and writes the response head from the map. Here the
//! request head is parsed (httparse) in the connection's buffer and read from there, the
//! process's response head is written out directly, and the response body goes to the socket
//! together with the head in one write when it is already there.
//!
//! The first request that needs more (a body, an upgrade, `Expect`, HTTP/1.0, a head that does
//! not parse or is over a limit) hands the connection, with what was read of it, to hyper's
//! server, which serves it from then on exactly as before; so errors and the rarer features
//! keep one implementation.

use std::future::poll_fn;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use http::header::HeaderValue;
use http::{Method, StatusCode};
use hyper::body::Body;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tracing::debug;

use crate::client::{self, Framing};
use crate::date;
use crate::gate::gated;
use crate::headers::{self, put_field, Fields, Outbound};
use crate::proxy::{self, ConnCtx, Inbound};
use crate::response_head::{Reply, ReplyHead};
use crate::route::AppRoute;
use crate::router::RouterSettings;
use crate::write_queue::WriteQueue;

/// Header fields a request head may have on this path: hyper's default limit, which a
/// router with another limit leaves to hyper altogether.
pub(crate) const MAX_HEADERS: usize = 100;
/// Room kept free in the read buffer.
const READ_SPACE: usize = 4 * 1024;
/// Response body bytes queued before they are written.
const WRITE_AHEAD: usize = 64 * 1024;

/// Serves a plain HTTP/1.1 connection until it closes, on this path while its requests allow
/// and on hyper's server after that.
pub(crate) async fn serve(
    io: TcpStream,
    ctx: Arc<ConnCtx>,
    settings: &RouterSettings,
    mut stop: watch::Receiver<bool>,
) {
    if settings.max_headers != MAX_HEADERS || *stop.borrow() {
        return crate::server::serve_h1(TokioIo::new(io), ctx, settings, stop).await;
    }
    let state = ConnState::default();
    let limit = settings.header_read_timeout;
    let handed_over = {
        let mut conn = std::pin::pin!(requests(io, &ctx, settings, &state));
        tokio::select! {
            handed = conn.as_mut() => handed,
            _ = gated(stop.changed()) => {
                // Stopping: an idle connection closes now, one answering finishes that answer.
                state.closing.store(true, Relaxed);
                if state.idle.load(Relaxed) {
                    return;
                }
                conn.await
            }
            () = gated(ctx.deadlines.watch(limit)) => {
                debug!(?limit, "client sent no complete request head in time; closing");
                return;
            }
        }
    };
    if let Some((io, read)) = handed_over {
        let io = TokioIo::new(Rewind::new(read.freeze(), io));
        crate::server::serve_h1(io, ctx, settings, stop).await;
    }
}

#[derive(Default)]
struct ConnState {
    /// Waiting for a request with nothing of it read.
    idle: AtomicBool,
    /// The listener is stopping: close after the answer in progress.
    closing: AtomicBool,
}

/// A request head parsed in the connection's buffer.
struct Head<'b, 's> {
    method: Method,
    target: &'b str,
    fields: &'b [httparse::Header<'b>],
    /// The whole head as it came, which `fields` point into.
    raw: &'b [u8],
    /// Where the process's request head is written.
    scratch: &'s mut BytesMut,
}

/// What the head asks of the connection.
enum Verdict {
    /// This path serves it; `close` when the client asked to close after it.
    Serve { close: bool },
    /// Needs hyper's server.
    HandOver,
}

impl Head<'_, '_> {
    fn verdict(&self) -> Verdict {
        if !self.target.starts_with('/') {
            return Verdict::HandOver;
        }
        let mut close = false;
        for field in self.fields {
            let name = field.name.as_bytes();
            let is = |other: &str| name.eq_ignore_ascii_case(other.as_bytes());
            match name.len() {
                6 if is("expect") => return Verdict::HandOver,
                7 if is("upgrade") => return Verdict::HandOver,
                10 if is("connection") => close |= headers::has_token(field.value, b"close"),
                14 if is("content-length") && field.value.trim_ascii() != b"0" => {
                    return Verdict::HandOver;
                }
                17 if is("transfer-encoding") => return Verdict::HandOver,
                _ => {}
            }
        }
        Verdict::Serve { close }
    }
}

impl<'b> Inbound for Head<'b, '_> {
    type Fields = [httparse::Header<'b>];

    fn fields(&self) -> &Self::Fields {
        self.fields
    }

    fn method(&self) -> &Method {
        &self.method
    }

    fn target(&self) -> &str {
        self.target
    }

    fn host(&self) -> Option<&[u8]> {
        self.fields.only("host")
    }

    fn is_http2(&self) -> bool {
        false
    }

    fn upgrade(&self) -> Option<HeaderValue> {
        None
    }

    fn into_outgoing(
        self,
        out: &Outbound<'_>,
        _: &AppRoute,
    ) -> (client::Request, Option<OnUpgrade>) {
        // No body on this path: nothing of the route's body limits applies.
        let head = match headers::verbatim_lines(self.raw, self.fields) {
            Some(lines) => headers::encode_request_head_verbatim(
                &self.method,
                self.target,
                lines,
                out,
                self.scratch,
            ),
            None => headers::encode_request_head(
                &self.method,
                self.target,
                self.fields,
                out,
                self.scratch,
            ),
        };
        (
            client::Request::new(head, &self.method, Framing::None, None),
            None,
        )
    }
}

/// Reads and answers requests until the connection ends (`None`) or a request needs hyper's
/// server: then the socket and what was read from it (that request and anything after it).
async fn requests(
    mut io: TcpStream,
    ctx: &ConnCtx,
    settings: &RouterSettings,
    state: &ConnState,
) -> Option<(TcpStream, BytesMut)> {
    let mut buf = BytesMut::with_capacity(READ_SPACE * 2);
    let mut out = WriteQueue::default();
    // Where request heads for the process are written; their space comes back once the
    // bytes are out.
    let mut request_heads = BytesMut::new();
    loop {
        let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut []);
        let parsed = request.parse_with_uninit_headers(&buf, &mut fields);
        let head_len = match parsed {
            Ok(httparse::Status::Complete(len)) if len <= settings.max_header_bytes => len,
            Ok(httparse::Status::Partial) if buf.len() < settings.max_header_bytes => {
                state.idle.store(buf.is_empty(), Relaxed);
                let read =
                    poll_fn(|cx| client::poll_read_into(&io, &mut buf, READ_SPACE * 2, cx)).await;
                state.idle.store(false, Relaxed);
                match read {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => continue,
                }
            }
            // Malformed, too large, too many fields: hyper answers it as it always did.
            _ => return Some((io, buf)),
        };
        let (Some(method), Some(target), Some(1)) = (request.method, request.path, request.version)
        else {
            return Some((io, buf));
        };
        let Ok(method) = Method::from_bytes(method.as_bytes()) else {
            return Some((io, buf));
        };
        let head = Head {
            method,
            target,
            fields: request.headers,
            raw: &buf[..head_len],
            scratch: &mut request_heads,
        };
        let Verdict::Serve { close } = head.verdict() else {
            return Some((io, buf));
        };
        let head_request = head.method == Method::HEAD;
        ctx.deadlines.in_service();
        // Answered in place: the reply is large, and moving it into `respond` is a copy.
        let mut reply = proxy::answer(ctx, head).await;
        let close = close || state.closing.load(Relaxed);
        buf.advance(head_len);
        let written = respond(&mut io, &mut out, &mut reply, head_request, close).await;
        drop(reply);
        ctx.deadlines.restart();
        match written {
            Ok(true) if !state.closing.load(Relaxed) => {}
            Ok(_) => {
                let _ = io.shutdown().await;
                return None;
            }
            Err(err) => {
                debug!(error = %err, "client connection ended with an error");
                return None;
            }
        }
    }
}

/// Bodies up to this size that are read already go out in the same write as the head.
const COPY_BODY_UP_TO: usize = 4 * 1024;

/// How the response body is delimited on the way to the client.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Delimit {
    /// No body (HEAD, 204, 304).
    None,
    Length,
    Chunked,
}

/// Writes `reply` out; `Ok(true)` when the connection can take another request.
async fn respond(
    io: &mut TcpStream,
    out: &mut WriteQueue,
    reply: &mut Reply,
    head_request: bool,
    close: bool,
) -> io::Result<bool> {
    let status = reply.status();
    let has_length = reply.has_length();
    let has_date = reply.has_date();
    let Reply { head, body } = reply;
    let delimit = if head_request
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || status.is_informational()
    {
        Delimit::None
    } else if has_length || body.size_hint().exact().is_some() {
        Delimit::Length
    } else {
        Delimit::Chunked
    };

    out.write_with(|text| {
        text.reserve(512);
        text.extend_from_slice(b"HTTP/1.1 ");
        text.extend_from_slice(status.as_str().as_bytes());
        text.extend_from_slice(b" ");
        text.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
        text.extend_from_slice(b"\r\n");
        if let ReplyHead::Process(head) = &head {
            // The process's lines as they came; copied, so that head and a small body go
            // out in one piece.
            text.extend_from_slice(head.lines());
            head.write_added(text);
        }
        if let ReplyHead::Page(parts) = &head {
            for (name, value) in &parts.headers {
                put_field(text, name.as_str().as_bytes(), value.as_bytes());
            }
        }
        if delimit == Delimit::Length && !has_length {
            // Only the router's own pages come without one.
            let n = body.size_hint().exact().unwrap_or(0);
            put_field(text, b"content-length", n.to_string().as_bytes());
        }
        if delimit == Delimit::Chunked {
            put_field(text, b"transfer-encoding", b"chunked");
        }
        if close {
            put_field(text, b"connection", b"close");
        }
        if !has_date {
            date::put(text);
        }
        text.extend_from_slice(b"\r\n");
    });
    if let ReplyHead::Process(head) = head {
        head.release_lines();
    }

    let mut ended = delimit == Delimit::None;
    if delimit == Delimit::Length {
        // Most answers are small and read already: copied in behind the head.
        ended = body.take_buffered(COPY_BODY_UP_TO, |bytes| out.put(bytes));
    }
    let mut queued = 0usize;
    let mut body = Pin::new(body);
    poll_fn(|cx| loop {
        let mut progress = false;
        if !ended && queued < WRITE_AHEAD {
            match body.as_mut().poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    progress = true;
                    if let Ok(data) = frame.into_data() {
                        if !data.is_empty() {
                            queued += data.len();
                            out.push_data(data, delimit == Delimit::Chunked);
                        }
                    }
                }
                Poll::Ready(Some(Err(err))) => {
                    // The process's body broke off: the client cannot be told but by closing.
                    return Poll::Ready(Err(io::Error::other(err)));
                }
                Poll::Ready(None) => {
                    progress = true;
                    ended = true;
                    if delimit == Delimit::Chunked {
                        out.put(b"0\r\n\r\n");
                    }
                }
                Poll::Pending => {}
            }
        }
        if !out.is_empty() {
            match out.poll_write(io, cx) {
                Poll::Ready(Ok(())) => {
                    progress = true;
                    queued = 0;
                }
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => {}
            }
        }
        if ended && out.is_empty() {
            return Poll::Ready(Ok(()));
        }
        if !progress {
            return Poll::Pending;
        }
    })
    .await
    .inspect_err(|_| out.clear())?;
    Ok(!close)
}

/// A connection handed to hyper with the bytes this path already read from it in front.
struct Rewind {
    read: Bytes,
    io: TcpStream,
}

impl Rewind {
    fn new(read: Bytes, io: TcpStream) -> Self {
        Rewind { read, io }
    }
}

impl AsyncRead for Rewind {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.read.is_empty() {
            let n = self.read.len().min(buf.remaining());
            let first = self.read.split_to(n);
            buf.put_slice(&first);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
