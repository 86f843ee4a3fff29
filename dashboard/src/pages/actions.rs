//! The app page's forms: scale, restart, config vars, rollback. Each calls the API once and
//! goes back to the page with what happened.

use axum::extract::{Path, State};
use axum::response::Response;
use paas_api::ConfigVarsPatch;
use serde::Deserialize;

use crate::error::{DashboardError, PageResult};
use crate::extract::Post;
use crate::pages::{after_form, app_name};
use crate::Shared;

fn page(app: &str, section: &str) -> String {
    format!("/dashboard/apps/{app}#{section}")
}

#[derive(Deserialize)]
pub struct ScaleForm {
    #[serde(default, rename = "type")]
    process_type: String,
    #[serde(default)]
    quantity: String,
}

pub async fn scale(
    State(state): State<Shared>,
    Path(app): Path<String>,
    post: Post<ScaleForm>,
) -> PageResult<Response> {
    let app = app_name(&app)?;
    let f = &post.form;
    let outcome = match f.quantity.trim().parse::<i64>() {
        Ok(n) => state
            .api
            .scale(&post.session.token, app, &f.process_type, n)
            .await
            .map(|_| {
                let plural = if n == 1 { "" } else { "es" };
                format!("Scaled {} to {n} process{plural}.", f.process_type)
            }),
        Err(_) => Err(DashboardError::BadForm(format!(
            "{:?} is not a number of processes: enter a whole number such as 2.",
            f.quantity
        ))),
    };
    Ok(after_form(
        &state,
        &post.session,
        &page(app, "processes"),
        outcome,
    ))
}

#[derive(Deserialize)]
pub struct RestartForm {
    /// `web.1`, `web`, or empty for every process.
    #[serde(default)]
    process: String,
}

pub async fn restart(
    State(state): State<Shared>,
    Path(app): Path<String>,
    post: Post<RestartForm>,
) -> PageResult<Response> {
    let app = app_name(&app)?;
    let which = Some(post.form.process.trim()).filter(|p| !p.is_empty());
    let outcome = state
        .api
        .restart(&post.session.token, app, which)
        .await
        .map(|_| match which {
            Some(p) => format!("Restarting {p}."),
            None => "Restarting every process.".to_string(),
        });
    Ok(after_form(
        &state,
        &post.session,
        &page(app, "processes"),
        outcome,
    ))
}

#[derive(Deserialize)]
pub struct ConfigForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: String,
}

pub async fn set_config(
    State(state): State<Shared>,
    Path(app): Path<String>,
    post: Post<ConfigForm>,
) -> PageResult<Response> {
    let app = app_name(&app)?;
    let key = post.form.key.trim();
    // Browsers send a textarea's line breaks as CRLF; the value means LF.
    let value = post.form.value.replace("\r\n", "\n");
    let patch = ConfigVarsPatch::from([(key.to_string(), Some(value))]);
    let outcome = state
        .api
        .update_config(&post.session.token, app, &patch)
        .await
        .map(|_| format!("Set {key}; the app restarts with a new release."));
    Ok(after_form(
        &state,
        &post.session,
        &page(app, "config"),
        outcome,
    ))
}

#[derive(Deserialize)]
pub struct UnsetForm {
    #[serde(default)]
    key: String,
}

pub async fn unset_config(
    State(state): State<Shared>,
    Path(app): Path<String>,
    post: Post<UnsetForm>,
) -> PageResult<Response> {
    let app = app_name(&app)?;
    let key = post.form.key.trim();
    let patch = ConfigVarsPatch::from([(key.to_string(), None)]);
    let outcome = state
        .api
        .update_config(&post.session.token, app, &patch)
        .await
        .map(|_| format!("Removed {key}; the app restarts with a new release."));
    Ok(after_form(
        &state,
        &post.session,
        &page(app, "config"),
        outcome,
    ))
}

#[derive(Deserialize)]
pub struct RollbackForm {
    #[serde(default)]
    version: String,
}

pub async fn rollback(
    State(state): State<Shared>,
    Path(app): Path<String>,
    post: Post<RollbackForm>,
) -> PageResult<Response> {
    let app = app_name(&app)?;
    let target = post.form.version.trim().trim_start_matches('v');
    let outcome = match target.parse::<i64>() {
        Ok(v) => state
            .api
            .rollback(&post.session.token, app, &v.to_string())
            .await
            .map(|r| format!("Rolled back to v{v}: now running v{}.", r.version)),
        Err(_) => Err(DashboardError::BadForm(
            "Pick a release to roll back to.".to_string(),
        )),
    };
    Ok(after_form(
        &state,
        &post.session,
        &page(app, "releases"),
        outcome,
    ))
}
