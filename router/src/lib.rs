//! paas-router: the HTTP reverse proxy in front of every app.
//!
//! Requests for `APP.DOMAIN` go to one of the app's running web processes (round robin, with a
//! retry on the next process when a connection cannot be made). The route table is immutable and
//! swapped whole, so the request path never takes a lock.

mod balance;
mod body;
mod error;
mod headers;
mod host;
mod pages;
mod proxy;
mod server;
mod table;

pub use error::RouterError;
pub use server::serve;
pub use table::{Router, DEFAULT_UPSTREAM_TIMEOUT};
