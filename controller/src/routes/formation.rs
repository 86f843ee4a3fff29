use std::collections::BTreeMap;

use axum::extract::{Path, State};
use paas_api::{Formation, FormationBatchUpdate, FormationUpdate};
use serde::Deserialize;

use crate::auth::AuthUser;
use crate::deploy::process_commands;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::state::AppState;
use crate::store::AppRow;
use crate::views;

/// A sane upper bound per type on one host.
const MAX_QUANTITY: i64 = 100;

/// The process types the current release can run, with their commands.
async fn current_commands(
    state: &AppState,
    app: &AppRow,
) -> ApiResult<Option<BTreeMap<String, Option<String>>>> {
    let Some(release) = state.store.current_release(&app.id).await? else {
        return Ok(None);
    };
    let Some(build_id) = release.build_id else {
        return Ok(None);
    };
    let build = state.store.build_by_id(&build_id).await?;
    Ok(build.map(|b| process_commands(&b.process_types())))
}

async fn formation_view(state: &AppState, app: &AppRow) -> ApiResult<Vec<Formation>> {
    let commands = current_commands(state, app).await?.unwrap_or_default();
    let rows = state.store.formation(&app.id).await?;
    Ok(rows
        .iter()
        .map(|f| views::formation(app, f, commands.get(&f.process_type).cloned().flatten()))
        .collect())
}

pub async fn list_formation(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<Vec<Formation>>> {
    let app = state.app_for(&user, &name).await?;
    Ok(ApiJson(formation_view(&state, &app).await?))
}

pub async fn update_formation(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
    ApiJson(batch): ApiJson<FormationBatchUpdate>,
) -> ApiResult<ApiJson<Vec<Formation>>> {
    let app = state.app_for(&user, &name).await?;
    scale(&state, &app, &user, &batch.updates).await?;
    Ok(ApiJson(formation_view(&state, &app).await?))
}

#[derive(Deserialize)]
pub struct QuantityUpdate {
    quantity: serde_json::Value,
}

/// `PATCH /apps/{app}/formation/{type}` with `{"quantity": N}`.
pub async fn update_formation_type(
    State(state): State<AppState>,
    user: AuthUser,
    Path((name, process_type)): Path<(String, String)>,
    ApiJson(body): ApiJson<QuantityUpdate>,
) -> ApiResult<ApiJson<Formation>> {
    let app = state.app_for(&user, &name).await?;
    let update: FormationUpdate = serde_json::from_value(
        serde_json::json!({"type": process_type, "quantity": body.quantity}),
    )
    .map_err(|e| ApiError::invalid(e.to_string()))?;
    scale(&state, &app, &user, std::slice::from_ref(&update)).await?;
    formation_view(&state, &app)
        .await?
        .into_iter()
        .find(|f| f.process_type == update.process_type)
        .map(ApiJson)
        .ok_or_else(|| ApiError::internal("formation row missing after update"))
}

/// Validates every update first, so a bad one changes nothing, then applies and converges.
async fn scale(
    state: &AppState,
    app: &AppRow,
    user: &AuthUser,
    updates: &[FormationUpdate],
) -> ApiResult<()> {
    if updates.is_empty() {
        return Err(ApiError::invalid(
            "no updates given: send {\"updates\":[{\"type\":\"web\",\"quantity\":2}]}",
        ));
    }
    let commands = current_commands(state, app).await?.ok_or_else(|| {
        ApiError::invalid(format!(
            "app {:?} has no build yet: `git push` code before scaling",
            app.name
        ))
    })?;
    let mut changes = Vec::new();
    for u in updates {
        if paas_scheduler::reconcile::ONE_OFF_TYPES.contains(&u.process_type.as_str()) {
            return Err(ApiError::invalid(format!(
                "process type {:?} runs once per release, not as a scaled process: scale the others",
                u.process_type
            )));
        }
        if !commands.contains_key(&u.process_type) {
            let known: Vec<&str> = commands.keys().map(String::as_str).collect();
            return Err(ApiError::invalid(format!(
                "no process type {:?} in the current release; it has: {}",
                u.process_type,
                known.join(", ")
            )));
        }
        if !(0..=MAX_QUANTITY).contains(&u.quantity) {
            return Err(ApiError::invalid(format!(
                "quantity {} out of range: use 0 to {MAX_QUANTITY}",
                u.quantity
            )));
        }
        changes.push((u.process_type.clone(), u.quantity));
    }
    state.store.set_quantities(&app.id, &changes).await?;
    tracing::info!(app = %app.name, changes = ?changes, "scaled");
    let described: Vec<String> = changes.iter().map(|(t, q)| format!("{t}@{q}")).collect();
    state.platform_event(
        &app.name,
        format!("Scaled to {} by {}", described.join(", "), user.name),
    );
    state.deployer.converge(app).await?;
    state.deployer.publish_routes().await?;
    Ok(())
}
