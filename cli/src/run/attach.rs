//! The attachment to a one-off process: a WebSocket to its attach URL carrying this terminal's
//! stdin, size and end of input one way and the process's stdout, stderr and exit status the
//! other (docs/run.md). With a terminal, the local one is in raw mode meanwhile, so every key
//! (^C, ^D, arrows) reaches the remote process.

use std::io::{self, Read, Write};

use anyhow::{anyhow, bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use paas_api::run::{self as proto, ExitStatus, Resize};
use paas_api::ErrorBody;
use reqwest::Url;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{self, Message};

/// What `paas run` exits with when its own stdout was closed under it, as a shell reports a
/// process killed by SIGPIPE.
const BROKEN_PIPE: i64 = 128 + 13;

/// Attaches, relays until the process ends, and returns its exit code.
pub fn session(api_base: &Url, attach_url: &str, tty: bool) -> Result<i64> {
    let url = websocket_url(api_base, attach_url)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the I/O runtime")?;
    let result = runtime.block_on(relay(url, tty));
    // The stdin reader may be blocked in a read that never returns; it must not hold up exit.
    runtime.shutdown_background();
    result
}

async fn relay(url: Url, tty: bool) -> Result<i64> {
    let connector = crate::tls::websocket_connector()?;
    let (socket, _) =
        tokio_tungstenite::connect_async_tls_with_config(url.as_str(), None, false, connector)
            .await
            .map_err(|e| connect_error(&url, e))?;
    let (mut to_server, mut from_server) = socket.split();

    // Set only once connected, so an error before leaves the terminal as it was; restored on
    // every way out of here, errors and panics included.
    let _raw = if tty { RawMode::enable()? } else { None };
    let (frames, mut outgoing) = mpsc::channel::<Vec<u8>>(16);
    if tty {
        if let Some(size) = terminal_size() {
            frames.send(size).await.ok();
        }
        watch_resizes(frames.clone());
    }
    read_stdin(frames);
    // Sending on its own task: input the process is slow to take must never stop its output
    // from being read, or each side would wait for the other. A failed send only ends input:
    // the exit status may still be on its way.
    tokio::spawn(async move {
        while let Some(frame) = outgoing.recv().await {
            if to_server.send(Message::Binary(frame.into())).await.is_err() {
                break;
            }
        }
    });

    loop {
        let data = match from_server.next().await {
            Some(Ok(Message::Binary(data))) => data,
            Some(Ok(Message::Close(_))) | None => {
                bail!("the connection closed before the process exited")
            }
            Some(Err(e)) => bail!("the connection to the process broke off: {e}"),
            Some(Ok(_)) => continue,
        };
        let Some((channel, payload)) = proto::split(&data) else {
            continue;
        };
        if let Some(code) = handle(channel, payload)? {
            return Ok(code);
        }
    }
}

/// Acts on one frame from the server; `Some(code)` once the process has ended.
fn handle(channel: u8, payload: &[u8]) -> Result<Option<i64>> {
    match channel {
        proto::STDOUT if !write_all(&mut io::stdout().lock(), payload)? => Ok(Some(BROKEN_PIPE)),
        proto::STDERR => write_all(&mut io::stderr().lock(), payload).map(|_| None),
        proto::EXIT => {
            let status: ExitStatus = serde_json::from_slice(payload)
                .context("the server sent an unreadable exit status")?;
            if status.oom_killed {
                eprintln!("the process was killed: it used more memory than its limit");
            }
            Ok(Some(status.code))
        }
        proto::ERROR => {
            let message = serde_json::from_slice::<ErrorBody>(payload)
                .map(|e| e.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(payload).into_owned());
            Err(anyhow!(message))
        }
        _ => Ok(None),
    }
}

/// `false` when the reader went away (`paas run ... | head`).
fn write_all(out: &mut impl Write, bytes: &[u8]) -> Result<bool> {
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e).context("cannot write the process's output"),
    }
}

