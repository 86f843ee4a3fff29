//! The apps list with each app's status at a glance; creating and destroying apps.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use futures_util::future::join_all;
use paas_api::{App, Dyno};
use serde::Deserialize;

use crate::error::PageResult;
use crate::extract::{Post, SignedIn};
use crate::pages::{after_form, app_name, render, see_other, Layout};
use crate::Shared;

/// One app's line in the list.
pub struct AppSummary {
    pub name: String,
    pub web_url: String,
    pub release: Option<i64>,
    pub up: usize,
    pub starting: usize,
    pub crashed: usize,
    /// The processes could not be listed (the message says why).
    pub processes_error: Option<String>,
}

impl AppSummary {
    fn new(app: App, dynos: Result<Vec<Dyno>, String>) -> AppSummary {
        let (dynos, processes_error) = match dynos {
            Ok(d) => (d, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        let count = |state: &str| dynos.iter().filter(|d| d.state == state).count();
        AppSummary {
            up: count("up"),
            starting: count("starting"),
            crashed: count("crashed"),
            processes_error,
            name: app.name,
            web_url: app.web_url,
            release: app.current_release,
        }
    }
}

#[derive(Template)]
#[template(path = "apps.html")]
struct AppsPage {
    layout: Layout,
    apps: Vec<AppSummary>,
}

pub async fn home() -> Response {
    see_other("/dashboard/apps")
}

pub async fn list_apps(State(state): State<Shared>, user: SignedIn) -> PageResult<Response> {
    let apps = state.api.apps(user.token()).await?;
    let dynos = join_all(apps.iter().map(|a| state.api.dynos(user.token(), &a.name))).await;
    let apps = apps
        .into_iter()
        .zip(dynos)
        .map(|(app, d)| AppSummary::new(app, d.map_err(|e| e.to_string())))
        .collect();
    render(&AppsPage {
        layout: Layout::new(&state, &user.0),
        apps,
    })
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
}

pub async fn create_app(State(state): State<Shared>, post: Post<CreateForm>) -> Response {
    let name = post.form.name.trim();
    match state.api.create_app(&post.session.token, name).await {
        Ok(app) => {
            let to = format!("/dashboard/apps/{}", app.name);
            let notice = format!("Created {}. Push code to it with git to deploy.", app.name);
            after_form(&state, &post.session, &to, Ok(notice))
        }
        Err(e) => after_form(&state, &post.session, "/dashboard/apps#create", Err(e)),
    }
}

#[derive(Deserialize)]
pub struct DestroyForm {
    #[serde(default)]
    confirm: String,
}

pub async fn destroy_app(
    State(state): State<Shared>,
    Path(app): Path<String>,
    post: Post<DestroyForm>,
) -> PageResult<Response> {
    let app = app_name(&app)?;
    let page = format!("/dashboard/apps/{app}#destroy");
    if post.form.confirm.trim() != app {
        let e = crate::DashboardError::BadForm(format!(
            "{app} was not destroyed: type its name, {app}, to confirm."
        ));
        return Ok(after_form(&state, &post.session, &page, Err(e)));
    }
    Ok(
        match state.api.destroy_app(&post.session.token, app).await {
            Ok(_) => after_form(
                &state,
                &post.session,
                "/dashboard/apps",
                Ok(format!(
                    "Destroyed {app}: its processes, releases and code are gone."
                )),
            ),
            Err(e) => after_form(&state, &post.session, &page, Err(e)),
        },
    )
}
