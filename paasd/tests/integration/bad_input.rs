use paas_testkit::{git, Platform};
use serde_json::json;

use crate::support::{app_checkout, fails, ok, push, served, text};

#[test]
fn invalid_names_duplicates_unknown_apps_and_tokens() {
    let mut p = Platform::start().expect("paasd starts");
    let admin = p.register_admin().unwrap();
    let t = Some(admin.as_str());

    // Invalid app names: refused by the CLI and by the API, nothing created.
    let err = fails(p.paas(&["apps:create", "1bad"]));
    assert!(err.contains("invalid app name"), "{err}");
    for bad in [
        "Bad",
        "a",
        "has_underscore",
        "x".repeat(31).as_str(),
        "../etc",
    ] {
        let (status, body) = p
            .api("POST", "/apps", t, Some(json!({"name": bad})))
            .unwrap();
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(body["id"], "invalid_params");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("invalid app name"),
            "{body}"
        );
    }
    let (status, body) = p
        .api("POST", "/apps", t, Some(json!({"nome": "x"})))
        .unwrap();
    assert_eq!(status, 400, "{body}");
    assert_eq!(p.api("GET", "/apps", t, None).unwrap().1, json!([]));

    // Duplicate app.
    ok(&p, p.paas(&["apps:create", "dup"]));
    let err = fails(p.paas(&["apps:create", "dup"]));
    assert!(err.contains("already exists"), "{err}");
    let (status, body) = p
        .api("POST", "/apps", t, Some(json!({"name": "dup"})))
        .unwrap();
    assert_eq!((status, body["id"].as_str()), (409, Some("conflict")));

    // Unknown app.
    let (status, body) = p.api("GET", "/apps/nope", t, None).unwrap();
    assert_eq!((status, body["id"].as_str()), (404, Some("not_found")));
    let err = fails(p.paas(&["config", "-a", "nope"]));
    assert!(err.contains("not found"), "{err}");

    // Invalid config keys change nothing (no config, no release).
    let (status, body) = p
        .api(
            "PATCH",
            "/apps/dup/config-vars",
            t,
            Some(json!({"OK": "1", "1BAD": "x"})),
        )
        .unwrap();
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("invalid config key"),
        "{body}"
    );
    let err = fails(p.paas(&["config:set", "BAD-KEY=1", "-a", "dup"]));
    assert!(err.contains("invalid config key"), "{err}");
    assert_eq!(
        p.api("GET", "/apps/dup/config-vars", t, None).unwrap().1,
        json!({})
    );
    assert_eq!(
        p.api("GET", "/apps/dup/releases", t, None).unwrap().1,
        json!([])
    );

    // Scaling before any build, or a type that does not exist, is refused.
    let err = fails(p.paas(&["scale", "web=2", "-a", "dup"]));
    assert!(err.contains("no build yet"), "{err}");

    // Missing or wrong tokens: 401 with the error envelope.
    let (status, body) = p.api("GET", "/apps", None, None).unwrap();
    assert_eq!((status, body["id"].as_str()), (401, Some("unauthorized")));
    let (status, _) = p.api("GET", "/apps", Some("not-a-token"), None).unwrap();
    assert_eq!(status, 401);
    let forged = format!("{}x", &admin[..admin.len() - 1]);
    assert_eq!(
        p.api("GET", "/account", Some(&forged), None).unwrap().0,
        401
    );
    let err = fails(p.paas_as(Some("wrong"), &["apps"]));
    assert!(err.to_lowercase().contains("token"), "{err}");

    // Registration is closed after the first user; the admin adds users.
    let (status, _) = p
        .api(
            "POST",
            "/auth/register",
            None,
            Some(json!({"username": "eve", "password": "eve-password"})),
        )
        .unwrap();
    assert_eq!(status, 403);
    let (status, body) = p
        .api(
            "POST",
            "/auth/login",
            None,
            Some(json!({"username": "admin", "password": "wrong-password"})),
        )
        .unwrap();
    assert_eq!((status, body["id"].as_str()), (401, Some("unauthorized")));
}

