//! Buildpack builds end to end: the examples pushed with the real git client, built on the real
//! stacks with paas's own buildpacks (pip and npm from their registries), served through the
//! router; a third-party buildpack from a git repository; failing builds.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use paas_testkit::{commit_all, copy_example, docker, eventually, git, repo_dir, Platform};

use crate::support::{dynos, ok, platform_with, push, served_containing, text};

/// The stacks deploy/test.sh makes; without them nothing here can build.
fn require_stacks() {
    for image in ["paas/stack-build:bookworm", "paas/stack-run:bookworm"] {
        let out = docker().args(["image", "inspect", image]).output().unwrap();
        assert!(
            out.status.success(),
            "stack image {image} missing: make the stacks with deploy/stacks/make.sh (deploy/test.sh does)"
        );
    }
}

/// A platform, app `name` and a checkout of `examples/EXAMPLE` with its `platform` remote.
fn example(p: &Platform, example: &str, name: &str) -> tempfile::TempDir {
    ok(p, p.paas(&["apps:create", name]));
    let checkout = copy_example(example).expect("example checkout");
    remote(p, checkout.path(), name);
    checkout
}

fn remote(p: &Platform, dir: &Path, name: &str) {
    ok(
        p,
        p.paas_in(p.token.as_deref(), &["git:remote", "-a", name], dir),
    );
}

/// Pushes and requires success; returns the push output and how long it took.
fn push_ok(p: &Platform, dir: &Path) -> (String, Duration) {
    let started = Instant::now();
    let out = push(dir);
    let took = started.elapsed();
    let log = text(&out);
    assert!(
        out.status.success(),
        "push failed: {log}\n--- paasd log ---\n{}",
        p.log()
    );
    (log, took)
}

/// Pushes and requires the push to be rejected; returns the output.
fn push_rejected(dir: &Path) -> String {
    let out = push(dir);
    let log = text(&out);
    assert!(!out.status.success(), "the push should be rejected: {log}");
    assert!(log.contains("pre-receive hook declined"), "{log}");
    log
}

fn get(p: &Platform, host: &str, path: &str) -> (u16, String) {
    p.get_via_router(host, path).unwrap()
}

fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no {from:?}");
    std::fs::write(&path, text.replace(from, to)).unwrap();
    commit_all(dir, &format!("edit {file}")).unwrap();
}

#[test]
fn flask_runs_with_a_worker_and_a_code_only_push_reinstalls_nothing() {
    require_stacks();
    let p = platform_with(&[]);
    let checkout = example(&p, "flask", "flask");
    let host = "flask.localhost";

    let (log, cold) = push_ok(&p, checkout.path());
    for line in [
        "-----> Python app detected",
        "Installing dependencies from requirements.txt with pip",
        "Successfully installed",
        "New dependencies layer",
        "Process types: web, worker",
        "Released v1",
    ] {
        assert!(log.contains(line), "{line:?} missing from the push: {log}");
    }
    served_containing(&p, host, "Hello from Flask on paas! dyno=web.1 release=v1");

    // The worker process type runs beside web once scaled.
    ok(&p, p.paas(&["scale", "worker=1", "-a", "flask"]));
    eventually(Duration::from_secs(30), || {
        let ps = dynos(&p, "flask");
        let up: Vec<&str> = ps
            .iter()
            .filter(|d| d["state"] == "up")
            .filter_map(|d| d["name"].as_str())
            .collect();
        if up.contains(&"worker.1") && up.contains(&"web.1") {
            Ok(())
        } else {
            Err(Some(format!("{ps:?}")))
        }
    })
    .unwrap_or_else(|e| panic!("web.1 and worker.1 never both up: {e}"));
    assert_eq!(p.containers("flask").len(), 2);
    eventually(Duration::from_secs(30), || {
        let logs = text(&p.paas(&["logs", "-a", "flask"]));
        if logs.contains("worker.1: tick") {
            Ok(())
        } else {
            Err(Some(logs))
        }
    })
    .unwrap_or_else(|e| panic!("the worker's output never showed: {e}"));

    // A code-only change: nothing is installed, the dependencies layer is reused.
    edit(
        checkout.path(),
        "app.py",
        "Hello from Flask",
        "Howdy from Flask",
    );
    let (log, warm) = push_ok(&p, checkout.path());
    assert!(
        log.contains("requirements.txt unchanged: reusing the cached virtualenv"),
        "{log}"
    );
    assert!(log.contains("Dependencies unchanged"), "{log}");
    for installing in [
        "Collecting",
        "Successfully installed",
        "New dependencies layer",
    ] {
        assert!(
            !log.contains(installing),
            "{installing:?} in a code-only push: {log}"
        );
    }
    assert!(
        warm < cold,
        "the code-only push ({warm:?}) should be faster than the first ({cold:?})"
    );
    served_containing(&p, host, "Howdy from Flask on paas! dyno=web.1 release=v2");

    // A requirement that does not exist: pip's own error, and v2 keeps serving.
    edit(
        checkout.path(),
        "requirements.txt",
        "gunicorn==22.0.0",
        "gunicorn==22.0.0\nno-such-package-for-paas-tests==9.9.9",
    );
    let log = push_rejected(checkout.path());
    assert!(
        log.contains("No matching distribution found for no-such-package-for-paas-tests"),
        "pip's error reaches the pusher: {log}"
    );
    assert!(
        log.contains("pip could not install the dependencies"),
        "{log}"
    );
    assert!(log.contains("the python buildpack failed"), "{log}");
    let (status, body) = get(&p, host, "/");
    assert_eq!(status, 200);
    assert!(
        body.contains("Howdy from Flask") && body.contains("release=v2"),
        "{body}"
    );
}

