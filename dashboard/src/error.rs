//! What can go wrong on a page, and how each failure is shown: in plain words, with the status
//! code the API gave, never a stack trace.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// No session, an expired one, or a token the API no longer takes.
    #[error("sign in to continue")]
    SignedOut,
    #[error("This form was not sent by the dashboard, or it is out of date (its security token is missing or wrong). Go back, reload the page and try again.")]
    Csrf,
    #[error("{0}")]
    BadForm(String),
    /// The API refused or failed; `message` is already written for people.
    #[error("{message}")]
    Api { status: u16, message: String },
    #[error("There is no such page in the dashboard.")]
    NotFound,
    #[error("The page could not be drawn; the operator can find the detail in paasd's log.")]
    Render(#[from] askama::Error),
}

impl DashboardError {
    pub fn status(&self) -> StatusCode {
        match self {
            DashboardError::SignedOut => StatusCode::UNAUTHORIZED,
            DashboardError::Csrf => StatusCode::FORBIDDEN,
            DashboardError::BadForm(_) => StatusCode::BAD_REQUEST,
            DashboardError::Api { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            DashboardError::NotFound => StatusCode::NOT_FOUND,
            DashboardError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn title(&self) -> &'static str {
        match self.status().as_u16() {
            400 | 422 => "That did not work",
            403 => "Not allowed",
            404 => "Not found",
            409 => "Busy",
            500..=599 => "Something went wrong",
            _ => "That did not work",
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    status: u16,
    message: String,
}

impl IntoResponse for DashboardError {
    fn into_response(self) -> Response {
        if matches!(
            self,
            DashboardError::SignedOut | DashboardError::Api { status: 401, .. }
        ) {
            return Redirect::to("/dashboard/login").into_response();
        }
        if let DashboardError::Render(e) = &self {
            tracing::error!(error = %e, "dashboard template failed");
        }
        let status = self.status();
        let page = ErrorPage {
            title: self.title(),
            status: status.as_u16(),
            message: self.to_string(),
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "dashboard error page failed");
                (status, page.message).into_response()
            }
        }
    }
}

pub type PageResult<T> = Result<T, DashboardError>;
