//! Which backend a request tries first, and which next when a connection cannot be made.

use std::sync::atomic::Ordering::Relaxed;

use crate::table::{AppEntry, Backend};

/// After a refused connection a backend is tried last for this long (it is most likely a
/// process that just died; the scheduler will take it out of the table soon).
const DOWN_FOR_MS: u64 = 3_000;

/// Backends in the order one request should try them: round robin from the app's counter,
/// those that recently refused connections after all the others.
pub(crate) struct Candidates<'a> {
    backends: &'a [Backend],
    start: usize,
    pos: usize,
    end: usize,
    /// Snapshot of which backends (of the first 64) are down, taken once so that marking one
    /// down during this request does not make it come round again.
    down: u64,
}

impl<'a> Candidates<'a> {
    pub(crate) fn new(entry: &'a AppEntry, now_ms: impl Fn() -> u64) -> Self {
        let backends = &entry.backends[..];
        let n = backends.len();
        let start = if n == 0 {
            0
        } else {
            entry.next.fetch_add(1, Relaxed) % n
        };
        let mut down = 0u64;
        // The clock is read only when some backend has been marked, i.e. rarely.
        let mut now = 0;
        for (i, backend) in backends.iter().enumerate().take(64) {
            let until = backend.down_until.load(Relaxed);
            if until == 0 {
                continue;
            }
            if now == 0 {
                now = now_ms();
            }
            if until > now {
                down |= 1 << i;
            } else {
                // Expired: clear it so later requests skip the clock again.
                let _ = backend
                    .down_until
                    .compare_exchange(until, 0, Relaxed, Relaxed);
            }
        }
        Candidates {
            backends,
            start,
            pos: 0,
            end: if down == 0 { n } else { 2 * n },
            down,
        }
    }
}

impl<'a> Iterator for Candidates<'a> {
    type Item = &'a Backend;

    fn next(&mut self) -> Option<&'a Backend> {
        let n = self.backends.len();
        while self.pos < self.end {
            // First pass: backends that are up; second pass: the ones marked down.
            let second_pass = self.pos >= n;
            let idx = (self.start + self.pos) % n;
            self.pos += 1;
            let is_down = idx < 64 && self.down & (1 << idx) != 0;
            if is_down == second_pass {
                return Some(&self.backends[idx]);
            }
        }
        None
    }
}

/// Records that connecting to `backend` failed at `now_ms`; true when it was up until now.
pub(crate) fn mark_down(backend: &Backend, now_ms: u64) -> bool {
    let was = backend.down_until.swap(now_ms + DOWN_FOR_MS, Relaxed);
    was <= now_ms
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Router;
    use std::net::SocketAddr;

    fn entry(n: u16) -> std::sync::Arc<AppEntry> {
        let router = Router::new("paas.test");
        let addrs = (1..=n)
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
            .collect();
        router.set_app("web", addrs);
        router.lookup("web").unwrap()
    }

    fn ports(c: Candidates<'_>) -> Vec<u16> {
        c.map(|b| b.addr.port()).collect()
    }

    #[test]
    fn round_robin_rotates_the_start() {
        let e = entry(3);
        assert_eq!(ports(Candidates::new(&e, || 1)), [1, 2, 3]);
        assert_eq!(ports(Candidates::new(&e, || 1)), [2, 3, 1]);
        assert_eq!(ports(Candidates::new(&e, || 1)), [3, 1, 2]);
        assert_eq!(ports(Candidates::new(&e, || 1)), [1, 2, 3]);
    }

    #[test]
    fn down_backends_come_last_until_they_expire() {
        let e = entry(3);
        mark_down(&e.backends[0], 100);
        assert_eq!(ports(Candidates::new(&e, || 200)), [2, 3, 1]);
        assert_eq!(ports(Candidates::new(&e, || 200)), [2, 3, 1]);
        assert_eq!(ports(Candidates::new(&e, || 200)), [3, 2, 1]);
        // Marking during iteration does not repeat a backend.
        let mut c = Candidates::new(&e, || 200);
        let first = c.next().unwrap();
        mark_down(first, 200);
        let rest: Vec<_> = c.map(|b| b.addr.port()).collect();
        assert_eq!(rest.len(), 2);
        assert!(!rest.contains(&first.addr.port()));

        let later = 100 + DOWN_FOR_MS + 1;
        let all: Vec<_> = ports(Candidates::new(&e, || later + DOWN_FOR_MS));
        assert_eq!(all.len(), 3);
        assert_eq!(e.backends[0].down_until.load(Relaxed), 0);
    }

    #[test]
    fn no_backends_no_candidates() {
        let e = entry(0);
        assert_eq!(ports(Candidates::new(&e, || 1)), Vec::<u16>::new());
    }
}
