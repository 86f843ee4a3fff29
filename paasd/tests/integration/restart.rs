use std::time::Duration;

use paas_testkit::{docker, eventually};

use crate::support::{app_checkout, dynos_answering, ok, push, served};

fn running(ids: &[String]) -> Vec<String> {
    let out = docker()
        .args(["inspect", "-f", "{{.State.Running}} {{.State.StartedAt}}"])
        .args(ids)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn killed_paasd_leaves_apps_running_and_adopts_them_on_start() {
    let (mut p, checkout) = app_checkout("durable");
    ok(&p, push(checkout.path()));
    ok(&p, p.paas(&["scale", "web=2", "-a", "durable"]));
    served(&p, "durable.localhost");
    let before = p.containers("durable");
    assert_eq!(before.len(), 2);
    let state_before = running(&before);
    assert!(
        state_before.iter().all(|s| s.starts_with("true ")),
        "{state_before:?}"
    );

    p.kill();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        p.containers("durable"),
        before,
        "containers survive the daemon"
    );
    assert_eq!(
        running(&before),
        state_before,
        "and keep running, untouched"
    );

    p.restart().unwrap();
    served(&p, "durable.localhost");
    // Give the reconcile loop a few passes to (wrongly) start or restart anything.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        p.containers("durable"),
        before,
        "adopted: no duplicates, no replacements"
    );
    assert_eq!(running(&before), state_before, "adopted: not restarted");
    let seen = eventually(Duration::from_secs(10), || {
        let seen = dynos_answering(&p, "durable.localhost", 20);
        if seen.len() == 2 {
            Ok(seen)
        } else {
            Err(None)
        }
    });
    assert!(seen.is_ok(), "both adopted processes serve: {seen:?}");

    // A process removed behind paasd's back is recreated by the reconcile loop.
    let out = docker().args(["rm", "-f", &before[0]]).output().unwrap();
    assert!(out.status.success());
    let back = eventually(Duration::from_secs(30), || {
        let now = p.containers("durable");
        if now.len() == 2 && !now.contains(&before[0]) {
            Ok(now)
        } else {
            Err(None)
        }
    });
    assert!(
        back.is_ok(),
        "removed process comes back: {:?}\n{}",
        p.containers("durable"),
        p.log()
    );
}
