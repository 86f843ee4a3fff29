//! An attached one-off over its WebSocket (docs/run.md): the client's stdin, resizes and end of
//! input go to the process; its stdout, stderr and exit status come back. The process ends with
//! its session: when it exits its container is removed, and when the client goes away first it
//! is stopped and removed.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use futures_util::stream::SplitStream;
use futures_util::{SinkExt, StreamExt};
use paas_api::run::{self as proto, ExitStatus, Resize};
use paas_api::ErrorBody;
use paas_scheduler::{Attachment, Output, Runtime};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

use super::{AttachGuard, Session};

/// SIGTERM to SIGKILL for a process whose client went away.
const HANGUP_GRACE_SECS: u32 = 2;

pub async fn serve(
    runtime: Arc<dyn Runtime>,
    session: Session,
    guard: AttachGuard,
    socket: WebSocket,
) {
    if let Ended::ClientGone = pump(runtime.clone(), &session, socket).await {
        tracing::info!(app = %session.app, process = %session.dyno, "client went away: stopping the one-off");
        remove(runtime.as_ref(), &session, HANGUP_GRACE_SECS).await;
    }
    drop(guard);
}

enum Ended {
    /// The process is gone, and the client was told how it ended or why it could not run.
    Done,
    /// The client left first; the process may still run.
    ClientGone,
}

async fn remove(runtime: &dyn Runtime, session: &Session, grace_secs: u32) {
    if let Err(e) = runtime.remove(&session.container, grace_secs).await {
        tracing::warn!(app = %session.app, process = %session.dyno, error = %e, "removing one-off");
    }
}

async fn pump(runtime: Arc<dyn Runtime>, session: &Session, socket: WebSocket) -> Ended {
    let (mut to_client, from_client) = socket.split();
    let Attachment { mut output, input } = match runtime.attach(&session.container).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(app = %session.app, process = %session.dyno, error = %e, "attaching");
            remove(runtime.as_ref(), session, 0).await;
            let body = error_body(format!("cannot start {}: {e}", session.dyno));
            let _ = to_client.send(binary(proto::ERROR, &body)).await;
            let _ = to_client.close().await;
            return Ended::Done;
        }
    };
    tracing::info!(app = %session.app, process = %session.dyno, tty = session.tty, "attached");

    // Input on its own task: a process that does not read its stdin must not hold up its
    // output, and the client's leaving must be noticed while output is quiet.
    let (gone_tx, mut gone_rx) = oneshot::channel::<()>();
    let reader = tokio::spawn(forward_input(
        runtime.clone(),
        session.clone(),
        from_client,
        input,
        gone_tx,
    ));

    let ended = loop {
        tokio::select! {
            chunk = output.next() => {
                let frame = match chunk {
                    Some(Ok(Output::Stdout(b))) => binary(proto::STDOUT, &b),
                    Some(Ok(Output::Stderr(b))) => binary(proto::STDERR, &b),
                    Some(Err(e)) => {
                        tracing::warn!(app = %session.app, process = %session.dyno, error = %e, "output stream broke");
                        break None;
                    }
                    None => break None,
                };
                if to_client.send(frame).await.is_err() {
                    break Some(Ended::ClientGone);
                }
            }
            _ = &mut gone_rx => break Some(Ended::ClientGone),
        }
    };
    if let Some(ended) = ended {
        reader.abort();
        return ended;
    }

    // Output ends a moment before the engine calls the process exited; wait for that, while
    // still noticing a client that leaves.
    let exit = tokio::select! {
        exit = runtime.wait(&session.container) => exit,
        _ = &mut gone_rx => {
            reader.abort();
            return Ended::ClientGone;
        }
    };
    reader.abort();
    // Gone before the client hears the exit status, so whoever ran it finds nothing left.
    remove(runtime.as_ref(), session, 0).await;
    let frame = match exit {
        Ok(exit) => {
            tracing::info!(app = %session.app, process = %session.dyno, code = exit.code, "one-off exited");
            let status = ExitStatus {
                code: exit.code,
                oom_killed: exit.oom_killed,
            };
            binary(
                proto::EXIT,
                &serde_json::to_vec(&status).expect("exit status serializes"),
            )
        }
        Err(e) => binary(
            proto::ERROR,
            &error_body(format!("cannot tell how {} ended: {e}", session.dyno)),
        ),
    };
    if to_client.send(frame).await.is_ok() {
        let _ = to_client.close().await;
    }
    Ended::Done
}

/// Client frames to the process until the client goes away, which `gone` reports.
async fn forward_input(
    runtime: Arc<dyn Runtime>,
    session: Session,
    mut from_client: SplitStream<WebSocket>,
    mut input: std::pin::Pin<Box<dyn AsyncWrite + Send>>,
    gone: oneshot::Sender<()>,
) {
    // Once stdin is closed (end of input, or the process stopped reading), further input is
    // dropped, but resizes still count and the client is still watched.
    let mut stdin_open = true;
    while let Some(message) = from_client.next().await {
        let data = match message {
            Ok(Message::Binary(data)) => data,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        let Some((channel, payload)) = proto::split(&data) else {
            continue;
        };
        match channel {
            proto::STDIN if stdin_open => stdin_open = write(&mut input, payload).await,
            // With a terminal, closing stdin would end the attachment itself: the engine then
            // stops relaying output.
            proto::STDIN_EOF if stdin_open && !session.tty => {
                stdin_open = false;
                let _ = input.shutdown().await;
            }
            proto::RESIZE if session.tty => match serde_json::from_slice::<Resize>(payload) {
                Ok(r) if r.cols > 0 && r.rows > 0 => {
                    if let Err(e) = runtime.resize(&session.container, r.cols, r.rows).await {
                        // The process may have just exited; its output stream says so.
                        tracing::debug!(process = %session.dyno, error = %e, "resize");
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(process = %session.dyno, error = %e, "bad resize frame")
                }
            },
            _ => {}
        }
    }
    let _ = gone.send(());
}

/// `false` once the process's stdin is closed.
async fn write(input: &mut std::pin::Pin<Box<dyn AsyncWrite + Send>>, bytes: &[u8]) -> bool {
    input.write_all(bytes).await.is_ok() && input.flush().await.is_ok()
}

fn binary(channel: u8, payload: &[u8]) -> Message {
    Message::Binary(proto::frame(channel, payload).into())
}

fn error_body(message: String) -> Vec<u8> {
    let body = ErrorBody {
        id: "run_failed".into(),
        message,
    };
    serde_json::to_vec(&body).expect("error body serializes")
}
