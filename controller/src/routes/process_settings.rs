//! `/apps/{app}/limits` and `/apps/{app}/healthchecks`: per process type settings.

use std::collections::HashMap;

use axum::extract::{Path, State};
use paas_api::{
    format_memory, parse_memory, validate_process_type, HealthCheck, HealthChecksPatch,
    LimitsPatch, ProcessLimits,
};

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::routes::releases::deploy_release;
use crate::state::AppState;
use crate::store::{AppRow, ProcessSettingsRow};

/// Docker refuses less.
const MIN_MEMORY: i64 = 6 << 20;
const MAX_CPUS: f64 = 1024.0;

async fn settings_by_type(
    state: &AppState,
    app: &AppRow,
) -> ApiResult<HashMap<String, ProcessSettingsRow>> {
    Ok(state
        .store
        .process_settings(&app.id)
        .await?
        .into_iter()
        .map(|s| (s.process_type.clone(), s))
        .collect())
}

fn limits_view(s: &ProcessSettingsRow) -> ProcessLimits {
    ProcessLimits {
        process_type: s.process_type.clone(),
        memory: s.memory_bytes.map(format_memory),
        memory_bytes: s.memory_bytes,
        cpu: s.nano_cpus.map(|n| n as f64 / 1e9),
    }
}

fn health_view(s: &ProcessSettingsRow) -> HealthCheck {
    HealthCheck {
        process_type: s.process_type.clone(),
        path: s.health_path.clone(),
        attempts: u32::try_from(s.health_attempts).unwrap_or(3),
        interval: s.health_interval_ms as f64 / 1000.0,
        timeout: s.health_timeout_ms as f64 / 1000.0,
    }
}

pub async fn list_limits(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<Vec<ProcessLimits>>> {
    let app = state.app_for(&user, &name).await?;
    let rows = state.store.process_settings(&app.id).await?;
    Ok(ApiJson(
        rows.iter()
            .filter(|s| s.memory_bytes.is_some() || s.nano_cpus.is_some())
            .map(limits_view)
            .collect(),
    ))
}

/// New limits make a new release (same build and config), deployed like any other.
pub async fn update_limits(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
    ApiJson(patch): ApiJson<LimitsPatch>,
) -> ApiResult<ApiJson<Vec<ProcessLimits>>> {
    let app = state.app_for(&user, &name).await?;
    if patch.is_empty() {
        return Err(ApiError::invalid(
            "no limits given: send {\"web\": {\"memory\": \"512M\", \"cpu\": 0.5}}",
        ));
    }
    let mut current = settings_by_type(&state, &app).await?;
    let mut rows = Vec::new();
    let mut described = Vec::new();
    for (process_type, update) in &patch {
        validate_process_type(process_type)?;
        let memory = update
            .memory
            .as_deref()
            .map(parse_memory)
            .transpose()
            .map_err(ApiError::invalid)?;
        if memory.is_some_and(|m| m < MIN_MEMORY) {
            return Err(ApiError::invalid(format!(
                "memory limit for {process_type} too small: use at least 6M"
            )));
        }
        if let Some(cpu) = update.cpu {
            if !(cpu > 0.0 && cpu <= MAX_CPUS) {
                return Err(ApiError::invalid(format!(
                    "cpu limit for {process_type} must be above 0, e.g. 0.5"
                )));
            }
        }
        let mut row = current
            .remove(process_type)
            .unwrap_or_else(|| ProcessSettingsRow::defaults(process_type));
        row.memory_bytes = memory;
        row.nano_cpus = update.cpu.map(|c| (c * 1e9).round() as i64);
        let memory = memory
            .map(format_memory)
            .unwrap_or_else(|| "unlimited".into());
        let cpu = update
            .cpu
            .map(|c| c.to_string())
            .unwrap_or_else(|| "unlimited".into());
        described.push(format!("{process_type} memory {memory}, cpu {cpu}"));
        rows.push(row);
    }
    state.store.set_process_settings(&app.id, &rows).await?;
    let description = format!("Set limits: {}", described.join("; "));
    let release = state
        .store
        .change_config(&app.id, &Default::default(), description, &user.id)
        .await?;
    deploy_release(&state, &app, &release).await?;
    list_limits(State(state), user, Path(name)).await
}

pub async fn list_healthchecks(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<Vec<HealthCheck>>> {
    let app = state.app_for(&user, &name).await?;
    let rows = state.store.process_settings(&app.id).await?;
    Ok(ApiJson(rows.iter().map(health_view).collect()))
}

/// Applies to processes started from now on (the next deploy, restart or scale).
pub async fn update_healthchecks(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
    ApiJson(patch): ApiJson<HealthChecksPatch>,
) -> ApiResult<ApiJson<Vec<HealthCheck>>> {
    let app = state.app_for(&user, &name).await?;
    if patch.is_empty() {
        return Err(ApiError::invalid(
            "no health checks given: send {\"web\": {\"path\": \"/health\"}}",
        ));
    }
    let mut current = settings_by_type(&state, &app).await?;
    let mut rows = Vec::new();
    for (process_type, update) in &patch {
        validate_process_type(process_type)?;
        if let Some(path) = &update.path {
            if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(ApiError::invalid(format!(
                    "health check path {path:?} must start with / and have no spaces"
                )));
            }
        }
        let secs = |v: Option<f64>, default: i64, what: &str| -> ApiResult<i64> {
            match v {
                None => Ok(default),
                Some(s) if s > 0.0 && s <= 3600.0 => Ok((s * 1000.0).round() as i64),
                Some(_) => Err(ApiError::invalid(format!(
                    "{what} must be between 0 and 3600 seconds"
                ))),
            }
        };
        let mut row = current
            .remove(process_type)
            .unwrap_or_else(|| ProcessSettingsRow::defaults(process_type));
        row.health_path = update.path.clone();
        row.health_attempts = match update.attempts {
            Some(0) => return Err(ApiError::invalid("attempts must be at least 1")),
            Some(a) => i64::from(a),
            None => row.health_attempts,
        };
        row.health_interval_ms = secs(update.interval, row.health_interval_ms, "interval")?;
        row.health_timeout_ms = secs(update.timeout, row.health_timeout_ms, "timeout")?;
        rows.push(row);
    }
    state.store.set_process_settings(&app.id, &rows).await?;
    list_healthchecks(State(state), user, Path(name)).await
}
