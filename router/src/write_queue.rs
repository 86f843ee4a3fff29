//! Bytes on their way into a socket: heads written in place, small pieces copied next to them,
//! large ones queued as they are.
//!
//! A response is typically a head and a body of a few bytes to a few kilobytes. Writing the
//! head straight into the queue's own buffer and copying a small body after it makes the whole
//! answer one `send` with no allocation, no reference counting of shared buffers and no
//! vectored write (the kernel's vectored path, through the file layer, costs more than copying
//! a few kilobytes here). Large pieces (a body streamed in 64 KiB reads) are not copied.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::AsyncWrite;
use tokio::net::TcpStream;

/// Pieces up to this size are copied into the queue's buffer rather than queued.
const COPY_UP_TO: usize = 4 * 1024;
/// Queued pieces are copied together for one `send` while they come to no more than this.
const JOIN_UP_TO: usize = 16 * 1024;
/// Most pieces given to one vectored write.
const MAX_SLICES: usize = 8;

#[derive(Default)]
pub(crate) struct WriteQueue {
    /// Goes out first. Kept (cleared) between writes for its capacity.
    text: BytesMut,
    /// How much of `text` is out.
    sent: usize,
    /// Goes out after `text`.
    bufs: VecDeque<Bytes>,
}

impl WriteQueue {
    pub(crate) fn is_empty(&self) -> bool {
        self.sent == self.text.len() && self.bufs.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.sent = 0;
        self.bufs.clear();
    }

    /// Lets `write` append bytes that go out after everything queued so far.
    pub(crate) fn write_with(&mut self, write: impl FnOnce(&mut BytesMut)) {
        if self.bufs.is_empty() {
            write(&mut self.text);
        } else {
            let mut piece = BytesMut::new();
            write(&mut piece);
            self.bufs.push_back(piece.freeze());
        }
    }

    /// Queues a copy of `bytes`.
    pub(crate) fn put(&mut self, bytes: &[u8]) {
        if self.bufs.is_empty() {
            self.text.extend_from_slice(bytes);
        } else {
            self.bufs.push_back(Bytes::copy_from_slice(bytes));
        }
    }

    /// Queues `bytes`, copied when small.
    pub(crate) fn push(&mut self, bytes: Bytes) {
        if bytes.len() <= COPY_UP_TO && self.bufs.is_empty() {
            self.text.extend_from_slice(&bytes);
        } else if !bytes.is_empty() {
            self.bufs.push_back(bytes);
        }
    }

    /// Queues a piece of a body, as a chunk when the body is chunked.
    pub(crate) fn push_data(&mut self, data: Bytes, chunked: bool) {
        if chunked {
            self.write_with(|text| {
                let _ = write!(text, "{:x}\r\n", data.len());
            });
            self.push(data);
            self.put(b"\r\n");
        } else {
            self.push(data);
        }
    }

    /// Writes until everything is out (`Ready(Ok)`) or the socket is full (`Pending`).
    pub(crate) fn poll_write(
        &mut self,
        io: &mut TcpStream,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while !self.is_empty() {
            self.join_small();
            let written = if self.sent == self.text.len() && self.bufs.len() == 1 {
                std::task::ready!(Pin::new(&mut *io).poll_write(cx, &self.bufs[0]))?
            } else if self.bufs.is_empty() {
                std::task::ready!(Pin::new(&mut *io).poll_write(cx, &self.text[self.sent..]))?
            } else {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let mut count = 0;
                if self.sent < self.text.len() {
                    slices[0] = IoSlice::new(&self.text[self.sent..]);
                    count = 1;
                }
                for buf in &self.bufs {
                    if count == MAX_SLICES {
                        break;
                    }
                    slices[count] = IoSlice::new(buf);
                    count += 1;
                }
                std::task::ready!(Pin::new(&mut *io).poll_write_vectored(cx, &slices[..count]))?
            };
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.consume(written);
        }
        Poll::Ready(Ok(()))
    }

    /// Copies queued pieces behind the unsent text while all of it stays small, so that one
    /// `send` takes them.
    fn join_small(&mut self) {
        if self.bufs.is_empty() || (self.sent == self.text.len() && self.bufs.len() == 1) {
            return;
        }
        let mut total = self.text.len() - self.sent;
        let mut take = 0;
        for buf in &self.bufs {
            if total + buf.len() > JOIN_UP_TO {
                break;
            }
            total += buf.len();
            take += 1;
        }
        if take == 0 {
            return;
        }
        if self.sent == self.text.len() {
            self.text.clear();
            self.sent = 0;
        }
        for buf in self.bufs.drain(..take) {
            self.text.extend_from_slice(&buf);
        }
    }

