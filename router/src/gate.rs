//! Futures that sit beside a connection in a `select!` (its stop signal, its timers) are
//! polled on every wake-up of the connection's task, that is several times per request,
//! although they are almost never ready. [`Gated`] polls its future only after that future's
//! own waker fired.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

/// `future`, polled only when it asked to be (boxed once: one allocation per connection).
pub(crate) fn gated<F: Future>(future: F) -> Gated<F> {
    Gated {
        future: Box::pin(future),
        signal: Arc::new(Signal {
            woken: AtomicBool::new(true),
            task: Mutex::new(None),
        }),
        waker: None,
    }
}

pub(crate) struct Gated<F> {
    future: Pin<Box<F>>,
    signal: Arc<Signal>,
    /// The waker handed to `future`, made once.
    waker: Option<Waker>,
}

struct Signal {
    woken: AtomicBool,
    /// The task to wake on the future's behalf.
    task: Mutex<Option<Waker>>,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(task) = task.as_ref() {
            task.wake_by_ref();
        }
    }
}

impl<F: Future> Future for Gated<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        if !this.signal.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        {
            // The same task polls this every time; its waker is stored once.
            let mut task = this.signal.task.lock().unwrap_or_else(|e| e.into_inner());
            if !task.as_ref().is_some_and(|t| t.will_wake(cx.waker())) {
                *task = Some(cx.waker().clone());
            }
        }
        let waker = this
            .waker
            .get_or_insert_with(|| Waker::from(Arc::clone(&this.signal)));
        this.future.as_mut().poll(&mut Context::from_waker(waker))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_gated_future_completes_when_its_own_waker_fires() {
        let sleep = gated(tokio::time::sleep(Duration::from_secs(5)));
        let started = tokio::time::Instant::now();
        sleep.await;
        assert!(started.elapsed() >= Duration::from_secs(5));

        let (tx, mut rx) = tokio::sync::watch::channel(false);
        let changed = tokio::spawn(async move { gated(rx.changed()).await.is_ok() });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!changed.is_finished());
        tx.send(true).unwrap();
        assert!(changed.await.unwrap());
    }
}
