//! Every app's log stream: recent lines in memory, history on disk, live followers. Sources
//! publish; readers take history then follow. Publishing never waits: a slow disk or reader
//! loses lines (counted) rather than slowing the app or the platform.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::{broadcast, mpsc};

use crate::drain::Drain;
use crate::history::History;
use crate::line::{LogLine, Source};

/// Lines kept in memory per app: the most `paas logs -n` may ask for.
pub const RECENT_LINES: usize = 1500;
/// Lines a live follower may fall behind before it loses some.
const FOLLOW_BUFFER: usize = 16 * 1024;
/// Lines waiting for the disk before new ones are not written.
const DISK_QUEUE: usize = 64 * 1024;

/// A line with its place in the app's stream.
pub type Entry = (u64, Arc<LogLine>);

/// Which lines a reader wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub source: Option<Source>,
    /// `web.1`, or a process type `web` for all its processes.
    pub process: Option<String>,
}

impl Filter {
    pub fn accepts(&self, line: &LogLine) -> bool {
        if self.source.is_some_and(|s| s != line.source) {
            return false;
        }
        match (&self.process, &line.process) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(want), Some(p)) if want.contains('.') => want == p,
            (Some(want), Some(p)) => p.split('.').next() == Some(want.as_str()),
        }
    }
}

struct AppLog {
    recent: Mutex<VecDeque<Entry>>,
    next_seq: AtomicU64,
    live: broadcast::Sender<Entry>,
    disk: mpsc::Sender<Arc<LogLine>>,
    /// Lines the disk writer could not keep up with.
    not_written: AtomicU64,
}

pub struct LogHub {
    dir: PathBuf,
    segment_bytes: u64,
    apps: Mutex<HashMap<String, Arc<AppLog>>>,
    drains: RwLock<HashMap<String, Vec<Arc<Drain>>>>,
}

impl LogHub {
    /// Logs live under `dir/APP/`, at most `2 × segment_bytes` per app.
    pub fn new(dir: PathBuf, segment_bytes: u64) -> Arc<LogHub> {
        Arc::new(LogHub {
            dir,
            segment_bytes,
            apps: Mutex::new(HashMap::new()),
            drains: RwLock::new(HashMap::new()),
        })
    }

    /// Must be called within a tokio runtime (the app's disk writer is a task).
    fn app(&self, app: &str) -> Arc<AppLog> {
        let mut apps = self.apps.lock().expect("log hub poisoned");
        if let Some(log) = apps.get(app) {
            return log.clone();
        }
        let dir = self.dir.join(app);
        let history = History::tail(&dir, RECENT_LINES);
        let recent: VecDeque<Entry> = history
            .into_iter()
            .enumerate()
            .map(|(i, l)| (i as u64, Arc::new(l)))
            .collect();
        let (disk, queue) = mpsc::channel(DISK_QUEUE);
        tokio::spawn(write_history(
            app.to_string(),
            dir,
            self.segment_bytes,
            queue,
        ));
        let log = Arc::new(AppLog {
            next_seq: AtomicU64::new(recent.len() as u64),
            recent: Mutex::new(recent),
            live: broadcast::channel(FOLLOW_BUFFER).0,
            disk,
            not_written: AtomicU64::new(0),
        });
        apps.insert(app.to_string(), log.clone());
        log
    }

    pub fn publish(&self, app: &str, line: LogLine) {
        let log = self.app(app);
        let line = Arc::new(line);
        let entry = {
            // Numbered and queued under one lock, so the order in memory is the order seen live.
            let mut recent = log.recent.lock().expect("log hub poisoned");
            let entry = (log.next_seq.fetch_add(1, Ordering::Relaxed), line.clone());
            if recent.len() == RECENT_LINES {
                recent.pop_front();
            }
            recent.push_back(entry.clone());
            let _ = log.live.send(entry.clone());
            entry
        };
        if let Some(drains) = self.drains.read().expect("drains poisoned").get(app) {
            for drain in drains {
                drain.offer(&entry.1);
            }
        }
        if log.disk.try_send(entry.1).is_err() {
            log.not_written.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Replaces the app's drains (the old ones stop).
    pub fn set_drains(&self, app: &str, drains: Vec<Arc<Drain>>) {
        let mut all = self.drains.write().expect("drains poisoned");
        if drains.is_empty() {
            all.remove(app);
        } else {
            all.insert(app.to_string(), drains);
        }
    }

    /// Every interval, tells each app's log how many lines its drains lost since the last time.
    pub fn spawn_drain_reporter(
        self: &Arc<Self>,
        every: std::time::Duration,
    ) -> tokio::task::JoinHandle<()> {
        let hub = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(hub) = hub.upgrade() else { return };
                let mut warnings = Vec::new();
                for (app, drains) in hub.drains.read().expect("drains poisoned").iter() {
                    for d in drains {
                        if let Some(n) = d.newly_dropped() {
                            let warning = format!(
                                "{n} lines were not sent to drain {}: it is down or too slow",
                                d.url
                            );
                            warnings.push((app.clone(), warning));
                        }
                    }
                }
                for (app, warning) in warnings {
                    hub.publish(&app, LogLine::new(Source::Platform, None, warning));
                }
            }
        })
    }

    /// The newest `n` lines that pass `filter`, in time order, and a live feed of what comes
    /// after them (subscribed before reading, so nothing falls between the two; entries of the
    /// feed numbered at or below the history's highest number are already in it).
    pub fn read(
        &self,
        app: &str,
        n: usize,
        filter: &Filter,
    ) -> (Vec<Entry>, broadcast::Receiver<Entry>) {
        let log = self.app(app);
        let recent = log.recent.lock().expect("log hub poisoned");
        let live = log.live.subscribe();
        let mut lines: Vec<Entry> = recent
            .iter()
            .rev()
            .filter(|(_, l)| filter.accepts(l))
            .take(n)
            .cloned()
            .collect();
        // Sources arrive at different speeds (a process's output is read a moment after it is
        // written); history reads in the order things happened.
        lines.sort_by_key(|(seq, l)| (l.time, *seq));
        (lines, live)
    }

    /// The time of the newest line of `source` from `process`, if any is remembered.
    pub fn last_time(
        &self,
        app: &str,
        source: Source,
        process: &str,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        let log = self.app(app);
        let recent = log.recent.lock().expect("log hub poisoned");
        recent
            .iter()
            .rev()
            .find(|(_, l)| l.source == source && l.process.as_deref() == Some(process))
            .map(|(_, l)| l.time)
    }

    /// Lines the disk could not keep up with, per app (for the platform's own warnings).
    pub fn not_written(&self, app: &str) -> u64 {
        self.app(app).not_written.load(Ordering::Relaxed)
    }

    /// An app was destroyed: its stream and history go.
    pub fn forget(&self, app: &str) {
        self.apps.lock().expect("log hub poisoned").remove(app);
        self.set_drains(app, Vec::new());
        let dir = self.dir.join(app);
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(app, error = %e, "removing log history");
            }
        }
    }
}

