//! One process of an app as the router sees it: its address, health, load and its own pool of
//! keep-alive connections.
//!
//! The pool is per process rather than one shared client, so checking a connection out takes
//! one uncontended lock and connecting is a step of its own: a request is only handed to a
//! connection that exists, and a failed connect can move on to the next process with the
//! request untouched.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::client::Conn;
use crate::metrics::Series;
use crate::shard::{self, Padded, SHARDS};

/// Idle connections kept per process and thread; more than this many concurrent requests open
/// new connections that are closed afterwards.
const MAX_IDLE: usize = 128;

pub(crate) struct Upstream {
    pub(crate) addr: SocketAddr,
    /// `web.1`, for the access log.
    pub(crate) dyno: Box<str>,
    pub(crate) release: u64,
    pub(crate) series: Arc<Series>,
    /// Router-clock millisecond until which connecting is pointless (0: not down).
    pub(crate) down_until: AtomicU64,
    /// Requests sent and not finished, for least-outstanding balancing (only counted for apps
    /// that balance so).
    pub(crate) in_flight: AtomicUsize,
    /// Idle connections per thread: a connection's task runs on the thread that opened it, so
    /// reusing it from that thread wakes no other.
    idle: [Padded<Mutex<Idle>>; SHARDS],
}

#[derive(Default)]
struct Idle {
    conns: Vec<Conn>,
    /// Connections given back, for looking at the oldest now and then.
    returned: u32,
}

/// Every this many connections given back, the oldest idle one is looked at.
const LOOK_AT_OLDEST_EVERY: u32 = 16;

/// A connection ready for one request; `connect` is `Some` when it was opened for it.
pub(crate) struct Checkout {
    pub(crate) conn: Conn,
    pub(crate) connect: Option<Duration>,
}

impl Upstream {
    pub(crate) fn new(addr: SocketAddr, dyno: &str, release: u64, series: Arc<Series>) -> Self {
        Upstream {
            addr,
            dyno: dyno.into(),
            release,
            series,
            down_until: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            idle: Default::default(),
        }
    }

    /// An idle keep-alive connection, when one is still usable.
    pub(crate) fn take_idle(&self) -> Option<Conn> {
        let idle = &self.idle[shard::index()].0;
        loop {
            let mut conn = idle.lock().unwrap_or_else(|e| e.into_inner()).conns.pop()?;
            if conn.is_usable() {
                return Some(conn);
            }
        }
    }

    /// A new connection, and how long it took.
    pub(crate) async fn connect(&self, connect_timeout: Duration) -> io::Result<Checkout> {
        let started = Instant::now();
        let conn = Conn::connect(self.addr, connect_timeout).await?;
        Ok(Checkout {
            conn,
            connect: Some(started.elapsed()),
        })
    }

    /// Returns a connection whose last response was read to the end.
    pub(crate) fn give_back(&self, conn: Conn) {
        let mut idle = self.idle[shard::index()]
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // The oldest idle connection is the likeliest to have been closed by the process:
        // looking at it now and then keeps closed ones from piling up (not on every return:
        // that is a readiness check per request, for connections that are nearly always fine).
        idle.returned = idle.returned.wrapping_add(1);
        if idle.returned.is_multiple_of(LOOK_AT_OLDEST_EVERY)
            && idle
                .conns
                .first_mut()
                .is_some_and(|oldest| !oldest.is_usable())
        {
            idle.conns.remove(0);
        }
        if idle.conns.len() < MAX_IDLE {
            idle.conns.push(conn);
        }
    }

    pub(crate) fn is_same(&self, addr: SocketAddr, dyno: &str, release: u64) -> bool {
        self.addr == addr && &*self.dyno == dyno && self.release == release
    }
}

/// Counts a request against its process (for least-outstanding balancing) until dropped or
/// handed on with [`InFlight::keep`].
pub(crate) struct InFlight<'a>(&'a Upstream);

impl<'a> InFlight<'a> {
    pub(crate) fn new(upstream: &'a Upstream) -> Self {
        upstream.in_flight.fetch_add(1, Relaxed);
        InFlight(upstream)
    }

    /// Leaves the count up; whoever takes over calls [`Upstream::done`].
    pub(crate) fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.done();
    }
}

impl Upstream {
    pub(crate) fn done(&self) {
        self.in_flight.fetch_sub(1, Relaxed);
    }
}
