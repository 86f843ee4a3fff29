//! HTTP/1.1 to an app's processes, driven inside the request's own task.
//!
//! hyper's client runs every backend connection as a task of its own and hands requests and
//! responses to it over channels: a task switch, a channel push and a oneshot per request,
//! and a second HTTP state machine. Here the request task writes the request head (with the
//! start of a body that is already there) in one write, reads and parses the response head
//! from the connection's buffer, and the response body is read straight from the socket
//! while the client connection takes it. A connection read to the end of a response goes
//! back to its process's pool as a plain socket and buffer.

use std::future::poll_fn;
use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{HeaderMap, CONTENT_LENGTH};
use http::{Method, StatusCode};
use hyper::body::Body;
use tokio::io::{AsyncWrite, Interest};
use tokio::net::TcpStream;

use crate::body::{BoxError, ProxyBody};
use crate::headers;
use crate::metrics::Series;
use crate::response_head::{FieldSpan, Has, ProcessHead};
use crate::write_queue::WriteQueue;

/// Longest response head a process may send.
const MAX_HEAD: usize = 64 * 1024;
/// Most header fields in a response head.
const MAX_HEADERS: usize = 128;
/// Longest chunk-size line or trailer section in a chunked body.
const MAX_CHUNK_LINE: usize = 4096;
/// Read size while waiting for a head, and while streaming a body.
const HEAD_READ: usize = 8 * 1024;
const BODY_READ: usize = 64 * 1024;
/// A pooled connection keeps at most this much buffer capacity.
const KEEP_BUFFER: usize = 16 * 1024;

/// A connection to a process, idle or in use.
pub(crate) struct Conn {
    io: TcpStream,
    /// Bytes read from the process and not yet used.
    buf: BytesMut,
    /// Whether it served a request before: a failure before any answer then means it was
    /// closed while idle, and the request can go out again on another connection.
    reused: bool,
}

impl Conn {
    pub(crate) async fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<Conn> {
        let io = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        let _ = io.set_nodelay(true);
        Ok(Conn {
            io,
            buf: BytesMut::new(),
            reused: false,
        })
    }

    /// Whether an idle connection is still worth using: the process did not close it and
    /// sent nothing since its last response. Asks the runtime's readiness, which the event
    /// loop already updated, so a live connection costs no system call.
    pub(crate) fn is_usable(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        match self.io.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            Poll::Ready(Ok(())) => {
                let mut probe = [0u8; 1];
                matches!(self.io.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
        }
    }

    /// Ready to be pooled after a complete response.
    fn into_idle(mut self) -> Conn {
        self.reused = true;
        if self.buf.capacity() > KEEP_BUFFER {
            self.buf = BytesMut::new();
        }
        self
    }

    /// Reads more from the process into the buffer; `Ok(0)` at its end.
    fn poll_fill(&mut self, cx: &mut Context<'_>, want: usize) -> Poll<io::Result<usize>> {
        poll_read_into(&self.io, &mut self.buf, want, cx)
    }

    /// The socket and what was read past the 101 head, for a tunnel.
    pub(crate) fn into_parts(self) -> (TcpStream, Bytes) {
        (self.io, self.buf.freeze())
    }
}

/// Reads what `io` has into `buf` (with room for about `want` more); `Ok(0)` at its end.
pub(crate) fn poll_read_into(
    io: &TcpStream,
    buf: &mut BytesMut,
    want: usize,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    if buf.capacity() - buf.len() < want / 2 {
        buf.reserve(want);
    }
    loop {
        std::task::ready!(io.poll_read_ready(cx))?;
        let spare = buf.capacity() - buf.len();
        match io.try_read_buf(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Ok(n) if n > 0 && n < spare => {
                // A short read emptied the socket: forget its readiness now, so neither the
                // next read nor the pool's check (`Conn::is_usable`) spends a system call to
                // learn that. Whatever arrives later is a new event and sets it again.
                let _ = io.try_io(Interest::READABLE, || {
                    Err::<(), _>(io::ErrorKind::WouldBlock.into())
                });
                return Poll::Ready(Ok(n));
            }
            polled => return Poll::Ready(polled),
        }
    }
}

/// Why a request got no response.
pub(crate) enum SendError {
    /// A pooled connection had been closed and the request did not reach the process: it
    /// comes back to go out on another connection.
    Retry(Request),
    /// The request body failed: over the limit, the client went silent or away.
    Body(BoxError),
    /// The process failed before a complete response head.
    Process(io::Error),
}

/// A response head from a process and what follows it.
pub(crate) struct Answer {
    pub(crate) head: ProcessHead,
    pub(crate) rest: Rest,
}

pub(crate) enum Rest {
    Body(BodyReader),
    /// 101 to an upgrade request: the connection now belongs to the tunnel.
    Upgraded(Conn),
}

/// How a request body is framed on the way to the process.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    None,
    Length,
    Chunked,
}

