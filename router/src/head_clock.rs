//! The slowloris guard for HTTP/1.1 client connections: how long a connection has been
//! waiting for a complete request head (after its previous response, or since it opened).
//!
//! hyper can enforce this itself, but it allocates, arms and drops a timer for every request
//! (~1,500 instructions, 6% of a proxied request). Here a request costs two stores and a clock
//! read, and one timer per connection fires only at the deadlines (polled only then, see
//! [`gated`](crate::gate::gated)).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::time::Instant;

/// `since` while a request is being answered.
const IN_SERVICE: u64 = u64::MAX;

pub(crate) struct HeadClock {
    epoch: Instant,
    /// Milliseconds after `epoch` at which the connection began waiting for a head.
    since: AtomicU64,
}

impl HeadClock {
    pub(crate) fn new() -> Self {
        HeadClock {
            epoch: Instant::now(),
            since: AtomicU64::new(0),
        }
    }

    /// A request head arrived: no deadline while it is answered.
    pub(crate) fn in_service(&self) {
        self.since.store(IN_SERVICE, Relaxed);
    }

    /// The response went out: the next head is waited for from now.
    pub(crate) fn restart(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(IN_SERVICE - 1);
        self.since.store(now, Relaxed);
    }

    /// Resolves once the connection has waited `limit` for a head (never while a request is
    /// answered). The connection's task polls this on every wake-up, so between deadlines a
    /// poll is only the timer's: the clock is read when the timer fires.
    pub(crate) async fn expired(&self, limit: Duration) {
        let mut deadline = self.epoch + limit;
        loop {
            tokio::time::sleep_until(deadline).await;
            let since = self.since.load(Relaxed);
            if since == IN_SERVICE {
                // Looked at again later: a request rarely takes that long.
                deadline = Instant::now() + limit;
                continue;
            }
            deadline = self.epoch + Duration::from_millis(since) + limit;
            if Instant::now() >= deadline {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn only_waiting_for_a_head_counts() {
        let clock = HeadClock::new();
        let limit = Duration::from_secs(30);
        // Waiting from the start: expires at the limit.
        let started = Instant::now();
        clock.expired(limit).await;
        assert!(started.elapsed() >= limit);

        // A request in service for longer than the limit does not expire; its end restarts
        // the wait.
        clock.in_service();
        let waited = tokio::time::timeout(Duration::from_secs(95), clock.expired(limit)).await;
        assert!(waited.is_err(), "no deadline while a request is answered");
        clock.restart();
        let restarted = Instant::now();
        clock.expired(limit).await;
        let waited = restarted.elapsed();
        assert!(waited >= limit && waited < limit * 2, "{waited:?}");
    }
}
