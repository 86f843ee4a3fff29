//! Against the real Docker engine, with the scheduler's test instance and image.

#[path = "../../../scheduler/tests/integration/harness.rs"]
#[allow(dead_code)]
mod harness;

mod collector;