impl Framing {
    /// As the client framed it: no body, a declared length, or (HTTP/1.1 chunked, HTTP/2
    /// data frames) an open end, sent on chunked.
    pub(crate) fn of(headers: &HeaderMap, body: Option<&ProxyBody>) -> Framing {
        if body.is_none_or(ProxyBody::is_end_stream) {
            Framing::None
        } else if headers.contains_key(CONTENT_LENGTH) {
            Framing::Length
        } else {
            Framing::Chunked
        }
    }
}

/// A request ready for a process: its head already written out (see
/// [`headers::encode_request_head`]), so trying it on another connection costs nothing.
pub(crate) struct Request {
    head: Bytes,
    framing: Framing,
    head_request: bool,
    /// Whether it may go out again after a connection failed under it (idempotent).
    replayable: bool,
    /// Most requests have none: kept out of line, the request stays small to move.
    body: Option<Box<ProxyBody>>,
}

impl Request {
    /// `body` is `None` for a request without one (`framing` is then [`Framing::None`]).
    pub(crate) fn new(
        head: Bytes,
        method: &Method,
        framing: Framing,
        body: Option<Box<ProxyBody>>,
    ) -> Request {
        Request {
            head,
            framing: if body.is_some() {
                framing
            } else {
                Framing::None
            },
            head_request: method == Method::HEAD,
            replayable: is_idempotent(method),
            body,
        }
    }

    /// Where the body's bytes are counted.
    pub(crate) fn count_into(&mut self, series: &Arc<Series>) {
        if let Some(body) = &mut self.body {
            body.count_into(series);
        }
    }
}

/// The request on its way out: bytes queued for the socket and the client's body behind
/// them. It keeps going after the response head is in (a process may stream its answer
/// while it still reads the request, as an echo does).
struct Upload {
    out: WriteQueue,
    /// How much of the request head went out straight from the request (a request without a
    /// body needs no queue).
    head_sent: usize,
    framing: Framing,
    body_done: bool,
    body_started: bool,
}

enum UploadError {
    Body(BoxError),
    Write(io::Error),
}

impl Upload {
    fn is_done(&self, head: &[u8]) -> bool {
        self.head_sent == head.len() && self.body_done && self.out.is_empty()
    }

