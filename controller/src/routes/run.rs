//! One-off processes: `POST /apps/{app}/dynos` runs one; `GET /dyno-sessions/{secret}` is the
//! WebSocket an attached one talks over (docs/run.md).

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use paas_api::{Dyno, DynoCreate, ReleaseRef};
use paas_scheduler::{OneOffMode, RuntimeError};

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::run::{self, pump, Session};
use crate::state::AppState;
use crate::views;

pub async fn create_dyno(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<DynoCreate>,
) -> ApiResult<(StatusCode, ApiJson<Dyno>)> {
    let app = state.app_for(&user, &name).await?;
    let command = run::validate(&req)?;
    let (release, image) = run::current_image(&state, &app).await?;
    let running = state
        .runtime
        .list(Some(&app.name))
        .await
        .map_err(ApiError::internal)?;
    let index = state.run_sessions.next_index(&app.name, &running);
    let port = state.settings.deploy.reconcile.port;
    let spec = run::spec(&app, &release, image, index, command, &req.env, port);
    let mode = if req.attach {
        OneOffMode::Attached { tty: req.tty }
    } else {
        OneOffMode::Detached
    };
    let process = state
        .runtime
        .create_one_off(&spec, mode)
        .await
        .map_err(|e| match e {
            RuntimeError::ImageMissing(image) => ApiError::invalid(format!(
                "the image of release v{} ({image}) is gone from the engine: deploy again",
                release.version
            )),
            RuntimeError::Invalid(why) => ApiError::invalid(why),
            e => ApiError::internal(e),
        })?;
    let attach_url = req.attach.then(|| {
        let secret = state.run_sessions.create(Session {
            app: app.name.clone(),
            container: process.id.clone(),
            dyno: process.name(),
            tty: req.tty,
        });
        format!(
            "{}/dyno-sessions/{secret}",
            websocket_base(&state.settings.api_url)
        )
    });
    tracing::info!(app = %app.name, process = %process.name(), user = %user.name, attach = req.attach, "one-off started");
    let dyno = Dyno {
        id: process.id.clone(),
        app: views::app_ref(&app),
        name: process.name(),
        process_type: process.process_type.clone(),
        state: process.state.as_str().to_string(),
        command: process.command.clone(),
        release: ReleaseRef {
            id: views::uid(&release.id),
            version: release.version,
        },
        size: "standard".to_string(),
        created_at: process.created_at,
        updated_at: process.created_at,
        attach_url,
        restarts: 0,
        exit_code: None,
        oom_killed: false,
    };
    Ok((StatusCode::CREATED, ApiJson(dyno)))
}

/// The attach URL itself: whoever holds it may attach once, without other auth.
pub async fn attach_dyno(
    State(state): State<AppState>,
    Path(secret): Path<String>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let gone =
        || ApiError::not_found("attach URL not found, used or expired: run the command again");
    let upgrade = match upgrade {
        Ok(u) => u,
        // A plain request does not use up the URL.
        Err(_) if state.run_sessions.is_pending(&secret) => {
            return Err(ApiError::bad_request(
                "connect to an attach URL with a WebSocket (docs/run.md)",
            ))
        }
        Err(_) => return Err(gone()),
    };
    let (session, guard) = state.run_sessions.take(&secret).ok_or_else(gone)?;
    let runtime = state.runtime.clone();
    Ok(upgrade.on_upgrade(move |socket| pump::serve(runtime, session, guard, socket)))
}

/// `http://host:7000` -> `ws://host:7000`.
fn websocket_base(api_url: &str) -> String {
    if let Some(rest) = api_url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = api_url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        api_url.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::websocket_base;

    #[test]
    fn attach_urls_are_websocket_urls() {
        assert_eq!(
            websocket_base("http://127.0.0.1:7000"),
            "ws://127.0.0.1:7000"
        );
        assert_eq!(
            websocket_base("https://paas.example.com/api"),
            "wss://paas.example.com/api"
        );
    }
}
