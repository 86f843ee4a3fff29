//! Bad input and missing setup fail with exit 1, a clear message, and no request sent.

use std::net::TcpListener;

use crate::harness::{paas, paas_in, FakeApi};

fn assert_fails(out: &crate::harness::Out, want: &str) {
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.starts_with("error: "), "{out:?}");
    assert!(out.stderr.contains(want), "wanted {want:?} in {out:?}");
}

#[test]
fn no_credentials_is_not_logged_in() {
    let home = tempfile::tempdir().unwrap();
    let out = paas(home.path(), &[], &["apps"]);
    assert_fails(
        &out,
        "not logged in: run `paas login --api URL ...` or set PAAS_API_URL and PAAS_TOKEN",
    );
    // A URL alone is not enough.
    let out = paas(
        home.path(),
        &[("PAAS_API_URL", "http://127.0.0.1:9")],
        &["apps"],
    );
    assert_fails(&out, "not logged in");
}

/// Each case is refused locally: the fake API must see no request at all.
#[test]
fn bad_arguments_are_refused_before_any_request() {
    let home = tempfile::tempdir().unwrap();
    let mut api = FakeApi::bind();
    api.serve(vec![]);
    let env = [("PAAS_API_URL", api.url.as_str()), ("PAAS_TOKEN", "tok")];
    let cases: &[(&[&str], &str)] = &[
        (
            &["config:set", "NOEQUALS", "-a", "app"],
            "invalid argument \"NOEQUALS\": use KEY=value",
        ),
        (
            &["config:set", "1KEY=v", "-a", "app"],
            "invalid config key \"1KEY\"",
        ),
        (
            &["config:unset", "A-B", "-a", "app"],
            "invalid config key \"A-B\"",
        ),
        (&["apps:create", "1bad"], "invalid app name \"1bad\""),
        (
            &["config", "-a", "Bad_Name"],
            "invalid app name \"Bad_Name\"",
        ),
        (
            &["scale", "web=x", "-a", "hello"],
            "invalid quantity \"x\" for web",
        ),
        (&["scale", "web", "-a", "hello"], "use TYPE=N"),
        (
            &["rollback", "vx", "-a", "hello"],
            "invalid release \"vx\": use vN",
        ),
        (
            &["ps:restart", "web.x", "-a", "hello"],
            "use TYPE or TYPE.N",
        ),
        (&["apps:destroy", "hello"], "pass --confirm hello"),
        (
            &["apps:destroy", "hello", "--confirm", "other"],
            "pass --confirm hello",
        ),
    ];
    for (args, want) in cases {
        let out = paas(home.path(), &env, args);
        assert_eq!(out.code, 1, "{args:?}: {out:?}");
        assert!(
            out.stderr.contains(want),
            "{args:?}: wanted {want:?} in {out:?}"
        );
    }
    let seen = api.finish();
    assert!(seen.is_empty(), "requests were sent: {seen:?}");
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    let home = tempfile::tempdir().unwrap();
    let out = paas(home.path(), &[], &["no-such-command"]);
    assert_eq!(out.code, 1, "{out:?}");
    let out = paas(
        home.path(),
        &[],
        &["logs", "--source", "kernel", "-a", "hello"],
    );
    assert_eq!(out.code, 1, "{out:?}");
    for args in [&["help"][..], &["--help"], &["help", "config:set"]] {
        let out = paas(home.path(), &[], args);
        assert_eq!(out.code, 0, "{args:?}: {out:?}");
    }
    let out = paas(home.path(), &[], &["help"]);
    for cmd in [
        "apps:create",
        "config:set",
        "ps:restart",
        "git:remote",
        "auth:token",
        "access:add",
    ] {
        assert!(out.stdout.contains(cmd), "{cmd} missing from help: {out:?}");
    }
}

#[test]
fn unreachable_api_names_the_url() {
    let home = tempfile::tempdir().unwrap();
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let out = paas(
        home.path(),
        &[("PAAS_API_URL", &url), ("PAAS_TOKEN", "tok")],
        &["apps"],
    );
    assert_fails(&out, "could not reach the paas API at");
    assert!(out.stderr.contains(&format!("127.0.0.1:{port}")), "{out:?}");
}

#[test]
fn missing_app_outside_a_checkout() {
    let home = tempfile::tempdir().unwrap();
    let out = paas(
        home.path(),
        &[("PAAS_API_URL", "http://127.0.0.1:9"), ("PAAS_TOKEN", "t")],
        &["config"],
    );
    assert_fails(
        &out,
        "no app given: pass -a APP (or run inside a checkout with a `platform` git remote)",
    );
    // A checkout whose remote is not an app's git URL.
    let repo = home.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    crate::harness::git(&repo, &["init", "-q"]);
    crate::harness::git(
        &repo,
        &[
            "remote",
            "add",
            "platform",
            "http://paas:secret@example.com/",
        ],
    );
    let out = paas_in(home.path(), &repo, &[], &["ps"]);
    assert_fails(&out, "does not point at a paas app");
    assert!(!out.stderr.contains("secret"), "{out:?}");
}
