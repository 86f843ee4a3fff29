//! One build and its whole log.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;

use crate::error::{DashboardError, PageResult};
use crate::extract::SignedIn;
use crate::format;
use crate::pages::app::build_status;
use crate::pages::{app_name, render, Layout};
use crate::Shared;

#[derive(Template)]
#[template(path = "build.html")]
struct BuildPage {
    layout: Layout,
    app: String,
    status: &'static str,
    commit: String,
    user: String,
    when: String,
    when_iso: String,
    release: Option<i64>,
    output: String,
}

/// Build ids are UUIDs; anything else names no build.
fn build_id(id: &str) -> PageResult<&str> {
    let ok =
        !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    ok.then_some(id).ok_or(DashboardError::NotFound)
}

pub async fn show_build(
    State(state): State<Shared>,
    user: SignedIn,
    Path((name, id)): Path<(String, String)>,
) -> PageResult<Response> {
    let (name, id) = (app_name(&name)?, build_id(&id)?);
    let build = state.api.build(user.token(), name, id).await?;
    let output = state.api.build_output(user.token(), name, id).await?;
    render(&BuildPage {
        layout: Layout::new(&state, &user.0),
        app: build.app.name,
        status: build_status(build.status),
        commit: build.source_blob.version.unwrap_or_default(),
        user: build.user.name,
        when: format::time(&build.created_at),
        when_iso: format::iso(&build.created_at),
        release: build.release.map(|r| r.version),
        output,
    })
}
