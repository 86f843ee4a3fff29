//! Releases that never drop a request: failed releases change nothing, the release phase,
//! health checks, crash recovery, limits, restarts, image collection.

use std::time::Duration;

use paas_testkit::{commit_all, docker, eventually};

use crate::support::{
    checkout_for, dynos, ok, platform_with, push, releases, served, served_containing,
    set_procfile, text,
};

#[test]
fn a_web_process_that_never_listens_fails_its_release_and_the_old_one_keeps_serving() {
    let p = platform_with(&[("PAAS_BOOT_TIMEOUT", "4")]);
    let checkout = checkout_for(&p, "deaf");
    ok(&p, push(checkout.path()));
    served_containing(&p, "deaf.localhost", "release=v1");
    let before = p.containers("deaf");

    set_procfile(checkout.path(), "web: echo not listening; sleep 600\n");
    let out = push(checkout.path());
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("did not accept connections"), "{log}");
    assert!(
        log.contains("not listening"),
        "the failing process's last output is shown: {log}"
    );
    assert!(log.contains("release v2 failed"), "{log}");

    assert!(served(&p, "deaf.localhost").contains("release=v1"));
    assert_eq!(
        p.containers("deaf"),
        before,
        "the old process is untouched, the new one removed"
    );
    let rs = releases(&p, "deaf");
    let v2 = rs.iter().find(|r| r["version"] == 2).unwrap();
    assert_eq!(
        (v2["status"].as_str(), v2["current"].as_bool()),
        (Some("failed"), Some(false))
    );
    assert!(rs.iter().any(|r| r["version"] == 1 && r["current"] == true));
}

#[test]
fn the_release_phase_runs_before_going_live_and_its_failure_blocks_the_release() {
    let p = platform_with(&[]);
    let checkout = checkout_for(&p, "migrator");
    set_procfile(
        checkout.path(),
        "web: /app/start\nrelease: echo migrating for $PAAS_RELEASE\n",
    );
    let log = ok(&p, push(checkout.path()));
    assert!(log.contains("Running release command"), "{log}");
    assert!(log.contains("migrating for v1"), "{log}");
    served_containing(&p, "migrator.localhost", "release=v1");
    let ps = dynos(&p, "migrator");
    assert_eq!(
        ps.len(),
        1,
        "the release phase is not a process that keeps running: {ps:?}"
    );
    let refused = p.paas(&["scale", "release=2", "-a", "migrator"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("runs once per release"),
        "{}",
        text(&refused)
    );

    set_procfile(
        checkout.path(),
        "web: /app/start\nrelease: echo broken migration; exit 3\n",
    );
    let out = push(checkout.path());
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("broken migration"), "{log}");
    assert!(log.contains("exited with status 3"), "{log}");
    assert!(served(&p, "migrator.localhost").contains("release=v1"));

    // `run` names one-off processes (run.1, ...): a Procfile may not take it.
    set_procfile(checkout.path(), "web: /app/start\nrun: /app/start\n");
    let out = push(checkout.path());
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("reserved for one-off processes"),
        "{}",
        text(&out)
    );
    assert!(served(&p, "migrator.localhost").contains("release=v1"));
    let leftovers = docker()
        .args(["ps", "-aq", "--filter"])
        .arg(format!("label=paas.instance={}", p.instance))
        .args(["--filter", "label=paas.process=release"])
        .output()
        .unwrap();
    assert!(
        leftovers.stdout.is_empty(),
        "release containers are removed"
    );
}

