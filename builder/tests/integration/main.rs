//! Integration tests of paas-builder against the real git CLI and the real Docker engine.

mod buildpack;
mod dockerfile;
mod git_http;
mod hook;
mod procfile;
mod source;
mod support;
