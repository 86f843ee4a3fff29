use std::collections::BTreeSet;

use crate::support::{app_checkout, dynos_answering, ok, push, served, served_containing, text};

#[test]
fn push_config_scale_rollback_logs() {
    let (p, checkout) = app_checkout("hello");
    let host = "hello.localhost";

    // 1. push -> v1, served through the router, build log streamed into the push.
    let out = push(checkout.path());
    let log = text(&out);
    assert!(
        out.status.success(),
        "push failed: {log}\n--- paasd log ---\n{}",
        p.log()
    );
    assert!(log.contains("remote: -----> Building hello"), "{log}");
    assert!(
        log.contains("remote:        Step 1/"),
        "docker build output streams: {log}"
    );
    assert!(log.contains("Released v1"), "{log}");
    assert!(
        log.contains(&format!("http://hello.localhost:{}/", p.router_addr.port())),
        "{log}"
    );
    let body = served(&p, host);
    assert!(body.contains("hello from web.1"), "{body}");
    assert!(body.contains("release=v1"), "{body}");

    // 2. config:set -> v2 seen by the app; config:unset -> v3.
    let out = ok(&p, p.paas(&["config:set", "GREETING=hi", "-a", "hello"]));
    assert!(out.contains("v2"), "{out}");
    let body = served_containing(&p, host, "release=v2");
    assert!(body.contains("greeting=hi"), "{body}");
    let config = ok(&p, p.paas(&["config", "-a", "hello", "--json"]));
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["GREETING"], "hi");
    ok(&p, p.paas(&["config:unset", "GREETING", "-a", "hello"]));
    let body = served_containing(&p, host, "release=v3");
    assert!(!body.contains("greeting=hi"), "{body}");

    // 3. scale web=3: three containers, and the router spreads requests over all three.
    ok(&p, p.paas(&["scale", "web=3", "-a", "hello"]));
    assert_eq!(p.containers("hello").len(), 3);
    let ps = ok(&p, p.paas(&["ps", "-a", "hello"]));
    for n in 1..=3 {
        let line = ps
            .lines()
            .find(|l| l.split_whitespace().next() == Some(&format!("web.{n}")));
        let words: Vec<&str> = line
            .unwrap_or_else(|| panic!("no web.{n} in {ps}"))
            .split_whitespace()
            .collect();
        assert_eq!(&words[1..3], ["up", "v3"], "{ps}");
    }
    let seen = dynos_answering(&p, host, 30);
    let all: BTreeSet<String> = ["web.1", "web.2", "web.3"].map(String::from).into();
    assert_eq!(seen, all, "30 requests should reach all three processes");

    // scale web=0 -> the router answers 503.
    ok(&p, p.paas(&["scale", "web=0", "-a", "hello"]));
    assert!(p.containers("hello").is_empty());
    let (status, _) = p.get_via_router(host, "/").unwrap();
    assert_eq!(status, 503);
    ok(&p, p.paas(&["scale", "web=1", "-a", "hello"]));

    // 4. rollback to v2 -> v4 with v2's build and config.
    let out = ok(&p, p.paas(&["rollback", "v2", "-a", "hello"]));
    assert!(out.contains("v4"), "{out}");
    let body = served_containing(&p, host, "release=v4");
    assert!(
        body.contains("greeting=hi"),
        "rollback restores v2's config: {body}"
    );
    let releases = ok(&p, p.paas(&["releases", "-a", "hello", "--json"]));
    let releases: Vec<serde_json::Value> = serde_json::from_str(&releases).unwrap();
    let v4 = releases
        .iter()
        .find(|r| r["version"] == 4)
        .expect("v4 listed");
    assert_eq!(v4["current"], true);
    assert_eq!(v4["description"], "Rollback to v2");
    assert_eq!(releases.iter().filter(|r| r["current"] == true).count(), 1);
    let human = ok(&p, p.paas(&["releases", "-a", "hello"]));
    assert!(human.contains("Deploy "), "{human}");
    assert!(human.contains("Set GREETING config vars"), "{human}");

    // logs: the app's containers' recent output.
    let logs = ok(&p, p.paas(&["logs", "-a", "hello"]));
    assert!(logs.contains("app[web.1]:"), "{logs}");
}

#[test]
fn broken_build_is_rejected_and_the_running_release_keeps_serving() {
    let (p, checkout) = app_checkout("keeper");
    ok(&p, push(checkout.path()));
    served_containing(&p, "keeper.localhost", "release=v1");

    let dockerfile = checkout.path().join("Dockerfile");
    let mut text_before = std::fs::read_to_string(&dockerfile).unwrap();
    text_before.push_str("\nRUN echo about to fail && exit 3\n");
    std::fs::write(&dockerfile, text_before).unwrap();
    paas_testkit::commit_all(checkout.path(), "break the build").unwrap();
    let out = push(checkout.path());
    let log = text(&out);
    assert!(
        !out.status.success(),
        "a broken build must reject the push: {log}"
    );
    assert!(
        log.contains("about to fail"),
        "the build output reaches the pusher: {log}"
    );
    assert!(log.contains("pre-receive hook declined"), "{log}");

    let body = served(&p, "keeper.localhost");
    assert!(body.contains("release=v1"), "{body}");
    let releases = ok(&p, p.paas(&["releases", "-a", "keeper", "--json"]));
    let releases: Vec<serde_json::Value> = serde_json::from_str(&releases).unwrap();
    assert_eq!(
        releases.len(),
        1,
        "no release for a failed build: {releases:?}"
    );
    let (status, builds) = p
        .api("GET", "/apps/keeper/builds", p.token.as_deref(), None)
        .unwrap();
    assert_eq!(status, 200);
    let statuses: Vec<&str> = builds
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["succeeded", "failed"]);

    // A FROM image that does not exist locally fails with a message saying so.
    std::fs::write(&dockerfile, "FROM nowhere/nothing:1\nCMD [\"true\"]\n").unwrap();
    paas_testkit::commit_all(checkout.path(), "missing base").unwrap();
    let out = push(checkout.path());
    let log = text(&out);
    assert!(!out.status.success());
    assert!(log.contains("nowhere/nothing:1"), "{log}");
    served_containing(&p, "keeper.localhost", "release=v1");
}
