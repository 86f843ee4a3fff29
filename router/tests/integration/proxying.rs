//! What travels between client and backend: headers, bodies, timeouts.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio_stream::wrappers::ReceiverStream;

use crate::support::{backend, host, parse_header_list, raw, route, start_router};

#[tokio::test]
async fn forwarding_headers_arrive_and_hop_by_hop_headers_do_not() {
    let r = start_router().await;
    r.router.set_app("web", vec![backend("backend-web").await]);

    let response = raw(
        r.addr,
        "GET /headers?x=1 HTTP/1.1\r\n\
         Host: web.paas.test\r\n\
         X-Forwarded-For: 203.0.113.9\r\n\
         X-Forwarded-Proto: https\r\n\
         X-Request-Id: client-chosen-request-id-42\r\n\
         X-Custom-Hop: secret\r\n\
         Connection: X-Custom-Hop\r\n\
         Keep-Alive: timeout=5\r\n\
         Proxy-Authorization: Basic c2VjcmV0\r\n\
         Proxy-Connection: keep-alive\r\n\
         Proxy: http://evil.example\r\n\
         TE: trailers\r\n\
         Trailer: X-Sum\r\n\
         X-Kept: kept",
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.body);
    let seen = parse_header_list(&response.body);
    let get = |name: &str| {
        seen.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("host"), Some("web.paas.test"));
    assert_eq!(get("x-forwarded-for"), Some("203.0.113.9, 127.0.0.1"));
    assert_eq!(get("x-forwarded-proto"), Some("http"));
    assert_eq!(
        get("x-forwarded-port"),
        Some(r.addr.port().to_string().as_str())
    );
    assert_eq!(get("x-request-id"), Some("client-chosen-request-id-42"));
    assert_eq!(get("via"), Some("1.1 paas"));
    assert_eq!(get("x-kept"), Some("kept"));
    for hop in [
        "x-custom-hop",
        "connection",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "proxy",
        "te",
        "trailer",
        "upgrade",
        "transfer-encoding",
    ] {
        assert_eq!(get(hop), None, "{hop} reached the backend: {seen:?}");
    }

    // And on the way back.
    assert_eq!(response.header("x-backend"), Some("backend-web"));
    assert_eq!(
        response.header("x-request-id"),
        Some("client-chosen-request-id-42")
    );
    assert_eq!(response.header("via"), Some("1.1 paas"));
    assert_eq!(response.header("x-resp-hop"), None);
    assert_eq!(response.header("keep-alive"), None);
    assert_eq!(response.header("proxy-authenticate"), None);
    r.stop().await;
}

#[tokio::test]
async fn request_id_is_generated_when_missing_or_insane() {
    let r = start_router().await;
    r.router.set_app("web", vec![backend("backend-web").await]);

    let mut ids = Vec::new();
    for sent in [None, Some("bad id"), Some("<script>alert(1)</script>")] {
        let mut request = r.http.get(r.url("/headers")).header("host", host("web"));
        if let Some(id) = sent {
            request = request.header("x-request-id", id);
        }
        let response = request.send().await.unwrap();
        let returned = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let seen = parse_header_list(&response.text().await.unwrap());
        let at_backend = seen
            .iter()
            .find(|(k, _)| k == "x-request-id")
            .map(|(_, v)| v.clone());
        assert_eq!(at_backend.as_deref(), Some(returned.as_str()));
        assert_eq!(returned.len(), 16, "{returned}");
        assert!(
            returned.bytes().all(|c| c.is_ascii_hexdigit()),
            "{returned}"
        );
        ids.push(returned);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "ids are random: {ids:?}");
    r.stop().await;
}

/// Deterministic bytes that expose reordering or loss.
fn pattern(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect()
}

#[tokio::test]
async fn large_body_round_trips_intact() {
    let r = start_router().await;
    r.router.set_app("web", vec![backend("backend-web").await]);

    let sent = pattern(4 * 1024 * 1024);
    let response = r
        .http
        .post(r.url("/echo"))
        .header("host", host("web"))
        .body(sent.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let received = response.bytes().await.unwrap();
    assert_eq!(received.len(), sent.len());
    assert!(received == sent, "echoed body differs");
    r.stop().await;
}

#[tokio::test]
async fn bodies_stream_without_buffering() {
    let r = start_router().await;
    r.router.set_app("web", vec![backend("backend-web").await]);

    // The first chunk must come back before the rest of the upload is even produced: a
    // router that buffered either body would deadlock here.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    tx.send(Ok(Bytes::from_static(b"first chunk;")))
        .await
        .unwrap();
    let request = r
        .http
        .post(r.url("/echo"))
        .header("host", host("web"))
        .body(reqwest::Body::wrap_stream(ReceiverStream::new(rx)))
        .send();
    let mut response = tokio::time::timeout(Duration::from_secs(5), request)
        .await
        .expect("response head arrives while the upload is still open")
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut echoed = Vec::new();
    while echoed.len() < b"first chunk;".len() {
        let chunk = tokio::time::timeout(Duration::from_secs(5), response.chunk())
            .await
            .expect("first chunk echoed while the upload is still open")
            .unwrap()
            .expect("more body");
        echoed.extend_from_slice(&chunk);
    }
    assert_eq!(echoed, b"first chunk;");

    tx.send(Ok(Bytes::from_static(b"second chunk")))
        .await
        .unwrap();
    drop(tx);
    while let Some(chunk) = response.chunk().await.unwrap() {
        echoed.extend_from_slice(&chunk);
    }
    assert_eq!(echoed, b"first chunk;second chunk");
    r.stop().await;
}

#[tokio::test]
async fn slow_backend_beyond_the_timeout_is_504() {
    let r = start_router().await;
    let mut web = route(&[backend("backend-web").await]);
    web.timeouts.response = Duration::from_millis(300);
    assert!(r.router.set_route("web", web).is_empty());

    let started = Instant::now();
    let response = r.get(&host("web"), "/slow").await;
    assert_eq!(response.status(), 504);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.text().await.unwrap();
    assert!(body.contains("Gateway timeout"), "{body}");
    assert!(body.contains(&id), "{body}");

    // Fast requests on the same app are unaffected.
    assert_eq!(
        r.get_text(&host("web"), "/").await,
        (200, "backend-web".into())
    );
    r.stop().await;
}

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish() {
    let r = start_router().await;
    r.router.set_app("web", vec![backend("backend-web").await]);

    let http = r.http.clone();
    let url = r.url("/slow");
    let in_flight = tokio::spawn(async move {
        let response = http.get(url).header("host", "web.paas.test").send().await?;
        Ok::<_, reqwest::Error>((response.status().as_u16(), response.text().await?))
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let addr = r.addr;
    r.stop().await;
    assert_eq!(
        in_flight.await.unwrap().unwrap(),
        (200, "backend-web".into())
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener is closed after shutdown"
    );
}

#[tokio::test]
async fn router_threads_serve_until_shut_down() {
    let router = paas_router::Router::new(crate::support::DOMAIN);
    router.set_app("web", vec![backend("backend-web").await]);
    let threads = paas_router::serve_threads(
        "127.0.0.1:0".parse().unwrap(),
        router,
        paas_router::Protocol::Http,
        2,
    )
    .unwrap();
    let addr = threads.local_addr();
    // Separate connections, so both threads' sockets are likely used; each must answer.
    for _ in 0..20 {
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let response = http
            .get(format!("http://{addr}/"))
            .header("host", host("web"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.text().await.unwrap(), "backend-web");
    }
    tokio::task::spawn_blocking(move || threads.shutdown())
        .await
        .unwrap()
        .unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
