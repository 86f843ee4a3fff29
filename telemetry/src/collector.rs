//! Follows every process's stdout and stderr into its app's stream. The engine keeps the
//! output; after a daemon restart each process is read again from the newest line the history
//! already has, so nothing is repeated and (within the engine's retention) nothing is lost.
//!
//! A process that started while the collector runs is read from its start, so a burst of output
//! before it was first listed is not cut to the newest lines.
//!
//! The engine ends a follow at once when the container is not running, which includes one that
//! was created but not started yet: a process whose output ended while it is still listed as
//! running or starting is followed again, from after the last line read.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use paas_scheduler::{LogsFrom, Process, ProcessState, Runtime};

use crate::hub::{LogHub, RECENT_LINES};
use crate::line::{LogLine, Source};

/// Containers being followed, and the ones whose output ended, with the time of the last line
/// read from each.
#[derive(Default)]
struct Followed {
    active: HashSet<String>,
    ended: HashMap<String, Option<DateTime<Utc>>>,
}

impl Followed {
    /// Whether to (re)start following `p`, and from after which time.
    fn start(&mut self, p: &Process) -> Option<Option<DateTime<Utc>>> {
        if self.active.contains(&p.id) {
            return None;
        }
        let from = match self.ended.get(&p.id) {
            None => None,
            Some(_) if matches!(p.state, ProcessState::Crashed | ProcessState::Down) => {
                return None
            }
            Some(last) => *last,
        };
        self.active.insert(p.id.clone());
        Some(from)
    }
}

/// Processes created this long before the collector started count as new: the daemon's first
/// reconcile starts them just before.
const NEW_BEFORE_START: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// Looks for new processes every `every` and follows each one's output until it ends.
pub fn spawn(
    hub: Arc<LogHub>,
    runtime: Arc<dyn Runtime>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let started = Utc::now() - NEW_BEFORE_START;
        let followed = Arc::new(Mutex::new(Followed::default()));
        // What the history already had when this daemon started, per app and process name.
        let mut floors: HashMap<(String, String), Option<DateTime<Utc>>> = HashMap::new();
        loop {
            match runtime.list(None).await {
                Ok(processes) => {
                    let ids: HashSet<&str> = processes.iter().map(|p| p.id.as_str()).collect();
                    followed
                        .lock()
                        .expect("collector poisoned")
                        .ended
                        .retain(|id, _| ids.contains(id.as_str()));
                    for p in processes {
                        let start = followed.lock().expect("collector poisoned").start(&p);
                        if let Some(read_to) = start {
                            let key = (p.app.clone(), p.name());
                            let history = *floors
                                .entry(key)
                                .or_insert_with(|| hub.last_time(&p.app, Source::App, &p.name()));
                            // A process that started after the history's newest line has
                            // nothing in it yet.
                            let history = history.filter(|f| *f >= p.created_at);
                            let floor = read_to.max(history);
                            // Without a floor, an old process adopted with no history of it
                            // (its output may be huge) gets the newest lines only.
                            let from = match floor {
                                Some(t) => LogsFrom::Since(t),
                                None if p.created_at >= started => LogsFrom::Since(p.created_at),
                                None => LogsFrom::Tail(RECENT_LINES),
                            };
                            tokio::spawn(follow(
                                hub.clone(),
                                runtime.clone(),
                                p,
                                from,
                                floor,
                                followed.clone(),
                            ));
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "listing processes for logs"),
            }
            tokio::time::sleep(every).await;
        }
    })
}

async fn follow(
    hub: Arc<LogHub>,
    runtime: Arc<dyn Runtime>,
    process: Process,
    from: LogsFrom,
    floor: Option<DateTime<Utc>>,
    followed: Arc<Mutex<Followed>>,
) {
    let name = process.name();
    let mut last = floor;
    match runtime.logs(&process, from, true).await {
        Ok(mut lines) => {
            while let Some(l) = lines.next().await {
                if floor.is_some_and(|f| l.time <= f) {
                    continue;
                }
                last = Some(l.time);
                let line = LogLine {
                    time: l.time,
                    source: Source::App,
                    process: Some(name.clone()),
                    message: l.line,
                };
                hub.publish(&process.app, line);
            }
        }
        Err(e) => {
            tracing::debug!(app = %process.app, process = %name, error = %e, "following output")
        }
    }
    let mut f = followed.lock().expect("collector poisoned");
    f.active.remove(&process.id);
    f.ended.insert(process.id.clone(), last);
}
