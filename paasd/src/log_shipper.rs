//! A router on its own sends its access log to the controller in batches. Requests never wait
//! for it: lines queue in a bounded buffer, and when the controller cannot take them for long
//! enough to fill it, new lines are dropped and counted.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use paas_api::router_feed::{AccessLogBatch, AccessLogEntry};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::mpsc;

use crate::controller_client::{Backoff, ControllerClient};

/// Lines held while the controller is away (a few MB at most).
const BUFFER_LINES: usize = 10_000;
const BATCH_LINES: usize = 500;
/// Drops are reported at most this often.
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// Lines lost so far: the buffer was full, or the controller refused a batch.
#[derive(Clone, Default)]
pub struct Dropped(Arc<AtomicU64>);

impl Dropped {
    pub fn total(&self) -> u64 {
        self.0.load(Relaxed)
    }

    fn add(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }

    /// For the router's `/metrics`.
    pub fn prometheus(&self) -> String {
        format!(
            "# HELP paas_router_access_log_dropped_total Access log lines the controller never got.\n\
             # TYPE paas_router_access_log_dropped_total counter\n\
             paas_router_access_log_dropped_total {}\n",
            self.total()
        )
    }
}

pub struct Shipper {
    pub dropped: Dropped,
    tasks: [tokio::task::JoinHandle<()>; 2],
}

impl Shipper {
    /// At shutdown: takes the lines already logged, then gives the controller up to `within`
    /// to receive what is buffered (a router stopping should not lose its last requests' lines).
    pub async fn finish(self, within: Duration) {
        let [intake, send] = self.tasks;
        // Lines of the last requests may still be in the broadcast channel.
        tokio::time::sleep(Duration::from_millis(50)).await;
        intake.abort();
        let _ = intake.await;
        // With the intake gone the buffer closes, and the sender returns once it is empty.
        let abort = send.abort_handle();
        if tokio::time::timeout(within, send).await.is_err() {
            abort.abort();
            tracing::warn!(
                "access log lines still buffered at shutdown are lost: the controller did not take them"
            );
        }
    }
}

pub fn spawn(
    lines: broadcast::Receiver<paas_router::AccessLogLine>,
    client: ControllerClient,
) -> Shipper {
    let dropped = Dropped::default();
    let (tx, rx) = mpsc::channel(BUFFER_LINES);
    let intake = tokio::spawn(intake(lines, tx, dropped.clone()));
    let send = tokio::spawn(send(rx, client, dropped.clone()));
    Shipper {
        dropped,
        tasks: [intake, send],
    }
}

async fn intake(
    mut lines: broadcast::Receiver<paas_router::AccessLogLine>,
    buffer: mpsc::Sender<AccessLogEntry>,
    dropped: Dropped,
) {
    let mut reported = (Instant::now(), 0);
    loop {
        let lost = match lines.recv().await {
            Ok(line) => match buffer.try_send(crate::access_log::entry(line)) {
                Ok(()) => 0,
                Err(mpsc::error::TrySendError::Full(_)) => 1,
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            },
            Err(RecvError::Lagged(n)) => n,
            Err(RecvError::Closed) => return,
        };
        if lost > 0 {
            dropped.add(lost);
            let total = dropped.total();
            if reported.0.elapsed() >= REPORT_EVERY || reported.1 == 0 {
                tracing::warn!(
                    dropped = total - reported.1,
                    total,
                    "access log lines dropped: the controller is not taking them"
                );
                reported = (Instant::now(), total);
            }
        }
    }
}

async fn send(
    mut buffer: mpsc::Receiver<AccessLogEntry>,
    client: ControllerClient,
    dropped: Dropped,
) {
    let mut batch = AccessLogBatch::default();
    let mut backoff = Backoff::new();
    loop {
        if buffer.recv_many(&mut batch.lines, BATCH_LINES).await == 0 {
            return;
        }
        // The same batch until it is delivered: what was served while the controller was
        // away still reaches the apps' logs, up to the buffer's size.
        let mut said = false;
        loop {
            match client.send_access_log(&batch).await {
                Ok(()) => {
                    if said {
                        tracing::info!(controller = %client.url(), "access log reaches the controller again");
                    }
                    break;
                }
                Err(e) if e.retry() => {
                    if !said {
                        tracing::warn!(error = %e, lines = batch.lines.len(), "access log not sent; retrying");
                        said = true;
                    }
                    backoff.wait().await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, lines = batch.lines.len(), "access log lines dropped");
                    dropped.add(batch.lines.len() as u64);
                    break;
                }
            }
        }
        backoff.reset();
        batch.lines.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: u16) -> paas_router::AccessLogLine {
        paas_router::AccessLogLine {
            app: "hello".into(),
            line: format!("at=info status={n}"),
            release: Some(1),
            process: Some("web.1".into()),
            status: n,
            service: Duration::from_millis(3),
            bytes: 10,
        }
    }

    #[tokio::test]
    async fn a_full_buffer_drops_and_counts_without_waiting() {
        let (lines, rx) = broadcast::channel(64);
        let (tx, mut buffer) = mpsc::channel(2);
        let dropped = Dropped::default();
        let intake = tokio::spawn(intake(rx, tx, dropped.clone()));
        for n in 0..5 {
            lines.send(line(200 + n)).unwrap();
        }
        drop(lines);
        intake.await.unwrap();
        assert_eq!(dropped.total(), 3);
        assert_eq!(buffer.recv().await.unwrap().status, 200);
        assert_eq!(buffer.recv().await.unwrap().service_us, 3000);
        assert!(dropped
            .prometheus()
            .contains("paas_router_access_log_dropped_total 3"));
    }
}
