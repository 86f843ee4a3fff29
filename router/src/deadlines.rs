//! A client connection's deadlines, kept with one timer per connection instead of one or two
//! per request: how long an HTTP/1.1 connection may wait for a complete request head (the
//! slowloris guard and keep-alive idle limit), and how long a request may wait for the
//! process's response head (504).
//!
//! hyper's header read timeout and a `tokio::time::timeout` per request each allocate, arm and
//! drop a timer for every request (~2,400 instructions of a proxied request together). Here a
//! request costs a few atomic stores and one clock read; the connection's watchdog timer fires
//! only at the deadlines (and is polled only then, see [`gated`](crate::gate::gated)).

use std::future::{poll_fn, Future};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::task::{Poll, Waker};
use std::time::Duration;

use tokio::time::Instant;

/// `since` while a request is being answered; `response_due` when nothing is due.
const NONE: u64 = u64::MAX;

pub(crate) struct Deadlines {
    epoch: Instant,
    /// Milliseconds after `epoch` at which the connection began waiting for a head (`NONE`
    /// while a request is answered).
    since: AtomicU64,
    /// When the current request's response head is overdue.
    response_due: AtomicU64,
    /// Set by the watchdog when `response_due` passed.
    overdue: AtomicBool,
    /// When the watchdog's timer fires next.
    armed: AtomicU64,
    /// The watchdog's waker, to bring an earlier deadline to its attention.
    watchdog: Mutex<Option<Waker>>,
}

impl Deadlines {
    pub(crate) fn new() -> Self {
        Deadlines {
            epoch: Instant::now(),
            since: AtomicU64::new(0),
            response_due: AtomicU64::new(NONE),
            overdue: AtomicBool::new(false),
            armed: AtomicU64::new(NONE),
            watchdog: Mutex::new(None),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    fn at(&self, ms: u64) -> Instant {
        self.epoch + Duration::from_millis(ms)
    }

    /// A request head arrived: no head deadline while it is answered.
    pub(crate) fn in_service(&self) {
        self.since.store(NONE, Relaxed);
        self.overdue.store(false, Relaxed);
    }

    /// The request goes to a process, whose response head is due at `deadline` (computed from
    /// an instant the request already read: no clock read here).
    pub(crate) fn expect_response_by(&self, deadline: std::time::Instant) {
        let after_epoch = Instant::from_std(deadline).saturating_duration_since(self.epoch);
        let due = u64::try_from(after_epoch.as_millis()).unwrap_or(NONE - 1);
        self.response_due.store(due, Relaxed);
        if due < self.armed.load(Relaxed) {
            // Sooner than the watchdog looks next (an app with a short response timeout).
            self.armed.store(due, Relaxed);
            let watchdog = self.watchdog.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(watchdog) = watchdog.as_ref() {
                watchdog.wake_by_ref();
            }
        }
    }

    /// Whether the watchdog found the response head overdue.
    pub(crate) fn response_overdue(&self) -> bool {
        self.overdue.load(Relaxed)
    }

    /// The response head arrived (or the request is settled otherwise).
    pub(crate) fn response_head_arrived(&self) {
        self.response_due.store(NONE, Relaxed);
    }

    /// The response went out: the next head is waited for from now.
    pub(crate) fn restart(&self) {
        self.since.store(self.now_ms(), Relaxed);
    }

    /// The connection's watchdog: marks overdue responses (waking the connection, whose request
    /// then answers 504) and resolves once the connection has waited `head_limit` for a head.
    pub(crate) async fn watch(&self, head_limit: Duration) {
        let limit = u64::try_from(head_limit.as_millis()).unwrap_or(NONE / 2);
        self.armed.store(limit, Relaxed);
        let mut slept_until = limit;
        let mut sleep = Box::pin(tokio::time::sleep_until(self.at(limit)));
        poll_fn(|cx| {
            {
                let mut watchdog = self.watchdog.lock().unwrap_or_else(|e| e.into_inner());
                if !watchdog.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *watchdog = Some(cx.waker().clone());
                }
            }
            loop {
                let armed = self.armed.load(Relaxed);
                if armed != slept_until {
                    sleep.as_mut().reset(self.at(armed));
                    slept_until = armed;
                }
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let now = self.now_ms();
                let since = self.since.load(Relaxed);
                let next = if since != NONE {
                    let due = since.saturating_add(limit);
                    if now >= due {
                        return Poll::Ready(());
                    }
                    due
                } else {
                    let due = self.response_due.load(Relaxed);
                    if due == NONE {
                        // A request is answered; looked at again later.
                        now + limit
                    } else if now >= due {
                        self.response_due.store(NONE, Relaxed);
                        self.overdue.store(true, Relaxed);
                        // The request's future runs in this connection's task: it sees the
                        // flag on the next poll.
                        cx.waker().wake_by_ref();
                        now + limit
                    } else {
                        due
                    }
                };
                self.armed.store(next, Relaxed);
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn only_waiting_for_a_head_counts() {
        let clock = Deadlines::new();
        let limit = Duration::from_secs(30);
        // Waiting from the start: expires at the limit.
        let started = Instant::now();
        clock.watch(limit).await;
        assert!(started.elapsed() >= limit);

        // A request in service for longer than the limit does not expire; its end restarts
        // the wait.
        clock.in_service();
        let waited = tokio::time::timeout(Duration::from_secs(95), clock.watch(limit)).await;
        assert!(waited.is_err(), "no deadline while a request is answered");
        clock.restart();
        let restarted = Instant::now();
        clock.watch(limit).await;
        let waited = restarted.elapsed();
        assert!(waited >= limit && waited < limit * 2, "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_response_head_is_due_within_its_limit_even_a_short_one() {
        let clock = Deadlines::new();
        clock.in_service();
        let watching = clock.watch(Duration::from_secs(30));
        let request = async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            // Shorter than the head limit the watchdog is armed with: it must wake sooner.
            let asked = Instant::now();
            clock.expect_response_by((asked + Duration::from_secs(2)).into_std());
            tokio::time::sleep(Duration::from_millis(1900)).await;
            assert!(!clock.response_overdue(), "not before its time");
            while !clock.response_overdue() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let waited = asked.elapsed();
            assert!(waited < Duration::from_millis(2200), "{waited:?}");

            // An answered request leaves nothing due.
            clock.in_service();
            clock.expect_response_by((Instant::now() + Duration::from_secs(1)).into_std());
            clock.response_head_arrived();
            tokio::time::sleep(Duration::from_secs(5)).await;
            assert!(!clock.response_overdue());
        };
        tokio::select! {
            () = watching => panic!("no head wait while a request is answered"),
            () = request => {}
        }
    }
}
