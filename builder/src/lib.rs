//! Turns a `git push` into an image: git smart HTTP (the real `git receive-pack`), the
//! pre-receive hook that hands the push to the controller, source export, Procfile parsing and
//! Dockerfile builds with the engine's legacy builder, and Heroku classic buildpack builds on
//! locally made stack images.

pub mod buildpack;
pub mod dockerfile;
mod error;
pub mod git;
pub mod hook;
pub mod procfile;
pub mod source;
pub mod stack;

pub use dockerfile::{BuildError, BuildLimits};
pub use error::BuilderError;
pub use procfile::ProcfileError;
