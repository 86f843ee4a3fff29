//! The request body sent to a backend.
//!
//! A connect failure consumes the request, body included. [`Reclaimable`] hands an unread body
//! back on drop so it can go to the next backend; once the body has been polled it is not
//! handed back, which is exactly when a retry would no longer be safe.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::sync::oneshot;

pub(crate) enum ProxyBody {
    Empty,
    Stream(Incoming),
    Reclaimable(Reclaimable),
}

pub(crate) struct Reclaimable {
    body: Option<Incoming>,
    /// Present until the body is first polled.
    give_back: Option<oneshot::Sender<Incoming>>,
}

impl Reclaimable {
    pub(crate) fn new(body: Incoming) -> (Self, oneshot::Receiver<Incoming>) {
        let (tx, rx) = oneshot::channel();
        let body = Reclaimable {
            body: Some(body),
            give_back: Some(tx),
        };
        (body, rx)
    }
}

impl Drop for Reclaimable {
    fn drop(&mut self) {
        if let (Some(tx), Some(body)) = (self.give_back.take(), self.body.take()) {
            // The receiver may be gone (request abandoned); then the body just drops.
            let _ = tx.send(body);
        }
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            ProxyBody::Empty => Poll::Ready(None),
            ProxyBody::Stream(body) => Pin::new(body).poll_frame(cx),
            ProxyBody::Reclaimable(r) => {
                r.give_back = None;
                match r.body.as_mut() {
                    Some(body) => Pin::new(body).poll_frame(cx),
                    None => Poll::Ready(None),
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Empty => true,
            ProxyBody::Stream(body) => body.is_end_stream(),
            ProxyBody::Reclaimable(r) => r.body.as_ref().is_none_or(Body::is_end_stream),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Empty => SizeHint::with_exact(0),
            ProxyBody::Stream(body) => body.size_hint(),
            ProxyBody::Reclaimable(r) => r
                .body
                .as_ref()
                .map_or_else(|| SizeHint::with_exact(0), Body::size_hint),
        }
    }
}
