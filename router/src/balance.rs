//! Which process a request tries first, and which next when a connection cannot be made.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use crate::route::Balance;
use crate::shard;
use crate::table::Pool;
use crate::upstream::Upstream;

/// After a refused connection a process is tried last for this long (it is most likely a
/// process that just died; the scheduler will take it out of the table soon).
const DOWN_FOR_MS: u64 = 3_000;

/// Processes in the order one request should try them: round robin from the pool's counter
/// (or the least loaded first), those that recently refused connections after all the others.
pub(crate) struct Candidates<'a> {
    upstreams: &'a [Arc<Upstream>],
    start: usize,
    pos: usize,
    end: usize,
    /// Snapshot of which processes (of the first 64) are down, taken once so that marking one
    /// down during this request does not make it come round again.
    down: u64,
    /// Least-outstanding: the process to try before the round-robin order (then skipped in it).
    first: Option<usize>,
    first_given: bool,
}

impl<'a> Candidates<'a> {
    pub(crate) fn new(pool: &'a Pool, balance: Balance, now_ms: impl Fn() -> u64) -> Self {
        let upstreams = &pool.upstreams[..];
        let n = upstreams.len();
        let start = if n <= 1 {
            0
        } else {
            pool.next[shard::index()].0.fetch_add(1, Relaxed) % n
        };
        let mut down = 0u64;
        // The clock is read only when some process has been marked, i.e. rarely.
        let mut now = 0;
        for (i, upstream) in upstreams.iter().enumerate().take(64) {
            let until = upstream.down_until.load(Relaxed);
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
                let _ = upstream
                    .down_until
                    .compare_exchange(until, 0, Relaxed, Relaxed);
            }
        }
        let is_down = |i: usize| i < 64 && down & (1 << i) != 0;
        let first = match balance {
            Balance::RoundRobin => None,
            Balance::LeastOutstanding => (0..n)
                .map(|k| (start + k) % n)
                .filter(|&i| !is_down(i))
                .min_by_key(|&i| upstreams[i].in_flight.load(Relaxed)),
        };
        Candidates {
            upstreams,
            start,
            pos: 0,
            end: if down == 0 { n } else { 2 * n },
            down,
            first,
            first_given: false,
        }
    }
}

impl<'a> Iterator for Candidates<'a> {
    /// The process and its index in the pool.
    type Item = (usize, &'a Arc<Upstream>);

    fn next(&mut self) -> Option<Self::Item> {
        if let (Some(first), false) = (self.first, self.first_given) {
            self.first_given = true;
            return Some((first, &self.upstreams[first]));
        }
        let n = self.upstreams.len();
        while self.pos < self.end {
            // First pass: processes that are up; second pass: the ones marked down.
            let second_pass = self.pos >= n;
            let idx = (self.start + self.pos) % n;
            self.pos += 1;
            let is_down = idx < 64 && self.down & (1 << idx) != 0;
            if is_down == second_pass && Some(idx) != self.first {
                return Some((idx, &self.upstreams[idx]));
            }
        }
        None
    }
}

/// Records that connecting to `upstream` failed at `now_ms`; true when it was up until now.
pub(crate) fn mark_down(upstream: &Upstream, now_ms: u64) -> bool {
    let was = upstream.down_until.swap(now_ms + DOWN_FOR_MS, Relaxed);
    was <= now_ms
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Series;
    use std::net::SocketAddr;

    fn pool(n: u16) -> Pool {
        Pool::new(
            (1..=n)
                .map(|p| {
                    let addr = SocketAddr::from(([127, 0, 0, 1], p));
                    Arc::new(Upstream::new(addr, "web.1", 1, Arc::new(Series::default())))
                })
                .collect(),
        )
    }

    fn ports(c: Candidates<'_>) -> Vec<u16> {
        c.map(|(_, b)| b.addr.port()).collect()
    }

    const RR: Balance = Balance::RoundRobin;

    #[test]
    fn round_robin_rotates_the_start() {
        let p = pool(3);
        assert_eq!(ports(Candidates::new(&p, RR, || 1)), [1, 2, 3]);
        assert_eq!(ports(Candidates::new(&p, RR, || 1)), [2, 3, 1]);
        assert_eq!(ports(Candidates::new(&p, RR, || 1)), [3, 1, 2]);
        assert_eq!(ports(Candidates::new(&p, RR, || 1)), [1, 2, 3]);
    }

    #[test]
    fn least_outstanding_goes_first_then_round_robin() {
        let p = pool(3);
        p.upstreams[0].in_flight.store(5, Relaxed);
        p.upstreams[1].in_flight.store(1, Relaxed);
        p.upstreams[2].in_flight.store(3, Relaxed);
        let lor = Balance::LeastOutstanding;
        assert_eq!(ports(Candidates::new(&p, lor, || 1)), [2, 1, 3]);
        assert_eq!(ports(Candidates::new(&p, lor, || 1)), [2, 3, 1]);
        // A process marked down is not picked first however idle it is.
        mark_down(&p.upstreams[1], 1);
        assert_eq!(ports(Candidates::new(&p, lor, || 2)), [3, 1, 2]);
    }

    #[test]
    fn down_processes_come_last_until_they_expire() {
        let p = pool(3);
        mark_down(&p.upstreams[0], 100);
        assert_eq!(ports(Candidates::new(&p, RR, || 200)), [2, 3, 1]);
        assert_eq!(ports(Candidates::new(&p, RR, || 200)), [2, 3, 1]);
        assert_eq!(ports(Candidates::new(&p, RR, || 200)), [3, 2, 1]);
        // Marking during iteration does not repeat a process.
        let mut c = Candidates::new(&p, RR, || 200);
        let (_, first) = c.next().unwrap();
        mark_down(first, 200);
        let rest: Vec<_> = c.map(|(_, b)| b.addr.port()).collect();
        assert_eq!(rest.len(), 2);
        assert!(!rest.contains(&first.addr.port()));

        let later = 100 + DOWN_FOR_MS + 1;
        let all: Vec<_> = ports(Candidates::new(&p, RR, || later + DOWN_FOR_MS));
        assert_eq!(all.len(), 3);
        assert_eq!(p.upstreams[0].down_until.load(Relaxed), 0);
    }

    #[test]
    fn no_processes_no_candidates() {
        let p = pool(0);
        assert_eq!(ports(Candidates::new(&p, RR, || 1)), Vec::<u16>::new());
        let p = pool(1);
        assert_eq!(
            ports(Candidates::new(&p, Balance::LeastOutstanding, || 1)),
            [1]
        );
    }
}