    fn poll_head(
        &mut self,
        head: &[u8],
        io: &mut TcpStream,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while self.head_sent < head.len() {
            let n = std::task::ready!(Pin::new(&mut *io).poll_write(cx, &head[self.head_sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.head_sent += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Writes what is queued and takes more of the body while the socket takes it:
    /// `Ready(Ok)` when everything is out.
    fn poll(
        &mut self,
        head: &[u8],
        mut body: Option<&mut ProxyBody>,
        io: &mut TcpStream,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), UploadError>> {
        std::task::ready!(self.poll_head(head, io, cx)).map_err(UploadError::Write)?;
        loop {
            if !self.out.is_empty() {
                std::task::ready!(self.out.poll_write(io, cx)).map_err(UploadError::Write)?;
            } else if self.body_done {
                return Poll::Ready(Ok(()));
            } else if let Some(body) = body.as_deref_mut() {
                match std::task::ready!(Pin::new(body).poll_frame(cx)) {
                    Some(Ok(frame)) => {
                        self.body_started = true;
                        if let Ok(data) = frame.into_data() {
                            if !data.is_empty() {
                                self.out.push_data(data, self.framing == Framing::Chunked);
                            }
                        }
                    }
                    Some(Err(e)) => return Poll::Ready(Err(UploadError::Body(e))),
                    None => {
                        if self.framing == Framing::Chunked {
                            self.out.push(Bytes::from_static(b"0\r\n\r\n"));
                        }
                        self.body_done = true;
                    }
                }
            } else {
                self.body_done = true;
            }
        }
    }
}

/// Sends `req` on `conn` and reads the response head. The request body streams to the
/// process as the client sends it, also while the response comes back.
pub(crate) async fn send(
    mut conn: Conn,
    mut req: Request,
    upgrade: bool,
) -> Result<Answer, SendError> {
    let framing = req.framing;
    let mut upload = Upload {
        out: WriteQueue::default(),
        head_sent: 0,
        framing,
        body_done: framing == Framing::None,
        body_started: false,
    };
    if !upload.body_done {
        // Queued, so that a body that is already there goes out with it.
        upload.out.put(&req.head);
        upload.head_sent = req.head.len();
    }
    let head_request = req.head_request;
    let replayable = req.replayable;
    let mut writing = true;
    let mut write_error = None;

    let outcome = poll_fn(|cx| loop {
        let mut progress = false;
        if writing {
            match upload.poll(&req.head, req.body.as_deref_mut(), &mut conn.io, cx) {
                Poll::Ready(Ok(())) => writing = false,
                Poll::Ready(Err(UploadError::Body(e))) => return Poll::Ready(Outcome::Body(e)),
                Poll::Ready(Err(UploadError::Write(e))) => {
                    // The process may have answered before closing (a 413, say): read on.
                    write_error = Some(e);
                    writing = false;
                    progress = true;
                }
                Poll::Pending => {}
            }
        }
        match parse_head(&mut conn.buf, head_request, upgrade) {
            Ok(Some(parsed)) => return Poll::Ready(Outcome::Head(parsed)),
            Ok(None) => {}
            Err(e) => return Poll::Ready(Outcome::Failed(e)),
        }
        if conn.buf.len() >= MAX_HEAD {
            return Poll::Ready(Outcome::Failed(invalid("response head too large")));
        }
        match conn.poll_fill(cx, HEAD_READ) {
            Poll::Ready(Ok(0)) => {
                let e = write_error.take().unwrap_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the process closed the connection without answering",
                    )
                });
                return Poll::Ready(Outcome::Closed(e));
            }
            Poll::Ready(Ok(_)) => continue,
            Poll::Ready(Err(e)) => return Poll::Ready(Outcome::Closed(e)),
            Poll::Pending if progress => continue,
            Poll::Pending => return Poll::Pending,
        }
    })
    .await;

    match outcome {
        Outcome::Head(parsed) => {
            if parsed.head.status == StatusCode::SWITCHING_PROTOCOLS {
                return Ok(Answer {
                    head: parsed.head,
                    rest: Rest::Upgraded(conn),
                });
            }
            // A request cut off by a write error leaves the connection unusable; one still
            // going continues alongside the response body.
            let upload = if write_error.is_some() {
                Some(None)
            } else if upload.is_done(&req.head) {
                None
            } else {
                // What is left of the head goes out with the rest, from the queue.
                if upload.head_sent < req.head.len() {
                    upload.out.put(&req.head[upload.head_sent..]);
                    upload.head_sent = req.head.len();
                }
                Some(Some(Box::new((upload, req.body))))
            };
            let keep_alive = parsed.keep_alive && !matches!(upload, Some(None));
            Ok(Answer {
                head: parsed.head,
                rest: Rest::Body(BodyReader::new(
                    conn,
                    parsed.body,
                    keep_alive,
                    upload.flatten(),
                )),
            })
        }
        Outcome::Body(e) => Err(SendError::Body(e)),
        Outcome::Closed(e) => {
            // Nothing came back on a connection that sat idle: it was closed under us, and
            // the process never saw the request, or (for a request that may be repeated)
            // did not act on it.
            let untouched = !upload.body_started && conn.buf.is_empty();
            if conn.reused && untouched && (replayable || write_error.is_some()) {
                Err(SendError::Retry(req))
            } else {
                Err(SendError::Process(e))
            }
        }
        Outcome::Failed(e) => Err(SendError::Process(e)),
    }
}

enum Outcome {
    Head(Parsed),
    Body(BoxError),
    Closed(io::Error),
    Failed(io::Error),
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

fn invalid(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// How a response body is delimited (RFC 9112 6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyFraming {
    Empty,
    Length(u64),
    Chunked,
    /// Until the process closes the connection.
    Close,
}

struct Parsed {
    head: ProcessHead,
    body: BodyFraming,
    keep_alive: bool,
}

/// Parses a complete response head off the front of `buf` (skipping interim 1xx answers
/// other than 101); `None` while more is needed. Hop-by-hop headers are left out of the
/// map built (RFC 9110 7.6.1).
fn parse_head(buf: &mut BytesMut, head_request: bool, upgrade: bool) -> io::Result<Option<Parsed>> {
    if buf.is_empty() {
        return Ok(None);
    }
    SPANS.with_borrow_mut(|spans| parse_head_with(buf, spans, head_request, upgrade))
}

thread_local! {
    /// Scratch space for the fields of a response head: kept per thread, not per connection,
    /// so that connections stay small to move.
    static SPANS: std::cell::RefCell<Vec<FieldSpan>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn parse_head_with(
    buf: &mut BytesMut,
    spans: &mut Vec<FieldSpan>,
    head_request: bool,
    upgrade: bool,
) -> io::Result<Option<Parsed>> {
    loop {
        if buf.is_empty() {
            return Ok(None);
        }
        let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut []);
        let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut response,
            buf,
            &mut fields,
        );
        let len = match parsed {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(invalid("too many header fields in the response"))
            }
            Err(_) => return Err(invalid("malformed response head")),
        };
        let code = response.code.unwrap_or(0);
        let http11 = response.version == Some(1);
        let status = StatusCode::from_u16(code).map_err(|_| invalid("invalid response status"))?;
        if status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS {
            buf.advance(len);
            continue;
        }
        if status == StatusCode::SWITCHING_PROTOCOLS && !upgrade {
            return Err(invalid(
                "101 answer to a request that did not ask to upgrade",
            ));
        }
        // Offsets into the head, so the fields can share its bytes once it is split off.
        let base = buf.as_ptr() as usize;
        let offset = |s: &[u8]| (s.as_ptr() as usize - base, s.len());
        spans.clear();
        let mut keep_alive = http11;
        let mut chunked = false;
        let mut transfer_encoding = false;
        let mut length: Option<u64> = None;
        let mut has_date = false;
        let mut connection = Vec::new();
        for field in response.headers.iter() {
            let name = field.name.as_bytes();
            let value = field.value;
            let is = |other: &str| name.eq_ignore_ascii_case(other.as_bytes());
            if is("connection") {
                keep_alive &= !headers::has_token(value, b"close");
                if !http11 && headers::has_token(value, b"keep-alive") {
                    keep_alive = true;
                }
                if headers::names_other_headers(value) {
                    connection.push(offset(value));
                }
                continue;
            }
            if is("transfer-encoding") {
                transfer_encoding = true;
                // Chunked must be the last coding; anything else is read to the end.
                chunked = value
                    .rsplit(|&c| c == b',')
                    .next()
                    .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
                continue;
            }
            if is("content-length") {
                let n = headers::content_length(value)
                    .ok_or_else(|| invalid("invalid Content-Length in the response"))?;
                if length.is_some_and(|l| l != n) {
                    return Err(invalid("conflicting Content-Length in the response"));
                }
                if length.is_some() {
                    continue;
                }
                length = Some(n);
            } else if is("date") {
                has_date = true;
            } else if (headers::is_hop_by_hop(name)
                && !(is("upgrade") && status == StatusCode::SWITCHING_PROTOCOLS))
                // The router's own id replaces it.
                || is("x-request-id")
            {
                continue;
            }
            spans.push((offset(name), offset(value)));
        }
        let fields = response.headers.len();
        let raw = buf.split_to(len).freeze();
        let slice = |(at, n): (usize, usize)| &raw[at..at + n];
        // Fields the Connection header names describe this connection only (RFC 9110 7.6.1);
        // Content-Length goes when Transfer-Encoding frames the body (RFC 9112 6.3).
        let mut has = Has {
            length: length.is_some(),
            date: has_date,
        };
        if !connection.is_empty() || transfer_encoding {
            spans.retain(|&(name, _)| {
                let name = slice(name);
                let named = connection
                    .iter()
                    .any(|&value| headers::has_token(slice(value), name));
                let framed_twice =
                    transfer_encoding && name.eq_ignore_ascii_case(b"content-length");
                !(named || framed_twice)
            });
            has = Has::of(&raw, spans);
        }
        let head = ProcessHead::new(status, &raw, spans, spans.len() == fields, has);
        let body = if head_request
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
            || status == StatusCode::SWITCHING_PROTOCOLS
        {
            BodyFraming::Empty
        } else if transfer_encoding {
            if chunked {
                BodyFraming::Chunked
            } else {
                BodyFraming::Close
            }
        } else {
            match length {
                Some(0) => BodyFraming::Empty,
                Some(n) => BodyFraming::Length(n),
                None => BodyFraming::Close,
            }
        };
        if body == BodyFraming::Close {
            keep_alive = false;
        }
        return Ok(Some(Parsed {
            head,
            body,
            keep_alive,
        }));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk-size line.
    Size,
    /// Inside a chunk, this many bytes left.
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer lines up to an empty one (dropped).
    Trailers,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Length(u64),
    Chunked(Chunk),
    Close,
    Done,
}

/// A response body read from the process as the client takes it (and the rest of the
/// request, if it is still going out).
pub(crate) struct BodyReader {
    conn: Option<Conn>,
    state: State,
    keep_alive: bool,
    /// Rare (the client still sending while the process answers), so kept out of line.
    upload: Option<Box<(Upload, Option<Box<ProxyBody>>)>>,
}

impl BodyReader {
    fn new(
        conn: Conn,
        framing: BodyFraming,
        keep_alive: bool,
        upload: Option<Box<(Upload, Option<Box<ProxyBody>>)>>,
    ) -> Self {
        let state = match framing {
            BodyFraming::Empty => State::Done,
            BodyFraming::Length(n) => State::Length(n),
            BodyFraming::Chunked => State::Chunked(Chunk::Size),
            BodyFraming::Close => State::Close,
        };
        BodyReader {
            conn: Some(conn),
            state,
            keep_alive,
            upload,
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The rest of a body of known length that is read already, when it is no more than
    /// `up_to` bytes: handed to `put` and consumed, so a small answer needs no buffer of its
    /// own. `None` (nothing taken) otherwise.
    pub(crate) fn take_buffered(&mut self, up_to: usize, put: impl FnOnce(&[u8])) -> Option<usize> {
        let State::Length(left) = self.state else {
            return None;
        };
        if self.upload.is_some() {
            return None;
        }
        let conn = self.conn.as_mut()?;
        let left = usize::try_from(left)
            .ok()
            .filter(|&n| n <= up_to && n <= conn.buf.len())?;
        put(&conn.buf[..left]);
        conn.buf.advance(left);
        self.state = State::Done;
        Some(left)
    }

    /// Bytes left when the length is known.
    pub(crate) fn exact_len(&self) -> Option<u64> {
        match self.state {
            State::Length(n) => Some(n),
            State::Done => Some(0),
            _ => None,
        }
    }

    /// The connection, for the pool, when the response was read to its end and nothing
    /// followed it.
    pub(crate) fn take_reusable(&mut self) -> Option<Conn> {
        let conn = self.conn.take()?;
        let complete = self.state == State::Done && self.upload.is_none();
        (complete && self.keep_alive && conn.buf.is_empty()).then(|| conn.into_idle())
    }

    /// The next piece of the body; `None` at its end.
    pub(crate) fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        let Some(conn) = self.conn.as_mut() else {
            return Poll::Ready(None);
        };
        if let Some(pending) = &mut self.upload {
            let (upload, body) = &mut **pending;
            match upload.poll(&[], body.as_deref_mut(), &mut conn.io, cx) {
                Poll::Ready(Ok(())) => self.upload = None,
                Poll::Ready(Err(UploadError::Body(e))) => {
                    self.keep_alive = false;
                    self.upload = None;
                    return Poll::Ready(Some(Err(io::Error::other(e))));
                }
                Poll::Ready(Err(UploadError::Write(_))) => {
                    // The process stopped reading; its answer may still be coming.
                    self.keep_alive = false;
                    self.upload = None;
                }
                Poll::Pending => {}
            }
        }
        loop {
            match self.state {
                State::Done => return Poll::Ready(None),
                State::Length(left) => {
                    if !conn.buf.is_empty() {
                        let n = conn
                            .buf
                            .len()
                            .min(usize::try_from(left).unwrap_or(usize::MAX));
                        let data = conn.buf.split_to(n).freeze();
                        let left = left - n as u64;
                        self.state = if left == 0 {
                            State::Done
                        } else {
                            State::Length(left)
                        };
                        return Poll::Ready(Some(Ok(data)));
                    }
                    let want = if left > BODY_READ as u64 {
                        BODY_READ
                    } else {
                        left as usize
                    };
                    if std::task::ready!(conn.poll_fill(cx, want.max(HEAD_READ)))? == 0 {
                        return Poll::Ready(Some(Err(cut_short())));
                    }
                }
                State::Close => {
                    if !conn.buf.is_empty() {
                        return Poll::Ready(Some(Ok(conn.buf.split().freeze())));
                    }
                    if std::task::ready!(conn.poll_fill(cx, BODY_READ))? == 0 {
                        self.state = State::Done;
                    }
                }
                State::Chunked(chunk) => {
                    match step_chunk(&mut conn.buf, chunk) {
                        Ok(Step::Next(next)) => {
                            self.state = next;
                            continue;
                        }
                        Ok(Step::Data(data, next)) => {
                            self.state = next;
                            return Poll::Ready(Some(Ok(data)));
                        }
                        Ok(Step::NeedMore) => {}
                        Err(e) => return Poll::Ready(Some(Err(e))),
                    }
                    if std::task::ready!(conn.poll_fill(cx, BODY_READ))? == 0 {
                        return Poll::Ready(Some(Err(cut_short())));
                    }
                }
            }
        }
    }
}

fn cut_short() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the process closed the connection in the middle of the body",
    )
}

enum Step {
    Next(State),
    Data(Bytes, State),
    NeedMore,
}

/// One step of the chunked decoder over what is buffered.
fn step_chunk(buf: &mut BytesMut, chunk: Chunk) -> io::Result<Step> {
    match chunk {
        Chunk::Size => match httparse::parse_chunk_size(buf) {
            Ok(httparse::Status::Complete((used, size))) => {
                buf.advance(used);
                Ok(Step::Next(State::Chunked(if size == 0 {
                    Chunk::Trailers
                } else {
                    Chunk::Data(size)
                })))
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_CHUNK_LINE => Ok(Step::NeedMore),
            _ => Err(invalid("malformed chunk size in the response body")),
        },
        Chunk::Data(left) => {
            if buf.is_empty() {
                return Ok(Step::NeedMore);
            }
            let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let data = buf.split_to(n).freeze();
            let left = left - n as u64;
            let next = if left == 0 {
                Chunk::DataEnd
            } else {
                Chunk::Data(left)
            };
            Ok(Step::Data(data, State::Chunked(next)))
        }
        Chunk::DataEnd => {
            if buf.len() < 2 {
                return Ok(Step::NeedMore);
            }
            if &buf[..2] != b"\r\n" {
                return Err(invalid("malformed chunk end in the response body"));
            }
            buf.advance(2);
            Ok(Step::Next(State::Chunked(Chunk::Size)))
        }
        Chunk::Trailers => match buf.windows(2).position(|w| w == b"\r\n") {
            Some(0) => {
                buf.advance(2);
                Ok(Step::Next(State::Done))
            }
            Some(end) => {
                buf.advance(end + 2);
                Ok(Step::Next(State::Chunked(Chunk::Trailers)))
            }
            None if buf.len() < MAX_CHUNK_LINE => Ok(Step::NeedMore),
            None => Err(invalid("trailer line too long in the response body")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> io::Result<Option<Parsed>> {
        parse_head(&mut BytesMut::from(raw), false, false)
    }

    #[test]
    fn heads_are_framed_by_their_headers() {
        let p = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello")
            .unwrap()
            .unwrap();
        assert_eq!(p.head.status, 200);
        assert_eq!(p.body, BodyFraming::Length(5));
        assert!(p.keep_alive);
        assert_eq!(p.head.get("x-a"), Some(&b"b"[..]));

        let p = parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.body, BodyFraming::Chunked);
        assert!(!p.head.contains("content-length"));

        // Hop-by-hop fields, and those Connection names, stay with the connection.
        let p = parse(
            b"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\n\
              Keep-Alive: timeout=5\r\nProxy-Foo: bar\r\nProxy: x\r\nTE: trailers\r\n\
              Trailer: x\r\nUpgrade: h2c\r\nX-Kept: yes\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        let left: Vec<&[u8]> = p.head.fields().map(|(name, _)| name).collect();
        assert_eq!(left, [&b"X-Kept"[..], b"Content-Length"]);
        assert!(p.keep_alive);

        let p = parse(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!p.keep_alive);

        let p = parse(b"HTTP/1.0 200 OK\r\n\r\n").unwrap().unwrap();
        assert_eq!(p.body, BodyFraming::Close);
        assert!(!p.keep_alive);

        let p = parse(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(p.body, BodyFraming::Empty);

        let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"[..]);
        let p = parse_head(&mut buf, true, false).unwrap().unwrap();
        assert_eq!(p.body, BodyFraming::Empty);
        assert_eq!(p.head.get("content-length"), Some(&b"9"[..]));
    }

    #[test]
    fn interim_answers_are_skipped_and_partial_heads_wait() {
        let mut buf = BytesMut::from(
            &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"[..],
        );
        let p = parse_head(&mut buf, false, false).unwrap().unwrap();
        assert_eq!(p.head.status, 201);
        assert!(buf.is_empty());
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Le").unwrap().is_none());
    }

    #[test]
    fn bad_heads_are_errors() {
        for raw in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\n",
            b"SMTP ready\r\n\r\n",
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
        ] {
            assert!(parse(raw).is_err(), "{}", String::from_utf8_lossy(raw));
        }
    }

    fn decode_chunked(wire: &[u8]) -> io::Result<(Vec<u8>, usize)> {
        let mut buf = BytesMut::from(wire);
        let mut state = State::Chunked(Chunk::Size);
        let mut out = Vec::new();
        while let State::Chunked(chunk) = state {
            match step_chunk(&mut buf, chunk)? {
                Step::Next(next) => state = next,
                Step::Data(data, next) => {
                    out.extend_from_slice(&data);
                    state = next;
                }
                Step::NeedMore => return Err(io::ErrorKind::UnexpectedEof.into()),
            }
        }
        Ok((out, buf.len()))
    }

    #[test]
    fn chunked_bodies_decode_with_extensions_and_trailers() {
        let (body, left) =
            decode_chunked(b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n").unwrap();
        assert_eq!(body, b"hello world");
        assert_eq!(left, 0);
        assert!(decode_chunked(b"zz\r\nhello\r\n0\r\n\r\n").is_err());
        assert!(decode_chunked(b"5\r\nhelloXX0\r\n\r\n").is_err());
    }
}
