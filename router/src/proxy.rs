//! One request: find the app, decide who answers, forward, stream the answer back.

use std::convert::Infallible;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, HOST, SET_COOKIE};
use http::uri::{Authority, PathAndQuery};
use http::{Request, Response, StatusCode, Uri, Version};
use hyper::body::{Body, Incoming};
use tracing::debug;

use crate::access_log::{Failure, LogCtx};
use crate::body::{Finish, ProxyBody, ResponseBody};
use crate::forward::{forward, Forwarded};
use crate::headers::{self, ClientInfo};
use crate::host;
use crate::pages;
use crate::router::Router;
use crate::table::AppEntry;
use crate::{canary, upgrade};

/// Per client connection: built once when it is accepted.
pub(crate) struct ConnCtx {
    pub(crate) router: Arc<Router>,
    pub(crate) client: ClientInfo,
}

pub(crate) async fn handle(
    ctx: Arc<ConnCtx>,
    mut req: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    let started = Instant::now();
    let router = &*ctx.router;
    let request_id = headers::request_id(req.headers());

    let mut host_buf = [0u8; host::MAX_NAME];
    let host = request_host(&req).and_then(|h| host::normalize_host(h, &mut host_buf));
    let entry = host.and_then(|h| router.table().resolve(h, router.domain()).cloned());
    let Some(entry) = entry else {
        router.metrics.unknown_host.fetch_add(1, Relaxed);
        debug!(request_id = ?request_id, host = ?req.headers().get(HOST), "no app at host");
        return Ok(pages::no_such_app(host, &request_id));
    };
    let host = host.unwrap_or_default();
    // Only pay for the access log line when someone reads it.
    let log = router.access_log.wanted().then(|| {
        Box::new(LogCtx {
            log: Arc::clone(&router.access_log),
            method: req.method().clone(),
            path: req
                .uri()
                .path_and_query()
                .map_or("/", PathAndQuery::as_str)
                .to_owned(),
            host: host.to_owned(),
            request_id: request_id.clone(),
            fwd: ctx.client.ip.clone(),
            protocol: ctx.client.protocol(),
        })
    });
    let mut finish = Finish {
        entry: None,
        upstream: None,
        counted: false,
        conn: None,
        started,
        connect: Duration::ZERO,
        status: 0,
        failure: None,
        log,
    };
    let route = &entry.route;

    if route.maintenance {
        let page = pages::maintenance(&entry.name, &request_id);
        return Ok(finished(page, entry, finish, Some(Failure::Maintenance)));
    }
    if route.redirect_https && !ctx.client.tls {
        let page = redirect_to_https(router, host, req.uri(), &request_id);
        return Ok(finished(page, entry, finish, None));
    }
    let (pool, cookie) = canary::choose(&entry, req.headers());
    if pool.upstreams.is_empty() {
        let page = pages::no_web_processes(&entry.name, &request_id);
        return Ok(finished(page, entry, finish, Some(Failure::NoProcesses)));
    }
    if let Some(limit) = route.max_body_bytes {
        if declared_length(req.headers()).is_some_and(|n| n > limit) {
            let page = pages::too_large(&entry.name, limit, &request_id);
            return Ok(finished(page, entry, finish, Some(Failure::BodyTooLarge)));
        }
    }

    let upgrade = (req.version() == Version::HTTP_11)
        .then(|| upgrade::requested(req.headers()))
        .flatten();
    let client_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));
    let outgoing = outgoing_request(&ctx.client, req, &request_id, upgrade.clone(), route);

    let timeout = route.timeouts.response;
    let mut tried = None;
    let forwarded = tokio::time::timeout(
        timeout.saturating_sub(started.elapsed()),
        forward(router, &entry, pool, outgoing, &mut tried),
    )
    .await;
    let Forwarded {
        response,
        at,
        counted,
        sender,
        connect,
    } = match forwarded {
        Ok(Ok(forwarded)) => forwarded,
        Ok(Err(failure)) => {
            debug!(request_id = ?request_id, app = %entry.name, ?failure, "no answer from the app");
            let page = match failure {
                Failure::BodyTooLarge => pages::too_large(
                    &entry.name,
                    route.max_body_bytes.unwrap_or_default(),
                    &request_id,
                ),
                Failure::ClientIdle => pages::request_timeout(route.timeouts.idle, &request_id),
                _ => pages::bad_gateway(&entry.name, &request_id),
            };
            finish.upstream = tried;
            return Ok(finished(page, entry, finish, Some(failure)));
        }
        Err(_) => {
            if let Some(upstream) = tried.and_then(|at| entry.upstream(at)) {
                upstream.series.upstream_error();
            }
            let page = pages::gateway_timeout(&entry.name, timeout, &request_id);
            finish.upstream = tried;
            return Ok(finished(page, entry, finish, Some(Failure::Timeout)));
        }
    };

    let (mut parts, body) = response.into_parts();
    let mut response_upgrade = None;
    if parts.status == StatusCode::SWITCHING_PROTOCOLS {
        if let (Some(client), Some(protocol)) = (client_upgrade, upgrade) {
            response_upgrade = Some((
                client,
                parts
                    .headers
                    .get(http::header::UPGRADE)
                    .cloned()
                    .unwrap_or(protocol),
            ));
        }
    }
    headers::prepare_response(&mut parts.headers, &request_id);
    if let Some(cookie) = cookie {
        parts.headers.append(SET_COOKIE, cookie);
    }
    parts.version = Version::HTTP_11;
    let mut response = Response::from_parts(parts, body);
    if let Some((client, protocol)) = response_upgrade {
        upgrade::restore(response.headers_mut(), protocol);
        let backend = hyper::upgrade::on(&mut response);
        upgrade::tunnel(
            client,
            backend,
            route.timeouts.idle,
            Arc::clone(&entry.name),
        );
    }
    let (parts, body) = response.into_parts();
    let mut body = ResponseBody::upstream(body, route.timeouts.idle);
    finish.status = parts.status.as_u16();
    finish.connect = connect.unwrap_or_default();
    finish.upstream = Some(at);
    finish.counted = counted;
    // Pooled again only if the body is read to the end (an upgraded one never is).
    finish.conn = (parts.status != StatusCode::SWITCHING_PROTOCOLS).then_some(sender);
    finish.entry = Some(entry);
    body.set_finish(finish);
    Ok(Response::from_parts(parts, body))
}

