use axum::extract::{Path, State};
use axum::http::StatusCode;
use paas_api::{Collaborator, CollaboratorCreate};

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::state::AppState;
use crate::store::AppRow;
use crate::views;

/// Only the owner (or an admin) decides who else may work on an app.
async fn managed_app(state: &AppState, user: &AuthUser, name: &str) -> ApiResult<AppRow> {
    let app = state.app_for(user, name).await?;
    if user.admin || app.owner_id == user.id {
        Ok(app)
    } else {
        Err(ApiError::forbidden(format!(
            "only the owner of {name:?} ({}) can change who has access",
            app.owner_name
        )))
    }
}

pub async fn list_collaborators(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<Vec<Collaborator>>> {
    let app = state.app_for(&user, &name).await?;
    let rows = state.store.list_collaborators(&app.id).await?;
    Ok(ApiJson(
        rows.iter().map(|c| views::collaborator(&app, c)).collect(),
    ))
}

pub async fn create_collaborator(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<CollaboratorCreate>,
) -> ApiResult<(StatusCode, ApiJson<Collaborator>)> {
    let app = managed_app(&state, &user, &name).await?;
    let other = state.store.user_by_name(&req.user).await?.ok_or_else(|| {
        ApiError::not_found(format!(
            "user {:?} not found; `paas users` lists them",
            req.user
        ))
    })?;
    if other.id == app.owner_id {
        return Err(ApiError::invalid(format!(
            "{:?} owns {name:?} already",
            other.name
        )));
    }
    let row = state
        .store
        .add_collaborator(&app.id, &other.id, &other.name)
        .await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(views::collaborator(&app, &row)),
    ))
}

pub async fn delete_collaborator(
    State(state): State<AppState>,
    user: AuthUser,
    Path((name, who)): Path<(String, String)>,
) -> ApiResult<ApiJson<Collaborator>> {
    let app = managed_app(&state, &user, &name).await?;
    let rows = state.store.list_collaborators(&app.id).await?;
    let row = rows
        .into_iter()
        .find(|c| c.user_name == who || c.user_id == who)
        .ok_or_else(|| ApiError::not_found(format!("{who:?} is not a collaborator on {name:?}")))?;
    state
        .store
        .remove_collaborator(&app.id, &row.user_id)
        .await?;
    Ok(ApiJson(views::collaborator(&app, &row)))
}
