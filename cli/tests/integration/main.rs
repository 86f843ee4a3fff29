//! Runs the `paas` binary: error paths that need no server, and the requests it sends to a
//! canned stand-in for the controller.

mod commands;
mod errors;
mod harness;
