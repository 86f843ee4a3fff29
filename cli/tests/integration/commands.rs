//! Commands against a canned API: the requests they send and what they print.

use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::harness::{app_json, git, json, paas, paas_in, release_json, text, FakeApi, ID, T};

const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln";

fn logged_in(api: &FakeApi) -> Vec<(&str, &str)> {
    vec![("PAAS_API_URL", api.url.as_str()), ("PAAS_TOKEN", TOKEN)]
}

#[test]
fn login_saves_a_private_config_that_auth_token_reads() {
    let home = tempfile::tempdir().unwrap();
    let mut api = FakeApi::bind();
    let user = json!({"id": ID, "name": "alice", "admin": true, "created_at": T});
    api.serve(vec![json(200, json!({"token": TOKEN, "user": user}))]);

    let url = api.url.clone();
    let out = paas(
        home.path(),
        &[],
        &[
            "login",
            "--api",
            &url,
            "--username",
            "alice",
            "--password",
            "s3cret",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("Logged in as alice"), "{out:?}");
    let seen = api.finish();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].line(), "POST /auth/login");
    assert_eq!(
        seen[0].json(),
        json!({"username": "alice", "password": "s3cret"})
    );
    assert_eq!(seen[0].header("authorization"), None);

    let path = home.path().join(".config/paas/config.toml");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let saved = std::fs::read_to_string(&path).unwrap();
    assert!(saved.contains(&format!("api_url = \"{url}\"")), "{saved}");

    let out = paas(home.path(), &[], &["auth:token"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, format!("{TOKEN}\n"));
    // The environment wins over the file.
    let out = paas(home.path(), &[("PAAS_TOKEN", "from-env")], &["auth:token"]);
    assert_eq!(out.stdout, "from-env\n", "{out:?}");
}

