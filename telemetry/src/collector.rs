//! Follows every process's stdout and stderr into its app's stream. The engine keeps the
//! output; after a daemon restart each process is read again from the newest line the history
//! already has, so nothing is repeated and (within the engine's retention) nothing is lost.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use paas_scheduler::{Process, Runtime};

use crate::hub::{LogHub, RECENT_LINES};
use crate::line::{LogLine, Source};

/// Containers being followed, and the ones whose output was read to the end.
#[derive(Default)]
struct Followed {
    active: HashSet<String>,
    finished: HashSet<String>,
}

/// Looks for new processes every `every` and follows each one's output until it ends.
pub fn spawn(
    hub: Arc<LogHub>,
    runtime: Arc<dyn Runtime>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
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
                        .finished
                        .retain(|id| ids.contains(id.as_str()));
                    for p in processes {
                        let start = {
                            let mut f = followed.lock().expect("collector poisoned");
                            let fresh = !f.active.contains(&p.id) && !f.finished.contains(&p.id);
                            if fresh {
                                f.active.insert(p.id.clone());
                            }
                            fresh
                        };
                        if start {
                            let key = (p.app.clone(), p.name());
                            let floor = *floors
                                .entry(key)
                                .or_insert_with(|| hub.last_time(&p.app, Source::App, &p.name()));
                            tokio::spawn(follow(
                                hub.clone(),
                                runtime.clone(),
                                p,
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
    floor: Option<DateTime<Utc>>,
    followed: Arc<Mutex<Followed>>,
) {
    let name = process.name();
    // A process that started after the floor has nothing in the history yet.
    let floor = floor.filter(|f| *f >= process.created_at);
    match runtime.logs(&process, RECENT_LINES, true).await {
        Ok(mut lines) => {
            while let Some(l) = lines.next().await {
                if floor.is_some_and(|f| l.time <= f) {
                    continue;
                }
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
    f.finished.insert(process.id.clone());
}
