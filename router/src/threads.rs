//! Serving on threads of the router's own, one single-threaded runtime each, like nginx's
//! workers: a request, its connection to the process and the pooled connection's task all
//! stay on one thread, so no request wakes another thread. This is the fast way to run the
//! router; [`serve`](crate::serve) in a shared runtime is the simple one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::net::TcpSocket;
use tokio::sync::watch;

use crate::error::RouterError;
use crate::router::Router;

/// Which listener each thread runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// [`serve`](crate::serve): plain HTTP/1.1.
    Http,
    /// [`serve_tls`](crate::serve_tls): HTTPS with HTTP/2.
    Https,
}

/// Router threads started by [`serve_threads`].
pub struct RouterThreads {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    threads: Vec<JoinHandle<Result<(), RouterError>>>,
}

impl RouterThreads {
    /// Where the threads listen (the port chosen when `addr` had port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets requests in flight finish (up to the shutdown grace), and waits for
    /// the threads. Blocks: call it from `spawn_blocking` in async code.
    pub fn shutdown(self) -> Result<(), RouterError> {
        let _ = self.stop.send(true);
        let mut result = Ok(());
        for thread in self.threads {
            match thread.join() {
                Ok(Ok(())) => {}
                Ok(Err(err)) => result = Err(err),
                Err(_) => result = Err(RouterError::Thread("a router thread panicked".into())),
            }
        }
        result
    }
}

/// Starts `threads` threads (at least one) each with its own runtime and its own
/// `SO_REUSEPORT` socket on `addr`, so the kernel spreads client connections over them.
pub fn serve_threads(
    addr: SocketAddr,
    router: Arc<Router>,
    protocol: Protocol,
    threads: usize,
) -> Result<RouterThreads, RouterError> {
    let (stop, stopped) = watch::channel(false);
    // The first socket settles the port (when 0 was asked for); the others join it.
    let first = bind(addr)?;
    let addr = first.local_addr().map_err(RouterError::LocalAddr)?;
    let mut sockets = vec![first];
    for _ in 1..threads.max(1) {
        sockets.push(bind(addr)?);
    }
    // Each thread reports once its socket listens (or could not), so that connections made
    // as soon as this returns are not refused.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), RouterError>>();
    let mut handles = Vec::new();
    for (i, socket) in sockets.into_iter().enumerate() {
        let router = Arc::clone(&router);
        let mut stopped = stopped.clone();
        let ready = ready_tx.clone();
        let handle = std::thread::Builder::new()
            .name(format!("paas-router-{i}"))
            .spawn(move || -> Result<(), RouterError> {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready.send(Err(RouterError::Thread(e.to_string())));
                        return Ok(());
                    }
                };
                runtime.block_on(async move {
                    let listener = match socket.listen(1024) {
                        Ok(listener) => listener,
                        Err(e) => {
                            let _ = ready.send(Err(RouterError::Listen(addr, e)));
                            return Ok(());
                        }
                    };
                    let _ = ready.send(Ok(()));
                    let shutdown = async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    };
                    match protocol {
                        Protocol::Http => crate::serve(listener, router, shutdown).await,
                        Protocol::Https => crate::serve_tls(listener, router, shutdown).await,
                    }
                })
            })
            .map_err(|e| RouterError::Thread(e.to_string()))?;
        handles.push(handle);
    }
    drop(ready_tx);
    let mut started = Ok(());
    for _ in 0..handles.len() {
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(err)) => started = Err(err),
            Err(_) => started = Err(RouterError::Thread("a router thread died".into())),
        }
    }
    if let Err(err) = started {
        let _ = stop.send(true);
        for handle in handles {
            let _ = handle.join();
        }
        return Err(err);
    }
    Ok(RouterThreads {
        addr,
        stop,
        threads: handles,
    })
}

fn bind(addr: SocketAddr) -> Result<TcpSocket, RouterError> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    };
    let socket = socket.map_err(|e| RouterError::Listen(addr, e))?;
    socket
        .set_reuseaddr(true)
        .and_then(|()| socket.set_reuseport(true))
        .and_then(|()| socket.bind(addr))
        .map_err(|e| RouterError::Listen(addr, e))?;
    Ok(socket)
}
