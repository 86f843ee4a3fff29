//! Router tests against real HTTP backends on loopback.

mod backend_wire;
mod balancing;
mod connections;
mod domains;
mod features;
mod limits;
mod proxying;
mod routing;
mod streaming;
mod support;
mod tls;
mod websocket;
