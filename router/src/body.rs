//! Bodies on their way through: the request body to a process (limited, counted, watched for
//! silence) and the response body to the client (counted, watched, and closing the request's
//! books when it ends).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::Sleep;

use crate::access_log::{Failure, LogCtx, Outcome};
use crate::client::{BodyReader, Conn};
use crate::metrics::Series;
use crate::proxy::ConnCtx;
use crate::table::{AppEntry, UpstreamRef};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("request body is larger than the app's limit of {0} bytes")]
    TooLarge(u64),
    #[error("nothing moved on the body for {0:?}")]
    Idle(Duration),
}

/// Fires when a stream stays silent too long. Armed only when the stream has to wait, so a
/// body that is ready at once costs no timer.
pub(crate) struct Idle {
    timeout: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    /// The timer runs from the first wait after the last progress.
    armed: bool,
}

impl Idle {
    pub(crate) fn new(timeout: Duration) -> Self {
        Idle {
            timeout,
            sleep: None,
            armed: false,
        }
    }

    /// After the stream returned `Pending`: `Ready` when it has been silent for too long.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<BodyError> {
        if !self.armed {
            let deadline = tokio::time::Instant::now() + self.timeout;
            match &mut self.sleep {
                Some(sleep) => sleep.as_mut().reset(deadline),
                None => self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
            self.armed = true;
        }
        let sleep = self.sleep.as_mut().expect("armed above");
        ready!(sleep.as_mut().poll(cx));
        Poll::Ready(BodyError::Idle(self.timeout))
    }

    pub(crate) fn progress(&mut self) {
        self.armed = false;
    }
}

/// The request body sent to a process.
pub(crate) struct ProxyBody {
    inner: Incoming,
    limit: u64,
    seen: u64,
    idle: Idle,
    series: Option<Arc<Series>>,
}

impl ProxyBody {
    pub(crate) fn new(body: Incoming, limit: Option<u64>, idle: Duration) -> Self {
        ProxyBody {
            inner: body,
            limit: limit.unwrap_or(u64::MAX),
            seen: 0,
            idle: Idle::new(idle),
            series: None,
        }
    }

