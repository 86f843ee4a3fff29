//! Upgraded connections pass through: a WebSocket echo.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{route, start_router};

/// A WebSocket server that echoes every message.
async fn echo_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(message)) = ws.next().await {
                    if message.is_close() {
                        break;
                    }
                    if ws.send(message).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn websocket_messages_echo_through_the_router() {
    let r = start_router().await;
    r.router.set_route("chat", route(&[echo_server().await]));

    let stream = TcpStream::connect(r.addr).await.unwrap();
    let (mut ws, response) = tokio_tungstenite::client_async("ws://chat.paas.test/socket", stream)
        .await
        .expect("the upgrade goes through");
    assert_eq!(response.status(), 101);
    assert!(response.headers().contains_key("x-request-id"));

    for i in 0..50 {
        let text = format!("message {i}");
        ws.send(Message::text(text.clone())).await.unwrap();
        let echoed = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(echoed, Message::text(text));
    }
    let big = vec![7u8; 1 << 20];
    ws.send(Message::binary(big.clone())).await.unwrap();
    let echoed = ws.next().await.unwrap().unwrap();
    assert_eq!(echoed.into_data().as_ref(), &big[..]);
    ws.close(None).await.unwrap();
    r.stop().await;
}

#[tokio::test]
async fn an_idle_websocket_is_closed_after_the_idle_timeout() {
    let r = start_router().await;
    let mut chat = route(&[echo_server().await]);
    chat.timeouts.idle = Duration::from_millis(500);
    r.router.set_route("chat", chat);

    let stream = TcpStream::connect(r.addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async("ws://chat.paas.test/", stream)
        .await
        .unwrap();
    ws.send(Message::text("hi")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hi"));
    // Then silence: the router closes the tunnel.
    let next = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("the router closes an idle tunnel");
    assert!(
        !matches!(next, Some(Ok(Message::Text(_)))),
        "no message was expected: {next:?}"
    );
    r.stop().await;
}
