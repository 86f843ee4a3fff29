//! Git smart HTTP on the API listener: `/APP.git/info/refs`, `/APP.git/git-receive-pack` (push)
//! and `/APP.git/git-upload-pack` (clone, fetch), HTTP Basic with an API token as the password,
//! backed by the real git. The repository's pre-receive hook calls back into
//! `/internal/git-hook`, which builds and deploys.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use paas_builder::git;
use paas_builder::hook::{self, HookRequest, RESULT_FAILED, RESULT_OK};
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

fn expect_content_type(headers: &HeaderMap, expected: &str) -> Result<(), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if content_type == Some(expected) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "bad_request",
        format!("expected Content-Type {expected}: use a git client"),
    ))
}

/// Git gzips larger fetch requests.
fn is_gzip(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"))
}

fn body_stream(
    body: Body,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + Unpin {
    Box::pin(body.into_data_stream().map_err(std::io::Error::other))
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
    let path = state.settings.repo_path(&app.name);
    let (advertised, content_type) = match query.get("service").map(String::as_str) {
        Some("git-receive-pack") => (
            git::advertise_receive_pack(&path).await,
            git::RECEIVE_PACK_ADVERTISEMENT,
        ),
        Some("git-upload-pack") => (
            git::advertise_upload_pack(&path).await,
            git::UPLOAD_PACK_ADVERTISEMENT,
        ),
        _ => {
            return ApiError::forbidden(
                "only smart HTTP is supported: use a git client (git push, git clone)",
            )
            .into_response()
        }
    };
    match advertised {
        Ok(body) => no_cache(body.into_response(), content_type),
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
    if let Err(res) = expect_content_type(&headers, "application/x-git-receive-pack-request") {
        return res.into_response();
    }
    let env = vec![
        (
            hook::ENV_URL.to_string(),
            format!("{}/internal/git-hook", state.settings.internal_url),
        ),
        (hook::ENV_SECRET.to_string(), state.hook_secret.clone()),
        (hook::ENV_APP.to_string(), app.name.clone()),
        (hook::ENV_USER.to_string(), user.id.clone()),
    ];
    let path = state.settings.repo_path(&app.name);
    match git::receive_pack(&path, body_stream(body), is_gzip(&headers), env).await {
        Ok(out) => no_cache(
            Body::from_stream(out).into_response(),
            git::RECEIVE_PACK_RESULT,
        ),
        Err(e) => ApiError::bad_request(format!("git receive-pack failed: {e}")).into_response(),
    }
}

/// `git clone` / `git fetch` of an app's repository (what was last pushed).
pub async fn upload_pack(
    State(state): State<AppState>,
    user: Result<AuthUser, ApiError>,
    Path(repo): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (_, app) = match git_app(&state, user, &repo).await {
        Ok(found) => found,
        Err(res) => return res,
    };
    if let Err(res) = expect_content_type(&headers, "application/x-git-upload-pack-request") {
        return res.into_response();
    }
    let path = state.settings.repo_path(&app.name);
    match git::upload_pack(&path, body_stream(body), is_gzip(&headers)).await {
        Ok(out) => no_cache(
            Body::from_stream(out).into_response(),
            git::UPLOAD_PACK_RESULT,
        ),
        Err(e) => ApiError::bad_request(format!("git upload-pack failed: {e}")).into_response(),
    }
}

/// Called by our own pre-receive hook; streams the build log and ends with the verdict line.
pub async fn git_hook(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<HookRequest>,
) -> ApiResult<Response> {
    let given = headers
        .get(hook::SECRET_HEADER)
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