/// Attaches the request's bookkeeping to a page the router answers with.
fn finished(
    mut page: Response<ResponseBody>,
    entry: Arc<AppEntry>,
    mut finish: Finish,
    failure: Option<Failure>,
) -> Response<ResponseBody> {
    finish.status = page.status().as_u16();
    finish.failure = failure;
    finish.entry = Some(entry);
    page.body_mut().set_finish(finish);
    page
}

/// The request as the process gets it: origin-form target, hop-by-hop headers replaced by the
/// forwarding ones.
fn outgoing_request(
    client: &ClientInfo,
    req: Request<Incoming>,
    request_id: &HeaderValue,
    upgrade: Option<HeaderValue>,
    route: &crate::route::AppRoute,
) -> Request<ProxyBody> {
    let (mut parts, body) = req.into_parts();
    if let Some(authority) = parts.uri.authority() {
        set_host(&mut parts.headers, authority);
    }
    let path = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    parts.uri = Uri::from(path);
    parts.version = Version::HTTP_11;
    headers::strip_hop_by_hop(&mut parts.headers);
    headers::add_forwarded(&mut parts.headers, client, request_id);
    if let Some(protocol) = upgrade {
        upgrade::restore(&mut parts.headers, protocol);
    }
    let body = (!body.is_end_stream()).then_some(body);
    let body = ProxyBody::new(body, route.max_body_bytes, route.timeouts.idle);
    Request::from_parts(parts, body)
}

/// The host the request is for: an absolute-form target (or HTTP/2 `:authority`) wins over
/// `Host` (RFC 9112 3.2.2). Several `Host` headers name nothing.
fn request_host(req: &Request<Incoming>) -> Option<&[u8]> {
    if let Some(authority) = req.uri().authority() {
        return Some(authority.host().as_bytes());
    }
    let mut hosts = req.headers().get_all(HOST).iter();
    let host = hosts.next()?;
    hosts.next().is_none().then_some(host.as_bytes())
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

fn redirect_to_https(
    router: &Router,
    host: &str,
    uri: &Uri,
    request_id: &HeaderValue,
) -> Response<ResponseBody> {
    let port = router.https_port(&router.current_settings());
    let path = uri.path_and_query().map_or("/", PathAndQuery::as_str);
    let location = if port == 443 {
        format!("https://{host}{path}")
    } else {
        format!("https://{host}:{port}{path}")
    };
    match HeaderValue::try_from(location) {
        Ok(location) => pages::redirect(location, request_id),
        Err(_) => pages::no_such_app(Some(host), request_id),
    }
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
