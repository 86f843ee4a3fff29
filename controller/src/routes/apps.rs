use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use paas_api::{validate_app_name, App, AppCreate};

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::range::Range;
use crate::state::AppState;
use crate::store::AppRow;
use crate::views;

/// Names that would collide with the platform's own paths on the API listener.
const RESERVED: [&str; 6] = [
    "dashboard",
    "api",
    "internal",
    "account",
    "healthz",
    "openapi",
];

pub(crate) async fn app_view(state: &AppState, app: &AppRow) -> ApiResult<App> {
    let current = state.store.current_release(&app.id).await?;
    Ok(views::app(&state.settings, app, current.as_ref()))
}

pub async fn list_apps(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
) -> ApiResult<ApiJson<Vec<App>>> {
    let rows = state
        .store
        .list_apps((!user.admin).then_some(user.id.as_str()))
        .await?;
    let mut apps = Vec::with_capacity(rows.len());
    for row in &rows {
        apps.push(app_view(&state, row).await?);
    }
    Ok(ApiJson(
        Range::from_headers(&headers).apply(apps, |a| a.name.clone()),
    ))
}

pub async fn create_app(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<AppCreate>,
) -> ApiResult<(StatusCode, ApiJson<App>)> {
    validate_app_name(&req.name)?;
    if RESERVED.contains(&req.name.as_str()) {
        return Err(ApiError::invalid(format!(
            "app name {:?} is reserved; pick another",
            req.name
        )));
    }
    let app = state.store.create_app(&req.name, &user.id).await?;
    tracing::info!(app = %app.name, user = %user.name, "app created");
    Ok((StatusCode::CREATED, ApiJson(app_view(&state, &app).await?)))
}

pub async fn get_app(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<App>> {
    let app = state.app_for(&user, &name).await?;
    Ok(ApiJson(app_view(&state, &app).await?))
}

/// Stops the app's processes, then forgets it: rows, repository and images.
pub async fn delete_app(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<App>> {
    let app = state.app_for(&user, &name).await?;
    let view = app_view(&state, &app).await?;
    state.deployer.stop_app(&app.name).await?;
    let builds = state.store.list_builds(&app.id).await?;
    state.store.delete_app(&app.id).await?;
    state.logs.forget(&app.name);
    state.metrics.forget(&app.name);
    state.deployer.publish_routes().await?;
    let repo = state.settings.repo_path(&app.name);
    if let Err(e) = tokio::fs::remove_dir_all(&repo).await {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(app = %app.name, error = %e, "could not remove the app's repository");
        }
    }
    for build in builds.iter().filter(|b| b.image.is_some()) {
        if let Err(e) = crate::images::remove(&state.docker, &app.name, &build.id).await {
            tracing::debug!(app = %app.name, build = %build.id, error = %e, "image not removed");
        }
    }
    let cache = crate::images::cache_dir(&state.settings.data_dir, &app.name);
    let image_repo = crate::images::repository(&app.name);
    if let Err(e) = paas_builder::buildpack::forget_app(&state.docker, &image_repo, &cache).await {
        tracing::warn!(app = %app.name, error = %e, "removing the app's build cache");
    }
    tracing::info!(app = %app.name, user = %user.name, "app destroyed");
    Ok(ApiJson(view))
}
