//! Handing a request to one of the app's processes, moving on to the next while it cannot be
//! sent.

use std::time::Duration;

use tracing::warn;

use crate::access_log::Failure;
use crate::balance::{self, Candidates};
use crate::body::{self, BodyError};
use crate::client::{self, Answer, SendError};
use crate::route::Balance;
use crate::router::Router;
use crate::table::{AppEntry, Pool, UpstreamRef};
use crate::upstream::{Checkout, InFlight};

/// A stale pooled connection hands the request back; try this many before the next process.
const ATTEMPTS_PER_PROCESS: usize = 3;

pub(crate) struct Forwarded {
    pub(crate) answer: Answer,
    pub(crate) at: UpstreamRef,
    /// The request counts against the process's load until [`Upstream::done`].
    pub(crate) counted: bool,
    /// Time to open the connection, when one was opened.
    pub(crate) connect: Option<Duration>,
}

/// Sends `req` to the pool's processes in turn until one takes it, and returns its response
/// head. Only a request that was not sent moves on (a failed connect, a pooled connection
/// that closed): once a process may have seen it, its failure is the answer. `tried` names
/// the last process tried, also when this future is dropped on a timeout.
pub(crate) async fn forward<'e>(
    router: &Router,
    entry: &'e AppEntry,
    pool: &'e Pool,
    mut req: client::Request,
    upgrade: bool,
    tried: &mut Option<UpstreamRef>,
) -> Result<Forwarded, Failure> {
    let route = &entry.route;
    let canary = entry.is_canary(pool);
    let count = route.balance == Balance::LeastOutstanding;
    let mut failure = Failure::ConnectFailed;
    for (index, upstream) in Candidates::new(pool, route.balance, || router.now_ms()) {
        let at = UpstreamRef { canary, index };
        *tried = Some(at);
        for _ in 0..ATTEMPTS_PER_PROCESS {
            // Most requests find an idle connection: no connect future to make for them.
            let checkout = match upstream.take_idle() {
                Some(conn) => Ok(Checkout {
                    conn,
                    connect: None,
                }),
                None => upstream.connect(route.timeouts.connect).await,
            };
            let checkout = match checkout {
                Ok(checkout) => checkout,
                Err(err) => {
                    upstream.series.upstream_error();
                    if balance::mark_down(upstream, router.now_ms()) {
                        warn!(app = %entry.name, backend = %upstream.addr, error = %err,
                            "cannot connect to process; trying others first for a while");
                    }
                    failure = Failure::ConnectFailed;
                    break;
                }
            };
            let in_flight = count.then(|| InFlight::new(upstream));
            req.count_into(&upstream.series);
            match client::send(checkout.conn, req, upgrade).await {
                Ok(answer) => {
                    return Ok(Forwarded {
                        answer,
                        at,
                        counted: in_flight.map(InFlight::keep).is_some(),
                        connect: checkout.connect,
                    })
                }
                Err(SendError::Retry(back)) => {
                    req = back;
                    failure = Failure::NoResponse;
                }
                Err(SendError::Body(err)) => {
                    return Err(match body::body_error(&*err) {
                        Some(BodyError::TooLarge(_)) => Failure::BodyTooLarge,
                        Some(BodyError::Idle(_)) => Failure::ClientIdle,
                        // The client went away mid-body: nobody hears the answer.
                        None => Failure::ClientGone,
                    });
                }
                Err(SendError::Process(err)) => {
                    upstream.series.upstream_error();
                    warn!(app = %entry.name, backend = %upstream.addr, error = %err,
                        "process failed before answering");
                    return Err(Failure::NoResponse);
                }
            }
        }
    }
    Err(failure)
}
