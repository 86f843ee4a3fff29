use axum::extract::{Path, State};
use paas_api::Build;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::state::AppState;
use crate::views;

pub async fn list_builds(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<Vec<Build>>> {
    let app = state.app_for(&user, &name).await?;
    let releases = state.store.list_releases(&app.id).await?;
    let builds = state.store.list_builds(&app.id).await?;
    Ok(ApiJson(
        builds
            .iter()
            .map(|b| {
                let first_release = releases
                    .iter()
                    .find(|r| r.build_id.as_deref() == Some(b.id.as_str()));
                views::build(&app, b, first_release)
            })
            .collect(),
    ))
}

pub async fn get_build(
    State(state): State<AppState>,
    user: AuthUser,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult<ApiJson<Build>> {
    let app = state.app_for(&user, &name).await?;
    let build = state
        .store
        .build_by_id(&id)
        .await?
        .filter(|b| b.app_id == app.id)
        .ok_or_else(|| ApiError::not_found(format!("build {id:?} of app {name:?} not found")))?;
    let releases = state.store.list_releases(&app.id).await?;
    let first_release = releases
        .iter()
        .find(|r| r.build_id.as_deref() == Some(build.id.as_str()));
    Ok(ApiJson(views::build(&app, &build, first_release)))
}

/// `GET /apps/{app}/builds/{id}/output`: the build's whole log as text (kept per build).
pub async fn get_build_output(
    State(state): State<AppState>,
    user: AuthUser,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult<([(axum::http::HeaderName, &'static str); 1], String)> {
    let app = state.app_for(&user, &name).await?;
    let build = state
        .store
        .build_by_id(&id)
        .await?
        .filter(|b| b.app_id == app.id)
        .ok_or_else(|| ApiError::not_found(format!("build {id:?} of app {name:?} not found")))?;
    let mut output = build.output;
    if !output.is_empty() && !output.ends_with('\n') {
        output.push('\n');
    }
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        output,
    ))
}