/// Appends queued lines in batches, flushing whenever the queue runs dry.
async fn write_history(
    app: String,
    dir: PathBuf,
    segment_bytes: u64,
    mut queue: mpsc::Receiver<Arc<LogLine>>,
) {
    let mut history = match History::open(&dir, segment_bytes) {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(app, error = %e, dir = %dir.display(), "cannot keep log history");
            return;
        }
    };
    let mut batch = Vec::with_capacity(1024);
    while queue.recv_many(&mut batch, 1024).await > 0 {
        let result = tokio::task::block_in_place(|| {
            for line in batch.drain(..) {
                history.append(&line)?;
            }
            if queue.is_empty() {
                history.flush()?;
            }
            Ok::<_, std::io::Error>(())
        });
        if let Err(e) = result {
            tracing::warn!(app, error = %e, "writing log history");
        }
    }
    let _ = history.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(source: Source, process: Option<&str>, message: &str) -> LogLine {
        LogLine::new(source, process.map(str::to_string), message)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn history_then_live_without_gaps_or_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let hub = LogHub::new(dir.path().to_path_buf(), 1 << 20);
        for i in 0..5 {
            hub.publish(
                "shop",
                line(Source::App, Some("web.1"), &format!("old {i}")),
            );
        }
        let (history, mut live) = hub.read("shop", 3, &Filter::default());
        let messages: Vec<&str> = history.iter().map(|(_, l)| l.message.as_str()).collect();
        assert_eq!(messages, ["old 2", "old 3", "old 4"]);
        hub.publish("shop", line(Source::Router, None, "new"));
        let (seq, l) = live.recv().await.unwrap();
        assert_eq!((seq, l.message.as_str()), (5, "new"));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn filters_by_source_and_process() {
        let dir = tempfile::tempdir().unwrap();
        let hub = LogHub::new(dir.path().to_path_buf(), 1 << 20);
        hub.publish("shop", line(Source::App, Some("web.1"), "a"));
        hub.publish("shop", line(Source::App, Some("web.2"), "b"));
        hub.publish("shop", line(Source::App, Some("worker.1"), "c"));
        hub.publish("shop", line(Source::Router, None, "d"));
        hub.publish("other", line(Source::App, Some("web.1"), "x"));
        let pick = |filter: Filter| {
            hub.read("shop", 100, &filter)
                .0
                .iter()
                .map(|(_, l)| l.message.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(pick(Filter::default()), ["a", "b", "c", "d"]);
        assert_eq!(
            pick(Filter {
                source: Some(Source::Router),
                process: None
            }),
            ["d"]
        );
        assert_eq!(
            pick(Filter {
                source: None,
                process: Some("web".into())
            }),
            ["a", "b"]
        );
        assert_eq!(
            pick(Filter {
                source: None,
                process: Some("web.2".into())
            }),
            ["b"]
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn history_survives_a_new_hub() {
        let dir = tempfile::tempdir().unwrap();
        let hub = LogHub::new(dir.path().to_path_buf(), 1 << 20);
        hub.publish("shop", line(Source::Platform, None, "before"));
        // The writer flushes when its queue runs dry.
        for _ in 0..100 {
            if !History::tail(&dir.path().join("shop"), 1).is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let hub = LogHub::new(dir.path().to_path_buf(), 1 << 20);
        let (history, _) = hub.read("shop", 10, &Filter::default());
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].1.message, "before");
        hub.forget("shop");
        assert!(!dir.path().join("shop").exists());
    }
}
