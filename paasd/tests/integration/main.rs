//! End to end through the real parts: paasd on free ports, the `paas` CLI, `git push` over
//! HTTP, Docker builds and containers, requests through the router.

mod api_tls;
mod bad_input;
mod buildpacks;
mod canary;
mod core_loop;
mod drains;
mod engine;
mod log_throughput;
mod logs;
mod metrics;
mod parts;
mod postgres;
mod releases;
mod restart;
mod routing;
mod run;
mod startup;
mod support;
mod under_load;
