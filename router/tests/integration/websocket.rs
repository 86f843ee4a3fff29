//! Upgraded connections pass through: a WebSocket echo, over HTTP/1.1 and over HTTP/2
//! (RFC 8441).

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::support::{backend, raw, route, start_router};

/// A page that opens a WebSocket to its own origin, sends `hello` and closes the socket with
/// the echo it got as the reason.
const PAGE: &str = r#"<html><body><script>
const ws = new WebSocket('wss://' + location.host + '/ws');
ws.onopen = () => ws.send('hello');
ws.onmessage = (e) => ws.close(1000, 'echo:' + e.data);
</script></body></html>"#;

/// An app as a browser sees one: `PAGE`, and a WebSocket echo at `/ws` that hands over the
/// reason of the close that ends each session.
async fn page_and_echo_app() -> (std::net::SocketAddr, tokio::sync::mpsc::Receiver<String>) {
    use hyper::service::service_fn;
    use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (closes, closed) = tokio::sync::mpsc::channel(8);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let closes = closes.clone();
            let service = service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
                let closes = closes.clone();
                async move {
                    let key = req.headers().get("sec-websocket-key").cloned();
                    let ok = http::Response::builder();
                    let response = match key {
                        Some(key) if req.uri().path() == "/ws" => {
                            let upgraded = hyper::upgrade::on(&mut req);
                            tokio::spawn(async move {
                                let Ok(upgraded) = upgraded.await else { return };
                                let io = TokioIo::new(upgraded);
                                let mut ws =
                                    WebSocketStream::from_raw_socket(io, Role::Server, None).await;
                                while let Some(Ok(message)) = ws.next().await {
                                    if let Message::Close(frame) = &message {
                                        let reason = frame.as_ref().map(|f| f.reason.to_string());
                                        let _ = closes.send(reason.unwrap_or_default()).await;
                                        break;
                                    }
                                    if ws.send(message).await.is_err() {
                                        break;
                                    }
                                }
                            });
                            ok.status(101)
                                .header("connection", "upgrade")
                                .header("upgrade", "websocket")
                                .header("sec-websocket-accept", derive_accept_key(key.as_bytes()))
                                .body(http_body_util::Full::new(Bytes::new()))
                        }
                        _ => {
                            ok.header("content-type", "text/html")
                                .body(http_body_util::Full::new(Bytes::from_static(
                                    PAGE.as_bytes(),
                                )))
                        }
                    };
                    Ok::<_, std::convert::Infallible>(response.unwrap())
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades(),
            );
        }
    });
    (addr, closed)
}

/// A WebSocket server that echoes every message.
async fn echo_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(message)) = ws.next().await {
                    if message.is_close() {
                        break;
                    }
                    if ws.send(message).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// Sends the messages numbered `numbers` one by one and checks each comes back.
async fn echoes<S>(ws: &mut WebSocketStream<S>, numbers: std::ops::Range<usize>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    for i in numbers {
        let text = format!("message {i}");
        ws.send(Message::text(text.clone())).await.unwrap();
        let echoed = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(echoed, Message::text(text));
    }
}

/// A 1 MiB message there and back.
async fn echoes_a_large_message<S>(ws: &mut WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let big = vec![7u8; 1 << 20];
    ws.send(Message::binary(big.clone())).await.unwrap();
    let echoed = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(echoed.into_data().as_ref(), &big[..]);
}

#[tokio::test]
async fn websocket_messages_echo_through_the_router() {
    let r = start_router().await;
    r.router.set_route("chat", route(&[echo_server().await]));

    let stream = TcpStream::connect(r.addr).await.unwrap();
    let (mut ws, response) = tokio_tungstenite::client_async("ws://chat.paas.test/socket", stream)
        .await
        .expect("the upgrade goes through");
    assert_eq!(response.status(), 101);
    assert!(response.headers().contains_key("x-request-id"));

    echoes(&mut ws, 0..50).await;
    echoes_a_large_message(&mut ws).await;
    ws.close(None).await.unwrap();
    r.stop().await;
}

#[tokio::test]
async fn an_idle_websocket_is_closed_after_the_idle_timeout() {
    let r = start_router().await;
    let mut chat = route(&[echo_server().await]);
    chat.timeouts.idle = Duration::from_millis(500);
    r.router.set_route("chat", chat);

    let stream = TcpStream::connect(r.addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async("ws://chat.paas.test/", stream)
        .await
        .unwrap();
    ws.send(Message::text("hi")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hi"));
    // Then silence: the router closes the tunnel.
    let next = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("the router closes an idle tunnel");
    assert!(
        !matches!(next, Some(Ok(Message::Text(_)))),
        "no message was expected: {next:?}"
    );
    r.stop().await;
}

/// An RFC 8441 WebSocket request: CONNECT with `:protocol` websocket.
fn websocket_connect(url: &str) -> http::Request<Empty<Bytes>> {
    let mut request = http::Request::connect(url)
        .header("sec-websocket-version", "13")
        .body(Empty::new())
        .unwrap();
    request
        .extensions_mut()
        .insert(hyper::ext::Protocol::from_static("websocket"));
    request
}

#[tokio::test]
async fn websocket_messages_echo_over_http2() {
    let r = start_router().await;
    r.router.set_route("chat", route(&[echo_server().await]));
    r.router
        .set_route("web", route(&[backend("backend-web").await]));

    let (mut sender, _conn) = r.http2("chat.paas.test").await;
    let response = sender
        .send_request(websocket_connect("https://chat.paas.test/socket"))
        .await
        .expect("the router takes extended CONNECT");
    // The echo server accepted an HTTP/1.1 handshake (GET, Upgrade, a Sec-WebSocket-Key);
    // the HTTP/2 client sees 200 and none of that handshake.
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    for name in ["sec-websocket-accept", "upgrade", "connection"] {
        assert!(!response.headers().contains_key(name), "{name} sent");
    }
    let stream = hyper::upgrade::on(response).await.unwrap();
    let mut ws = WebSocketStream::from_raw_socket(TokioIo::new(stream), Role::Client, None).await;

    echoes(&mut ws, 0..10).await;
    // The connection's other streams keep working while the tunnel is open.
    let request = http::Request::get("https://web.paas.test/")
        .body(Empty::new())
        .unwrap();
    let answer = sender.send_request(request).await.unwrap();
    assert_eq!(answer.status(), 200);
    let body = answer.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"backend-web");
    echoes(&mut ws, 10..20).await;
    echoes_a_large_message(&mut ws).await;
    ws.close(None).await.unwrap();
    // The app's side of the close ends the stream: the client reads the end of it.
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = ws.next().await {}
    });
    closed.await.expect("the tunnel ends when the app closes");
    drop((ws, sender));
    r.stop().await;
}

