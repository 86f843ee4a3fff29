//! The pages and the forms they post, one module per part of the dashboard.

pub mod actions;
pub mod app;
pub mod apps;
pub mod auth;
pub mod builds;
pub mod logs;
pub mod metrics;

use askama::Template;
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::error::{DashboardError, PageResult};
use crate::session::{Flash, Session};
use crate::Shared;

/// What the frame around every signed-in page shows.
pub struct Layout {
    pub user: String,
    pub admin: bool,
    pub csrf: String,
    pub flash: Option<Flash>,
}

impl Layout {
    /// Takes the session's pending message: it is shown once.
    pub fn new(state: &Shared, session: &Session) -> Layout {
        Layout {
            user: session.user.clone(),
            admin: session.admin,
            csrf: session.csrf.clone(),
            flash: state.sessions.take_flash(&session.id),
        }
    }
}

pub fn render(page: &impl Template) -> PageResult<Response> {
    Ok(Html(page.render()?).into_response())
}

/// An app name from the dashboard's own URL. Anything that is not a valid app name cannot
/// name an app, so it is a missing page rather than a request passed on to the API.
pub fn app_name(name: &str) -> PageResult<&str> {
    paas_api::validate_app_name(name)
        .map(|_| name)
        .map_err(|_| DashboardError::NotFound)
}

/// After a form: back to `to` with what happened in plain words. An app the user may not see
/// (403, 404) or a lost sign-in is shown as such instead.
pub fn after_form(
    state: &Shared,
    session: &Session,
    to: &str,
    outcome: Result<String, DashboardError>,
) -> Response {
    let flash = match outcome {
        Ok(notice) => Flash::notice(notice),
        Err(e) => match e {
            DashboardError::Api {
                status: 401 | 403 | 404,
                ..
            }
            | DashboardError::SignedOut
            | DashboardError::Csrf
            | DashboardError::NotFound => return e.into_response(),
            other => Flash::error(other.to_string()),
        },
    };
    state.sessions.set_flash(&session.id, flash);
    see_other(to)
}

/// 303: the browser follows with a GET, so a reload does not post the form again.
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

pub async fn not_found() -> DashboardError {
    DashboardError::NotFound
}
