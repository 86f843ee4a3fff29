//! Client connections at the byte level: keep-alive across every kind of request (the
//! router serves plain requests itself and hands a connection to hyper's server at the first
//! request that needs it), pipelining, `Connection: close`, HEAD and malformed heads.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{backend, route, start_router};

/// One response read off a keep-alive connection.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A client connection that reads responses one at a time, keeping what follows them.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    async fn connect(addr: std::net::SocketAddr) -> Client {
        Client {
            stream: TcpStream::connect(addr).await.unwrap(),
            buf: Vec::new(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    async fn more(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        let n = tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut chunk))
            .await
            .expect("the router answers in time")
            .unwrap();
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    async fn line(&mut self) -> String {
        loop {
            if let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8(self.buf[..at].to_vec()).unwrap();
                self.buf.drain(..at + 2);
                return line;
            }
            assert!(self.more().await, "connection closed mid-line");
        }
    }

    async fn exactly(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(self.more().await, "connection closed mid-body");
        }
        self.buf.drain(..n).collect()
    }

    /// The next response; `head_request` when it answers a HEAD (no body follows).
    async fn answer(&mut self, head_request: bool) -> Answer {
        let status_line = self.line().await;
        let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            let line = self.line().await;
            if line.is_empty() {
                break;
            }
            let (k, v) = line.split_once(':').unwrap();
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        let mut answer = Answer {
            status,
            headers,
            body: Vec::new(),
        };
        if head_request {
            return answer;
        }
        if let Some(len) = answer.header("content-length") {
            let len = len.parse().unwrap();
            answer.body = self.exactly(len).await;
        } else if answer.header("transfer-encoding") == Some("chunked") {
            loop {
                let size = usize::from_str_radix(&self.line().await, 16).unwrap();
                let chunk = self.exactly(size + 2).await;
                if size == 0 {
                    break;
                }
                answer.body.extend_from_slice(&chunk[..size]);
            }
        } else {
            while self.more().await {}
            answer.body = std::mem::take(&mut self.buf);
        }
        answer
    }

    async fn is_closed(&mut self) -> bool {
        self.buf.is_empty() && !self.more().await
    }
}

const HOST: &str = "web.paas.test";

#[tokio::test]
async fn one_keep_alive_connection_serves_every_kind_of_request() {
    let r = start_router().await;
    r.router
        .set_route("web", route(&[backend("backend-web").await]));
    let mut c = Client::connect(r.addr).await;

    c.send(format!("GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n").as_bytes())
        .await;
    let a = c.answer(false).await;
    assert_eq!((a.status, a.body.as_slice()), (200, &b"backend-web"[..]));
    assert_eq!(a.header("content-length"), Some("11"));
    assert_eq!(a.header("x-backend"), Some("backend-web"));
    assert_eq!(a.header("via"), Some("1.1 paas"));
    assert_eq!(a.header("x-request-id").map(str::len), Some(16));
    let date = a.header("date").expect("a Date header");
    httpdate::parse_http_date(date).expect("an HTTP date");
    assert_eq!(a.header("connection"), None);

    c.send(format!("HEAD / HTTP/1.1\r\nHost: {HOST}\r\n\r\n").as_bytes())
        .await;
    let a = c.answer(true).await;
    assert_eq!((a.status, a.header("content-length")), (200, Some("11")));

    // A body: from here on hyper's server has the connection.
    c.send(
        format!("POST /count HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 5\r\n\r\nhello")
            .as_bytes(),
    )
    .await;
    let a = c.answer(false).await;
    assert_eq!((a.status, a.body.as_slice()), (200, &b"5"[..]));

    c.send(format!("GET /bytes/100000 HTTP/1.1\r\nHost: {HOST}\r\n\r\n").as_bytes())
        .await;
    let a = c.answer(false).await;
    assert_eq!((a.status, a.body.len()), (200, 100_000));

    c.send(format!("GET / HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n").as_bytes())
        .await;
    let a = c.answer(false).await;
    assert_eq!((a.status, a.header("connection")), (200, Some("close")));
    assert!(
        c.is_closed().await,
        "the router closes after Connection: close"
    );
    r.stop().await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let r = start_router().await;
    r.router
        .set_route("web", route(&[backend("backend-web").await]));
    let mut c = Client::connect(r.addr).await;
    let mut burst = String::new();
    for path in ["/bytes/3", "/", "/bytes/70000", "/headers"] {
        burst.push_str(&format!(
            "GET {path} HTTP/1.1\r\nHost: {HOST}\r\nX-Path: {path}\r\n\r\n"
        ));
    }
    burst.push_str(&format!("HEAD / HTTP/1.1\r\nHost: {HOST}\r\n\r\n"));
    burst.push_str(&format!(
        "GET / HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"
    ));
    c.send(burst.as_bytes()).await;

    let a = c.answer(false).await;
    assert_eq!((a.status, a.body.as_slice()), (200, &b"xxx"[..]));
    // A body of unknown length goes out chunked.
    assert_eq!(a.header("transfer-encoding"), Some("chunked"));
    assert_eq!(c.answer(false).await.body, b"backend-web");
    assert_eq!(c.answer(false).await.body.len(), 70_000);
    let listed = String::from_utf8(c.answer(false).await.body).unwrap();
    assert!(listed.contains("x-path: /headers"), "{listed}");
    assert!(c.answer(true).await.body.is_empty());
    assert_eq!(c.answer(false).await.body, b"backend-web");
    assert!(c.is_closed().await);
    r.stop().await;
}

#[tokio::test]
async fn unknown_hosts_and_broken_heads_keep_their_answers() {
    let r = start_router().await;
    r.router
        .set_route("web", route(&[backend("backend-web").await]));

    let mut c = Client::connect(r.addr).await;
    c.send(b"GET / HTTP/1.1\r\nHost: nope.paas.test\r\n\r\n")
        .await;
    let a = c.answer(false).await;
    assert_eq!(a.status, 404);
    assert!(a.header("date").is_some());
    assert_eq!(
        a.header("content-length").map(str::parse::<usize>),
        Some(Ok(a.body.len()))
    );
    // The connection stays usable after the router's own page.
    c.send(format!("GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n").as_bytes())
        .await;
    assert_eq!(c.answer(false).await.body, b"backend-web");
    // A head that does not parse: 400, and the connection closes.
    c.send(b"GET / HTTP/1.1\r\nHost web\r\n\r\n").await;
    assert_eq!(c.answer(false).await.status, 400);
    assert!(c.is_closed().await);

    // HTTP/1.0 and absolute-form targets are still served.
    let mut c = Client::connect(r.addr).await;
    c.send(format!("GET / HTTP/1.0\r\nHost: {HOST}\r\n\r\n").as_bytes())
        .await;
    let a = c.answer(false).await;
    assert_eq!((a.status, a.body.as_slice()), (200, &b"backend-web"[..]));
    let mut c = Client::connect(r.addr).await;
    c.send(
        format!(
            "GET http://{HOST}/ HTTP/1.1\r\nHost: other.paas.test\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    let a = c.answer(false).await;
    assert_eq!((a.status, a.body.as_slice()), (200, &b"backend-web"[..]));
    r.stop().await;
}
