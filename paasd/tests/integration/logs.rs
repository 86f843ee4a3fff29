//! One log stream per app: every source in order, followed live, filtered, kept across restarts.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use paas_testkit::{bin, eventually};

use crate::support::{checkout_for, ok, platform_with, push, served};

fn position(logs: &str, needle: &str) -> usize {
    logs.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{logs}"))
}

#[test]
fn every_source_in_one_stream_in_order_with_filters_and_history_across_restarts() {
    let mut p = platform_with(&[]);
    let checkout = checkout_for(&p, "chatty");
    ok(&p, push(checkout.path()));
    served(&p, "chatty.localhost");
    ok(&p, p.paas(&["scale", "web=2", "-a", "chatty"]));
    let logs_now = || ok(&p, p.paas(&["logs", "-n", "1500", "-a", "chatty"]));
    let logs = eventually(Duration::from_secs(10), || {
        let logs = logs_now();
        if logs.contains("router: ") && logs.contains("app[web.2]: ") {
            Ok(logs)
        } else {
            Err(None)
        }
    })
    .unwrap_or_else(|e| panic!("{e}:\n{}", logs_now()));

    let build = position(&logs, " build: -----> Building chatty");
    let deploying = position(&logs, " platform: Deploying v1 (Deploy ");
    let live = position(&logs, " platform: Release v1 is live");
    let listening = position(&logs, " app[web.1]: hello-docker: web.1 listening");
    let request = position(
        &logs,
        " router: at=info method=GET path=\"/\" host=chatty.localhost",
    );
    let scaled = position(&logs, " platform: Scaled to web@2 by admin");
    assert!(build < deploying && deploying < live, "{logs}");
    assert!(listening < request && request < scaled, "{logs}");
    for line in logs.lines() {
        let (time, rest) = line.split_once(' ').unwrap();
        assert!(time.ends_with('Z') && time.len() == 27, "{line}");
        let tag = rest.split(':').next().unwrap();
        assert!(
            ["build", "platform", "router"].contains(&tag) || tag.starts_with("app[web."),
            "{line}"
        );
    }

    // Filters.
    let routed = ok(&p, p.paas(&["logs", "--source", "router", "-a", "chatty"]));
    assert!(
        !routed.is_empty() && routed.lines().all(|l| l.contains(" router: ")),
        "{routed}"
    );
    let web2 = ok(&p, p.paas(&["logs", "--ps", "web.2", "-a", "chatty"]));
    assert!(
        !web2.is_empty() && web2.lines().all(|l| l.contains(" app[web.2]: ")),
        "{web2}"
    );
    let last3 = ok(&p, p.paas(&["logs", "-n", "3", "-a", "chatty"]));
    assert_eq!(last3.lines().count(), 3, "{last3}");
    let err = p.paas(&["logs", "-n", "5000", "-a", "chatty"]);
    assert!(!err.status.success());

    // History survives a restart of paasd, and adopted processes' output is not repeated.
    p.restart().unwrap();
    let kept = ok(&p, p.paas(&["logs", "-n", "1500", "-a", "chatty"]));
    assert!(kept.contains("Release v1 is live"), "{kept}");
    // The collector has re-read every adopted process's output by now.
    std::thread::sleep(Duration::from_secs(2));
    let after = ok(&p, p.paas(&["logs", "-n", "1500", "-a", "chatty"]));
    let listening = after
        .lines()
        .filter(|l| l.contains("app[web.1]: hello-docker: web.1 listening"))
        .count();
    assert_eq!(listening, 1, "no line repeated after the restart:\n{after}");
}

#[test]
fn tail_sees_new_lines_within_a_second() {
    let p = platform_with(&[]);
    let checkout = checkout_for(&p, "live");
    ok(&p, push(checkout.path()));
    served(&p, "live.localhost");

    let mut child = Command::new(bin("paas"))
        .args(["logs", "-t", "-n", "0", "-a", "live"])
        .env("HOME", p.home.path())
        .env("PAAS_API_URL", &p.api_url)
        .env("PAAS_TOKEN", p.token.as_deref().unwrap())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<(Instant, String)>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send((Instant::now(), line)).is_err() {
                return;
            }
        }
    });
    // Following has begun once a line made after the start shows up.
    let ready = eventually(Duration::from_secs(10), || {
        let _ = p.get_via_router("live.localhost", "/warmup");
        match rx.recv_timeout(Duration::from_millis(300)) {
            Ok(_) => Ok(()),
            Err(_) => Err(None),
        }
    });
    assert!(ready.is_ok(), "paas logs -t shows nothing");
    while rx.try_recv().is_ok() {}

    let sent = Instant::now();
    let (status, _) = p.get_via_router("live.localhost", "/?marker=4242").unwrap();
    assert_eq!(status, 200);
    let mut seen = (None, None);
    while seen.0.is_none() || seen.1.is_none() {
        let (at, line) = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the request's lines arrive");
        if line.contains(" router: ") && line.contains("marker=4242") {
            seen.0 = Some(at.duration_since(sent));
        }
        if line.contains(" app[web.1]: ") && line.contains("GET /") {
            seen.1 = Some(at.duration_since(sent));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let (router, app) = (seen.0.unwrap(), seen.1.unwrap());
    assert!(
        router < Duration::from_secs(1),
        "router line after {router:?}"
    );
    assert!(app < Duration::from_secs(1), "app line after {app:?}");
}