#[test]
fn django_collects_static_files_and_serves_them() {
    require_stacks();
    let p = platform_with(&[]);
    let checkout = example(&p, "django", "django");
    let (log, _) = push_ok(&p, checkout.path());
    assert!(
        log.contains("Django: python manage.py collectstatic --noinput"),
        "{log}"
    );
    assert!(
        log.contains("static file copied to '/app/staticfiles'"),
        "{log}"
    );
    let body = served_containing(&p, "django.localhost", "Hello from Django on paas!");
    assert!(body.contains("Served by gunicorn as web.1"), "{body}");
    // WhiteNoise serves what collectstatic gathered, under its hashed name too.
    let href = body
        .split('"')
        .find(|s| s.starts_with("/static/hello/style."))
        .unwrap_or_else(|| panic!("no stylesheet link: {body}"));
    let (status, css) = get(&p, "django.localhost", href);
    assert_eq!(status, 200, "{href}");
    assert!(css.contains("font-family"), "{css}");
    // `release:` is the release phase's, not a process type to scale.
    let ps = dynos(&p, "django");
    assert!(
        ps.iter().all(|d| d["type"] != "release"),
        "no release process runs: {ps:?}"
    );
}

#[test]
fn express_installs_builds_starts_and_rejects_a_broken_package_json() {
    require_stacks();
    let p = platform_with(&[]);
    let checkout = example(&p, "express", "express");
    let host = "express.localhost";
    let (log, _) = push_ok(&p, checkout.path());
    for line in [
        "-----> Node.js app detected",
        "Installing dependencies: npm ci",
        "Running the build script: npm run build",
        "wrote dist/about.html",
    ] {
        assert!(log.contains(line), "{line:?} missing: {log}");
    }
    let body = served_containing(
        &p,
        host,
        "Hello from Express on paas! dyno=web.1 release=v1",
    );
    assert!(body.contains("env=production"), "{body}");
    let (status, about) = get(&p, host, "/about.html");
    assert_eq!(status, 200);
    assert!(about.contains("Built by npm run build"), "{about}");

    edit(
        checkout.path(),
        "server.js",
        "Hello from Express",
        "Hi from Express",
    );
    let (log, _) = push_ok(&p, checkout.path());
    assert!(log.contains("reusing the cached node_modules"), "{log}");
    assert!(log.contains("Dependencies unchanged"), "{log}");
    assert!(!log.contains("npm ci"), "{log}");
    served_containing(&p, host, "Hi from Express on paas! dyno=web.1 release=v2");

    edit(
        checkout.path(),
        "package.json",
        "\"private\": true,",
        "\"private\": true,,",
    );
    let log = push_rejected(checkout.path());
    assert!(log.contains("package.json is not valid JSON"), "{log}");
    assert!(log.contains("the nodejs buildpack failed"), "{log}");
    served_containing(&p, host, "Hi from Express on paas! dyno=web.1 release=v2");
}

#[test]
fn static_and_procfile_apps_run_and_an_unknown_app_is_told_what_is_looked_for() {
    require_stacks();
    let p = platform_with(&[]);
    let site = example(&p, "static-site", "site");
    let (log, _) = push_ok(&p, site.path());
    assert!(log.contains("-----> Static app detected"), "{log}");
    served_containing(&p, "site.localhost", "Hello from a static site on paas!");
    let (status, about) = get(&p, "site.localhost", "/about/");
    assert_eq!(status, 200);
    assert!(about.contains("About this site"), "{about}");
    let (status, missing) = get(&p, "site.localhost", "/.profile.d/");
    assert_eq!(status, 404, "{missing}");

    let shell = example(&p, "procfile-shell", "shell");
    let (log, _) = push_ok(&p, shell.path());
    assert!(log.contains("-----> Procfile app detected"), "{log}");
    let body = served_containing(&p, "shell.localhost", "Hello from a shell script on paas!");
    assert!(
        body.contains("user=app"),
        "apps run as the stack's user: {body}"
    );

    ok(&p, p.paas(&["apps:create", "mystery"]));
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "master"]);
    std::fs::write(dir.path().join("notes.txt"), "no language here\n").unwrap();
    commit_all(dir.path(), "notes").unwrap();
    remote(&p, dir.path(), "mystery");
    let log = push_rejected(dir.path());
    for expected in [
        "no buildpack applies to this app",
        "python: requirements.txt, pyproject.toml, setup.py or Pipfile",
        "nodejs: package.json",
        "static: index.html or public/index.html",
        "procfile: a Procfile",
        "BUILDPACK_URL",
    ] {
        assert!(log.contains(expected), "{expected:?} missing: {log}");
    }
}

