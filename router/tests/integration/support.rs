//! Test backends, a running router (HTTP and HTTPS), and a raw HTTP client for requests
//! reqwest will not send.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Either, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use paas_router::{serve, serve_tls, AppRoute, Backend, Router};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub const DOMAIN: &str = "paas.test";

/// Starts a backend that answers with its name. Paths:
/// `/headers` lists the request headers (`name: value` lines) and sends hop-by-hop headers back,
/// `/echo` streams the request body back, `/count` reads the whole body and answers its length,
/// `/bytes/N` streams N bytes, `/slow` answers after 3 s, anything else: the name.
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

type Body = Either<Either<Incoming, Full<Bytes>>, StreamBody<GeneratedBytes>>;

async fn answer(name: &'static str, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let text = |s: String| Either::Left(Either::Right(Full::new(Bytes::from(s))));
    let path = req.uri().path().to_owned();
    let mut response = match path.as_str() {
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
        "/echo" => Response::new(Either::Left(Either::Left(req.into_body()))),
        "/count" => {
            let mut body = req.into_body();
            let mut n = 0u64;
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(frame) => n += frame.data_ref().map_or(0, |d| d.len() as u64),
                    Err(_) => return Ok(Response::new(text("body error".into()))),
                }
            }
            Response::new(text(n.to_string()))
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Response::new(text(name.to_owned()))
        }
        p if p.starts_with("/bytes/") => {
            let n: u64 = p["/bytes/".len()..].parse().unwrap();
            Response::new(Either::Right(StreamBody::new(GeneratedBytes { left: n })))
        }
        _ => Response::new(text(name.to_owned())),
    };
    response
        .headers_mut()
        .insert("x-backend", name.parse().unwrap());
    Ok(response)
}

/// `left` bytes of `x`, made 64 KiB at a time as they are read.
pub struct GeneratedBytes {
    pub left: u64,
}

impl futures_util::Stream for GeneratedBytes {
    type Item = Result<Frame<Bytes>, Infallible>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        static CHUNK: [u8; 65536] = [b'x'; 65536];
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        let n = self.left.min(CHUNK.len() as u64);
        self.left -= n;
        std::task::Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(
            &CHUNK[..n as usize],
        )))))
    }
}

/// An address with nothing listening on it.
pub fn dead_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// Processes `web.1`, `web.2`, ... of release `release` at `addrs`.
pub fn processes(release: u64, addrs: &[SocketAddr]) -> Vec<Backend> {
    addrs
        .iter()
        .enumerate()
        .map(|(i, &a)| Backend::new(a, release, format!("web.{}", i + 1)))
        .collect()
}

/// A route for processes of release 1 at `addrs`.
pub fn route(addrs: &[SocketAddr]) -> AppRoute {
    AppRoute::new(processes(1, addrs))
}

pub struct TestRouter {
    pub router: Arc<Router>,
    pub addr: SocketAddr,
    pub tls_addr: SocketAddr,
    pub http: reqwest::Client,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Result<(), paas_router::RouterError>>>,
}

pub async fn start_router() -> TestRouter {
    let router = Router::new(DOMAIN);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tls_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls_addr = tls_listener.local_addr().unwrap();
    let (stop, stopped) = watch::channel(false);
    let until = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let tasks = vec![
        tokio::spawn(serve(listener, Arc::clone(&router), until(stopped.clone()))),
        tokio::spawn(serve_tls(tls_listener, Arc::clone(&router), until(stopped))),
    ];
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    TestRouter {
        router,
        addr,
        tls_addr,
        http,
        stop,
        tasks,
    }
}

/// An HTTP/2 connection to the router's TLS listener: its request sender and the task that
/// drives it (done when the connection closes).
pub type Http2Client = (
    hyper::client::conn::http2::SendRequest<http_body_util::Empty<Bytes>>,
    JoinHandle<hyper::Result<()>>,
);

impl TestRouter {
    /// Opens an HTTP/2 connection over TLS to `server_name` (trusting the router's fallback
    /// certificate).
    pub async fn http2(&self, server_name: &str) -> Http2Client {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, ServerName};

        let mut roots = rustls::RootCertStore::empty();
        let fallback = self.router.fallback_certificate_pem();
        roots
            .add(CertificateDer::from_pem_slice(fallback.as_bytes()).unwrap())
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let tcp = TcpStream::connect(self.tls_addr).await.unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from(server_name.to_owned()).unwrap(), tcp)
            .await
            .unwrap();
        let (sender, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            TokioIo::new(tls),
        )
        .await
        .unwrap();
        (sender, tokio::spawn(conn))
    }

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

    /// Stops the router and checks that the listeners return cleanly.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let result = tokio::time::timeout(Duration::from_secs(15), task)
                .await
                .expect("the listener returns after shutdown")
                .unwrap();
            result.unwrap();
        }
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
