//! Custom domains, maintenance mode and TLS certificates, through the real router.

use std::process::Command;

use crate::support::{checkout_for, fails, ok, platform_with, push, served};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn custom_domains_maintenance_and_certificates() {
    let tls_port = free_port();
    let p = platform_with(&[("PAAS_ROUTER_TLS_LISTEN", &format!("127.0.0.1:{tls_port}"))]);
    let front = checkout_for(&p, "front");
    ok(&p, push(front.path()));
    let other = checkout_for(&p, "other");
    ok(&p, push(other.path()));
    served(&p, "front.localhost");

    // Exact and wildcard domains route to the app; the router picks the most specific.
    ok(
        &p,
        p.paas(&["domains:add", "www.front.test", "-a", "front"]),
    );
    ok(&p, p.paas(&["domains:add", "*.wild.test", "-a", "front"]));
    ok(
        &p,
        p.paas(&["domains:add", "exact.wild.test", "-a", "other"]),
    );
    assert!(served(&p, "www.front.test").contains("app=front"));
    assert!(served(&p, "anything.wild.test").contains("app=front"));
    assert!(served(&p, "exact.wild.test").contains("app=other"));
    let listed = ok(&p, p.paas(&["domains", "-a", "front"]));
    assert!(
        listed.contains("front.localhost") && listed.contains("www.front.test"),
        "{listed}"
    );

    // Taken, malformed, or in the platform's own namespace: refused, nothing changes.
    let err = fails(p.paas(&["domains:add", "www.front.test", "-a", "other"]));
    assert!(err.contains("already used"), "{err}");
    for bad in [
        "not a host",
        "127.0.0.1",
        "other.localhost",
        "*.",
        "a..b.test",
    ] {
        let err = fails(p.paas(&["domains:add", bad, "-a", "front"]));
        assert!(
            err.contains("invalid") || err.contains("domain"),
            "{bad}: {err}"
        );
    }
    assert!(served(&p, "www.front.test").contains("app=front"));
    ok(
        &p,
        p.paas(&["domains:remove", "www.front.test", "-a", "front"]),
    );
    assert_eq!(p.get_via_router("www.front.test", "/").unwrap().0, 404);

    // Maintenance mode: a 503 page without touching the app.
    ok(&p, p.paas(&["maintenance:on", "-a", "front"]));
    assert_eq!(ok(&p, p.paas(&["maintenance", "-a", "front"])).trim(), "on");
    let (status, body) = p.get_via_router("front.localhost", "/").unwrap();
    assert_eq!(status, 503);
    assert!(body.to_lowercase().contains("maintenance"), "{body}");
    assert!(
        served(&p, "other.localhost").contains("app=other"),
        "other apps are untouched"
    );
    ok(&p, p.paas(&["maintenance:off", "-a", "front"]));
    assert!(served(&p, "front.localhost").contains("app=front"));

    // Certificates: validated, then served by SNI.
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let secure = rcgen::generate_simple_self_signed(vec!["secure.front.test".to_string()]).unwrap();
    let stranger = rcgen::generate_simple_self_signed(vec!["elsewhere.test".to_string()]).unwrap();
    let cert = write("cert.pem", &secure.cert.pem());
    let key = write("key.pem", &secure.signing_key.serialize_pem());
    let wrong_key = write("wrong.pem", &stranger.signing_key.serialize_pem());
    let stranger_cert = write("stranger.pem", &stranger.cert.pem());
    let stranger_key = write("stranger-key.pem", &stranger.signing_key.serialize_pem());
    let err = fails(p.paas(&["certs:add", &cert, &key, "-a", "front"]));
    assert!(err.contains("none of the app's hostnames"), "{err}");
    ok(
        &p,
        p.paas(&["domains:add", "secure.front.test", "-a", "front"]),
    );
    let err = fails(p.paas(&["certs:add", &cert, &wrong_key, "-a", "front"]));
    assert!(err.contains("certificate refused"), "{err}");
    let err = fails(p.paas(&["certs:add", &stranger_cert, &stranger_key, "-a", "front"]));
    assert!(err.contains("elsewhere.test"), "{err}");
    ok(&p, p.paas(&["certs:add", &cert, &key, "-a", "front"]));
    assert!(ok(&p, p.paas(&["certs", "-a", "front"])).contains("secure.front.test"));

    let resolve = format!("secure.front.test:{tls_port}:127.0.0.1");
    let url = format!("https://secure.front.test:{tls_port}/");
    let curl = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "--resolve",
            &resolve,
            "--cacert",
            &cert,
            &url,
        ])
        .output()
        .unwrap();
    let body = String::from_utf8_lossy(&curl.stdout);
    assert!(
        curl.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&curl.stderr)
    );
    assert!(body.contains("app=front"), "{body}");
}

#[test]
fn per_app_router_settings() {
    let p = platform_with(&[]);
    let app = checkout_for(&p, "tuned");
    ok(&p, push(app.path()));
    served(&p, "tuned.localhost");
    let before = ok(&p, p.paas(&["router:settings", "-a", "tuned"]));
    assert!(
        before.contains("30s") && before.contains("round-robin"),
        "{before}"
    );

    // Bad values change nothing.
    assert!(
        fails(p.paas(&["router:set", "response_timeout=-1", "-a", "tuned"]))
            .contains("between 0 and 3600")
    );
    assert!(
        fails(p.paas(&["router:set", "balance=random", "-a", "tuned"]))
            .contains("least-outstanding")
    );
    assert!(fails(p.paas(&["router:set", "max_body=huge", "-a", "tuned"])).contains("max_body"));
    assert_eq!(ok(&p, p.paas(&["router:settings", "-a", "tuned"])), before);

    let out = ok(
        &p,
        p.paas(&[
            "router:set",
            "max_body=1K",
            "balance=least-outstanding",
            "-a",
            "tuned",
        ]),
    );
    assert!(
        out.contains("1K") && out.contains("least-outstanding"),
        "{out}"
    );
    let client = reqwest::blocking::Client::new();
    let url = format!("http://{}/", p.router_addr);
    let big = client
        .post(&url)
        .header("Host", "tuned.localhost")
        .body(vec![b'x'; 4096])
        .send()
        .unwrap();
    assert_eq!(big.status().as_u16(), 413, "a body over max_body");
    assert!(
        served(&p, "tuned.localhost").contains("app=tuned"),
        "small requests still pass"
    );

    ok(
        &p,
        p.paas(&["router:set", "redirect_https=true", "-a", "tuned"]),
    );
    let no_redirects = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = no_redirects
        .get(&url)
        .header("Host", "tuned.localhost")
        .send()
        .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    let location = res.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("https://tuned.localhost"),
        "{location}"
    );
}
