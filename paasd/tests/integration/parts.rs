//! `paasd controller` and `paasd router` as two processes: the router follows the controller's
//! route table over the API listener and sends its access log back.

use std::collections::BTreeSet;
use std::net::TcpStream;
use std::time::Duration;

use paas_testkit::{eventually, Platform, RouterProcess};

use crate::support::{checkout_for, dynos_answering, ok, push, served_containing, text};

/// Waits until the log (read by `log`) contains `needle`.
#[track_caller]
fn log_says(what: &str, log: impl Fn() -> String, needle: &str) {
    if eventually(Duration::from_secs(30), || {
        log().contains(needle).then_some(()).ok_or(None)
    })
    .is_err()
    {
        panic!("{what} never said {needle:?}:\n{}", log());
    }
}

#[test]
fn controller_and_router_run_as_separate_processes() {
    let mut p = Platform::start_controller(&[]).expect("paasd controller starts");
    p.register_admin().expect("register admin");
    assert!(
        TcpStream::connect_timeout(&p.router_addr, Duration::from_millis(500)).is_err(),
        "the controller opens no router port:\n{}",
        p.log()
    );

    // The route table is for routers holding the router token, not for users.
    let token = p
        .router_token()
        .expect("the controller made a router token");
    for wrong in [None, p.token.as_deref(), Some("not-the-token")] {
        let (status, body) = p
            .api("GET", "/internal/router/routes?wait=0", wrong, None)
            .unwrap();
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["id"], "unauthorized", "{body}");
    }
    let (status, table) = p
        .api("GET", "/internal/router/routes?wait=0", Some(&token), None)
        .unwrap();
    assert_eq!(status, 200, "{table}");
    let version = table["version"].as_u64().expect("a version");
    // Nothing changes: a poll after this version waits, then answers the same table.
    let (_, same) = p
        .api(
            "GET",
            &format!("/internal/router/routes?after={version}&wait=1"),
            Some(&token),
            None,
        )
        .unwrap();
    assert_eq!(same["version"], version);

    let mut router = RouterProcess::start_on(p.router_addr, &p.api_url, &token)
        .expect("paasd router starts without Docker or a database");
    let stranger = RouterProcess::start(&p.api_url, "not-the-router-token")
        .expect("a router with a wrong token starts");

    // Push: the app answers through the router process.
    let host = "parts.localhost";
    let checkout = checkout_for(&p, "parts");
    let out = push(checkout.path());
    assert!(
        out.status.success(),
        "push failed: {}\n--- controller log ---\n{}",
        text(&out),
        p.log()
    );
    let body = served_containing(&p, host, "release=v1");
    assert!(body.contains("hello from web.1"), "{body}");

    // Its access log reaches the app's log stream on the controller.
    let logs = eventually(Duration::from_secs(30), || {
        let out = p.paas(&["logs", "--source", "router", "-a", "parts"]);
        let logs = text(&out);
        (logs.contains(&format!("host={host}")) && logs.contains("dyno=web.1"))
            .then_some(logs)
            .ok_or(None)
    })
    .unwrap_or_else(|e| {
        panic!(
            "no router lines in the app's logs: {e}\n--- router log ---\n{}",
            router.log()
        )
    });
    assert!(logs.lines().all(|l| l.contains(" router: ")), "{logs}");

    // Scaling and a new release reach the router's table.
    ok(&p, p.paas(&["scale", "web=2", "-a", "parts"]));
    let both: BTreeSet<String> = ["web.1", "web.2"].map(String::from).into();
    eventually(Duration::from_secs(30), || {
        (dynos_answering(&p, host, 20) == both)
            .then_some(())
            .ok_or(None)
    })
    .unwrap_or_else(|e| panic!("requests never reached both processes: {e}"));
    ok(
        &p,
        p.paas(&["config:set", "GREETING=parted", "-a", "parts"]),
    );
    let body = served_containing(&p, host, "release=v2");
    assert!(body.contains("greeting=parted"), "{body}");

    // The router with the wrong token has no routes, and says why.
    log_says(
        "the stranger router",
        || stranger.log(),
        "router token rejected by the controller",
    );
    assert_eq!(stranger.get(host, "/").unwrap().0, 404);

    // The token is never logged.
    for (what, log) in [
        ("controller", p.log()),
        ("router", router.log()),
        ("stranger", stranger.log()),
    ] {
        assert!(!log.contains(&token), "the {what} logged the router token");
    }

    // The controller stops; its app processes and the router keep serving.
    assert!(p.stop(), "the controller exits 0 on SIGTERM: {}", p.log());
    assert_eq!(p.containers("parts").len(), 2);
    log_says(
        "the router",
        || router.log(),
        "cannot get the route table; serving the last one received",
    );
    for _ in 0..10 {
        let (status, body) = router.get(host, "/").unwrap();
        assert_eq!(status, 200, "{body}\n--- router log ---\n{}", router.log());
        assert!(body.contains("release=v2"), "{body}");
    }

    // Back, the controller's changes reach the router again.
    p.restart().expect("the controller starts again");
    // A controller just started has not looked at what runs: its routers keep their table.
    for _ in 0..10 {
        let (status, body) = router.get(host, "/").unwrap();
        assert_eq!(status, 200, "{body}\n--- router log ---\n{}", router.log());
    }
    ok(&p, p.paas(&["scale", "web=1", "-a", "parts"]));
    let one: BTreeSet<String> = ["web.1".to_string()].into();
    eventually(Duration::from_secs(30), || {
        (dynos_answering(&p, host, 10) == one)
            .then_some(())
            .ok_or(None)
    })
    .unwrap_or_else(|e| {
        panic!(
            "the router never followed the restarted controller: {e}\n--- router log ---\n{}",
            router.log()
        )
    });
    // A request served right before the router stops still reaches the app's log.
    assert_eq!(router.get(host, "/?last-words").unwrap().0, 200);
    assert!(
        router.stop(),
        "the router exits 0 on SIGTERM: {}",
        router.log()
    );
    eventually(Duration::from_secs(20), || {
        let logs = text(&p.paas(&["logs", "--source", "router", "-a", "parts"]));
        logs.contains("/?last-words").then_some(()).ok_or(None)
    })
    .unwrap_or_else(|e| panic!("the stopping router's last line was lost: {e}"));
    // Dropping `p` destroys the app and removes its containers.
}

