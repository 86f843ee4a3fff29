//! The internal endpoints of routers running on their own (`paasd router`): the route table,
//! long-polled, and their access log coming back. Both take the router token, not a user's.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use paas_api::router_feed::{AccessLogBatch, AccessLogReceipt, RouteTable};

use crate::error::{ApiError, ApiJson, ApiResult};
use crate::router_feed::{next_table, record_access, RouterCaller};
use crate::state::AppState;

/// Under the idle timeouts of common proxies, so a quiet long poll is not cut off.
const DEFAULT_WAIT_SECS: u64 = 25;
const MAX_WAIT_SECS: u64 = 60;

/// `GET /internal/router/routes?after=VERSION&wait=SECS`
pub async fn get_router_routes(
    _router: RouterCaller,
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Json<RouteTable>> {
    let number = |name: &str| -> ApiResult<Option<u64>> {
        query
            .get(name)
            .map(|v| {
                v.parse().map_err(|_| {
                    ApiError::bad_request(format!("{name} must be a whole number, not {v:?}"))
                })
            })
            .transpose()
    };
    let after = number("after")?;
    let wait = number("wait")?
        .unwrap_or(DEFAULT_WAIT_SECS)
        .min(MAX_WAIT_SECS);
    let wait = Duration::from_secs(wait);
    // Just started, the controller has not looked at what runs yet: its empty table would
    // take every app off the routers, so they keep theirs until it has.
    tokio::select! {
        biased;
        _ = state.deployer.routes_built() => {}
        _ = tokio::time::sleep(wait) => return Err(starting()),
        _ = state.stopping.cancelled() => return Err(starting()),
    }
    let table = next_table(state.deployer.routes(), after, wait, &state.stopping).await;
    Ok(Json(table))
}

fn starting() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the controller is starting and has no route table yet; try again shortly",
    )
}

/// `POST /internal/router/access-log`
pub async fn create_access_log_batch(
    _router: RouterCaller,
    State(state): State<AppState>,
    ApiJson(batch): ApiJson<AccessLogBatch>,
) -> Json<AccessLogReceipt> {
    // Only apps the router was told about: a name from elsewhere would make a log of its own.
    let (known, unknown): (Vec<_>, Vec<_>) = {
        let routes = state.deployer.routes();
        let table = routes.borrow();
        batch
            .lines
            .into_iter()
            .partition(|l| table.apps.contains_key(&l.app))
    };
    if !unknown.is_empty() {
        tracing::debug!(
            lines = unknown.len(),
            "access log lines for apps not routed ignored"
        );
    }
    let receipt = AccessLogReceipt {
        accepted: known.len(),
        ignored: unknown.len(),
    };
    for entry in known {
        record_access(&state.logs, &state.metrics, entry);
    }
    Json(receipt)
}