#[test]
fn requests_carry_token_and_accept_and_errors_show_the_message() {
    let home = tempfile::tempdir().unwrap();
    let mut api = FakeApi::bind();
    api.serve(vec![
        json(
            404,
            json!({"id": "not_found", "message": "app nope not found"}),
        ),
        json(
            401,
            json!({"id": "unauthorized", "message": "invalid or expired token"}),
        ),
    ]);
    let env = logged_in(&api);
    let out = paas(home.path(), &env, &["apps:info", "-a", "nope"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stderr, "error: app nope not found\n");
    let out = paas(home.path(), &env, &["apps"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("invalid or expired token (run `paas login"),
        "{out:?}"
    );

    let seen = api.finish();
    assert_eq!(seen[0].line(), "GET /apps/nope");
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(
        seen[0].header("accept"),
        Some("application/vnd.heroku+json; version=3")
    );
    assert_eq!(seen[1].line(), "GET /apps");
}

#[test]
fn apps_lists_names_and_json_is_raw() {
    let home = tempfile::tempdir().unwrap();
    let mut api = FakeApi::bind();
    let apps = json!([app_json("zeta", None), app_json("hello", Some(2))]);
    api.serve(vec![json(200, apps.clone()), json(200, apps.clone())]);
    let env = logged_in(&api);
    let out = paas(home.path(), &env, &["apps"]);
    assert_eq!(out.stdout, "=== Apps\nhello\nzeta\n", "{out:?}");
    let out = paas(home.path(), &env, &["apps", "--json"]);
    let printed: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(printed, apps);
    api.finish();
}

#[test]
fn config_set_patches_then_reports_the_new_release() {
    let home = tempfile::tempdir().unwrap();
    let mut api = FakeApi::bind();
    api.serve(vec![
        json(200, json!({"A": "1", "B": "x=y", "OLD": "z"})),
        json(200, app_json("hello", Some(4))),
        json(200, json!({"B": "x=y", "OLD": "z"})),
        json(200, app_json("hello", Some(5))),
    ]);
    let env = logged_in(&api);
    let out = paas(
        home.path(),
        &env,
        &["config:set", "A=1", "B=x=y", "-a", "hello"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .starts_with("Setting A, B and restarting hello... done, v4\n"),
        "{out:?}"
    );
    let out = paas(home.path(), &env, &["config:unset", "A", "-a", "hello"]);
    assert_eq!(
        out.stdout, "Unsetting A and restarting hello... done, v5\n",
        "{out:?}"
    );

    let seen = api.finish();
    assert_eq!(seen[0].line(), "PATCH /apps/hello/config-vars");
    assert_eq!(seen[0].json(), json!({"A": "1", "B": "x=y"}));
    assert_eq!(seen[1].line(), "GET /apps/hello");
    assert_eq!(seen[2].json(), json!({"A": null}));
}

#[test]
fn app_comes_from_the_platform_remote() {
    let home = tempfile::tempdir().unwrap();
    let repo = home.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q"]);
    git(
        &repo,
        &[
            "remote",
            "add",
            "platform",
            "http://paas:tok@127.0.0.1:7000/hello.git",
        ],
    );
    let mut api = FakeApi::bind();
    api.serve(vec![json(
        200,
        json!({"GREETING": "hi", "LONGER_KEY": "x"}),
    )]);
    let out = paas_in(home.path(), &repo, &logged_in(&api), &["config"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stdout,
        "=== hello Config Vars\nGREETING:    hi\nLONGER_KEY:  x\n"
    );
    assert_eq!(api.finish()[0].line(), "GET /apps/hello/config-vars");
}

#[test]
fn git_remote_stores_the_token_but_never_prints_it() {
    let home = tempfile::tempdir().unwrap();
    let repo = home.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q"]);
    let mut api = FakeApi::bind();
    api.serve(vec![
        json(200, app_json("hello", None)),
        json(200, app_json("hello", None)),
    ]);
    let env = logged_in(&api);
    for _ in 0..2 {
        // The second run finds the remote and updates it instead of failing.
        let out = paas_in(home.path(), &repo, &env, &["git:remote", "-a", "hello"]);
        assert_eq!(out.code, 0, "{out:?}");
        assert_eq!(
            out.stdout,
            "set git remote platform to http://127.0.0.1:7000/hello.git\n"
        );
        assert!(!out.stderr.contains(TOKEN), "{out:?}");
    }
    let url = git(&repo, &["remote", "get-url", "platform"]);
    assert_eq!(url, format!("http://paas:{TOKEN}@127.0.0.1:7000/hello.git"));
    api.finish();
}

#[test]
fn rollback_without_a_version_goes_to_the_previous_release() {
    let home = tempfile::tempdir().unwrap();
    let mut api = FakeApi::bind();
    api.serve(vec![
        json(
            200,
            json!([
                release_json(1, "Deploy a", false),
                release_json(2, "Deploy b", false),
                release_json(3, "Set X", true)
            ]),
        ),
        json(201, release_json(4, "Rollback to v2", true)),
    ]);
    let out = paas(home.path(), &logged_in(&api), &["rollback", "-a", "hello"]);
    assert_eq!(
        out.stdout, "Rolling back hello to v2... done, v4\n",
        "{out:?}"
    );
    let seen = api.finish();
    assert_eq!(seen[0].line(), "GET /apps/hello/releases");
    assert_eq!(seen[1].line(), "POST /apps/hello/releases");
    assert_eq!(seen[1].json(), json!({"release": "v2"}));
}

#[test]
fn releases_asks_for_the_newest_and_marks_the_current() {
    let home = tempfile::tempdir().unwrap();
    let mut api = FakeApi::bind();
    api.serve(vec![json(
        200,
        json!([
            release_json(1, "Deploy a", false),
            release_json(2, "Set X", true)
        ]),
    )]);
    let out = paas(
        home.path(),
        &logged_in(&api),
        &["releases", "-a", "hello", "-n", "5"],
    );
    let lines: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["===", "hello", "Releases"], "{out:?}");
    assert_eq!(
        (lines[1][0], lines[1][1], lines[1][2], lines[1][3]),
        ("v2", "Set", "X", "admin"),
        "{out:?}"
    );
    assert_eq!(lines[1].last(), Some(&"(current)"));
    assert_eq!(lines[2][0], "v1");
    let seen = api.finish();
    assert_eq!(
        seen[0].header("range"),
        Some("version ..; max=5, order=desc")
    );
}

#[test]
fn scale_and_ps() {
    let home = tempfile::tempdir().unwrap();
    let mut api = FakeApi::bind();
    let form = |t: &str, q: i64| {
        json!({"id": ID, "app": {"id": ID, "name": "hello"}, "type": t, "quantity": q, "command": null,
               "size": "standard", "created_at": T, "updated_at": T})
    };
    let dyno = |n: &str, s: &str| {
        json!({"id": n, "app": {"id": ID, "name": "hello"}, "name": n, "type": n.split('.').next().unwrap(),
               "state": s, "command": null, "release": {"id": ID, "version": 2}, "size": "standard",
               "created_at": T, "updated_at": T})
    };
    api.serve(vec![
        json(200, json!([form("web", 3), form("worker", 0)])),
        json(200, json!([dyno("web.2", "starting"), dyno("web.1", "up")])),
    ]);
    let env = logged_in(&api);
    let out = paas(
        home.path(),
        &env,
        &["scale", "web=3", "worker=0", "-a", "hello"],
    );
    assert_eq!(
        out.stdout, "Scaling dynos... done, now running web at 3, worker at 0\n",
        "{out:?}"
    );
    let out = paas(home.path(), &env, &["ps", "-a", "hello"]);
    let lines: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["===", "web", "(2)"], "{out:?}");
    assert_eq!(lines[1][..3], ["web.1", "up", "v2"], "{out:?}");
    assert_eq!(lines[2][..3], ["web.2", "starting", "v2"], "{out:?}");
    let seen = api.finish();
    assert_eq!(seen[0].line(), "PATCH /apps/hello/formation");
    assert_eq!(
        seen[0].json(),
        json!({"updates": [{"type": "web", "quantity": 3}, {"type": "worker", "quantity": 0}]})
    );
    assert_eq!(seen[1].line(), "GET /apps/hello/dynos");
}

#[test]
fn logs_opens_a_session_and_copies_the_stream() {
    let home = tempfile::tempdir().unwrap();
    let mut api = FakeApi::bind();
    let stream_url = format!("{}/log-streams/abc?key=k", api.url);
    let lines =
        "2026-11-22T10:00:00.1Z app[web.1]: hello\n2026-11-22T10:00:01.2Z router[web.1]: GET /\n";
    api.serve(vec![
        json(
            201,
            json!({"id": ID, "logplex_url": stream_url, "created_at": T, "updated_at": T}),
        ),
        text(lines),
    ]);
    let out = paas(
        home.path(),
        &logged_in(&api),
        &["logs", "-n", "20", "--ps", "web.1", "-a", "hello"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, lines);
    let seen = api.finish();
    assert_eq!(seen[0].line(), "POST /apps/hello/log-sessions");
    assert_eq!(
        seen[0].json(),
        json!({"lines": 20, "tail": false, "dyno": "web.1", "source": null})
    );
    assert_eq!(seen[1].line(), "GET /log-streams/abc?key=k");
    assert_eq!(seen[1].header("authorization"), None);
}
