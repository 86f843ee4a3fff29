//! One request: find the app, decide who answers, forward, stream the answer back.

use std::convert::Infallible;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue};
use http::uri::PathAndQuery;
use http::{Method, Request, Response, StatusCode, Version};
use hyper::body::{Body, Incoming};
use hyper::upgrade::OnUpgrade;
use tracing::debug;

use crate::access_log::{Failure, LogCtx};
use crate::body::{Finish, ProxyBody, ResponseBody};
use crate::client::{self, Answer, Framing, Rest};
use crate::deadlines::Deadlines;
use crate::forward::{forward, Forwarded};
use crate::headers::{self, ClientInfo, Fields, Outbound};
use crate::host;
use crate::pages;
use crate::request_id::RequestId;
use crate::response_head::{Reply, ReplyHead};
use crate::route::AppRoute;
use crate::router::Router;
use crate::table::AppEntry;
use crate::{canary, upgrade};

/// Per client connection: built once when it is accepted.
pub(crate) struct ConnCtx {
    pub(crate) router: Arc<Router>,
    pub(crate) client: ClientInfo,
    /// HTTP/1.1: the waits for the next request head and for the process's response head.
    pub(crate) deadlines: Deadlines,
}

pub(crate) async fn handle(
    ctx: Arc<ConnCtx>,
    req: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    ctx.deadlines.in_service();
    let mut response = answer(&ctx, req).await.into_response();
    // An upgraded connection leaves hyper; any other waits for its next head once this
    // response is out.
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        response.body_mut().restart_head_clock(ctx);
    }
    Ok(response)
}

/// The response head did not come in time.
struct TimedOut;

/// A request as it came from the client: one hyper parsed, or a head the router's own
/// HTTP/1.1 server parsed (see [`h1`](crate::h1)).
pub(crate) trait Inbound {
    type Fields: Fields + ?Sized;
    fn fields(&self) -> &Self::Fields;
    fn method(&self) -> &Method;
    /// Path and query.
    fn target(&self) -> &str;
    /// The host the request is for: an absolute-form target (or HTTP/2 `:authority`) wins
    /// over `Host` (RFC 9112 3.2.2). Several `Host` headers name nothing.
    fn host(&self) -> Option<&[u8]>;
    fn is_http2(&self) -> bool;
    /// The protocol an HTTP/1.1 request asks to upgrade to.
    fn upgrade(&self) -> Option<HeaderValue>;
    /// The request as the process gets it, and (for an upgrade) the client's side of it.
    fn into_outgoing(
        self,
        out: &Outbound<'_>,
        route: &AppRoute,
    ) -> (client::Request, Option<OnUpgrade>);
}

impl Inbound for Request<Incoming> {
    type Fields = HeaderMap;

    fn fields(&self) -> &HeaderMap {
        self.headers()
    }

    fn method(&self) -> &Method {
        Request::method(self)
    }

    fn target(&self) -> &str {
        self.uri()
            .path_and_query()
            .map_or("/", PathAndQuery::as_str)
    }

    fn host(&self) -> Option<&[u8]> {
        if let Some(authority) = self.uri().authority() {
            return Some(authority.host().as_bytes());
        }
        self.headers().only("host")
    }

    fn is_http2(&self) -> bool {
        self.version() == Version::HTTP_2
    }

    fn upgrade(&self) -> Option<HeaderValue> {
        match self.version() {
            Version::HTTP_11 => upgrade::requested(self.headers()),
            Version::HTTP_2 => upgrade::extended_connect(self),
            _ => None,
        }
    }

