//! The dashboard end to end: a real paasd with the example app deployed, driven through a real
//! headless Chromium (chromedriver + WebDriver) and over plain HTTP.

mod access;
mod browser;
mod flow;
mod metrics;
mod support;
