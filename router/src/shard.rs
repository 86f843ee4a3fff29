//! Per-thread slots for state every request touches, so the router's threads do not keep
//! stealing the same cache lines from each other.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Slots per sharded value; threads beyond this share.
pub(crate) const SHARDS: usize = 4;

/// This thread's slot.
pub(crate) fn index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SLOT: usize = NEXT.fetch_add(1, Relaxed) % SHARDS;
    }
    SLOT.with(|s| *s)
}

/// A value on a cache line of its own.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);
