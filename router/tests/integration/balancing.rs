//! Round robin and failing backends.

use std::collections::HashMap;
use std::time::Duration;

use crate::support::{backend, dead_addr, host, route, start_router};

#[tokio::test]
async fn round_robin_reaches_all_backends_evenly() {
    let r = start_router().await;
    let names = ["backend-1", "backend-2", "backend-3"];
    let mut addrs = Vec::new();
    for name in names {
        addrs.push(backend(name).await);
    }
    r.router.set_app("web", addrs);

    let mut hits: HashMap<String, usize> = HashMap::new();
    for _ in 0..30 {
        let (status, body) = r.get_text(&host("web"), "/").await;
        assert_eq!(status, 200);
        *hits.entry(body).or_default() += 1;
    }
    for name in names {
        let n = hits.get(name).copied().unwrap_or(0);
        assert!((8..=12).contains(&n), "{name} got {n} of 30: {hits:?}");
    }
    r.stop().await;
}

#[tokio::test]
async fn dead_backend_among_live_ones_is_invisible_to_clients() {
    let r = start_router().await;
    let alpha = backend("backend-alpha").await;
    let beta = backend("backend-beta").await;
    // The dead one first, so the very first request (with a body) has to move on from it.
    r.router.set_app("web", vec![dead_addr(), alpha, beta]);

    let response = r
        .http
        .post(r.url("/echo"))
        .header("host", host("web"))
        .body("the body must survive the retry")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.unwrap(),
        "the body must survive the retry"
    );

    let mut seen = HashMap::<String, usize>::new();
    for _ in 0..30 {
        let (status, body) = r.get_text(&host("web"), "/").await;
        assert_eq!(status, 200, "{body}");
        *seen.entry(body).or_default() += 1;
    }
    assert!(seen.contains_key("backend-alpha"), "{seen:?}");
    assert!(seen.contains_key("backend-beta"), "{seen:?}");
    r.stop().await;
}

#[tokio::test]
async fn all_backends_dead_is_502() {
    let r = start_router().await;
    r.router.set_app("web", vec![dead_addr(), dead_addr()]);

    let response = r.get(&host("web"), "/").await;
    assert_eq!(response.status(), 502);
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.text().await.unwrap();
    assert!(body.contains("Bad gateway"), "{body}");
    assert!(body.contains(&id), "{body}");

    // Again, now that both are marked down, and with a body.
    let response = r
        .http
        .post(r.url("/"))
        .header("host", host("web"))
        .body("x".repeat(1000))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    r.stop().await;
}

/// A listener whose accept queue is full: the kernel drops new SYNs, so connecting hangs.
async fn unresponsive_addr() -> (
    std::net::SocketAddr,
    Vec<tokio::net::TcpStream>,
    tokio::net::TcpListener,
) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    // Never accepted: they fill the queue (its length is the backlog plus one).
    for _ in 0..3 {
        let connect = tokio::net::TcpStream::connect(addr);
        if let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_millis(200), connect).await {
            fillers.push(stream);
        }
    }
    (addr, fillers, listener)
}

#[tokio::test]
async fn a_process_that_does_not_accept_in_time_is_skipped_after_the_connect_timeout() {
    let r = start_router().await;
    let (stuck, _fillers, _listener) = unresponsive_addr().await;
    let mut web = route(&[stuck, backend("backend-live").await]);
    web.timeouts.connect = Duration::from_millis(300);
    // The stuck process comes first in the rotation for the first request.
    r.router.set_route("web", web.clone());
    let started = std::time::Instant::now();
    assert_eq!(
        r.get_text(&host("web"), "/").await,
        (200, "backend-live".into())
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(3),
        "the first request waited for the connect timeout: {elapsed:?}"
    );

    // Alone, the stuck process means a 502 after the connect timeout, not a hang.
    web.backends.truncate(1);
    r.router.set_route("web", web);
    let started = std::time::Instant::now();
    assert_eq!(r.get(&host("web"), "/").await.status(), 502);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    r.stop().await;
}
