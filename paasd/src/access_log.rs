//! The router's access log as the controller records it: each request joins its app's log
//! stream (source `router`) and per-release metrics, directly in one process, or shipped
//! over HTTP by a router on its own (`log_shipper`).

use std::sync::Arc;

use paas_api::router_feed::AccessLogEntry;
use tokio::sync::broadcast::{self, error::RecvError};

pub fn entry(l: paas_router::AccessLogLine) -> AccessLogEntry {
    AccessLogEntry {
        app: l.app.to_string(),
        release: l.release,
        process: l.process.map(String::from),
        status: l.status,
        service_us: u64::try_from(l.service.as_micros()).unwrap_or(u64::MAX),
        bytes: l.bytes,
        line: l.line,
    }
}

/// All in one process: every line straight into the controller's streams.
pub async fn into_streams(
    mut lines: broadcast::Receiver<paas_router::AccessLogLine>,
    logs: Arc<paas_telemetry::LogHub>,
    metrics: Arc<paas_telemetry::metrics::Metrics>,
) {
    loop {
        match lines.recv().await {
            Ok(l) => paas_controller::router_feed::record_access(&logs, &metrics, entry(l)),
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(lines = n, "access log lines dropped: logging fell behind")
            }
            Err(RecvError::Closed) => return,
        }
    }
}
