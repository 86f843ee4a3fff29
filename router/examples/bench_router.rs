//! The pieces `bench/router.sh` runs: a fast HTTP backend, and the paas router serving a route
//! table read from a file (no controller, no Docker).
//!
//! ```text
//! bench_router backend 127.0.0.1:18081
//! bench_router router 127.0.0.1:18080 --table routes.txt [--domain bench.test] [--threads 2]
//!                     [--mode shared|per-thread]
//! bench_router floor 127.0.0.1:18085 --threads 2 [--spin-ns N] BACKEND...
//! ```
//!
//! `floor` is the least an HTTP/1.1 keep-alive proxy on tokio does per request, as a yardstick
//! rather than a proxy: no routing, no header rewriting, no timeouts, GET with Content-Length
//! answers only. It reads a request head, writes it to a pooled connection to the next backend,
//! and copies the answer back. `--spin-ns N` makes it busy-wait N ns per request before it
//! forwards: what a proxy's own user-space time costs the whole machine (see bench/README.md).
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
        Some("floor") => {
            let addr: SocketAddr = args.get(1).context("floor ADDR")?.parse()?;
            let threads: usize = flag("--threads").map_or(Ok(2), |t| t.parse())?;
            let spin =
                std::time::Duration::from_nanos(flag("--spin-ns").map_or(Ok(0), |t| t.parse())?);
            let backends = args[2..]
                .iter()
                .filter(|a| a.contains(':'))
                .map(|a| a.parse())
                .collect::<Result<Vec<SocketAddr>, _>>()?;
            floor::run(addr, threads, backends, spin)
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

mod floor {
    use std::cell::{Cell, RefCell};
    use std::net::SocketAddr;
    use std::rc::Rc;
    use std::time::{Duration, Instant};

    use anyhow::Context;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpSocket, TcpStream};

    pub fn run(
        addr: SocketAddr,
        threads: usize,
        backends: Vec<SocketAddr>,
        spin: Duration,
    ) -> anyhow::Result<()> {
        anyhow::ensure!(!backends.is_empty(), "floor ADDR BACKEND...");
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                let backends = backends.clone();
                std::thread::spawn(move || -> anyhow::Result<()> {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    tokio::task::LocalSet::new().block_on(&runtime, serve(addr, backends, spin))
                })
            })
            .collect();
        for handle in handles {
            handle
                .join()
                .map_err(|_| anyhow::anyhow!("a floor thread panicked"))??;
        }
        Ok(())
    }

    async fn serve(
        addr: SocketAddr,
        backends: Vec<SocketAddr>,
        spin: Duration,
    ) -> anyhow::Result<()> {
        let socket = TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.set_reuseport(true)?;
        socket.bind(addr).context("floor bind")?;
        let listener = socket.listen(1024)?;
        // Idle connections per backend.
        let pool: Rc<RefCell<Vec<Vec<TcpStream>>>> =
            Rc::new(RefCell::new(backends.iter().map(|_| Vec::new()).collect()));
        let next = Rc::new(Cell::new(0usize));
        let backends: Rc<[SocketAddr]> = backends.into();
        loop {
            let (client, _) = listener.accept().await?;
            client.set_nodelay(true)?;
            let (pool, next, backends) = (pool.clone(), next.clone(), backends.clone());
            tokio::task::spawn_local(async move {
                let _ = proxy(client, pool, next, backends, spin).await;
            });
        }
    }

    async fn proxy(
        mut client: TcpStream,
        pool: Rc<RefCell<Vec<Vec<TcpStream>>>>,
        next: Rc<Cell<usize>>,
        backends: Rc<[SocketAddr]>,
        spin: Duration,
    ) -> anyhow::Result<()> {
        let mut request = vec![0u8; 16 * 1024];
        let mut answer = vec![0u8; 64 * 1024];
        loop {
            let mut n = 0;
            loop {
                let read = client.read(&mut request[n..]).await?;
                if read == 0 {
                    return Ok(());
                }
                n += read;
                let mut fields = [httparse::EMPTY_HEADER; 64];
                if httparse::Request::new(&mut fields)
                    .parse(&request[..n])?
                    .is_complete()
                {
                    break;
                }
            }
            if !spin.is_zero() {
                let started = Instant::now();
                while started.elapsed() < spin {
                    std::hint::spin_loop();
                }
            }
            // Round robin per request, as nginx, HAProxy and the router are configured.
            let at = next.get() % backends.len();
            next.set(at + 1);
            let pooled = pool.borrow_mut()[at].pop();
            let mut backend = match pooled {
                Some(backend) => backend,
                None => {
                    let backend = TcpStream::connect(backends[at]).await?;
                    backend.set_nodelay(true)?;
                    backend
                }
            };
            backend.write_all(&request[..n]).await?;
            let mut m = 0;
            let left = loop {
                let read = backend.read(&mut answer[m..]).await?;
                anyhow::ensure!(read > 0, "backend closed");
                m += read;
                let mut fields = [httparse::EMPTY_HEADER; 64];
                let mut response = httparse::Response::new(&mut fields);
                if let httparse::Status::Complete(head) = response.parse(&answer[..m])? {
                    let length: usize = response
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                        .and_then(|h| std::str::from_utf8(h.value).ok()?.parse().ok())
                        .unwrap_or(0);
                    break (head + length).saturating_sub(m);
                }
            };
            client.write_all(&answer[..m]).await?;
            let mut left = left;
            while left > 0 {
                let read = backend.read(&mut answer[..left.min(64 * 1024)]).await?;
                anyhow::ensure!(read > 0, "backend closed");
                client.write_all(&answer[..read]).await?;
                left -= read;
            }
            pool.borrow_mut()[at].push(backend);
        }
    }
}