#[test]
fn a_router_refuses_to_start_with_a_one_line_reason() {
    let data = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let run = |env: &[(&str, &str)]| {
        let out = std::process::Command::new(paas_testkit::bin("paasd"))
            .arg("router")
            .env_clear()
            .env("PAAS_DATA_DIR", data.path())
            .env("PAAS_ROUTER_LISTEN", "127.0.0.1:0")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    // clap's own message, with usage after it.
    let stderr = run(&[]);
    assert!(
        stderr.contains("--controller-url <CONTROLLER_URL>"),
        "{stderr}"
    );
    let run = |env: &[(&str, &str)]| run(env).lines().last().unwrap_or_default().to_string();
    let last = run(&[("PAAS_CONTROLLER_URL", "http://127.0.0.1:9")]);
    assert!(
        last.starts_with("paasd: no router token") && last.contains("PAAS_ROUTER_TOKEN"),
        "{last}"
    );
    let last = run(&[
        ("PAAS_CONTROLLER_URL", "ftp://example.com"),
        ("PAAS_ROUTER_TOKEN", "t"),
    ]);
    assert!(
        last.starts_with("paasd: invalid --controller-url"),
        "{last}"
    );
    let port = taken.local_addr().unwrap().port();
    let last = run(&[
        ("PAAS_CONTROLLER_URL", "http://127.0.0.1:9"),
        ("PAAS_ROUTER_TOKEN", "t"),
        ("PAAS_ROUTER_LISTEN", &format!("127.0.0.1:{port}")),
    ]);
    assert!(
        last.starts_with(&format!(
            "paasd: cannot listen on 127.0.0.1:{port} for the router"
        )),
        "{last}"
    );
}
