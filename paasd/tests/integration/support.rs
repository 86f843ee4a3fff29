use std::collections::BTreeSet;
use std::process::Output;
use std::time::Duration;

use paas_testkit::{copy_example, eventually, git, Platform};

pub use paas_testkit::{fails, output_text as text};

#[track_caller]
pub fn ok(p: &Platform, out: Output) -> String {
    p.ok(out)
}

/// A platform with an admin, an app `name` and a checkout of the example app whose remote
/// `platform` points at it (not pushed yet).
pub fn app_checkout(name: &str) -> (Platform, tempfile::TempDir) {
    let mut p = Platform::start().expect("paasd starts");
    p.register_admin().expect("register admin");
    ok(&p, p.paas(&["apps:create", name]));
    let checkout = copy_example("hello-docker").expect("example checkout");
    ok(
        &p,
        p.paas_in(
            p.token.as_deref(),
            &["git:remote", "-a", name],
            checkout.path(),
        ),
    );
    (p, checkout)
}

pub fn push(checkout: &std::path::Path) -> Output {
    git(checkout, &["push", "platform", "master"])
}

/// The body the app answers through the router, once it answers 200.
pub fn served(p: &Platform, host: &str) -> String {
    eventually(Duration::from_secs(30), || {
        match p.get_via_router(host, "/") {
            Ok((200, body)) => Ok(body),
            _ => Err(None),
        }
    })
    .unwrap_or_else(|e| {
        panic!(
            "{host} never answered 200: {e}\n--- paasd log ---\n{}",
            p.log()
        )
    })
}

/// Waits until the app's answer contains `needle`.
pub fn served_containing(p: &Platform, host: &str, needle: &str) -> String {
    eventually(Duration::from_secs(30), || {
        match p.get_via_router(host, "/") {
            Ok((200, body)) if body.contains(needle) => Ok(body),
            _ => Err(None),
        }
    })
    .unwrap_or_else(|e| {
        let last = p.get_via_router(host, "/");
        panic!(
            "{host} never answered with {needle:?}: {e}; last: {last:?}\n--- paasd log ---\n{}",
            p.log()
        )
    })
}

/// The `DYNO`s that answered `n` requests.
pub fn dynos_answering(p: &Platform, host: &str, n: usize) -> BTreeSet<String> {
    (0..n)
        .filter_map(|_| p.get_via_router(host, "/").ok())
        .filter(|(status, _)| *status == 200)
        .filter_map(|(_, body)| {
            body.split_whitespace()
                .find(|w| w.starts_with("web."))
                .map(str::to_string)
        })
        .collect()
}

/// A platform started with extra paasd settings, with an admin registered.
pub fn platform_with(env: &[(&str, &str)]) -> Platform {
    let mut p = Platform::start_with(env).expect("paasd starts");
    p.register_admin().expect("register admin");
    p
}

/// Creates `name` on `p` and a checkout of the example app pointing at it.
pub fn checkout_for(p: &Platform, name: &str) -> tempfile::TempDir {
    ok(p, p.paas(&["apps:create", name]));
    let checkout = copy_example("hello-docker").expect("example checkout");
    ok(
        p,
        p.paas_in(
            p.token.as_deref(),
            &["git:remote", "-a", name],
            checkout.path(),
        ),
    );
    checkout
}

/// Replaces the checkout's Procfile and commits.
pub fn set_procfile(checkout: &std::path::Path, text: &str) {
    std::fs::write(checkout.join("Procfile"), text).unwrap();
    paas_testkit::commit_all(checkout, "change the Procfile").unwrap();
}

/// The app's releases as JSON values.
pub fn releases(p: &Platform, app: &str) -> Vec<serde_json::Value> {
    let out = ok(p, p.paas(&["releases", "-a", app, "--json"]));
    serde_json::from_str(&out).unwrap()
}

/// The app's processes as JSON values.
pub fn dynos(p: &Platform, app: &str) -> Vec<serde_json::Value> {
    let out = ok(p, p.paas(&["ps", "-a", app, "--json"]));
    serde_json::from_str(&out).unwrap()
}
