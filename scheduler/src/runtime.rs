use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::Stream;

use crate::RuntimeError;

/// What to run: one process of one release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    pub app: String,
    pub release: i64,
    pub process_type: String,
    pub index: u32,
    pub image: String,
    /// Run through `/bin/sh -c`; `None` runs the image's own entrypoint/CMD.
    pub command: Option<String>,
    /// The complete environment: release config plus PORT, DYNO, PAAS_APP, PAAS_RELEASE.
    pub env: BTreeMap<String, String>,
    /// The port the process listens on inside the container (`PORT`), for web processes.
    pub port: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessState {
    /// Running and (for web) accepting connections on its port.
    Up,
    /// Created or running but not yet known to accept connections.
    Starting,
    /// Exited on its own.
    Crashed,
    /// Stopped or being removed.
    Down,
}

impl ProcessState {
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessState::Up => "up",
            ProcessState::Starting => "starting",
            ProcessState::Crashed => "crashed",
            ProcessState::Down => "down",
        }
    }
}

/// A process as the engine reports it, rebuilt from container labels and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// Engine id of the container.
    pub id: String,
    pub app: String,
    pub release: i64,
    pub process_type: String,
    pub index: u32,
    pub state: ProcessState,
    /// Where the router reaches it (container address and `PORT`), when it listens.
    pub addr: Option<SocketAddr>,
    pub command: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Process {
    /// `web.1`
    pub fn name(&self) -> String {
        format!("{}.{}", self.process_type, self.index)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub time: DateTime<Utc>,
    /// `web.1`
    pub process: String,
    pub line: String,
}

pub type LogStream = Pin<Box<dyn Stream<Item = LogLine> + Send>>;

/// The container engine. Docker today; a cluster engine later behind the same trait.
#[async_trait]
pub trait Runtime: Send + Sync {
    /// Every process of this installation, or of one app; running or not.
    async fn list(&self, app: Option<&str>) -> Result<Vec<Process>, RuntimeError>;
    /// Create and start a process; returns once the engine reports it started.
    async fn start(&self, spec: &ProcessSpec) -> Result<Process, RuntimeError>;
    /// Stop (SIGTERM, then SIGKILL after `grace_secs`) and remove a process.
    async fn remove(&self, id: &str, grace_secs: u32) -> Result<(), RuntimeError>;
    /// The last `tail` lines of a process's stdout and stderr, then (if `follow`) new ones as
    /// they come.
    async fn logs(
        &self,
        process: &Process,
        tail: usize,
        follow: bool,
    ) -> Result<LogStream, RuntimeError>;
    /// Whether an image exists on the engine.
    async fn image_exists(&self, image: &str) -> Result<bool, RuntimeError>;
}
