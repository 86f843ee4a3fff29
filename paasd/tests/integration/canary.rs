//! Canary releases: another release's web process takes a weighted, sticky share of the clients.

use crate::support::{checkout_for, dynos, fails, ok, platform_with, push, served_containing};

/// How many of `n` cookie-less requests the release `vN` answered.
fn answered_by(p: &paas_testkit::Platform, release: &str, n: usize) -> usize {
    (0..n)
        .filter_map(|_| p.get_via_router("bird.localhost", "/").ok())
        .filter(|(status, body)| *status == 200 && body.contains(&format!("release={release} ")))
        .count()
}

#[test]
fn canary_takes_its_share_sticks_per_client_and_is_promoted_or_stopped() {
    let p = platform_with(&[]);
    let checkout = checkout_for(&p, "bird");
    ok(&p, push(checkout.path()));
    ok(&p, p.paas(&["config:set", "GREETING=new", "-a", "bird"]));
    served_containing(&p, "bird.localhost", "release=v2");

    // Bad input changes nothing.
    assert!(fails(p.paas(&["canary:start", "v9", "-a", "bird"])).contains("not found"));
    assert!(fails(p.paas(&["canary:start", "v2", "-a", "bird"])).contains("current release"));
    assert!(
        fails(p.paas(&["canary:start", "v1", "--weight", "0", "-a", "bird"])).contains("weight")
    );
    assert!(fails(p.paas(&["canary:stop", "-a", "bird"])).contains("no canary"));

    ok(
        &p,
        p.paas(&["canary:start", "v1", "--weight", "30", "-a", "bird"]),
    );
    assert!(ok(&p, p.paas(&["canary", "-a", "bird"])).contains("v1 takes 30%"));
    let releases: Vec<i64> = dynos(&p, "bird")
        .iter()
        .map(|d| d["release"]["version"].as_i64().unwrap())
        .collect();
    assert!(
        releases.contains(&1) && releases.contains(&2),
        "{releases:?}"
    );

    let n = 400;
    let canary = answered_by(&p, "v1", n);
    let share = canary as f64 / n as f64 * 100.0;
    assert!(
        (22.0..=38.0).contains(&share),
        "the canary got {share:.1}% of {n} new clients"
    );

    // A client keeps its side through the cookie the router sets.
    let client = reqwest::blocking::Client::new();
    let url = format!("http://{}/", p.router_addr);
    let first = client
        .get(&url)
        .header("Host", "bird.localhost")
        .send()
        .unwrap();
    let cookie = first
        .headers()
        .get("set-cookie")
        .expect("the router sets a canary cookie")
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let sides: std::collections::BTreeSet<String> = (0..20)
        .map(|_| {
            let res = client
                .get(&url)
                .header("Host", "bird.localhost")
                .header("Cookie", &cookie)
                .send()
                .unwrap();
            let body = res.text().unwrap();
            body.split_whitespace()
                .find(|w| w.starts_with("release="))
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(sides.len(), 1, "one client, one side: {sides:?}");

    // Promote: v1's build and config become v3, for everyone.
    let out = ok(&p, p.paas(&["canary:promote", "-a", "bird"]));
    assert!(out.contains("v3"), "{out}");
    assert_eq!(answered_by(&p, "v3", 20), 20);
    assert!(ok(&p, p.paas(&["canary", "-a", "bird"])).contains("no canary"));
    let body = served_containing(&p, "bird.localhost", "release=v3");
    assert!(
        !body.contains("greeting=new"),
        "v1's config came with it: {body}"
    );
    let left = paas_testkit::eventually(std::time::Duration::from_secs(20), || {
        match dynos(&p, "bird").len() {
            1 => Ok(()),
            _ => Err(None),
        }
    });
    assert!(
        left.is_ok(),
        "the canary's process is gone: {:?}",
        dynos(&p, "bird")
    );

    // Stop: the canary's clients come back to the current release.
    ok(
        &p,
        p.paas(&["canary:start", "v2", "--weight", "50", "-a", "bird"]),
    );
    assert!(answered_by(&p, "v2", 60) > 0);
    ok(&p, p.paas(&["canary:stop", "-a", "bird"]));
    assert_eq!(answered_by(&p, "v3", 30), 30);
}
