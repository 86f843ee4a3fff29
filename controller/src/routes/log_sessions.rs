use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use paas_api::{LogSession, LogSessionCreate};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::logs::{self, LogRequest, DEFAULT_LINES, MAX_LINES};
use crate::state::AppState;
use paas_telemetry::{Filter, Source};

pub async fn create_log_session(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, ApiJson<LogSession>)> {
    let app = state.app_for(&user, &name).await?;
    // Heroku clients may send no body at all.
    let req: LogSessionCreate = if body.iter().all(u8::is_ascii_whitespace) {
        LogSessionCreate::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))?
    };
    let lines = req.lines.unwrap_or(DEFAULT_LINES);
    if lines > MAX_LINES {
        return Err(ApiError::invalid(format!(
            "lines must be at most {MAX_LINES}"
        )));
    }
    let source = match req.source.as_deref() {
        Some(s) => Some(s.parse::<Source>().map_err(ApiError::invalid)?),
        None => None,
    };
    let secret = state.log_sessions.create(LogRequest {
        app: app.name.clone(),
        lines,
        tail: req.tail.unwrap_or(false),
        filter: Filter {
            source,
            process: req.dyno,
        },
    });
    let now = Utc::now();
    let session = LogSession {
        id: uuid::Uuid::new_v4(),
        logplex_url: format!("{}/log-sessions/{secret}", state.settings.api_url),
        created_at: now,
        updated_at: now,
    };
    Ok((StatusCode::CREATED, ApiJson(session)))
}

/// The capability URL itself: whoever holds it may read the lines once, without other auth.
pub async fn stream_log_session(
    State(state): State<AppState>,
    Path(secret): Path<String>,
) -> ApiResult<Response> {
    let req = state
        .log_sessions
        .take(&secret)
        .ok_or_else(|| ApiError::not_found("log session not found or expired: create a new one"))?;
    let (tx, rx) = mpsc::channel::<String>(1024);
    tokio::spawn(logs::stream(state.logs.clone(), req, tx));
    // Lines already waiting go out as one chunk: a busy app's stream is not one write per line.
    let chunks = futures_util::StreamExt::ready_chunks(ReceiverStream::new(rx), 256)
        .map(|lines| Ok::<_, std::convert::Infallible>(lines.concat()));
    let body = Body::from_stream(chunks);
    let headers = [
        (header::CONTENT_TYPE, "text/event-stream"),
        (header::CACHE_CONTROL, "no-cache"),
    ];
    Ok((headers, body).into_response())
}
