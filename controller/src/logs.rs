//! Log sessions (Heroku's `POST /apps/{app}/log-sessions`): a short-lived capability URL that
//! streams an app's log lines, `TIME SOURCE[PROCESS]: message`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use paas_scheduler::{LogLine, Runtime};
use rand::RngCore;
use tokio::sync::mpsc;

/// A capability URL must be used soon after it is made.
const SESSION_TTL: Duration = Duration::from_secs(300);
pub const DEFAULT_LINES: u32 = 100;
pub const MAX_LINES: u32 = 1500;
/// How often a tailing session looks for processes started after it began.
const DISCOVER_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct LogRequest {
    pub app: String,
    pub lines: u32,
    pub tail: bool,
    /// `web.1`, or a type `web` for all its processes.
    pub dyno: Option<String>,
    pub source: Option<String>,
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

fn wanted(req: &LogRequest, process: &str) -> bool {
    match &req.dyno {
        None => true,
        Some(d) if d.contains('.') => d == process,
        Some(t) => process.split('.').next() == Some(t.as_str()),
    }
}

pub fn format_line(l: &LogLine) -> String {
    format!(
        "{} app[{}]: {}\n",
        l.time.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
        l.process,
        l.line
    )
}

/// Streams the requested lines into `tx` until done (or, tailing, until the reader hangs up).
pub async fn stream(runtime: Arc<dyn Runtime>, req: LogRequest, tx: mpsc::Sender<String>) {
    // Only the app source exists so far; other sources have no lines yet.
    if req.source.as_deref().is_some_and(|s| s != "app") {
        if !req.tail {
            return;
        }
        tx.closed().await;
        return;
    }
    let processes = match runtime.list(Some(&req.app)).await {
        Ok(p) => p,
        Err(e) => {
            let _ = tx.send(format!("error: cannot read logs: {e}\n")).await;
            return;
        }
    };
    let mut history = Vec::new();
    for p in processes.iter().filter(|p| wanted(&req, &p.name())) {
        if let Ok(mut s) = runtime.logs(p, req.lines as usize, false).await {
            while let Some(line) = s.next().await {
                history.push(line);
            }
        }
    }
    history.sort_by_key(|l| l.time);
    let skip = history.len().saturating_sub(req.lines as usize);
    for line in &history[skip..] {
        if tx.send(format_line(line)).await.is_err() {
            return;
        }
    }
    if req.tail {
        follow(
            runtime,
            req,
            tx,
            processes.into_iter().map(|p| p.id).collect(),
        )
        .await;
    }
}

async fn follow(
    runtime: Arc<dyn Runtime>,
    req: LogRequest,
    tx: mpsc::Sender<String>,
    seen_before: HashSet<String>,
) {
    let mut followed: HashSet<String> = HashSet::new();
    let mut first = true;
    while !tx.is_closed() {
        if let Ok(processes) = runtime.list(Some(&req.app)).await {
            for p in processes.into_iter().filter(|p| wanted(&req, &p.name())) {
                if !followed.insert(p.id.clone()) {
                    continue;
                }
                // Processes that existed when the session began already gave their history.
                let tail = if first || seen_before.contains(&p.id) {
                    0
                } else {
                    req.lines as usize
                };
                let (runtime, tx) = (runtime.clone(), tx.clone());
                tokio::spawn(async move {
                    let Ok(mut s) = runtime.logs(&p, tail, true).await else {
                        return;
                    };
                    while let Some(line) = s.next().await {
                        if tx.send(format_line(&line)).await.is_err() {
                            return;
                        }
                    }
                });
            }
        }
        first = false;
        tokio::select! {
            _ = tx.closed() => return,
            _ = tokio::time::sleep(DISCOVER_EVERY) => {}
        }
    }
}