#[tokio::test]
async fn an_http2_websocket_request_the_app_does_not_switch_for_gets_502() {
    let r = start_router().await;
    r.router
        .set_route("web", route(&[backend("backend-web").await]));

    let (mut sender, conn) = r.http2("web.paas.test").await;
    let response = sender
        .send_request(websocket_connect("https://web.paas.test/"))
        .await
        .unwrap();
    // The app answered 200 with its page: passed on, that would read as an open tunnel.
    assert_eq!(response.status(), 502);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("without switching protocols"), "{body}");
    // The connection is fine for the next request.
    let request = http::Request::get("https://web.paas.test/")
        .body(Empty::new())
        .unwrap();
    assert_eq!(sender.send_request(request).await.unwrap().status(), 200);
    assert!(!conn.is_finished());
    r.stop().await;
}

#[tokio::test]
async fn connect_to_a_host_and_port_is_refused() {
    let r = start_router().await;
    r.router
        .set_route("web", route(&[backend("backend-web").await]));

    for target in ["web.paas.test:80", "example.com:443"] {
        let answer = raw(
            r.addr,
            &format!("CONNECT {target} HTTP/1.1\r\nHost: {target}"),
        )
        .await;
        assert_eq!(answer.status, 405, "{target}: {}", answer.body);
        assert!(
            answer.body.contains("does not open tunnels"),
            "{}",
            answer.body
        );
        assert!(answer.header("x-request-id").is_some());
    }
    // Over HTTP/2, CONNECT without :protocol is refused the same way.
    let (mut sender, _conn) = r.http2("web.paas.test").await;
    let request = http::Request::connect("web.paas.test:443")
        .body(Empty::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 405);
    r.stop().await;
}

#[tokio::test]
async fn chromium_opens_its_websocket_over_http2() {
    let r = start_router().await;
    let (app, mut closed) = page_and_echo_app().await;
    r.router.set_route("web", route(&[app]));
    let mut log = r.router.access_log();

    // The browser loads the page over HTTP/2 and, as the router offers extended CONNECT, opens
    // the page's WebSocket on the same connection.
    let profile = tempfile::tempdir().unwrap();
    let mut browser = tokio::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .args([
            "--disable-background-networking",
            "--ignore-certificate-errors",
        ])
        .arg("--remote-debugging-port=0")
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!(
            "--host-resolver-rules=MAP *.paas.test:443 {}",
            r.tls_addr
        ))
        .arg("https://web.paas.test/")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromium runs (deploy/test.sh installs it)");
    let reason = tokio::time::timeout(Duration::from_secs(60), closed.recv())
        .await
        .expect("the page's WebSocket reaches the app and is closed");
    browser.kill().await.unwrap();
    assert_eq!(
        reason.as_deref(),
        Some("echo:hello"),
        "the page got the echo"
    );

    let mut lines = Vec::new();
    while let Ok(Ok(line)) = tokio::time::timeout(Duration::from_millis(500), log.recv()).await {
        lines.push(line.line);
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("method=CONNECT path=\"/ws\"") && l.contains("status=101")),
        "the WebSocket came as an HTTP/2 extended CONNECT: {lines:#?}"
    );
    r.stop().await;
}
