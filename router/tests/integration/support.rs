//! Test backends, a running router, and a raw HTTP client for requests reqwest will not send.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use paas_router::{serve, Router, RouterError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const DOMAIN: &str = "paas.test";

/// Starts a backend that answers with its name. Paths:
/// `/headers` lists the request headers (`name: value` lines) and sends hop-by-hop headers back,
/// `/echo` streams the request body back, `/slow` answers after 3 s, anything else: the name.
pub async fn backend(name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(move |req| answer(name, req));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

type Body = Either<Incoming, Full<Bytes>>;

async fn answer(name: &'static str, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let text = |s: String| Either::Right(Full::new(Bytes::from(s)));
    let mut response = match req.uri().path() {
        "/headers" => {
            let mut list = String::new();
            for (k, v) in req.headers() {
                list.push_str(&format!("{k}: {}\n", v.to_str().unwrap_or("<binary>")));
            }
            let mut response = Response::new(text(list));
            let h = response.headers_mut();
            h.insert("connection", "x-resp-hop".parse().unwrap());
            h.insert("x-resp-hop", "secret".parse().unwrap());
            h.insert("keep-alive", "timeout=5".parse().unwrap());
            h.insert("proxy-authenticate", "Basic".parse().unwrap());
            h.insert("x-request-id", "from-the-backend".parse().unwrap());
            response
        }
        "/echo" => Response::new(Either::Left(req.into_body())),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Response::new(text(name.to_owned()))
        }
        _ => Response::new(text(name.to_owned())),
    };
    response
        .headers_mut()
        .insert("x-backend", name.parse().unwrap());
    Ok(response)
}

/// An address with nothing listening on it.
pub fn dead_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

pub struct TestRouter {
    pub router: Arc<Router>,
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), RouterError>>>,
}

pub async fn start_router() -> TestRouter {
    let router = Router::new(DOMAIN);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, Arc::clone(&router), async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    TestRouter {
        router,
        addr,
        http,
        stop: Some(stop),
        task: Some(task),
    }
}

impl TestRouter {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// GET `path` with the given Host header.
    pub async fn get(&self, host: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .header("host", host)
            .send()
            .await
            .unwrap()
    }

    /// GET and return (status, body).
    pub async fn get_text(&self, host: &str, path: &str) -> (u16, String) {
        let response = self.get(host, path).await;
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// Stops the router and checks that `serve` returns cleanly.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let task = self.task.take().unwrap();
        let result = tokio::time::timeout(Duration::from_secs(15), task)
            .await
            .expect("serve returns after shutdown")
            .unwrap();
        result.unwrap();
    }
}

pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `head` (request line and headers, without the final blank line) on a fresh
/// connection with `Connection: close` and reads the whole answer.
pub async fn raw(addr: SocketAddr, head: &str) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("{head}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer))
        .await
        .expect("router answers")
        .unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("a response head");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    let response = RawResponse {
        status,
        headers,
        body: body.to_owned(),
    };
    assert_ne!(
        response.header("transfer-encoding"),
        Some("chunked"),
        "the raw client reads only fixed-length bodies"
    );
    response
}

/// The headers a `/headers` backend reported, lower-cased names.
pub fn parse_header_list(body: &str) -> Vec<(String, String)> {
    body.lines()
        .map(|l| {
            let (k, v) = l.split_once(": ").unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

pub fn host(app: &str) -> String {
    format!("{app}.{DOMAIN}")
}
