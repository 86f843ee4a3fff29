use axum::extract::{Path, State};
use axum::http::StatusCode;
use paas_api::{Dyno, ReleaseRef};

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::state::AppState;
use crate::store::AppRow;
use crate::views;

pub async fn list_dynos(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<Vec<Dyno>>> {
    let app = state.app_for(&user, &name).await?;
    let releases = state.store.list_releases(&app.id).await?;
    let mut processes = state
        .runtime
        .list(Some(&app.name))
        .await
        .map_err(ApiError::internal)?;
    processes.sort_by(|a, b| (&a.process_type, a.index).cmp(&(&b.process_type, b.index)));
    // A one-off that ended is done; its container only lingers for `paas logs`.
    processes.retain(|p| {
        p.process_type != paas_scheduler::ONE_OFF
            || matches!(
                p.state,
                paas_scheduler::ProcessState::Up | paas_scheduler::ProcessState::Starting
            )
    });
    let dynos = processes
        .iter()
        .map(|p| {
            let release_id = releases
                .iter()
                .find(|r| r.version == p.release)
                .map(|r| views::uid(&r.id));
            Dyno {
                id: p.id.clone(),
                app: views::app_ref(&app),
                name: p.name(),
                process_type: p.process_type.clone(),
                state: p.state.as_str().to_string(),
                command: p.command.clone(),
                release: ReleaseRef {
                    id: release_id.unwrap_or_default(),
                    version: p.release,
                },
                size: "standard".to_string(),
                created_at: p.created_at,
                updated_at: p.exit.map(|e| e.finished_at).unwrap_or(p.created_at),
                attach_url: None,
                restarts: p.restarts,
                exit_code: p.exit.map(|e| e.code),
                oom_killed: p.exit.is_some_and(|e| e.oom_killed),
            }
        })
        .collect();
    Ok(ApiJson(dynos))
}

pub async fn restart_all(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
) -> ApiResult<(StatusCode, ApiJson<serde_json::Value>)> {
    let app = state.app_for(&user, &name).await?;
    restart(&state, &app, &user, None).await
}

/// `web.2` restarts one process, `web` every process of the type.
pub async fn restart_dyno(
    State(state): State<AppState>,
    user: AuthUser,
    Path((name, which)): Path<(String, String)>,
) -> ApiResult<(StatusCode, ApiJson<serde_json::Value>)> {
    let app = state.app_for(&user, &name).await?;
    restart(&state, &app, &user, Some(&which)).await
}

async fn restart(
    state: &AppState,
    app: &AppRow,
    user: &AuthUser,
    which: Option<&str>,
) -> ApiResult<(StatusCode, ApiJson<serde_json::Value>)> {
    state.platform_event(
        &app.name,
        format!(
            "Restart {} by {}",
            which.unwrap_or("all processes"),
            user.name
        ),
    );
    let count = state.deployer.restart(app, which).await?;
    if count == 0 {
        let what = which.unwrap_or("any process");
        return Err(ApiError::not_found(format!(
            "no running {what} in app {:?}; `paas ps` lists them",
            app.name
        )));
    }
    state.deployer.publish_routes().await?;
    Ok((StatusCode::ACCEPTED, ApiJson(serde_json::json!({}))))
}