    fn into_outgoing(
        mut self,
        out: &Outbound<'_>,
        route: &AppRoute,
    ) -> (client::Request, Option<OnUpgrade>) {
        let client_upgrade = out.upgrade.map(|_| hyper::upgrade::on(&mut self));
        let (mut parts, body) = self.into_parts();
        if let Some(protocol) = out.upgrade.filter(|_| parts.method == Method::CONNECT) {
            // An HTTP/2 extended CONNECT reaches the process as an HTTP/1.1 upgrade.
            parts.method = Method::GET;
            upgrade::as_http1_handshake(&mut parts.headers, protocol);
        }
        let body = (!body.is_end_stream()).then(|| {
            Box::new(ProxyBody::new(
                body,
                route.max_body_bytes,
                route.timeouts.idle,
            ))
        });
        let framing = Framing::of(&parts.headers, body.as_deref());
        let host = parts
            .uri
            .authority()
            .map(|authority| match authority.port_u16() {
                Some(port) => format!("{}:{port}", authority.host()),
                None => authority.host().to_owned(),
            });
        let path = parts.uri.path_and_query().map_or("/", PathAndQuery::as_str);
        let out = Outbound {
            host: host.as_deref(),
            chunked: framing == Framing::Chunked,
            ..*out
        };
        let head = headers::encode_request_head(
            &parts.method,
            path,
            &parts.headers,
            &out,
            &mut bytes::BytesMut::new(),
        );
        (
            client::Request::new(head, &parts.method, framing, body),
            client_upgrade,
        )
    }
}

