//! Limits and timeouts: body size, header size, slow clients, silent bodies.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_stream::wrappers::ReceiverStream;

use crate::support::{backend, host, raw, route, start_router};

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let r = start_router().await;
    let mut web = route(&[backend("backend-web").await]);
    web.max_body_bytes = Some(1000);
    r.router.set_route("web", web);

    // Declared up front: refused without bothering the app.
    let response = r
        .http
        .post(r.url("/count"))
        .header("host", host("web"))
        .body(vec![b'x'; 1001])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.text().await.unwrap();
    assert!(body.contains("at most 1000 bytes"), "{body}");
    assert!(body.contains(&id), "{body}");

    // Chunked, so only counting finds out.
    let chunks = (0..5).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'y'; 300])));
    let response = r
        .http
        .post(r.url("/count"))
        .header("host", host("web"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);

    // At the limit is fine, either way.
    let response = r
        .http
        .post(r.url("/count"))
        .header("host", host("web"))
        .body(vec![b'x'; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "1000");
    r.stop().await;
}

#[tokio::test]
async fn oversized_heads_get_431() {
    let r = start_router().await;
    r.router
        .set_route("web", route(&[backend("backend-web").await]));
    let big = "a".repeat(70 * 1024);
    let response = raw(
        r.addr,
        &format!("GET / HTTP/1.1\r\nHost: web.paas.test\r\nX-Big: {big}"),
    )
    .await;
    assert_eq!(response.status, 431);

    let mut settings = r.router.settings();
    settings.max_header_bytes = 2048;
    r.router.set_settings(settings);
    let medium = "a".repeat(4096);
    let head = format!("GET / HTTP/1.1\r\nHost: web.paas.test\r\nX-Medium: {medium}");
    assert_eq!(raw(r.addr, &head).await.status, 431);
    let small = raw(
        r.addr,
        "GET / HTTP/1.1\r\nHost: web.paas.test\r\nX-Small: a",
    )
    .await;
    assert_eq!((small.status, small.body.as_str()), (200, "backend-web"));
    r.stop().await;
}

#[tokio::test]
async fn slow_clients_are_cut_off_after_the_header_read_timeout() {
    let r = start_router().await;
    r.router
        .set_route("web", route(&[backend("backend-web").await]));
    let mut settings = r.router.settings();
    settings.header_read_timeout = Duration::from_millis(500);
    r.router.set_settings(settings);

    let mut stream = TcpStream::connect(r.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: web.pa")
        .await
        .unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    assert!(
        read.is_ok(),
        "the router closes a connection whose head never completes"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let text = String::from_utf8_lossy(&rest);
    assert!(!text.contains("backend-web"), "{text}");

    // A request that takes longer than the limit to answer is not cut: only waiting for a
    // head counts, and the wait starts again after each response.
    let mut slow = TcpStream::connect(r.addr).await.unwrap();
    for _ in 0..2 {
        slow.write_all(b"GET /slow HTTP/1.1\r\nHost: web.paas.test\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let mut chunk = [0u8; 4096];
        while !String::from_utf8_lossy(&answer).contains("backend-web") {
            let n = tokio::time::timeout(Duration::from_secs(10), slow.read(&mut chunk))
                .await
                .expect("the slow answer arrives")
                .unwrap();
            assert!(n > 0, "connection closed while a request was answered");
            answer.extend_from_slice(&chunk[..n]);
        }
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // An idle keep-alive connection goes the same way.
    let mut stream = TcpStream::connect(r.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: web.paas.test\r\n\r\n")
        .await
        .unwrap();
    let mut all = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut all)).await;
    assert!(read.is_ok(), "idle keep-alive connection closed");
    assert!(String::from_utf8_lossy(&all).contains("backend-web"));
    r.stop().await;
}

#[tokio::test]
async fn a_silent_upload_is_cut_after_the_idle_timeout() {
    let r = start_router().await;
    let mut web = route(&[backend("backend-web").await]);
    web.timeouts.idle = Duration::from_millis(500);
    r.router.set_route("web", web);

    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    tx.send(Ok(Bytes::from_static(b"start"))).await.unwrap();
    let started = Instant::now();
    let result = r
        .http
        .post(r.url("/count"))
        .header("host", host("web"))
        .body(reqwest::Body::wrap_stream(ReceiverStream::new(rx)))
        .send()
        .await;
    let response = result.expect("the router answers a silent upload");
    assert_eq!(response.status(), 408);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("stopped arriving for 0.5 seconds"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(tx);
    r.stop().await;
}
