//! `GET /metrics` on `--metrics-listen`, in the Prometheus text format: what each part knows
//! (the router its requests, the controller its processes' resource use).

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

pub type MetricsText = Arc<dyn Fn() -> String + Send + Sync>;

pub fn serve(listener: TcpListener, text: MetricsText, stop: watch::Receiver<bool>) {
    let metrics = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let body = text();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4",
                    )],
                    body,
                )
            }
        }),
    );
    let serving =
        axum::serve(listener, metrics).with_graceful_shutdown(crate::shutdown::stopped(stop));
    tokio::spawn(async move {
        if let Err(e) = serving.await {
            tracing::warn!(error = %e, "serving metrics");
        }
    });
}
