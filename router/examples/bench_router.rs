//! The pieces `bench/router.sh` runs: a fast HTTP backend, and the paas router serving a route
//! table read from a file (no controller, no Docker).
//!
//! ```text
//! bench_router backend 127.0.0.1:18081
//! bench_router router 127.0.0.1:18080 --table routes.txt [--domain bench.test] [--threads 2]
//!                     [--mode shared|per-thread]
//! ```
//!
//! A table file has one app per line: `NAME ADDR [ADDR ...]`.
//! `--mode shared` runs one multi-threaded runtime with one listener; `per-thread` runs a
//! single-threaded runtime per thread, each with its own `SO_REUSEPORT` listener (as nginx's
//! workers do).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{bail, Context};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use paas_router::{serve, serve_threads, AppRoute, Backend, Protocol, Router};
use tokio::net::TcpListener;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    match args.first().map(String::as_str) {
        Some("backend") => {
            let addr: SocketAddr = args.get(1).context("backend ADDR")?.parse()?;
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(backend(addr))
        }
        Some("router") => {
            let addr: SocketAddr = args.get(1).context("router ADDR")?.parse()?;
            let table = flag("--table").context("--table FILE")?;
            let domain = flag("--domain").unwrap_or_else(|| "bench.test".into());
            let threads: usize = flag("--threads").map_or(Ok(2), |t| t.parse())?;
            let mode = flag("--mode").unwrap_or_else(|| "shared".into());
            let router = Router::try_new(&domain)?;
            let routes = read_table(&table)?;
            let problems = router.replace_routes(routes);
            if !problems.is_empty() {
                bail!("route table problems: {problems:?}");
            }
            match mode.as_str() {
                "shared" => tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(threads)
                    .enable_all()
                    .build()?
                    .block_on(async {
                        let listener = TcpListener::bind(addr).await?;
                        serve(listener, router, std::future::pending()).await?;
                        Ok(())
                    }),
                "per-thread" => per_thread(addr, router, threads),
                other => bail!("unknown --mode {other}"),
            }
        }
        _ => bail!("usage: bench_router backend ADDR | router ADDR --table FILE [...]"),
    }
}

fn per_thread(addr: SocketAddr, router: Arc<Router>, threads: usize) -> anyhow::Result<()> {
    let _threads = serve_threads(addr, router, Protocol::Http, threads)?;
    // Serves until killed.
    loop {
        std::thread::park();
    }
}

fn read_table(path: &str) -> anyhow::Result<HashMap<String, AppRoute>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    let mut routes = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut words = line.split_whitespace();
        let name = words.next().context("empty line")?;
        let backends = words
            .enumerate()
            .map(|(i, a)| Ok(Backend::new(a.parse()?, 1, format!("web.{}", i + 1))))
            .collect::<anyhow::Result<Vec<_>>>()?;
        routes.insert(name.to_owned(), AppRoute::new(backends));
    }
    Ok(routes)
}

async fn backend(addr: SocketAddr) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    let small = Bytes::from_static(b"Hello, world!\n");
    let large = Bytes::from(vec![b'x'; 1 << 20]);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let (small, large) = (small.clone(), large.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let body = if req.uri().path() == "/1m" {
                    large.clone()
                } else {
                    small.clone()
                };
                async move { Ok::<_, Infallible>(Response::new(Full::new(body))) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