pub(crate) async fn answer<R: Inbound>(ctx: &ConnCtx, req: R) -> Reply {
    let started = Instant::now();
    let http2 = req.is_http2();
    let router = &*ctx.router;
    let request_id = RequestId::of(req.fields());

    if req.method() == Method::CONNECT && req.upgrade().is_none() {
        // Only a tunnel to an app's own protocol (RFC 8441) is a CONNECT the router takes.
        return pages::not_a_proxy(&request_id).into();
    }
    let mut host_buf = [0u8; host::MAX_NAME];
    let host = req
        .host()
        .and_then(|h| host::normalize_host(h, &mut host_buf));
    let entry = host.and_then(|h| router.table().resolve(h, router.domain()).cloned());
    let Some(entry) = entry else {
        router.metrics.unknown_host.fetch_add(1, Relaxed);
        debug!(request_id = ?request_id, host = ?req.host().map(String::from_utf8_lossy), "no app at host");
        return pages::no_such_app(host, &request_id).into();
    };
    let host = host.unwrap_or_default();
    // Only pay for the access log line when someone reads it.
    let log = router.access_log.wanted().then(|| {
        Box::new(LogCtx {
            log: Arc::clone(&router.access_log),
            method: req.method().clone(),
            path: req.target().to_owned(),
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
        started,
        connect: Duration::ZERO,
        status: 0,
        failure: None,
        log,
    };
    let route = &entry.route;

    if route.maintenance {
        let page = pages::maintenance(&entry.name, &request_id);
        return finished(page, entry, finish, Some(Failure::Maintenance));
    }
    if route.redirect_https && !ctx.client.tls {
        let page = redirect_to_https(router, host, req.target(), &request_id);
        return finished(page, entry, finish, None);
    }
    let (pool, cookie) = canary::choose(&entry, req.fields());
    if pool.upstreams.is_empty() {
        let page = pages::no_web_processes(&entry.name, &request_id);
        return finished(page, entry, finish, Some(Failure::NoProcesses));
    }
    if let Some(limit) = route.max_body_bytes {
        if declared_length(req.fields()).is_some_and(|n| n > limit) {
            let page = pages::too_large(&entry.name, limit, &request_id);
            return finished(page, entry, finish, Some(Failure::BodyTooLarge));
        }
    }

    let upgrade = req.upgrade();
    let asks_upgrade = upgrade.is_some();
    let out = Outbound {
        client: &ctx.client,
        request_id: &request_id,
        host: None,
        upgrade: upgrade.as_ref(),
        chunked: false,
    };
    let (outgoing, client_upgrade) = req.into_outgoing(&out, route);

    let timeout = route.timeouts.response;
    let mut tried = None;
    // The forwarding future is made where it is polled: it is large, and moving it is a copy.
    let forwarded = if http2 {
        // Each HTTP/2 stream is a task of its own, out of the connection watchdog's reach.
        tokio::time::timeout(
            timeout.saturating_sub(started.elapsed()),
            forward(router, &entry, pool, outgoing, asks_upgrade, &mut tried),
        )
        .await
        .map_err(|_| TimedOut)
    } else {
        let deadlines = &ctx.deadlines;
        deadlines.expect_response_by(started + timeout);
        let mut forwarding = std::pin::pin!(forward(
            router,
            &entry,
            pool,
            outgoing,
            asks_upgrade,
            &mut tried
        ));
        let forwarded = std::future::poll_fn(|cx| {
            if deadlines.response_overdue() {
                return std::task::Poll::Ready(Err(TimedOut));
            }
            std::future::Future::poll(forwarding.as_mut(), cx).map(Ok)
        })
        .await;
        deadlines.response_head_arrived();
        forwarded
    };
    let Forwarded {
        answer,
        at,
        counted,
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
                Failure::ClientGone => pages::body_interrupted(&request_id),
                _ => pages::bad_gateway(&entry.name, &request_id),
            };
            finish.upstream = tried;
            return finished(page, entry, finish, Some(failure));
        }
        Err(_) => {
            if let Some(upstream) = tried.and_then(|at| entry.upstream(at)) {
                upstream.series.upstream_error();
            }
            let page = pages::gateway_timeout(&entry.name, timeout, &request_id);
            finish.upstream = tried;
            return finished(page, entry, finish, Some(Failure::Timeout));
        }
    };

    let Answer { mut head, rest } = answer;
    head.set_request_id(request_id.clone());
    if let Some(cookie) = cookie {
        head.set_cookie(cookie);
    }
    let status = head.status;
    let (head, mut body) = match rest {
        // To an HTTP/2 client any 2xx to a CONNECT means the tunnel is up: one the process
        // did not switch protocols for must not look like it.
        Rest::Body(_) if http2 && asks_upgrade && status.is_success() => {
            let page = pages::upgrade_refused(&entry.name, &request_id);
            finish.upstream = Some(at);
            return finished(page, entry, finish, Some(Failure::UpgradeRefused));
        }
        Rest::Body(reader) => (
            ReplyHead::Process(head),
            ResponseBody::upstream(reader, route.timeouts.idle),
        ),
        Rest::Upgraded(conn) => {
            let mut parts = head.into_parts();
            // Only an upgrade request gets here (the client refuses a 101 otherwise).
            if let (Some(client), Some(protocol)) = (client_upgrade, upgrade) {
                if http2 {
                    upgrade::as_http2_answer(&mut parts);
                } else {
                    let protocol = parts
                        .headers
                        .get(http::header::UPGRADE)
                        .cloned()
                        .unwrap_or(protocol);
                    upgrade::restore(&mut parts.headers, protocol);
                }
                upgrade::tunnel(client, conn, route.timeouts.idle, Arc::clone(&entry.name));
            }
            (ReplyHead::Page(parts), ResponseBody::full(Bytes::new()))
        }
    };
    finish.status = status.as_u16();
    finish.connect = connect.unwrap_or_default();
    finish.upstream = Some(at);
    finish.counted = counted;
    finish.entry = Some(entry);
    body.set_finish(finish);
    Reply { head, body }
}

/// Attaches the request's bookkeeping to a page the router answers with.
fn finished(
    mut page: Response<ResponseBody>,
    entry: Arc<AppEntry>,
    mut finish: Finish,
    failure: Option<Failure>,
) -> Reply {
    finish.status = page.status().as_u16();
    finish.failure = failure;
    finish.entry = Some(entry);
    page.body_mut().set_finish(finish);
    page.into()
}

fn declared_length<F: Fields + ?Sized>(fields: &F) -> Option<u64> {
    headers::content_length(fields.first("content-length")?)
}

fn redirect_to_https(
    router: &Router,
    host: &str,
    path: &str,
    request_id: &RequestId,
) -> Response<ResponseBody> {
    let port = router.https_port(&router.current_settings());
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
