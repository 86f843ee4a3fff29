use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use paas_api::{Release, RollbackRequest};

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::range::Range;
use crate::state::AppState;
use crate::store::{AppRow, ReleaseRow};
use crate::views;

/// Deploys a freshly created release; a failure is reported with what went wrong, and the
/// previous release keeps running.
pub(crate) async fn deploy_release(
    state: &AppState,
    app: &AppRow,
    release: &ReleaseRow,
) -> ApiResult<()> {
    Ok(state.deployer.release(app, release, None).await?)
}

/// `3`, `v3` or a release id.
async fn find_release(state: &AppState, app: &AppRow, key: &str) -> ApiResult<ReleaseRow> {
    let by_version = key.trim_start_matches('v').parse::<i64>().ok();
    let found = match by_version {
        Some(v) => state.store.release_by_version(&app.id, v).await?,
        None => state.store.release_by_id(&app.id, key).await?,
    };
    found.ok_or_else(|| {
        ApiError::not_found(format!(
            "release {key:?} of app {:?} not found; `paas releases` lists them",
            app.name
        ))
    })
}

pub async fn list_releases(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> ApiResult<ApiJson<Vec<Release>>> {
    let app = state.app_for(&user, &name).await?;
    let current = state
        .store
        .current_release(&app.id)
        .await?
        .map(|r| r.version);
    let rows = state.store.list_releases(&app.id).await?;
    let releases: Vec<Release> = rows
        .iter()
        .map(|r| views::release(&app, r, current))
        .collect();
    Ok(ApiJson(
        Range::from_headers(&headers).apply(releases, |r| r.version.to_string()),
    ))
}

pub async fn get_release(
    State(state): State<AppState>,
    user: AuthUser,
    Path((name, key)): Path<(String, String)>,
) -> ApiResult<ApiJson<Release>> {
    let app = state.app_for(&user, &name).await?;
    let release = find_release(&state, &app, &key).await?;
    let current = state
        .store
        .current_release(&app.id)
        .await?
        .map(|r| r.version);
    Ok(ApiJson(views::release(&app, &release, current)))
}

/// Rollback: a new release with the target's build and config.
pub async fn create_release(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<RollbackRequest>,
) -> ApiResult<(StatusCode, ApiJson<Release>)> {
    let app = state.app_for(&user, &name).await?;
    let target = find_release(&state, &app, &req.release).await?;
    if target.status == "failed" {
        return Err(ApiError::invalid(format!(
            "v{} failed to deploy; roll back to a release that ran",
            target.version
        )));
    }
    if let Some(build_id) = &target.build_id {
        let image = state
            .store
            .build_by_id(build_id)
            .await?
            .and_then(|b| b.image);
        if image.is_none() {
            return Err(ApiError::invalid(format!(
                "v{}'s image was removed (only recent releases keep theirs); push that commit again instead",
                target.version
            )));
        }
    }
    let release = state.store.rollback(&app.id, &target, &user.id).await?;
    deploy_release(&state, &app, &release).await?;
    let release = find_release(&state, &app, &release.id).await?;
    let current = state
        .store
        .current_release(&app.id)
        .await?
        .map(|r| r.version);
    Ok((
        StatusCode::CREATED,
        ApiJson(views::release(&app, &release, current)),
    ))
}

/// `POST /apps/{app}/releases/actions/cancel`: stops the deploy in progress (its release ends
/// as failed; the current release keeps running).
pub async fn cancel_release(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
) -> ApiResult<(StatusCode, ApiJson<Release>)> {
    let app = state.app_for(&user, &name).await?;
    let version = state.deployer.cancel(&app.name)?;
    let release = find_release(&state, &app, &version.to_string()).await?;
    let current = state
        .store
        .current_release(&app.id)
        .await?
        .map(|r| r.version);
    Ok((
        StatusCode::ACCEPTED,
        ApiJson(views::release(&app, &release, current)),
    ))
}
