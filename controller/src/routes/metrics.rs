//! `GET /apps/{app}/metrics?since=1h`: what each release's processes served and used.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use paas_api::metrics::{
    parse_since, MetricsPoint, MetricsReport, MetricsSeries, MetricsTimeSeries,
};

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
    let since = since_param(&query)?;
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

fn since_param(query: &HashMap<String, String>) -> ApiResult<u64> {
    let since = match query.get("since") {
        Some(s) => parse_since(s).map_err(ApiError::invalid)?,
        None => 3600,
    };
    if since > MAX_SINCE {
        return Err(ApiError::invalid(
            "metrics are kept for a day: use since=1d or less",
        ));
    }
    Ok(since)
}

/// `GET /apps/{app}/metrics/series?since=1h&step=5`: the same figures per step of minutes.
pub async fn get_metrics_series(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<ApiJson<MetricsTimeSeries>> {
    let app = state.app_for(&user, &name).await?;
    let since = since_param(&query)?;
    let step: u32 = match query.get("step") {
        Some(s) => s
            .parse()
            .ok()
            .filter(|n| (1..=1440).contains(n))
            .ok_or_else(|| ApiError::invalid("step must be whole minutes, from 1 to 1440"))?,
        None => 1,
    };
    let points = state
        .metrics
        .series(&app.name, Duration::from_secs(since), step)
        .into_iter()
        .map(|p| MetricsPoint {
            at: p.at,
            release: p.release,
            process_type: p.process_type,
            requests: p.requests,
            status_1xx: p.by_class[0],
            status_2xx: p.by_class[1],
            status_3xx: p.by_class[2],
            status_4xx: p.by_class[3],
            status_5xx: p.by_class[4],
            p50_ms: p.p50_ms,
            p95_ms: p.p95_ms,
            memory_avg_bytes: p.memory_avg_bytes,
        })
        .collect();
    Ok(ApiJson(MetricsTimeSeries {
        since_seconds: since,
        step_minutes: step,
        points,
    }))
}
