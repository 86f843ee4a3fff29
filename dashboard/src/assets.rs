//! The stylesheet and the two small scripts, compiled into the binary (no front-end build
//! step), and the headers every dashboard response carries.

use axum::extract::Path;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::error::DashboardError;

const CSS: &str = include_str!("../assets/dashboard.css");
const LOGS_JS: &str = include_str!("../assets/logs.js");
const COPY_JS: &str = include_str!("../assets/copy.js");

pub async fn asset(Path(file): Path<String>) -> Result<Response, DashboardError> {
    let (body, kind) = match file.as_str() {
        "dashboard.css" => (CSS, "text/css; charset=utf-8"),
        "logs.js" => (LOGS_JS, "text/javascript; charset=utf-8"),
        "copy.js" => (COPY_JS, "text/javascript; charset=utf-8"),
        _ => return Err(DashboardError::NotFound),
    };
    Ok((
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response())
}

/// Scripts and styles only from the dashboard itself (no inline script can run, should any
/// ever slip past the templates' escaping), no framing, and pages that hold config values are
/// never cached.
pub async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}