    /// Where the bytes sent are counted.
    pub(crate) fn count_into(&mut self, series: &Arc<Series>) {
        self.series = Some(Arc::clone(series));
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => this.idle.poll_expired(cx).map(|e| Some(Err(e.into()))),
            Poll::Ready(Some(Ok(frame))) => {
                this.idle.progress();
                if let Some(data) = frame.data_ref() {
                    let n = data.len() as u64;
                    this.seen += n;
                    if this.seen > this.limit {
                        return Poll::Ready(Some(Err(BodyError::TooLarge(this.limit).into())));
                    }
                    if let Some(series) = &this.series {
                        series.bytes_in(n);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(err.into()))),
            Poll::Ready(None) => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// What is settled when a response ends: metrics, the process's load and pooled connection,
/// the access log line.
pub(crate) struct Finish {
    pub(crate) entry: Option<Arc<AppEntry>>,
    /// The process that answered (or was tried last).
    pub(crate) upstream: Option<UpstreamRef>,
    /// Whether the request counts against the process's load.
    pub(crate) counted: bool,
    pub(crate) started: Instant,
    pub(crate) connect: Duration,
    pub(crate) status: u16,
    pub(crate) failure: Option<Failure>,
    pub(crate) log: Option<Box<LogCtx>>,
}

impl Finish {
    /// `conn` is the connection the response came on, when it can serve another request.
    fn run(self, bytes: u64, conn: Option<Conn>) {
        let Finish {
            entry,
            upstream,
            counted,
            started,
            connect,
            status,
            failure,
            log,
        } = self;
        let total = started.elapsed();
        let Some(entry) = entry else { return };
        let upstream = upstream.and_then(|at| entry.upstream(at));
        upstream
            .map_or(&entry.series, |u| &u.series)
            .record(status, total, bytes);
        if let Some(upstream) = upstream {
            if counted {
                upstream.done();
            }
            if let Some(conn) = conn {
                upstream.give_back(conn);
            }
        }
        if let Some(log) = log {
            log.send(&Outcome {
                app: &entry.name,
                dyno: upstream.map(|u| &*u.dyno),
                release: upstream.map(|u| u.release),
                failure,
                status,
                connect,
                total,
                bytes,
            });
        }
    }
}

enum Inner {
    Upstream(BodyReader),
    Full(Option<Bytes>),
}

/// The body the router answers with: a process's streamed body or one of its own pages.
pub(crate) struct ResponseBody {
    inner: Inner,
    idle: Option<Idle>,
    sent: u64,
    finish: Option<Finish>,
    /// Told when the body is out, so the connection's wait for its next head starts.
    head: Option<Arc<ConnCtx>>,
}

impl ResponseBody {
    pub(crate) fn full(bytes: Bytes) -> Self {
        ResponseBody {
            inner: Inner::Full(Some(bytes)),
            idle: None,
            sent: 0,
            finish: None,
            head: None,
        }
    }

    pub(crate) fn upstream(body: BodyReader, idle: Duration) -> Self {
        ResponseBody {
            inner: Inner::Upstream(body),
            idle: Some(Idle::new(idle)),
            sent: 0,
            finish: None,
            head: None,
        }
    }

    pub(crate) fn set_finish(&mut self, finish: Finish) {
        self.finish = Some(finish);
    }

    pub(crate) fn restart_head_clock(&mut self, conn: Arc<ConnCtx>) {
        self.head = Some(conn);
    }

    /// Hands the rest of the body to `put` when the process's whole answer is read already and
    /// no more than `up_to` bytes (see [`BodyReader::take_buffered`]), and ends the body.
    pub(crate) fn take_buffered(&mut self, up_to: usize, put: impl FnOnce(&[u8])) -> bool {
        let Inner::Upstream(reader) = &mut self.inner else {
            return false;
        };
        let Some(n) = reader.take_buffered(up_to, put) else {
            return false;
        };
        self.took(n);
        true
    }

    /// Counts `n` bytes taken from the process.
    fn took(&mut self, n: usize) {
        self.sent += n as u64;
        if let Some(idle) = &mut self.idle {
            idle.progress();
        }
        // Settle as soon as the last bytes are out of the process's connection, so it is
        // pooled again before the client even gets them.
        if self.is_end_stream() {
            self.end();
        }
    }

    fn end(&mut self) {
        if let Some(finish) = self.finish.take() {
            let conn = match &mut self.inner {
                Inner::Upstream(reader) => reader.take_reusable(),
                Inner::Full(_) => None,
            };
            finish.run(self.sent, conn);
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let polled = match &mut this.inner {
            Inner::Full(data) => Poll::Ready(data.take().map(Ok)),
            Inner::Upstream(reader) => reader.poll_data(cx),
        };
        match polled {
            Poll::Pending => {
                if let Some(idle) = &mut this.idle {
                    if let Poll::Ready(err) = idle.poll_expired(cx) {
                        this.end();
                        return Poll::Ready(Some(Err(err.into())));
                    }
                }
                Poll::Pending
            }
            Poll::Ready(Some(Ok(data))) => {
                this.took(data.len());
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
            Poll::Ready(Some(Err(err))) => {
                this.end();
                Poll::Ready(Some(Err(err.into())))
            }
            Poll::Ready(None) => {
                this.end();
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Upstream(reader) => reader.is_done(),
            Inner::Full(data) => data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Upstream(reader) => reader
                .exact_len()
                .map_or_else(SizeHint::default, SizeHint::with_exact),
            Inner::Full(Some(data)) => SizeHint::with_exact(data.len() as u64),
            Inner::Full(None) => SizeHint::with_exact(0),
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        // The server may stop polling once `is_end_stream` says so.
        self.end();
        if let Some(conn) = self.head.take() {
            conn.deadlines.restart();
        }
    }
}

/// The request body problem behind `err`, if that is what it was.
pub(crate) fn body_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a BodyError> {
    let mut source = Some(err);
    while let Some(err) = source {
        if let Some(found) = err.downcast_ref::<BodyError>() {
            return Some(found);
        }
        source = err.source();
    }
    None
}
