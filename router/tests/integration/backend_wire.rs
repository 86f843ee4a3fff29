//! What processes put on the wire, byte for byte: chunked and close-delimited bodies, HEAD,
//! interim answers, early answers, connections closed while pooled, and broken answers.
//! Each backend here is a scripted TCP server, so the router's HTTP/1.1 client meets exactly
//! the bytes a real app server may send.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{host, start_router};

/// What a scripted backend does with one request on a connection: the answer bytes and
/// whether to close the connection afterwards.
type Script = fn(&str) -> (Vec<u8>, bool);

/// A backend that answers every request head with `script`, counting connections.
async fn scripted(script: Script) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve_scripted(stream, script));
        }
    });
    (addr, connections)
}

async fn serve_scripted(mut stream: TcpStream, script: Script) {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        buf.drain(..head_end);
        // Request bodies are drained by their declared length (the tests send small ones).
        if let Some(len) = header(&head, "content-length") {
            let len: usize = len.parse().unwrap();
            while buf.len() < len {
                let mut chunk = [0u8; 4096];
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            buf.drain(..len);
        }
        let (answer, close) = script(&head);
        for piece in answer.chunks(7) {
            // Small pieces with pauses: the router must put heads and bodies together.
            if stream.write_all(piece).await.is_err() {
                return;
            }
            tokio::task::yield_now().await;
        }
        if close {
            return;
        }
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn path(head: &str) -> &str {
    head.split(' ').nth(1).unwrap_or("/")
}

#[tokio::test]
async fn chunked_answers_arrive_whole_and_the_connection_is_reused() {
    let r = start_router().await;
    let (addr, connections) = scripted(|head| {
        let body = format!("path={}", path(head));
        let wire = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 999\r\n\r\n\
             3;ext=1\r\n{}\r\n{:x}\r\n{}\r\n0\r\nX-Trailer: t\r\n\r\n",
            &body[..3],
            body.len() - 3,
            &body[3..]
        );
        (wire.into_bytes(), false)
    })
    .await;
    r.router.set_app("web", vec![addr]);
    for i in 0..5 {
        let response = r.get(&host("web"), &format!("/n{i}")).await;
        assert_eq!(response.status(), 200);
        // The bogus Content-Length beside chunked framing is not passed on.
        assert!(response.content_length().is_none());
        assert_eq!(response.text().await.unwrap(), format!("path=/n{i}"));
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "one pooled connection"
    );
    r.stop().await;
}

#[tokio::test]
async fn an_answer_without_length_ends_with_the_connection() {
    let r = start_router().await;
    let (addr, connections) = scripted(|head| {
        let wire = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close {}",
            path(head)
        );
        (wire.into_bytes(), true)
    })
    .await;
    r.router.set_app("web", vec![addr]);
    for i in 0..3 {
        let (status, body) = r.get_text(&host("web"), &format!("/c{i}")).await;
        assert_eq!(
            (status, body.as_str()),
            (200, format!("until close /c{i}").as_str())
        );
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        3,
        "each answer used up its connection"
    );
    r.stop().await;
}

#[tokio::test]
async fn head_keeps_the_length_and_sends_no_body() {
    let r = start_router().await;
    let (addr, connections) = scripted(|head| {
        let wire = if head.starts_with("HEAD ") {
            "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n".to_owned()
        } else {
            "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello world!".to_owned()
        };
        (wire.into_bytes(), false)
    })
    .await;
    r.router.set_app("web", vec![addr]);
    let response = r
        .http
        .head(r.url("/"))
        .header("host", host("web"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-length"], "12");
    assert_eq!(
        r.get_text(&host("web"), "/").await,
        (200, "hello world!".into())
    );
    assert_eq!(connections.load(Ordering::SeqCst), 1);
    r.stop().await;
}

#[tokio::test]
async fn interim_answers_are_passed_over() {
    let r = start_router().await;
    let (addr, _) = scripted(|_| {
        let wire =
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n\
                    HTTP/1.1 201 Created\r\nContent-Length: 7\r\n\r\ncreated";
        (wire.as_bytes().to_vec(), false)
    })
    .await;
    r.router.set_app("web", vec![addr]);
    let response = r
        .http
        .post(r.url("/things"))
        .header("host", host("web"))
        .body("x=1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.text().await.unwrap(), "created");
    r.stop().await;
}

#[tokio::test]
async fn connections_the_process_closed_while_pooled_are_not_used() {
    let r = start_router().await;
    // Keep-alive by the headers, but the process closes right after each answer (as app
    // servers with a short keep-alive timeout do between requests).
    let (addr, connections) = scripted(|head| {
        let body = path(head).to_owned();
        let wire = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        (wire.into_bytes(), true)
    })
    .await;
    r.router.set_app("web", vec![addr]);
    for i in 0..20 {
        let path = format!("/k{i}");
        assert_eq!(r.get_text(&host("web"), &path).await, (200, path.clone()));
        let response = r
            .http
            .post(r.url(&path))
            .header("host", host("web"))
            .body("payload")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "POST {path}");
        assert_eq!(response.text().await.unwrap(), path);
    }
    assert_eq!(connections.load(Ordering::SeqCst), 40);
    r.stop().await;
}

#[tokio::test]
async fn an_answer_before_the_upload_ends_reaches_the_client() {
    let r = start_router().await;
    // Answers 413 as soon as it sees the head, without reading the body, and closes.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = [0u8; 1024];
                let _ = stream.read(&mut head).await;
                let answer = "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big!";
                let _ = stream.write_all(answer.as_bytes()).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            });
        }
    });
    r.router.set_app("web", vec![addr]);
    let response = r
        .http
        .post(r.url("/upload"))
        .header("host", host("web"))
        .body(vec![b'x'; 8 * 1024 * 1024])
        .send()
        .await;
    // The client may see the 413 or, having had its upload cut, a reset; never a hang or 502.
    if let Ok(response) = response {
        assert_eq!(response.status(), 413);
    }
    r.stop().await;
}

#[tokio::test]
async fn broken_answers_are_502_and_name_the_app() {
    let r = start_router().await;
    let scripts: [Script; 4] = [
        |_| (b"SMTP ready\r\n\r\n".to_vec(), true),
        |_| {
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello".to_vec(),
                true,
            )
        },
        |_| {
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n".to_vec(),
                true,
            )
        },
        |_| {
            (
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: nope\r\n\r\n".to_vec(),
                true,
            )
        },
    ];
    for script in scripts {
        let (addr, _) = scripted(script).await;
        r.router.set_app("web", vec![addr]);
        let (status, body) = r.get_text(&host("web"), "/").await;
        assert_eq!(status, 502, "{body}");
        assert!(body.contains("web"), "{body}");
    }
    r.stop().await;
}

#[tokio::test]
async fn a_body_cut_short_by_the_process_is_not_passed_off_as_complete() {
    let r = start_router().await;
    let (addr, _) = scripted(|_| {
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part".to_vec(),
            true,
        )
    })
    .await;
    r.router.set_app("web", vec![addr]);
    let response = r.get(&host("web"), "/").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.bytes().await.is_err(),
        "a truncated body is an error to the client"
    );
    r.stop().await;
}
