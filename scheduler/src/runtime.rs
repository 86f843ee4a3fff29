use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::Stream;
use tokio::io::AsyncWrite;

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
    /// How often this slot's process was restarted after crashing (kept on the container, so
    /// the backoff survives a daemon restart).
    pub restarts: u32,
    pub limits: Limits,
}

/// Resource limits of one process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub memory_bytes: Option<i64>,
    /// CPUs in billionths (`0.5` CPU = 500_000_000).
    pub nano_cpus: Option<i64>,
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    pub code: i64,
    /// The kernel killed it for using more memory than its limit.
    pub oom_killed: bool,
    pub finished_at: DateTime<Utc>,
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
    /// See [`ProcessSpec::restarts`].
    pub restarts: u32,
    /// For a crashed process: how it ended.
    pub exit: Option<Exit>,
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

/// Where a process's log stream starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogsFrom {
    /// The newest `n` lines.
    Tail(usize),
    /// Every line written in or after the second this time falls in: whatever the process
    /// wrote, however much, without a gap (readers skip what they already have).
    Since(DateTime<Utc>),
}

/// The process type of one-off processes (`paas run`): `run.1`, `run.2`, ... They belong to
/// whoever started them, never to the formation, so the reconcile loop leaves them alone.
pub const ONE_OFF: &str = "run";

/// How a one-off process is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OneOffMode {
    /// Created now, started by [`Runtime::attach`] so that nothing it writes is missed; stdin
    /// is open, and `tty` gives it a terminal.
    Attached { tty: bool },
    /// Started now, without stdin; its output goes to the logs.
    Detached,
}

/// A chunk an attached process wrote. With a terminal everything is `Stdout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Stdout(Bytes),
    Stderr(Bytes),
}

pub type OutputStream = Pin<Box<dyn Stream<Item = Result<Output, RuntimeError>> + Send>>;

/// Both ends of an attached process.
pub struct Attachment {
    /// Ends when the process closes its output (it exited, or the engine let go).
    pub output: OutputStream,
    /// The process's stdin. Shutting it down closes the process's stdin (without a terminal;
    /// with one, end of input is a byte such as ^D, typed into the terminal).
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
}

/// The container engine. Docker today; a cluster engine later behind the same trait.
#[async_trait]
pub trait Runtime: Send + Sync {
    /// Every process of this installation, or of one app; running or not.
    async fn list(&self, app: Option<&str>) -> Result<Vec<Process>, RuntimeError>;
    /// Create and start a process; returns once the engine reports it started.
    async fn start(&self, spec: &ProcessSpec) -> Result<Process, RuntimeError>;
    /// Stop (SIGTERM, then SIGKILL after `grace_secs`) and remove a process.
    async fn remove(&self, id: &str, grace_secs: u32) -> Result<(), RuntimeError>;
    /// A process's stdout and stderr from `from`, then (if `follow`) new lines as they come.
    async fn logs(
        &self,
        process: &Process,
        from: LogsFrom,
        follow: bool,
    ) -> Result<LogStream, RuntimeError>;
    /// Runs a one-shot task (the release phase) to completion: its output lines go to `output`
    /// as they come; the container is removed afterwards. A task still running after `timeout`
    /// is killed and reported as exit code 124.
    async fn run_task(
        &self,
        spec: &ProcessSpec,
        timeout: std::time::Duration,
        output: tokio::sync::mpsc::Sender<String>,
    ) -> Result<Exit, RuntimeError>;
    /// Whether an image exists on the engine.
    async fn image_exists(&self, image: &str) -> Result<bool, RuntimeError>;

    /// Creates a one-off process: `spec.process_type` is [`ONE_OFF`] and `spec.command` the
    /// command to run. A detached one starts now; an attached one waits for
    /// [`Runtime::attach`]. Runtimes without one-offs refuse.
    async fn create_one_off(
        &self,
        spec: &ProcessSpec,
        mode: OneOffMode,
    ) -> Result<Process, RuntimeError> {
        let _ = (spec, mode);
        Err(unsupported())
    }
    /// Attaches to a one-off process created with [`OneOffMode::Attached`], then starts it.
    async fn attach(&self, id: &str) -> Result<Attachment, RuntimeError> {
        let _ = id;
        Err(unsupported())
    }
    /// Sets the size of a running process's terminal.
    async fn resize(&self, id: &str, cols: u16, rows: u16) -> Result<(), RuntimeError> {
        let _ = (id, cols, rows);
        Err(unsupported())
    }
    /// Waits until a process is not running (at once if it already ended) and says how it ended.
    async fn wait(&self, id: &str) -> Result<Exit, RuntimeError> {
        let _ = id;
        Err(unsupported())
    }
    /// What a running process uses now. Runtimes that cannot tell refuse.
    async fn usage(&self, process: &Process) -> Result<Usage, RuntimeError> {
        let _ = process;
        Err(RuntimeError::Invalid(
            "this container runtime reports no resource use".into(),
        ))
    }
}

/// Resource use of one process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// Memory in use, page cache excluded.
    pub memory_bytes: u64,
    /// Of one CPU: 100 is one CPU busy.
    pub cpu_percent: f64,
}

fn unsupported() -> RuntimeError {
    RuntimeError::Invalid("this container runtime cannot run one-off processes".into())
}
