//! Router tests against real HTTP backends on loopback.

mod balancing;
mod proxying;
mod routing;
mod support;
