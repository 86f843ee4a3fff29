//! `/apps/{app}/log-drains`: where an app's log lines are forwarded.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use paas_api::{LogDrain, LogDrainCreate};
use paas_telemetry::drain::{Drain, Target};

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::state::AppState;
use crate::store::{AppRow, DrainRow};
use crate::views;

fn view(d: &DrainRow) -> LogDrain {
    LogDrain {
        id: views::uid(&d.id),
        url: d.url.clone(),
        token: format!("d.{}", d.app_name),
        created_at: d.created_at,
        updated_at: d.created_at,
    }
}

/// Restarts the app's drain senders from the store (after a change, and at start).
pub async fn load_drains(state: &AppState, app: &AppRow) -> ApiResult<Vec<DrainRow>> {
    let rows = state.store.drains(&app.id).await?;
    let drains = rows
        .iter()
        .filter_map(|d| match Drain::start(&app.name, &d.id, &d.url, &state.settings.drains) {
            Ok(drain) => Some(drain),
            Err(e) => {
                tracing::warn!(app = %app.name, drain = %d.url, error = %e, "drain not started");
                None
            }
        })
        .collect();
    state.logs.set_drains(&app.name, drains);
    Ok(rows)
}

pub async fn list_log_drains(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<Vec<LogDrain>>> {
    let app = state.app_for(&user, &name).await?;
    let rows = state.store.drains(&app.id).await?;
    Ok(ApiJson(rows.iter().map(view).collect()))
}

pub async fn create_log_drain(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<LogDrainCreate>,
) -> ApiResult<(StatusCode, ApiJson<LogDrain>)> {
    let app = state.app_for(&user, &name).await?;
    let url = req.url.trim();
    Target::parse(url).map_err(ApiError::invalid)?;
    state.store.add_drain(&app.id, url).await?;
    let rows = load_drains(&state, &app).await?;
    state.platform_event(&app.name, format!("Drain {url} added by {}", user.name));
    let row = rows
        .iter()
        .find(|d| d.url == url)
        .ok_or_else(|| ApiError::internal("drain missing after insert"))?;
    Ok((StatusCode::CREATED, ApiJson(view(row))))
}

/// By id or by URL.
pub async fn delete_log_drain(
    State(state): State<AppState>,
    user: AuthUser,
    Path((name, which)): Path<(String, String)>,
) -> ApiResult<ApiJson<LogDrain>> {
    let app = state.app_for(&user, &name).await?;
    let rows = state.store.drains(&app.id).await?;
    let row = rows
        .into_iter()
        .find(|d| d.id == which || d.url == which)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no drain {which:?} on {name:?}; `paas drains` lists them"
            ))
        })?;
    state.store.remove_drain(&app.id, &row.id).await?;
    load_drains(&state, &app).await?;
    state.platform_event(
        &app.name,
        format!("Drain {} removed by {}", row.url, user.name),
    );
    Ok(ApiJson(view(&row)))
}