#[test]
fn http_health_checks_gate_new_releases() {
    let p = platform_with(&[("PAAS_BOOT_TIMEOUT", "10")]);
    let checkout = checkout_for(&p, "checked");
    ok(&p, push(checkout.path()));
    served_containing(&p, "checked.localhost", "release=v1");

    let args = [
        "healthchecks:set",
        "web",
        "--path",
        "/missing",
        "--attempts",
        "2",
        "--interval",
        "0.2",
        "-a",
        "checked",
    ];
    ok(&p, p.paas(&args));
    let out = p.paas(&["config:set", "X=1", "-a", "checked"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("health check GET /missing failed 2 times"),
        "{}",
        text(&out)
    );
    assert!(served(&p, "checked.localhost").contains("release=v1"));

    ok(
        &p,
        p.paas(&["healthchecks:set", "web", "--path", "/", "-a", "checked"]),
    );
    let checks = ok(&p, p.paas(&["healthchecks", "-a", "checked"]));
    assert!(checks.contains("GET /"), "{checks}");
    ok(&p, p.paas(&["config:set", "X=2", "-a", "checked"]));
    served_containing(&p, "checked.localhost", "release=v3");
}

#[test]
fn crashed_processes_come_back_and_oom_kills_are_reported() {
    let p = platform_with(&[]);
    let checkout = checkout_for(&p, "phoenix");
    let hog = "sleep 2; x=$(head -c 80000000 /dev/zero | tr '\\0' a); sleep 600";
    set_procfile(checkout.path(), &format!("web: /app/start\nhog: {hog}\n"));
    ok(&p, push(checkout.path()));
    served(&p, "phoenix.localhost");

    // A killed process is started again and its restart counted.
    let web = p.containers("phoenix");
    assert_eq!(web.len(), 1);
    assert!(docker()
        .args(["kill", &web[0]])
        .output()
        .unwrap()
        .status
        .success());
    let back = eventually(Duration::from_secs(30), || {
        let ps = dynos(&p, "phoenix");
        match ps.iter().find(|d| d["name"] == "web.1") {
            Some(d) if d["state"] == "up" && d["restarts"] == 1 => Ok(()),
            _ => Err(None),
        }
    });
    assert!(
        back.is_ok(),
        "web.1 comes back: {:?}\n{}",
        dynos(&p, "phoenix"),
        p.log()
    );
    let human = ok(&p, p.paas(&["ps", "-a", "phoenix"]));
    assert!(human.contains("restarts: 1"), "{human}");
    served(&p, "phoenix.localhost");

    // Memory limits: a new release; exceeding the limit is an OOM kill, reported as such.
    let out = ok(&p, p.paas(&["limits:set", "hog=16M", "-a", "phoenix"]));
    assert!(out.contains("done"), "{out}");
    let limits = ok(&p, p.paas(&["limits", "-a", "phoenix", "--json"]));
    let limits: serde_json::Value = serde_json::from_str(&limits).unwrap();
    assert_eq!(limits[0]["memory"], "16M");
    assert!(releases(&p, "phoenix")
        .iter()
        .any(|r| r["description"].as_str().unwrap().contains("limits")));
    ok(&p, p.paas(&["scale", "hog=1", "-a", "phoenix"]));
    let killed = eventually(Duration::from_secs(30), || {
        let ps = dynos(&p, "phoenix");
        match ps.iter().find(|d| d["name"] == "hog.1") {
            Some(d) if d["oom_killed"] == true => Ok(()),
            _ => Err(None),
        }
    });
    assert!(
        killed.is_ok(),
        "hog.1 is OOM-killed: {:?}",
        dynos(&p, "phoenix")
    );
    let human = ok(&p, p.paas(&["ps", "-a", "phoenix"]));
    assert!(human.contains("killed: out of memory"), "{human}");
}

#[test]
fn ps_restart_replaces_processes_new_first() {
    let p = platform_with(&[]);
    let checkout = checkout_for(&p, "fresh");
    ok(&p, push(checkout.path()));
    ok(&p, p.paas(&["scale", "web=2", "-a", "fresh"]));
    let id = |name: &str| {
        dynos(&p, "fresh")
            .iter()
            .find(|d| d["name"] == name)
            .map(|d| d["id"].as_str().unwrap().to_string())
    };
    let (web1, web2) = (id("web.1").unwrap(), id("web.2").unwrap());
    ok(&p, p.paas(&["ps:restart", "web.1", "-a", "fresh"]));
    assert_ne!(id("web.1").unwrap(), web1, "web.1 was replaced");
    assert_eq!(id("web.2").unwrap(), web2, "web.2 was not");
    ok(&p, p.paas(&["ps:restart", "-a", "fresh"]));
    assert_ne!(id("web.2").unwrap(), web2);
    assert_eq!(dynos(&p, "fresh").len(), 2);
    served(&p, "fresh.localhost");
    let err = p.paas(&["ps:restart", "worker", "-a", "fresh"]);
    assert!(!err.status.success());
}

#[test]
fn images_of_old_releases_are_collected() {
    let p = platform_with(&[("PAAS_KEEP_RELEASES", "2")]);
    let checkout = checkout_for(&p, "tidy");
    for n in 1..=3 {
        std::fs::write(checkout.path().join("www/version.txt"), format!("{n}\n")).unwrap();
        commit_all(checkout.path(), &format!("version {n}")).unwrap();
        ok(&p, push(checkout.path()));
    }
    served_containing(&p, "tidy.localhost", "release=v3");
    let (_, builds) = p
        .api("GET", "/apps/tidy/builds", p.token.as_deref(), None)
        .unwrap();
    let builds = builds.as_array().unwrap().clone();
    assert_eq!(builds.len(), 3);
    assert!(
        builds[0]["image"].is_null(),
        "the oldest build's image is collected: {builds:?}\n{}",
        p.log()
    );
    assert!(builds[1]["image"].is_string() && builds[2]["image"].is_string());
    let out = p.paas(&["rollback", "v1", "-a", "tidy"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("image was removed"), "{}", text(&out));
    ok(&p, p.paas(&["rollback", "v2", "-a", "tidy"]));
    served_containing(&p, "tidy.localhost", "release=v4");
}

#[test]
fn a_deploy_in_progress_can_be_cancelled() {
    let p = platform_with(&[]);
    let checkout = checkout_for(&p, "patient");
    ok(&p, push(checkout.path()));
    served_containing(&p, "patient.localhost", "release=v1");
    let err = p.paas(&["releases:cancel", "-a", "patient"]);
    assert!(
        !err.status.success() && text(&err).contains("no deploy"),
        "{}",
        text(&err)
    );

    set_procfile(
        checkout.path(),
        "web: /app/start\nrelease: echo waiting; sleep 120\n",
    );
    let dir = checkout.path().to_path_buf();
    let pushing = std::thread::spawn(move || push(&dir));
    let pending = eventually(Duration::from_secs(30), || {
        match releases(&p, "patient")
            .iter()
            .any(|r| r["version"] == 2 && r["status"] == "pending")
        {
            true => Ok(()),
            false => Err(None),
        }
    });
    assert!(pending.is_ok(), "v2 is being deployed");
    let out = ok(&p, p.paas(&["releases:cancel", "-a", "patient"]));
    assert!(out.contains("v2 cancelled"), "{out}");
    let pushed = pushing.join().unwrap();
    assert!(!pushed.status.success());
    assert!(text(&pushed).contains("cancelled"), "{}", text(&pushed));
    assert!(served(&p, "patient.localhost").contains("release=v1"));
    let v2 = releases(&p, "patient")
        .into_iter()
        .find(|r| r["version"] == 2)
        .unwrap();
    assert_eq!(v2["status"], "failed");
    let left = eventually(Duration::from_secs(10), || {
        match dynos(&p, "patient").len() {
            1 => Ok(()),
            _ => Err(None),
        }
    });
    assert!(
        left.is_ok(),
        "only v1's web.1 is left: {:?}",
        dynos(&p, "patient")
    );
}
