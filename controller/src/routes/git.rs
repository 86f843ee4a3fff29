//! Git smart HTTP on the API listener: `/APP.git/info/refs` and `/APP.git/git-receive-pack`,
//! HTTP Basic with an API token as the password, backed by the real `git receive-pack`. The
//! repository's pre-receive hook calls back into `/internal/git-hook`, which builds and deploys.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use paas_builder::git;
use paas_builder::hook::{HookRequest, RESULT_FAILED, RESULT_OK};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::push::handle_push;
use crate::state::AppState;
use crate::store::AppRow;

/// Git only sends credentials after a 401 that names the scheme it should use.
fn git_unauthorized(e: ApiError) -> Response {
    let mut res = e.into_response();
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"paas\""),
    );
    res
}

async fn git_app(
    state: &AppState,
    user: Result<AuthUser, ApiError>,
    repo: &str,
) -> Result<(AuthUser, AppRow), Response> {
    let user = user.map_err(git_unauthorized)?;
    let name = repo.strip_suffix(".git").ok_or_else(|| {
        ApiError::not_found(format!("{repo:?} is not a repository: use /APP.git")).into_response()
    })?;
    paas_api::validate_app_name(name).map_err(|e| ApiError::from(e).into_response())?;
    let app = state
        .app_for(&user, name)
        .await
        .map_err(IntoResponse::into_response)?;
    let path = state.settings.repo_path(&app.name);
    let exe = state.settings.paasd_exe.clone();
    tokio::task::spawn_blocking(move || git::ensure_repo(&path, &exe))
        .await
        .map_err(|e| ApiError::internal(e).into_response())?
        .map_err(|e| ApiError::internal(e).into_response())?;
    Ok((user, app))
}

fn no_cache(mut res: Response, content_type: &'static str) -> Response {
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

pub async fn info_refs(
    State(state): State<AppState>,
    user: Result<AuthUser, ApiError>,
    Path(repo): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (_, app) = match git_app(&state, user, &repo).await {
        Ok(found) => found,
        Err(res) => return res,
    };
    if query.get("service").map(String::as_str) != Some("git-receive-pack") {
        return ApiError::forbidden(
            "only pushing is supported: use `git push` (smart HTTP, git-receive-pack)",
        )
        .into_response();
    }
    match git::advertise_receive_pack(&state.settings.repo_path(&app.name)).await {
        Ok(body) => no_cache(body.into_response(), git::RECEIVE_PACK_ADVERTISEMENT),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

pub async fn receive_pack(
    State(state): State<AppState>,
    user: Result<AuthUser, ApiError>,
    Path(repo): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (user, app) = match git_app(&state, user, &repo).await {
        Ok(found) => found,
        Err(res) => return res,
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if content_type != Some("application/x-git-receive-pack-request") {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_request",
            "expected Content-Type application/x-git-receive-pack-request: push with git",
        )
        .into_response();
    }
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let env = vec![
        (
            "PAAS_HOOK_URL".to_string(),
            format!("{}/internal/git-hook", state.settings.internal_url),
        ),
        ("PAAS_HOOK_SECRET".to_string(), state.hook_secret.clone()),
        ("PAAS_APP".to_string(), app.name.clone()),
        ("PAAS_PUSH_USER".to_string(), user.id.clone()),
    ];
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    match git::receive_pack(
        &state.settings.repo_path(&app.name),
        Box::pin(stream),
        gzip,
        env,
    )
    .await
    {
        Ok(out) => no_cache(
            Body::from_stream(out).into_response(),
            git::RECEIVE_PACK_RESULT,
        ),
        Err(e) => ApiError::bad_request(format!("git receive-pack failed: {e}")).into_response(),
    }
}

/// Called by our own pre-receive hook; streams the build log and ends with the verdict line.
pub async fn git_hook(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<HookRequest>,
) -> ApiResult<Response> {
    let given = headers
        .get("x-paas-hook-secret")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !constant_time_eq(given.as_bytes(), state.hook_secret.as_bytes()) {
        return Err(ApiError::forbidden("not a paas git hook"));
    }
    let (tx, rx) = mpsc::channel::<String>(256);
    tokio::spawn(async move {
        let ok = handle_push(state, req, tx.clone()).await;
        let _ = tx
            .send(if ok { RESULT_OK } else { RESULT_FAILED }.to_string())
            .await;
    });
    let lines =
        ReceiverStream::new(rx).map(|l| Ok::<_, std::convert::Infallible>(format!("{l}\n")));
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from_stream(lines),
    )
        .into_response())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
