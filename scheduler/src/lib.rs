//! The scheduler: runs release × formation as containers on an engine behind [`Runtime`], and
//! reconciles what runs with what the controller wants.

pub mod docker;
pub mod error;
pub mod health;
pub mod reconcile;
pub mod runtime;

pub use docker::DockerRuntime;
pub use error::RuntimeError;
pub use reconcile::{
    plan, reconcile_app, CanaryRelease, Desired, DesiredProcess, Plan, ReconcileOptions,
    ReconcileReport,
};
pub use runtime::{Attachment, OneOffMode, Output, OutputStream, Usage, ONE_OFF};
pub use runtime::{
    Exit, Limits, LogLine, LogStream, LogsFrom, Process, ProcessSpec, ProcessState, Runtime,
};

/// Labels on every container paas runs; the scheduler finds its containers by them, never by memory.
pub mod labels {
    /// Which paas installation owns the container (one per data dir), so installations sharing an
    /// engine (tests, staging beside production) never touch each other's containers.
    pub const INSTANCE: &str = "paas.instance";
    pub const APP: &str = "paas.app";
    /// The release version number, e.g. `3`.
    pub const RELEASE: &str = "paas.release";
    /// The process type, e.g. `web`.
    pub const PROCESS: &str = "paas.process";
    /// The process index within its type, 1-based: `web.2` has index `2`.
    pub const INDEX: &str = "paas.index";
    /// How often the slot's process was restarted after crashing.
    pub const RESTARTS: &str = "paas.restarts";
    /// The port a web process listens on inside its container (`PORT`); absent when it listens on
    /// none. Kept in a label because the engine's container list does not show the environment.
    pub const PORT: &str = "paas.port";
    /// The Procfile command, when the process runs one instead of the image's default.
    pub const COMMAND: &str = "paas.command";
    /// On one-off processes (`paas run`), which no formation owns: `attached` or `detached`.
    pub const ONE_OFF: &str = "paas.oneoff";
}
