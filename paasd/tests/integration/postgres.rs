//! The controller on a `postgres://` database (a throwaway server of its own): the core loop
//! works, and everything is still there after paasd restarts.

use paas_testkit::{copy_example, Platform, Postgres};
use serde_json::json;

use crate::startup::{one_line_reason, refuses};
use crate::support::{fails, ok, push, releases, served_containing};

#[test]
fn the_core_loop_on_postgres_survives_a_restart() {
    // Declared before the platform so it is dropped after it: paasd still needs the database
    // while its drop removes the apps.
    let pg = Postgres::start().expect("a throwaway PostgreSQL server (package `postgresql`)");
    pg.create_db("paas").expect("createdb");
    let url = pg.url("paas");
    let mut p = Platform::start_with(&[("DATABASE_URL", &url)]).expect("paasd starts");
    assert!(
        !p.data_dir.path().join("paas.db").exists(),
        "paasd used SQLite instead of {url}"
    );
    p.register_admin().expect("register admin");
    let host = "pghello.localhost";

    ok(&p, p.paas(&["apps:create", "pghello"]));
    let err = fails(p.paas(&["apps:create", "pghello"]));
    assert!(err.contains("already exists"), "{err}");
    let (status, body) = p
        .api(
            "POST",
            "/apps",
            p.token.as_deref(),
            Some(json!({"name": "pghello"})),
        )
        .unwrap();
    assert_eq!(
        (status, body["id"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );

    let checkout = copy_example("hello-docker").expect("example checkout");
    ok(
        &p,
        p.paas_in(
            p.token.as_deref(),
            &["git:remote", "-a", "pghello"],
            checkout.path(),
        ),
    );
    // v1: config before any build; v2: the push.
    ok(&p, p.paas(&["config:set", "GREETING=hi", "-a", "pghello"]));
    ok(&p, push(checkout.path()));
    let body = served_containing(&p, host, "release=v2");
    assert!(body.contains("greeting=hi"), "{body}");

    // v3: a config change on the pushed build; then scale.
    ok(
        &p,
        p.paas(&["config:set", "GREETING=hello", "-a", "pghello"]),
    );
    served_containing(&p, host, "greeting=hello");
    ok(&p, p.paas(&["scale", "web=2", "-a", "pghello"]));
    assert_eq!(p.containers("pghello").len(), 2);

    // v4: rollback to v2, its config comes back.
    let out = ok(&p, p.paas(&["rollback", "v2", "-a", "pghello"]));
    assert!(out.contains("v4"), "{out}");
    let body = served_containing(&p, host, "release=v4");
    assert!(body.contains("greeting=hi"), "{body}");
    let before = releases(&p, "pghello");
    let summary = |rs: &[serde_json::Value]| -> Vec<(i64, String, bool)> {
        rs.iter()
            .map(|r| {
                (
                    r["version"].as_i64().unwrap(),
                    r["description"].as_str().unwrap().to_string(),
                    r["current"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    let listed = summary(&before);
    assert_eq!(
        listed.iter().map(|r| r.0).collect::<Vec<_>>(),
        [4, 3, 2, 1],
        "newest first: {before:?}"
    );
    assert_eq!(listed[0].1, "Rollback to v2");
    assert_eq!(
        listed
            .iter()
            .filter(|r| r.2)
            .map(|r| r.0)
            .collect::<Vec<_>>(),
        [4]
    );

    // Restart: nothing lives in the data dir's database, everything comes back from Postgres.
    p.restart().expect("paasd restarts");
    let apps = ok(&p, p.paas(&["apps", "--json"]));
    assert!(apps.contains("\"pghello\""), "{apps}");
    assert_eq!(summary(&releases(&p, "pghello")), listed);
    let config = ok(&p, p.paas(&["config", "-a", "pghello", "--json"]));
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["GREETING"], "hi");
    let body = served_containing(&p, host, "release=v4");
    assert!(body.contains("greeting=hi"), "{body}");
    let ps = ok(&p, p.paas(&["ps", "-a", "pghello", "--json"]));
    let ps: Vec<serde_json::Value> = serde_json::from_str(&ps).unwrap();
    assert_eq!(ps.len(), 2, "the formation survives too: {ps:?}");
    let err = fails(p.paas(&["apps:create", "pghello"]));
    assert!(err.contains("already exists"), "{err}");

    drop(p);
    drop(pg);
}

#[test]
fn an_unreachable_postgres_stops_paasd_with_a_reason() {
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let out = refuses(|c| {
        c.env(
            "DATABASE_URL",
            format!("postgres://paas:secret@127.0.0.1:{port}/paas"),
        );
    });
    one_line_reason(
        &out,
        &format!("cannot open the database at postgres://paas:***@127.0.0.1:{port}/paas"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("secret"), "the password leaks: {stderr}");
}