/// A git repository holding a classic buildpack, as a third party would publish it.
fn buildpack_repo(dir: &Path, compile: &str) {
    let write = |name: &str, body: &str| {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    write(
        "bin/detect",
        "#!/bin/sh\n[ -f \"$1/hello.txt\" ] && echo 'Hello-text' && exit 0\nexit 1\n",
    );
    write("bin/compile", &format!("#!/bin/bash\nset -e\n{compile}\n"));
    write(
        "bin/release",
        "#!/bin/sh\ncat <<'EOF'\n---\ndefault_process_types:\n  web: cd /app/site && exec python3 -m http.server $PORT\nEOF\n",
    );
    if !dir.join(".git").exists() {
        git(dir, &["init", "-q", "-b", "main"]);
    }
    commit_all(dir, "buildpack").unwrap();
}

#[test]
fn a_third_party_buildpack_from_git_via_buildpack_url() {
    require_stacks();
    let p = platform_with(&[]);
    let bp = tempfile::tempdir().unwrap();
    buildpack_repo(
        bp.path(),
        r#"echo "-----> Third-party buildpack compiling"
mkdir -p "$1/site"
echo "$(cat "$1/hello.txt") / GREETING=$(cat "$3/GREETING")" >"$1/site/index.html""#,
    );

    ok(&p, p.paas(&["apps:create", "third"]));
    let url = format!("file://{}", bp.path().display());
    ok(
        &p,
        p.paas(&[
            "config:set",
            &format!("BUILDPACK_URL={url}"),
            "GREETING=from-env-dir",
            "-a",
            "third",
        ]),
    );
    let app = tempfile::tempdir().unwrap();
    git(app.path(), &["init", "-q", "-b", "master"]);
    std::fs::write(app.path().join("hello.txt"), "hello from a third party").unwrap();
    commit_all(app.path(), "hello").unwrap();
    remote(&p, app.path(), "third");
    let (log, _) = push_ok(&p, app.path());
    assert!(
        log.contains(&format!("-----> Fetching buildpack {url}")),
        "{log}"
    );
    assert!(log.contains("-----> Hello-text app detected"), "{log}");
    assert!(log.contains("Third-party buildpack compiling"), "{log}");
    served_containing(
        &p,
        "third.localhost",
        "hello from a third party / GREETING=from-env-dir",
    );

    // The buildpack's compile fails: its own message, and the running release stays.
    buildpack_repo(
        bp.path(),
        "echo ' !     third-party says: cannot build this today' >&2\nexit 1",
    );
    std::fs::write(app.path().join("hello.txt"), "changed").unwrap();
    commit_all(app.path(), "change").unwrap();
    let log = push_rejected(app.path());
    assert!(
        log.contains("third-party says: cannot build this today"),
        "{log}"
    );
    assert!(log.contains("bin/compile exited with 1"), "{log}");
    served_containing(&p, "third.localhost", "hello from a third party");

    // A host path works too, here naming a working tree directly.
    buildpack_repo(
        bp.path(),
        "mkdir -p \"$1/site\"; echo 'from a host path' >\"$1/site/index.html\"",
    );
    ok(
        &p,
        p.paas(&[
            "config:set",
            &format!("BUILDPACK_URL={}", bp.path().display()),
            "-a",
            "third",
        ]),
    );
    std::fs::write(app.path().join("hello.txt"), "again").unwrap();
    commit_all(app.path(), "again").unwrap();
    let (log, _) = push_ok(&p, app.path());
    assert!(!log.contains("Fetching buildpack"), "used in place: {log}");
    served_containing(&p, "third.localhost", "from a host path");
}

#[test]
fn paasd_stack_build_does_nothing_when_the_stacks_are_up_to_date() {
    require_stacks();
    let started = Instant::now();
    let out = Command::new(paas_testkit::bin("paasd"))
        .args(["stack", "build"])
        .env("PAAS_STACKS_DIR", repo_dir().join("deploy/stacks"))
        .output()
        .unwrap();
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("paas/stack-run:bookworm up to date"), "{log}");
    assert!(
        log.contains("paas/stack-build:bookworm up to date"),
        "{log}"
    );
    assert!(started.elapsed() < Duration::from_secs(30), "{log}");

    let out = Command::new(paas_testkit::bin("paasd"))
        .args(["stack", "build"])
        .env("PAAS_STACKS_DIR", "/nonexistent/stacks")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("PAAS_STACKS_DIR"), "{}", text(&out));
}