    fn consume(&mut self, mut written: usize) {
        let unsent = self.text.len() - self.sent;
        if unsent > 0 {
            let n = written.min(unsent);
            self.sent += n;
            written -= n;
            if self.sent == self.text.len() {
                self.text.clear();
                self.sent = 0;
            }
        }
        while written > 0 {
            let front = self.bufs.front_mut().expect("written bytes were queued");
            if front.len() <= written {
                written -= front.len();
                self.bufs.pop_front();
            } else {
                front.advance(written);
                written = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        (client.unwrap(), accepted.unwrap().0)
    }

    /// Writes everything queued, reading the other end whenever the socket is full; returns
    /// what was read meanwhile.
    async fn drain(queue: &mut WriteQueue, from: &mut TcpStream, to: &mut TcpStream) -> Vec<u8> {
        let mut got = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let done = poll_fn(|cx| match queue.poll_write(from, cx) {
                Poll::Ready(result) => Poll::Ready(Some(result)),
                Poll::Pending => Poll::Ready(None),
            })
            .await;
            match done {
                Some(result) => {
                    result.unwrap();
                    break;
                }
                None => {
                    let n = to.read(&mut chunk).await.unwrap();
                    got.extend_from_slice(&chunk[..n]);
                }
            }
        }
        assert!(queue.is_empty());
        got
    }

    async fn read_exactly(to: &mut TcpStream, mut got: Vec<u8>, len: usize) -> Vec<u8> {
        let mut chunk = vec![0u8; 64 * 1024];
        while got.len() < len {
            let n = to.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the stream ended after {} of {len} bytes", got.len());
            got.extend_from_slice(&chunk[..n]);
        }
        got
    }

    fn pattern(len: usize, seed: u8) -> Bytes {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect::<Vec<u8>>()
            .into()
    }

    #[tokio::test]
    async fn pieces_of_all_sizes_arrive_in_order() {
        let (mut from, mut to) = pair().await;
        let mut queue = WriteQueue::default();
        let mut expected = Vec::new();
        queue.write_with(|text| text.extend_from_slice(b"HTTP/1.1 200 OK\r\n\r\n"));
        expected.extend_from_slice(b"HTTP/1.1 200 OK\r\n\r\n");
        for (i, len) in [13, 5000, 1, 300_000, 2, 20_000, 3000, 0, 70_000, 7]
            .into_iter()
            .enumerate()
        {
            let piece = pattern(len, i as u8);
            expected.extend_from_slice(&piece);
            queue.push_data(piece, false);
            queue.put(b"|");
            expected.push(b'|');
        }
        queue.write_with(|text| text.extend_from_slice(b"end"));
        expected.extend_from_slice(b"end");
        let got = drain(&mut queue, &mut from, &mut to).await;
        let got = read_exactly(&mut to, got, expected.len()).await;
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "the bytes arrived out of order");
    }

    #[tokio::test]
    async fn chunked_pieces_are_framed() {
        let (mut from, mut to) = pair().await;
        let mut queue = WriteQueue::default();
        queue.push_data(Bytes::from_static(b"hello"), true);
        queue.push_data(pattern(40_000, 3), true);
        queue.push_data(Bytes::from_static(b"!"), true);
        queue.put(b"0\r\n\r\n");
        let mut expected = b"5\r\nhello\r\n9c40\r\n".to_vec();
        expected.extend_from_slice(&pattern(40_000, 3));
        expected.extend_from_slice(b"\r\n1\r\n!\r\n0\r\n\r\n");
        let got = drain(&mut queue, &mut from, &mut to).await;
        let got = read_exactly(&mut to, got, expected.len()).await;
        assert!(got == expected, "chunked framing differs");
    }

    #[tokio::test]
    async fn the_buffer_is_reused_once_out() {
        let (mut from, mut to) = pair().await;
        let mut queue = WriteQueue::default();
        for round in 0..3u8 {
            queue.write_with(|text| text.extend_from_slice(b"head\r\n\r\n"));
            queue.push(Bytes::from_static(b"Hello, world!"));
            let got = drain(&mut queue, &mut from, &mut to).await;
            let got = read_exactly(&mut to, got, 21).await;
            assert_eq!(&got[..], b"head\r\n\r\nHello, world!", "round {round}");
            assert_eq!(queue.sent, 0);
            assert!(queue.text.is_empty() && queue.text.capacity() >= 21);
        }
    }
}
