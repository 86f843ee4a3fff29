//! paas-router: the HTTP reverse proxy in front of every app.
//!
//! Requests for `APP.DOMAIN` and for the apps' custom domains go to one of the app's running
//! processes, over pooled keep-alive connections; a request that could not be sent to one
//! process is retried on the next. The route table and the certificates are immutable and
//! swapped whole, metrics are per-thread atomics, and pooled connections are kept per thread,
//! so the request path shares no lock between threads.
//!
//! Plain HTTP/1.1 requests without a body are served by the router's own HTTP/1.1 server
//! (`h1`), which hands a connection to hyper's at the first request that needs more; HTTPS
//! (HTTP/2 or HTTP/1.1) is hyper's. Processes are reached with the router's own HTTP/1.1
//! client (`client`).
//!
//! # What the controller drives
//!
//! - **Routes**: [`Router::replace_routes`] with `app name -> `[`AppRoute`] on every change
//!   (or [`Router::set_route`] for one app). An [`AppRoute`] holds the app's processes
//!   ([`Backend`]: address, release, `web.1`), an optional [`Canary`] (a second release's
//!   processes and a 0-100 weight, sticky per client by the `paas_canary` cookie),
//!   `maintenance` (503 page without touching the app), custom `domains` (`www.example.com`,
//!   `*.example.com`; unique across apps), [`Timeouts`] (connect 5 s, response head 30 s,
//!   idle body 55 s), `max_body_bytes` (413), `redirect_https` and [`Balance`]. Problems are
//!   returned and logged, the rest applies. [`validate_domain`] checks a domain before it is
//!   stored. The older [`Router::replace`] (name -> addresses) still works.
//! - **Certificates**: [`Router::set_certificates`] with every [`CertEntry`] (PEM chain and
//!   key) on every change; handshakes pick by SNI (exact name, then wildcard, then the
//!   self-signed `*.DOMAIN` fallback). [`validate_certificate`] is what `certs:add` should run
//!   (key matches, valid now, covers the app's domains) and [`inspect_certificate`] describes
//!   one ([`CertInfo`]: names, validity, subject, issuer).
//! - **Access log**: [`Router::access_log`] subscribes to [`AccessLogLine`]s (`app`, and a
//!   line in the Heroku router's style) for the app log stream (source `router`). Lines are
//!   dropped, never waited for, when nobody listens or a subscriber lags.
//! - **Listeners**: [`serve`] (HTTP), [`serve_tls`] (HTTPS, HTTP/2 by ALPN; WebSockets over
//!   HTTP/2 by extended CONNECT, RFC 8441, reach the app as HTTP/1.1 upgrades), [`serve_metrics`]
//!   (Prometheus text at `/metrics`, off unless started), each until its shutdown future
//!   resolves. [`Router::set_settings`] changes client limits ([`RouterSettings`]: header read
//!   timeout, max header size, HTTP/2 streams and idle timeout, shutdown grace, HTTPS port in
//!   redirects).
//!   [`serve_threads`] runs a listener on threads of its own (one single-threaded runtime and
//!   `SO_REUSEPORT` socket each, nginx-style): the fast way, about 1.3x the throughput of
//!   `serve` in a shared multi-threaded runtime (see `bench/README.md`).

mod access_log;
mod balance;
mod body;
mod canary;
mod client;
mod date;
mod deadlines;
mod error;
mod forward;
mod gate;
mod h1;
mod headers;
mod host;
mod metrics;
mod pages;
mod proxy;
mod request_id;
mod response_head;
mod route;
mod router;
mod server;
mod shard;
mod table;
mod threads;
mod tls;
mod upgrade;
mod upstream;
mod write_queue;

pub use access_log::AccessLogLine;
pub use error::RouterError;
pub use route::{AppRoute, Backend, Balance, Canary, Timeouts};
pub use router::{validate_domain, Router, RouterSettings};
pub use server::{serve, serve_metrics, serve_tls};
pub use threads::{serve_threads, Protocol, RouterThreads};
pub use tls::{inspect_certificate, validate_certificate, CertEntry, CertInfo};
