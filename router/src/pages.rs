//! The router's own error pages. Each names the request id, so a user's report can be matched
//! with the logs.

use std::fmt::Write;

use bytes::Bytes;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use http::{Response, StatusCode};

use crate::body::ResponseBody;
use crate::headers::X_REQUEST_ID;
use crate::request_id::RequestId;

/// The Host names no app (or cannot name one at all).
pub(crate) fn no_such_app(host: Option<&str>, request_id: &RequestId) -> Response<ResponseBody> {
    let message = match host {
        Some(host) => format!("No app is configured at {}.", escape(host)),
        None => "No app is configured at this host.".to_owned(),
    };
    page(StatusCode::NOT_FOUND, "No such app", &message, request_id)
}

/// The app exists but has no web process running.
pub(crate) fn no_web_processes(app: &str, request_id: &RequestId) -> Response<ResponseBody> {
    let app = escape(app);
    let message = format!(
        "No web processes are running for {app}; scale web up with \
         <code>paas scale web=1 -a {app}</code>."
    );
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Application unavailable",
        &message,
        request_id,
    )
}

/// No backend could be reached, or one failed before sending a response head.
pub(crate) fn bad_gateway(app: &str, request_id: &RequestId) -> Response<ResponseBody> {
    let message = format!(
        "The web processes of {} could not be reached or closed the connection. \
         Check <code>paas logs</code> and <code>paas ps</code>.",
        escape(app)
    );
    page(StatusCode::BAD_GATEWAY, "Bad gateway", &message, request_id)
}

/// The app answered an HTTP/2 WebSocket (extended CONNECT) request as an ordinary request.
pub(crate) fn upgrade_refused(app: &str, request_id: &RequestId) -> Response<ResponseBody> {
    let message = format!(
        "{} answered the WebSocket request without switching protocols; the path may not \
         serve WebSockets.",
        escape(app)
    );
    page(StatusCode::BAD_GATEWAY, "Bad gateway", &message, request_id)
}

/// A CONNECT to a host and port: the router routes requests to apps, it is not a forward
/// proxy.
pub(crate) fn not_a_proxy(request_id: &RequestId) -> Response<ResponseBody> {
    let mut response = page(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed",
        "This router sends requests to apps; it does not open tunnels with CONNECT.",
        request_id,
    );
    response.headers_mut().insert(
        http::header::ALLOW,
        HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
    );
    response
}

/// The backend did not send a response head in time.
pub(crate) fn gateway_timeout(
    app: &str,
    timeout: std::time::Duration,
    request_id: &RequestId,
) -> Response<ResponseBody> {
    let message = format!(
        "{} did not start answering within {:.1} seconds.",
        escape(app),
        timeout.as_secs_f64()
    );
    page(
        StatusCode::GATEWAY_TIMEOUT,
        "Gateway timeout",
        &message,
        request_id,
    )
}

/// The app is in maintenance mode.
pub(crate) fn maintenance(app: &str, request_id: &RequestId) -> Response<ResponseBody> {
    let message = format!(
        "{} is down for maintenance and will be back shortly.",
        escape(app)
    );
    let mut response = page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Down for maintenance",
        &message,
        request_id,
    );
    response
        .headers_mut()
        .insert(http::header::RETRY_AFTER, HeaderValue::from_static("60"));
    response
}

/// The request body is over the app's limit.
pub(crate) fn too_large(app: &str, limit: u64, request_id: &RequestId) -> Response<ResponseBody> {
    let message = format!(
        "{} accepts request bodies of at most {limit} bytes.",
        escape(app)
    );
    page(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Request body too large",
        &message,
        request_id,
    )
}

/// The client went silent in the middle of its request body.
pub(crate) fn request_timeout(
    idle: std::time::Duration,
    request_id: &RequestId,
) -> Response<ResponseBody> {
    let message = format!(
        "The request body stopped arriving for {:.1} seconds.",
        idle.as_secs_f64()
    );
    page(
        StatusCode::REQUEST_TIMEOUT,
        "Request timeout",
        &message,
        request_id,
    )
}

/// The client's request body broke off before it ended.
pub(crate) fn body_interrupted(request_id: &RequestId) -> Response<ResponseBody> {
    page(
        StatusCode::BAD_REQUEST,
        "Request interrupted",
        "The request body ended before it was complete.",
        request_id,
    )
}

/// The same URL over HTTPS (308 keeps the method and body).
pub(crate) fn redirect(location: HeaderValue, request_id: &RequestId) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::full(Bytes::new()));
    *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
    let headers = response.headers_mut();
    headers.insert(LOCATION, location);
    headers.insert(X_REQUEST_ID.clone(), request_id.to_header());
    response
}

/// `message` must already be HTML.
fn page(
    status: StatusCode,
    title: &str,
    message: &str,
    request_id: &RequestId,
) -> Response<ResponseBody> {
    let id = escape(request_id.as_str());
    let mut html = String::with_capacity(512 + message.len());
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:40em;margin:4em auto;color:#333}}\
         .id{{color:#888;font-size:small}}</style></head>\n\
         <body><h1>{title}</h1>\n<p>{message}</p>\n<p class=\"id\">Request ID: {id}</p>\
         </body></html>\n"
    );
    let mut response = Response::new(ResponseBody::full(Bytes::from(html)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(X_REQUEST_ID.clone(), request_id.to_header());
    response
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_and_carry_the_request_id() {
        let id = RequestId::Given(HeaderValue::from_static("abc123abc123"));
        let response = no_such_app(Some("<b>x</b>.paas.test"), &id);
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()["x-request-id"], "abc123abc123");
        let body = futures_body(response.into_body());
        assert!(body.contains("&lt;b&gt;x&lt;/b&gt;.paas.test"), "{body}");
        assert!(body.contains("Request ID: abc123abc123"), "{body}");
    }

    fn futures_body(body: ResponseBody) -> String {
        use hyper::body::Body;
        let mut body = std::pin::pin!(body);
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        match body.as_mut().poll_frame(&mut cx) {
            std::task::Poll::Ready(Some(Ok(frame))) => {
                String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap()
            }
            _ => panic!("a full body is ready at once"),
        }
    }
}
