//! One line per request in the Heroku router's `key=value` style, for the app's log stream.

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Method};
use tokio::sync::broadcast;

use crate::request_id::RequestId;

/// One access log line and the app it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessLogLine {
    pub app: Arc<str>,
    /// e.g. `at=info method=GET path="/" host=web.example.com request_id=5c2b0a1e9f3d4b7a
    /// fwd="203.0.113.7" dyno=web.1 connect=0ms service=3ms status=200 bytes=512 protocol=https`;
    /// failures start `at=error code=H12 desc="Request timeout"`.
    pub line: String,
    /// The same request as data, for per-release metrics: the release and process that
    /// answered (none when the router answered itself), status, service time and bytes.
    pub release: Option<u64>,
    pub process: Option<Box<str>>,
    pub status: u16,
    pub service: Duration,
    pub bytes: u64,
}

/// Why the router answered instead of the app, as Heroku's router names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    NoProcesses,
    ConnectFailed,
    NoResponse,
    Timeout,
    Maintenance,
    BodyTooLarge,
    /// The client stopped sending its body.
    ClientIdle,
    /// The client's body ended early (it closed, or sent something broken).
    ClientGone,
    /// The app answered an HTTP/2 WebSocket request without switching protocols.
    UpgradeRefused,
}

impl Failure {
    fn code_and_desc(self) -> (Option<&'static str>, &'static str) {
        match self {
            Failure::NoProcesses => (Some("H14"), "No web processes running"),
            Failure::ConnectFailed => (Some("H19"), "Backend connection failed"),
            Failure::NoResponse => (Some("H13"), "Connection closed without response"),
            Failure::Timeout => (Some("H12"), "Request timeout"),
            Failure::Maintenance => (Some("H80"), "Maintenance mode"),
            Failure::BodyTooLarge => (None, "Request body too large"),
            Failure::ClientIdle => (Some("H15"), "Idle connection"),
            Failure::ClientGone => (Some("H27"), "Client Request Interrupted"),
            Failure::UpgradeRefused => (None, "App did not switch protocols"),
        }
    }
}

/// The access log's channel, and whether anyone listens (asking the channel takes a lock).
pub(crate) struct AccessLog {
    sender: broadcast::Sender<AccessLogLine>,
    wanted: AtomicBool,
}

impl AccessLog {
    pub(crate) fn new(capacity: usize) -> Arc<Self> {
        Arc::new(AccessLog {
            sender: broadcast::channel(capacity).0,
            wanted: AtomicBool::new(false),
        })
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<AccessLogLine> {
        let receiver = self.sender.subscribe();
        self.wanted.store(true, Relaxed);
        receiver
    }

    /// Whether lines are worth making: someone subscribed, and was still there at the last
    /// line sent.
    pub(crate) fn wanted(&self) -> bool {
        self.wanted.load(Relaxed)
    }

    fn send(&self, line: AccessLogLine) {
        if self.sender.send(line).is_err() {
            self.wanted.store(false, Relaxed);
            // A subscriber may have arrived between the failed send and the store.
            if self.sender.receiver_count() > 0 {
                self.wanted.store(true, Relaxed);
            }
        }
    }
}

/// What a request's line needs, captured only while someone subscribes.
pub(crate) struct LogCtx {
    pub(crate) log: Arc<AccessLog>,
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) host: String,
    pub(crate) request_id: RequestId,
    pub(crate) fwd: HeaderValue,
    pub(crate) protocol: &'static str,
}

pub(crate) struct Outcome<'a> {
    pub(crate) app: &'a Arc<str>,
    pub(crate) dyno: Option<&'a str>,
    pub(crate) release: Option<u64>,
    pub(crate) failure: Option<Failure>,
    pub(crate) status: u16,
    pub(crate) connect: Duration,
    pub(crate) total: Duration,
    pub(crate) bytes: u64,
}

impl LogCtx {
    pub(crate) fn send(self, outcome: &Outcome<'_>) {
        let line = self.format(outcome);
        self.log.send(AccessLogLine {
            app: Arc::clone(outcome.app),
            line,
            release: outcome.release,
            process: outcome.dyno.map(Box::from),
            status: outcome.status,
            service: outcome.total.saturating_sub(outcome.connect),
            bytes: outcome.bytes,
        });
    }

    fn format(&self, o: &Outcome<'_>) -> String {
        let mut line = String::with_capacity(256);
        match o.failure.map(Failure::code_and_desc) {
            None => line.push_str("at=info"),
            Some((code, desc)) => {
                line.push_str("at=error");
                if let Some(code) = code {
                    let _ = write!(line, " code={code}");
                }
                let _ = write!(line, " desc=\"{desc}\"");
            }
        }
        let connect = o.connect.as_millis();
        let service = o.total.saturating_sub(o.connect).as_millis();
        let _ = write!(
            line,
            " method={} path=\"{}\" host={} request_id={} fwd=\"{}\" dyno={} connect={connect}ms \
             service={service}ms status={} bytes={} protocol={}",
            self.method,
            Quoted(&self.path),
            self.host,
            self.request_id,
            self.fwd.to_str().unwrap_or("-"),
            o.dyno.unwrap_or(""),
            o.status,
            o.bytes,
            self.protocol,
        );
        line
    }
}

/// Escapes what would end a quoted value early.
struct Quoted<'a>(&'a str);

impl std::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                c if c.is_control() => write!(f, "\\x{:02x}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_like_herokus() {
        let log = AccessLog::new(4);
        let mut rx = log.subscribe();
        let ctx = LogCtx {
            log: Arc::clone(&log),
            method: Method::POST,
            path: "/a?q=\"x\"".into(),
            host: "web.paas.test".into(),
            request_id: RequestId::Given(HeaderValue::from_static("0123456789abcdef")),
            fwd: HeaderValue::from_static("10.0.0.1"),
            protocol: "https",
        };
        let app: Arc<str> = "web".into();
        ctx.send(&Outcome {
            app: &app,
            dyno: Some("web.2"),
            release: Some(7),
            failure: Some(Failure::Timeout),
            status: 504,
            connect: Duration::from_millis(2),
            total: Duration::from_millis(30_002),
            bytes: 10,
        });
        let got = rx.try_recv().unwrap();
        assert_eq!(&*got.app, "web");
        assert!(log.wanted());
        drop(rx);
        log.send(got.clone());
        assert!(!log.wanted(), "nobody listens any more");
        let _rx = log.subscribe();
        assert!(log.wanted());
        assert_eq!(
            got.line,
            "at=error code=H12 desc=\"Request timeout\" method=POST path=\"/a?q=\\\"x\\\"\" \
             host=web.paas.test request_id=0123456789abcdef fwd=\"10.0.0.1\" dyno=web.2 \
             connect=2ms service=30000ms status=504 bytes=10 protocol=https"
        );
    }
}
