//! One request: find the app, forward to a backend, stream the answer back.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use http::header::{HeaderMap, HeaderValue, HOST};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri, Version};
use http_body_util::Either;
use hyper::body::{Body, Incoming};
use tracing::{debug, warn, Level};

use crate::balance::{self, Candidates};
use crate::body::{ProxyBody, Reclaimable};
use crate::headers::{self, ClientInfo};
use crate::host;
use crate::pages::{self, ResponseBody};
use crate::table::{AppEntry, Backend, Router};

/// Per client connection: built once when it is accepted.
pub(crate) struct ConnCtx {
    pub(crate) router: Arc<Router>,
    pub(crate) client: ClientInfo,
}

#[derive(Debug)]
enum ForwardError {
    Upstream(hyper_util::client::legacy::Error),
    /// The request target cannot be sent on (e.g. `OPTIONS *`).
    Target(http::Error),
    NoBackends,
}

pub(crate) async fn handle(
    ctx: Arc<ConnCtx>,
    req: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    let router = &*ctx.router;
    let request_id = headers::request_id(req.headers());
    // Only pay for what the debug log needs when it is on.
    let log = tracing::enabled!(Level::DEBUG)
        .then(|| (Instant::now(), req.method().clone(), req.uri().clone()));

    let mut label_buf = [0u8; host::MAX_LABEL];
    let label =
        request_host(&req).and_then(|h| host::app_label(h, router.domain(), &mut label_buf));
    let Some(label) = label else {
        debug!(request_id = ?request_id, host = ?req.headers().get(HOST), "no app at host");
        return Ok(pages::no_such_app(None, &request_id));
    };
    let Some(entry) = router.lookup(label) else {
        debug!(request_id = ?request_id, app = label, "unknown app");
        let host = format!("{label}.{}", router.domain());
        return Ok(pages::no_such_app(Some(&host), &request_id));
    };
    if entry.backends.is_empty() {
        debug!(request_id = ?request_id, app = label, "app has no web processes");
        return Ok(pages::no_web_processes(&entry.name, &request_id));
    }

    let timeout = router.upstream_timeout();
    let forwarded = tokio::time::timeout(timeout, forward(&ctx, &entry, req, &request_id)).await;
    let (response, backend) = match forwarded {
        Ok(Ok((response, backend))) => {
            let (mut parts, body) = response.into_parts();
            headers::prepare_response(&mut parts.headers, &request_id);
            parts.version = Version::HTTP_11;
            (
                Response::from_parts(parts, Either::Left(body)),
                Some(backend.addr),
            )
        }
        Ok(Err(err)) => {
            debug!(request_id = ?request_id, app = %entry.name, error = %ErrorChain(&err), "bad gateway");
            (pages::bad_gateway(&entry.name, &request_id), None)
        }
        Err(_) => (
            pages::gateway_timeout(&entry.name, timeout, &request_id),
            None,
        ),
    };
    if let Some((started, method, uri)) = log {
        debug!(
            request_id = ?request_id,
            app = %entry.name,
            %method,
            path = uri.path(),
            status = response.status().as_u16(),
            backend = ?backend,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "proxied"
        );
    }
    Ok(response)
}

/// The host the request is for: an absolute-form target wins over `Host` (RFC 9112 3.2.2).
/// Several `Host` headers name nothing.
fn request_host(req: &Request<Incoming>) -> Option<&[u8]> {
    if let Some(authority) = req.uri().authority() {
        return Some(authority.host().as_bytes());
    }
    let mut hosts = req.headers().get_all(HOST).iter();
    let host = hosts.next()?;
    hosts.next().is_none().then_some(host.as_bytes())
}

/// Sends the request to the app's backends in turn until one connects, and returns its
/// response head. Only a failed connect moves on: then nothing of the request has been sent.
async fn forward<'e>(
    ctx: &ConnCtx,
    entry: &'e AppEntry,
    req: Request<Incoming>,
    request_id: &HeaderValue,
) -> Result<(Response<Incoming>, &'e Backend), ForwardError> {
    let router = &*ctx.router;
    let (parts, body) = req.into_parts();
    let http::request::Parts {
        method,
        uri,
        mut headers,
        ..
    } = parts;
    if let Some(authority) = uri.authority() {
        set_host(&mut headers, authority);
    }
    let path = uri
        .into_parts()
        .path_and_query
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    headers::strip_hop_by_hop(&mut headers);
    headers::add_forwarded(&mut headers, &ctx.client, request_id);

    let has_body = !body.is_end_stream();
    let mut pending = has_body.then_some(body);
    let mut candidates = Candidates::new(entry, || router.now_ms()).peekable();
    let mut last_error = ForwardError::NoBackends;
    while let Some(backend) = candidates.next() {
        let is_last = candidates.peek().is_none();
        // The last attempt takes the headers; earlier ones need a copy in case they fail.
        let attempt_headers = if is_last {
            std::mem::take(&mut headers)
        } else {
            headers.clone()
        };
        let mut reclaim = None;
        let body = match pending.take() {
            None => ProxyBody::Empty,
            Some(body) if is_last => ProxyBody::Stream(body),
            Some(body) => {
                let (body, rx) = Reclaimable::new(body);
                reclaim = Some(rx);
                ProxyBody::Reclaimable(body)
            }
        };
        let mut attempt = Request::new(body);
        *attempt.method_mut() = method.clone();
        *attempt.uri_mut() =
            backend_uri(&backend.authority, &path).map_err(ForwardError::Target)?;
        *attempt.headers_mut() = attempt_headers;

        match router.client.request(attempt).await {
            Ok(response) => return Ok((response, backend)),
            Err(err) if err.is_connect() => {
                if balance::mark_down(backend, router.now_ms()) {
                    warn!(app = %entry.name, backend = %backend.addr, error = %ErrorChain(&err),
                        "cannot connect to backend; trying others first for a while");
                }
                last_error = ForwardError::Upstream(err);
                if has_body {
                    // The body comes back only if it was never read, i.e. nothing was sent.
                    match reclaim.and_then(|mut rx| rx.try_recv().ok()) {
                        Some(body) => pending = Some(body),
                        None => return Err(last_error),
                    }
                }
            }
            Err(err) => return Err(ForwardError::Upstream(err)),
        }
    }
    Err(last_error)
}

fn backend_uri(authority: &Authority, path: &PathAndQuery) -> Result<Uri, http::Error> {
    Uri::builder()
        .scheme(Scheme::HTTP)
        .authority(authority.clone())
        .path_and_query(path.clone())
        .build()
}

fn set_host(headers: &mut HeaderMap, authority: &Authority) {
    let host = match authority.port_u16() {
        Some(port) => format!("{}:{port}", authority.host()),
        None => authority.host().to_owned(),
    };
    if let Ok(host) = HeaderValue::try_from(host) {
        headers.insert(HOST, host);
    }
}

/// An error with its sources, for logs (hyper's own messages are terse).
struct ErrorChain<'a>(&'a dyn std::error::Error);

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(err) = source {
            write!(f, ": {err}")?;
            source = err.source();
        }
        Ok(())
    }
}

impl std::fmt::Display for ForwardError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ForwardError::Upstream(err) => ErrorChain(err).fmt(f),
            ForwardError::Target(err) => write!(f, "request target cannot be forwarded: {err}"),
            ForwardError::NoBackends => f.write_str("no backends"),
        }
    }
}

impl std::error::Error for ForwardError {}
