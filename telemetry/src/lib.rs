//! Telemetry: one log stream per app collated from every source (the app's processes, the
//! router, builds, the platform), kept on disk within a bound, followed live, and forwarded to
//! drains; and the request and resource figures that compare releases.

pub mod collector;
pub mod drain;
pub mod history;
pub mod hub;
pub mod line;
pub mod metrics;

pub use hub::{Filter, LogHub};
pub use line::{LogLine, Source};
