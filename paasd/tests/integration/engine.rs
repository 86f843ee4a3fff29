//! The Docker engine itself restarts (its containers stop with it, as on a reboot): the
//! reconcile loop brings every process back. Ignored in the parallel run because it restarts
//! the engine every other test uses; `deploy/test.sh` runs it on its own at the end.

use std::process::Command;
use std::time::Duration;

use paas_testkit::eventually;

use crate::support::{checkout_for, dynos, ok, platform_with, push, served};

#[test]
#[ignore = "restarts the shared Docker engine: run alone (deploy/test.sh does)"]
fn everything_runs_again_after_the_engine_restarts() {
    let p = platform_with(&[]);
    let checkout = checkout_for(&p, "survivor");
    ok(&p, push(checkout.path()));
    ok(&p, p.paas(&["scale", "web=2", "-a", "survivor"]));
    served(&p, "survivor.localhost");
    let before = p.containers("survivor");

    let lib = paas_testkit::repo_dir().join("deploy/lib.sh");
    let restarted = Command::new("bash")
        .arg("-c")
        .arg(format!(". '{}' && restart_dockerd", lib.display()))
        .status()
        .unwrap();
    assert!(restarted.success(), "the engine restarts");

    let back = eventually(Duration::from_secs(90), || {
        let ps = dynos(&p, "survivor");
        let up = ps.iter().filter(|d| d["state"] == "up").count();
        match p.get_via_router("survivor.localhost", "/") {
            Ok((200, _)) if up == 2 => Ok(()),
            _ => Err(None),
        }
    });
    assert!(
        back.is_ok(),
        "both processes serve again: {:?}\n{}",
        dynos(&p, "survivor"),
        p.log()
    );
    let after = p.containers("survivor");
    assert_eq!(after.len(), 2, "no duplicates: {after:?}");
    assert!(
        after.iter().all(|id| !before.contains(id)),
        "the stopped containers were replaced"
    );
}
