//! `GET /apps/{app}/metrics?since=1h`: what each release's processes served and used.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use paas_api::metrics::{parse_since, MetricsReport, MetricsSeries};

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::state::AppState;

/// The figures are kept for a day.
const MAX_SINCE: u64 = 86_400;

pub async fn get_metrics(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<ApiJson<MetricsReport>> {
    let app = state.app_for(&user, &name).await?;
    let since = match query.get("since") {
        Some(s) => parse_since(s).map_err(ApiError::invalid)?,
        None => 3600,
    };
    if since > MAX_SINCE {
        return Err(ApiError::invalid(
            "metrics are kept for a day: use since=1d or less",
        ));
    }
    let series = state
        .metrics
        .summary(&app.name, Duration::from_secs(since))
        .into_iter()
        .map(|s| MetricsSeries {
            release: s.release,
            process_type: s.process_type,
            requests: s.requests,
            status_1xx: s.status_1xx,
            status_2xx: s.status_2xx,
            status_3xx: s.status_3xx,
            status_4xx: s.status_4xx,
            status_5xx: s.status_5xx,
            p50_ms: s.p50_ms,
            p95_ms: s.p95_ms,
            p99_ms: s.p99_ms,
            bytes: s.bytes,
            memory_avg_bytes: s.memory_avg_bytes,
            memory_max_bytes: s.memory_max_bytes,
            cpu_avg_percent: s.cpu_avg_percent,
        })
        .collect();
    Ok(ApiJson(MetricsReport {
        since_seconds: since,
        series,
    }))
}