/// Stdin on a plain thread: reading a terminal or a pipe blocks, and at the end it is simply
/// left behind.
fn read_stdin(frames: mpsc::Sender<Vec<u8>>) {
    std::thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if frames
                        .blocking_send(proto::frame(proto::STDIN, &buf[..n]))
                        .is_err()
                    {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = frames.blocking_send(proto::frame(proto::STDIN_EOF, b""));
    });
}

fn terminal_size() -> Option<Vec<u8>> {
    let (cols, rows) = crossterm::terminal::size().ok()?;
    let resize = serde_json::to_vec(&Resize { cols, rows }).ok()?;
    Some(proto::frame(proto::RESIZE, &resize))
}

#[cfg(unix)]
fn watch_resizes(frames: mpsc::Sender<Vec<u8>>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut changes) = signal(SignalKind::window_change()) else {
        return;
    };
    tokio::spawn(async move {
        while changes.recv().await.is_some() {
            if let Some(size) = terminal_size() {
                if frames.send(size).await.is_err() {
                    return;
                }
            }
        }
    });
}

#[cfg(not(unix))]
fn watch_resizes(_frames: mpsc::Sender<Vec<u8>>) {}

/// The terminal in raw mode until dropped.
struct RawMode;

impl RawMode {
    fn enable() -> Result<Option<RawMode>> {
        crossterm::terminal::enable_raw_mode().context("cannot put the terminal in raw mode")?;
        Ok(Some(RawMode))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// The attach URL as a WebSocket URL: `ws(s)://` as given, `http(s)://` switched over, and a
/// path resolved against the API's URL.
fn websocket_url(api_base: &Url, attach_url: &str) -> Result<Url> {
    let mut url = api_base
        .join(attach_url)
        .with_context(|| format!("the attach URL {attach_url:?} is not a URL"))?;
    let scheme = match url.scheme() {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        other => bail!("the attach URL {attach_url:?} has an unsupported scheme {other:?}"),
    };
    url.set_scheme(scheme)
        .map_err(|()| anyhow!("cannot use the attach URL {attach_url:?}"))?;
    Ok(url)
}

fn connect_error(url: &Url, e: tungstenite::Error) -> anyhow::Error {
    match e {
        tungstenite::Error::Http(response) => {
            let body = response.body().as_deref().unwrap_or_default();
            match serde_json::from_slice::<ErrorBody>(body) {
                Ok(e) => anyhow!(e.message),
                Err(_) => anyhow!(
                    "cannot attach: {} answered {}",
                    without_secret(url),
                    response.status()
                ),
            }
        }
        e => match crate::tls::refused_certificate(&e) {
            Some(reason) => anyhow!(
                "cannot attach to {}: its certificate is not trusted: {reason}; {}",
                without_secret(url),
                crate::tls::UNTRUSTED_HINT
            ),
            None => anyhow!("cannot attach to {}: {e}", without_secret(url)),
        },
    }
}

/// The attach URL is a credential until used: error messages show only where it points.
fn without_secret(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_path("/dyno-sessions/...");
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attach_urls_become_websocket_urls() {
        let base = Url::parse("http://127.0.0.1:7000").unwrap();
        let ws = |u: &str| websocket_url(&base, u).unwrap().to_string();
        assert_eq!(ws("ws://h:1/dyno-sessions/s"), "ws://h:1/dyno-sessions/s");
        assert_eq!(ws("https://h/dyno-sessions/s"), "wss://h/dyno-sessions/s");
        assert_eq!(
            ws("/dyno-sessions/s"),
            "ws://127.0.0.1:7000/dyno-sessions/s"
        );
        assert!(websocket_url(&base, "ftp://h/x").is_err());
        assert_eq!(
            without_secret(&Url::parse("ws://h:1/dyno-sessions/abc").unwrap()),
            "ws://h:1/dyno-sessions/..."
        );
    }

    #[test]
    fn a_closed_stdout_is_not_an_error() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        assert!(!write_all(&mut Closed, b"x").unwrap());
        let mut out = Vec::new();
        assert!(write_all(&mut out, b"x").unwrap());
        assert_eq!(out, b"x");
    }
}
