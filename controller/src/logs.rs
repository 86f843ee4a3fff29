//! Log sessions (Heroku's `POST /apps/{app}/log-sessions`): a short-lived capability URL that
//! streams an app's log lines as server-sent events, `data: TIME SOURCE[PROCESS]: message`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use paas_telemetry::{Filter, LogHub, LogLine, Source};
use rand::RngCore;
use tokio::sync::{broadcast, mpsc};

/// A capability URL must be used soon after it is made.
const SESSION_TTL: Duration = Duration::from_secs(300);
pub const DEFAULT_LINES: u32 = 100;
pub const MAX_LINES: u32 = 1500;
/// A comment line now and then keeps idle followers' connections open through proxies.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Debug, Clone)]
pub struct LogRequest {
    pub app: String,
    pub lines: u32,
    pub tail: bool,
    pub filter: Filter,
}

#[derive(Default)]
pub struct LogSessions {
    sessions: Mutex<HashMap<String, (LogRequest, Instant)>>,
}

impl LogSessions {
    pub fn create(&self, req: LogRequest) -> String {
        let mut bytes = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut bytes);
        let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut sessions = self.sessions.lock().expect("log sessions poisoned");
        sessions.retain(|_, (_, made)| made.elapsed() < SESSION_TTL);
        sessions.insert(secret.clone(), (req, Instant::now()));
        secret
    }

    /// Each session URL works once.
    pub fn take(&self, secret: &str) -> Option<LogRequest> {
        let mut sessions = self.sessions.lock().expect("log sessions poisoned");
        let (req, made) = sessions.remove(secret)?;
        (made.elapsed() < SESSION_TTL).then_some(req)
    }
}

fn event(line: &LogLine) -> String {
    format!("data: {line}\n\n")
}

/// Streams the requested history, then (tailing) new lines until the reader hangs up.
pub async fn stream(hub: Arc<LogHub>, req: LogRequest, tx: mpsc::Sender<String>) {
    let (history, mut live) = hub.read(&req.app, req.lines as usize, &req.filter);
    let mut last = history.iter().map(|(seq, _)| *seq).max();
    for (_, line) in &history {
        if tx.send(event(line)).await.is_err() {
            return;
        }
    }
    if !req.tail {
        return;
    }
    loop {
        let next = tokio::select! {
            _ = tx.closed() => return,
            next = tokio::time::timeout(KEEP_ALIVE, live.recv()) => next,
        };
        let out = match next {
            Err(_) => ": keep-alive\n\n".to_string(),
            Ok(Ok((seq, line))) => {
                if last.is_some_and(|l| seq <= l) || !req.filter.accepts(&line) {
                    continue;
                }
                last = Some(seq);
                event(&line)
            }
            Ok(Err(broadcast::error::RecvError::Lagged(n))) => {
                let warning = format!("this reader fell behind; {n} lines were skipped");
                event(&LogLine::new(Source::Platform, None, warning))
            }
            Ok(Err(broadcast::error::RecvError::Closed)) => return,
        };
        if tx.send(out).await.is_err() {
            return;
        }
    }
}
