//! `/apps/{app}/router-settings`: timeouts, body limit, HTTPS redirect and balancing per app.

use axum::extract::{Path, State};
use paas_api::{RouterSettings, RouterSettingsUpdate};

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::state::AppState;
use crate::store::AppRow;

fn current(app: &AppRow) -> RouterSettings {
    serde_json::from_str(&app.router_settings).unwrap_or_default()
}

pub async fn get_router_settings(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<RouterSettings>> {
    let app = state.app_for(&user, &name).await?;
    Ok(ApiJson(current(&app)))
}

/// Takes effect on the next request (the route table is swapped).
pub async fn update_router_settings(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
    ApiJson(update): ApiJson<RouterSettingsUpdate>,
) -> ApiResult<ApiJson<RouterSettings>> {
    let app = state.app_for(&user, &name).await?;
    let settings = current(&app).updated(&update).map_err(ApiError::invalid)?;
    let json = serde_json::to_string(&settings).map_err(ApiError::internal)?;
    state.store.set_router_settings(&app.id, &json).await?;
    state.deployer.publish_routes().await?;
    state.platform_event(
        &app.name,
        format!("Router settings changed by {}", user.name),
    );
    Ok(ApiJson(settings))
}
