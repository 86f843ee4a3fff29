//! `/apps/{app}/canary`: another release's web process takes a weighted share of the clients
//! (sticky per client), until it is stopped or promoted.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use paas_api::{Canary, CanaryCreate, Release};

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::routes::releases::deploy_release;
use crate::state::AppState;
use crate::store::AppRow;
use crate::views;

fn view(app: &AppRow) -> Canary {
    Canary {
        release: app.canary_release,
        weight: u8::try_from(app.canary_weight).unwrap_or(0),
    }
}

/// The canary's processes start (or stop) and the router gets their share.
async fn apply(state: &AppState, name: &str, user: &AuthUser) -> ApiResult<AppRow> {
    let app = state.app_for(user, name).await?;
    state.deployer.converge(&app).await?;
    state.deployer.publish_routes().await?;
    Ok(app)
}

pub async fn get_canary(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<Canary>> {
    let app = state.app_for(&user, &name).await?;
    Ok(ApiJson(view(&app)))
}

pub async fn start_canary(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<CanaryCreate>,
) -> ApiResult<(StatusCode, ApiJson<Canary>)> {
    let app = state.app_for(&user, &name).await?;
    if !(1..=99).contains(&req.weight) {
        return Err(ApiError::invalid(
            "weight must be between 1 and 99 (percent of clients)",
        ));
    }
    let version = req
        .release
        .trim_start_matches('v')
        .parse::<i64>()
        .map_err(|_| {
            ApiError::invalid(format!("release {:?}: use a version like v3", req.release))
        })?;
    let release = state
        .store
        .release_by_version(&app.id, version)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "release v{version} of {name} not found; `paas releases` lists them"
            ))
        })?;
    let current = state
        .store
        .current_release(&app.id)
        .await?
        .map(|r| r.version);
    if current == Some(version) {
        return Err(ApiError::invalid(format!(
            "v{version} is the current release; pick another one to try"
        )));
    }
    let build = match &release.build_id {
        Some(id) => state.store.build_by_id(id).await?,
        None => None,
    };
    if build.and_then(|b| b.image).is_none() || release.status == "failed" {
        return Err(ApiError::invalid(format!(
            "v{version} has no image to run; pick a release that deployed"
        )));
    }
    state
        .store
        .set_canary(&app.id, Some((version, i64::from(req.weight))))
        .await?;
    let app = apply(&state, &name, &user).await?;
    state.platform_event(
        &app.name,
        format!(
            "Canary v{version} started at {}% by {}",
            req.weight, user.name
        ),
    );
    Ok((StatusCode::CREATED, ApiJson(view(&app))))
}

pub async fn stop_canary(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<Canary>> {
    let app = state.app_for(&user, &name).await?;
    let was = app
        .canary_release
        .ok_or_else(|| ApiError::not_found(format!("no canary runs on {name}")))?;
    state.store.set_canary(&app.id, None).await?;
    let app = apply(&state, &name, &user).await?;
    state.platform_event(&app.name, format!("Canary v{was} stopped by {}", user.name));
    Ok(ApiJson(view(&app)))
}

/// The canary's build and config become a new release that takes all the traffic.
pub async fn promote_canary(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
) -> ApiResult<(StatusCode, ApiJson<Release>)> {
    let app = state.app_for(&user, &name).await?;
    let version = app
        .canary_release
        .ok_or_else(|| ApiError::not_found(format!("no canary runs on {name}")))?;
    let target = state
        .store
        .release_by_version(&app.id, version)
        .await?
        .ok_or_else(|| ApiError::internal("canary release missing"))?;
    state.store.set_canary(&app.id, None).await?;
    let release = state.store.rollback(&app.id, &target, &user.id).await?;
    deploy_release(&state, &app, &release).await?;
    state.platform_event(
        &app.name,
        format!(
            "Canary v{version} promoted to v{} by {}",
            release.version, user.name
        ),
    );
    let release = state
        .store
        .release_by_version(&app.id, release.version)
        .await?
        .ok_or_else(|| ApiError::internal("release missing after promote"))?;
    Ok((
        StatusCode::CREATED,
        ApiJson(views::release(&app, &release, Some(release.version))),
    ))
}
