//! Errors at the scheduler's boundary.
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RuntimeError {
    #[error("cannot reach the container engine: {0}")]
    Unreachable(String),
    #[error("image {0} does not exist on the engine")]
    ImageMissing(String),
    #[error("container engine error: {0}")]
    Engine(String),
    /// The caller asked for something that cannot be run (a bad engine address, an empty
    /// instance id, a process type that cannot be part of a container name).
    #[error("invalid request: {0}")]
    Invalid(String),
}