#[test]
fn other_users_apps_and_access() {
    let (p, checkout) = app_checkout("private");
    let t = p.token.as_deref();
    ok(
        &p,
        p.paas(&["users:create", "bob", "--password", "bob-password"]),
    );
    let (status, login) = p
        .api(
            "POST",
            "/auth/login",
            None,
            Some(json!({"username": "bob", "password": "bob-password"})),
        )
        .unwrap();
    assert_eq!(status, 200);
    let bob = login["token"].as_str().unwrap().to_string();
    assert_eq!(login["user"]["admin"], false);

    // bob sees nothing of admin's app and cannot change it.
    assert_eq!(
        p.api("GET", "/apps", Some(&bob), None).unwrap().1,
        json!([])
    );
    let (status, _) = p.api("GET", "/apps/private", Some(&bob), None).unwrap();
    assert!(status == 403 || status == 404, "{status}");
    let (status, _) = p
        .api(
            "PATCH",
            "/apps/private/config-vars",
            Some(&bob),
            Some(json!({"X": "1"})),
        )
        .unwrap();
    assert!(status == 403 || status == 404, "{status}");
    let (status, _) = p.api("DELETE", "/apps/private", Some(&bob), None).unwrap();
    assert!(status == 403 || status == 404, "{status}");
    assert_eq!(p.api("GET", "/users", Some(&bob), None).unwrap().0, 403);
    let err = fails(p.paas_as(
        Some(&bob),
        &["users:create", "mallory", "--password", "mallory-pass"],
    ));
    assert!(err.contains("admin"), "{err}");
    assert_eq!(
        p.api("GET", "/apps/private/config-vars", t, None)
            .unwrap()
            .1,
        json!({})
    );

    // bob cannot push to it either.
    let port = p.api_addr.port();
    let url = format!("http://paas:{bob}@127.0.0.1:{port}/private.git");
    let out = git(checkout.path(), &["push", &url, "master"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("403"), "{}", text(&out));

    // Access granted: bob sees and uses it; revoked: gone again.
    ok(&p, p.paas(&["access:add", "bob", "-a", "private"]));
    let access = ok(&p, p.paas(&["access", "-a", "private"]));
    assert!(access.contains("bob"), "{access}");
    let (status, apps) = p.api("GET", "/apps", Some(&bob), None).unwrap();
    assert_eq!((status, apps[0]["name"].as_str()), (200, Some("private")));
    ok(&p, p.paas(&["access:remove", "bob", "-a", "private"]));
    assert_eq!(
        p.api("GET", "/apps", Some(&bob), None).unwrap().1,
        json!([])
    );
}

#[test]
fn git_endpoint_refuses_unknown_apps_garbage_and_missing_credentials() {
    let (p, checkout) = app_checkout("gitapp");
    let token = p.token.clone().unwrap();
    let port = p.api_addr.port();

    // Push to an app that does not exist.
    let url = format!("http://paas:{token}@127.0.0.1:{port}/ghost.git");
    let out = git(checkout.path(), &["push", &url, "master"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("not found") || text(&out).contains("404"),
        "{}",
        text(&out)
    );
    assert!(!p.data_dir.path().join("repos/ghost.git").exists());

    // No credentials: 401 asking for Basic auth; a wrong token likewise.
    let client = reqwest::blocking::Client::new();
    let refs = format!("http://127.0.0.1:{port}/gitapp.git/info/refs?service=git-receive-pack");
    let res = client.get(&refs).send().unwrap();
    assert_eq!(res.status().as_u16(), 401);
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    let res = client
        .get(&refs)
        .basic_auth("paas", Some("nope"))
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);

    // Garbage to receive-pack changes nothing.
    let pack = format!("http://127.0.0.1:{port}/gitapp.git/git-receive-pack");
    let res = client
        .post(&pack)
        .basic_auth("paas", Some(&token))
        .body("garbage")
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 415);
    let res = client
        .post(&pack)
        .basic_auth("paas", Some(&token))
        .header("Content-Type", "application/x-git-receive-pack-request")
        .body(vec![0xffu8; 4096])
        .send()
        .unwrap();
    let _ = res.bytes();
    let refs = git(&p.data_dir.path().join("repos/gitapp.git"), &["show-ref"]);
    assert!(
        refs.stdout.is_empty(),
        "garbage must not create refs: {}",
        String::from_utf8_lossy(&refs.stdout)
    );
    let (_, releases) = p
        .api("GET", "/apps/gitapp/releases", Some(&token), None)
        .unwrap();
    assert_eq!(releases, json!([]));

    // And the real push still works afterwards.
    ok(&p, push(checkout.path()));
    served(&p, "gitapp.localhost");

    // Hostile Host headers never reach an app.
    for host in [
        "evil.com",
        "localhost",
        "gitapp.localhost.evil.com",
        "x.gitapp.localhost",
        "ghost.localhost",
    ] {
        let (status, body) = p.get_via_router(host, "/").unwrap();
        assert_eq!(status, 404, "{host}: {body}");
        assert!(!body.contains("hello from"), "{host}");
    }
    let (status, body) = p.get_via_router("GITAPP.LOCALHOST.", "/").unwrap();
    assert_eq!(status, 200, "{body}");
}
