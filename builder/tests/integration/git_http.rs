//! `git push` / `git clone` with the real git CLI against `paas_builder::git` behind axum.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use paas_builder::{git, source, BuilderError};
use rand::RngCore;
use tokio::io::AsyncReadExt;

use crate::support::{git_command, git_ok, git_push, hook_stand_in, work_repo, GitServer};

fn bare_ref(bare: &Path, home: &Path, name: &str) -> Option<String> {
    let out = git_command(bare, home, &["rev-parse", "--verify", "-q", name])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8(out.stdout).unwrap().trim().to_string())
}

#[test]
fn ensure_repo_is_idempotent_and_refreshes_the_hook() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repos/app.git");
    git::ensure_repo(&repo, Path::new("/usr/local/bin/paasd")).unwrap();
    let hook = repo.join("hooks/pre-receive");
    let script = std::fs::read_to_string(&hook).unwrap();
    assert_eq!(
        script,
        "#!/bin/sh\nexec '/usr/local/bin/paasd' git-hook pre-receive\n"
    );
    assert_eq!(
        std::fs::metadata(&hook).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert!(repo.join("HEAD").is_file() && repo.join("objects").is_dir());

    // A second call keeps the repository and its content.
    std::fs::write(repo.join("description"), "kept").unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o644)).unwrap();
    git::ensure_repo(&repo, Path::new("/usr/local/bin/paasd")).unwrap();
    assert_eq!(
        std::fs::read_to_string(repo.join("description")).unwrap(),
        "kept"
    );
    assert_eq!(
        std::fs::metadata(&hook).unwrap().permissions().mode() & 0o777,
        0o755
    );

    git::ensure_repo(&repo, Path::new("/opt/paas/paasd")).unwrap();
    assert!(std::fs::read_to_string(&hook)
        .unwrap()
        .contains("exec '/opt/paas/paasd' git-hook"));

    let err = git::ensure_repo(&repo, Path::new("paasd")).unwrap_err();
    assert!(matches!(err, BuilderError::RelativeHookProgram(_)), "{err}");
}

#[tokio::test]
async fn advertisement_has_the_service_header() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("x.git");
    git::ensure_repo(&repo, Path::new("/bin/false")).unwrap();
    let body = git::advertise_receive_pack(&repo).await.unwrap();
    assert!(
        body.starts_with(b"001f# service=git-receive-pack\n0000"),
        "{body:?}"
    );
    assert!(String::from_utf8_lossy(&body).contains("report-status"));
    let body = git::advertise_upload_pack(&repo).await.unwrap();
    assert!(
        body.starts_with(b"001e# service=git-upload-pack\n0000"),
        "{body:?}"
    );

    let err = git::advertise_receive_pack(&tmp.path().join("nope.git"))
        .await
        .unwrap_err();
    assert!(matches!(err, BuilderError::RepoMissing { .. }), "{err}");
    assert!(err.to_string().contains("nope.git"));
}

struct Pushing {
    tmp: tempfile::TempDir,
    home: std::path::PathBuf,
    work: std::path::PathBuf,
    bare: std::path::PathBuf,
}

fn setup() -> Pushing {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let bare = tmp.path().join("repos/x.git");
    let exe = hook_stand_in(tmp.path());
    git::ensure_repo(&bare, &exe).unwrap();
    let work = tmp.path().join("work");
    Pushing {
        home,
        work,
        bare,
        tmp,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_push_updates_the_ref_and_shows_hook_output() {
    let p = setup();
    let head = work_repo(&p.work, &p.home, &[("README", b"hello\n")]);
    let server = GitServer::new(
        p.bare.parent().unwrap(),
        &[("PAAS_APP", "x"), ("PAAS_TEST_EXIT", "0")],
    );
    let url = server.start().await;

    let out = git_push(&p.work, &p.home, &[&format!("{url}/x.git"), "master"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("remote: stand-in: app=x ref=refs/heads/master"),
        "{stderr}"
    );
    assert_eq!(bare_ref(&p.bare, &p.home, "refs/heads/master"), Some(head));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_push_leaves_the_ref_alone() {
    let p = setup();
    work_repo(&p.work, &p.home, &[("README", b"hello\n")]);
    let server = GitServer::new(
        p.bare.parent().unwrap(),
        &[("PAAS_APP", "x"), ("PAAS_TEST_EXIT", "1")],
    );
    let url = server.start().await;

    let out = git_push(&p.work, &p.home, &[&format!("{url}/x.git"), "master"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("remote: stand-in: app=x ref=refs/heads/master"),
        "{stderr}"
    );
    assert!(stderr.contains("pre-receive hook declined"), "{stderr}");
    assert_eq!(bare_ref(&p.bare, &p.home, "refs/heads/master"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_push_and_clone_round_trip() {
    let p = setup();
    let mut big = vec![0u8; 3 << 20];
    rand::thread_rng().fill_bytes(&mut big);
    let head = work_repo(&p.work, &p.home, &[("big.bin", &big), ("README", b"x\n")]);
    let server = GitServer::new(
        p.bare.parent().unwrap(),
        &[("PAAS_APP", "x"), ("PAAS_TEST_EXIT", "0")],
    );
    let url = server.start().await;

    let out = git_push(&p.work, &p.home, &[&format!("{url}/x.git"), "master"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        bare_ref(&p.bare, &p.home, "refs/heads/master"),
        Some(head.clone())
    );

    // Enough branches that the clone's list of wants exceeds 1 KiB, which git gzips.
    for i in 0..40 {
        git_ok(
            &p.work,
            &p.home,
            &["commit", "-q", "--allow-empty", "-m", &format!("c{i}")],
        );
        git_ok(&p.work, &p.home, &["branch", &format!("b{i:02}")]);
    }
    let out = git_push(&p.work, &p.home, &[&format!("{url}/x.git"), "--all"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let clone = p.tmp.path().join("clone");
    let cmd = git_command(
        p.tmp.path(),
        &p.home,
        &["clone", "-q", &format!("{url}/x.git"), "clone"],
    );
    let out = tokio::process::Command::from(cmd).output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(clone.join("big.bin")).unwrap(), big);
    assert_eq!(
        git_ok(&clone, &p.home, &["rev-parse", "origin/b39"]),
        git_ok(&p.work, &p.home, &["rev-parse", "b39"])
    );

    let posts = server.posts.lock().unwrap().clone();
    assert!(
        posts
            .iter()
            .any(|(svc, enc)| svc == "upload-pack" && enc == "gzip"),
        "no gzipped request seen: {posts:?}"
    );
}

/// During pre-receive the pushed objects exist only in the quarantine directory: the export
/// needs it, and after the hook accepts, the commit is in the repository proper.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_from_quarantine_during_pre_receive() {
    let p = setup();
    let head = work_repo(
        &p.work,
        &p.home,
        &[
            ("Procfile", b"web: ./run\n"),
            ("Dockerfile", b"FROM paas/busybox:latest\n"),
        ],
    );
    let signal = p.tmp.path().join("signal");
    std::fs::create_dir_all(&signal).unwrap();
    let server = GitServer::new(
        p.bare.parent().unwrap(),
        &[
            ("PAAS_APP", "x"),
            ("PAAS_TEST_EXIT", "0"),
            ("PAAS_TEST_DIR", signal.to_str().unwrap()),
        ],
    );
    let url = server.start().await;

    let mut cmd = git_command(
        &p.work,
        &p.home,
        &["push", &format!("{url}/x.git"), "master"],
    );
    cmd.stderr(Stdio::piped());
    let mut push = tokio::process::Command::from(cmd)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = push.stderr.take().unwrap();
    let (tx, mut rx) = tokio::sync::watch::channel(String::new());
    let reader = tokio::spawn(async move {
        let mut buf = [0u8; 1024];
        while let Ok(n @ 1..) = stderr.read(&mut buf).await {
            tx.send_modify(|s| s.push_str(&String::from_utf8_lossy(&buf[..n])));
        }
        tx.borrow().clone()
    });

    // The hook's output reaches the pusher while the hook still runs: the response streams.
    let streamed = tokio::time::timeout(
        Duration::from_secs(30),
        rx.wait_for(|s| s.contains("remote: stand-in: app=x ref=refs/heads/master")),
    )
    .await
    .is_ok();
    assert!(
        streamed,
        "no hook output while the hook runs: {:?}",
        *rx.borrow()
    );
    let seen = signal.join("seen");
    assert!(seen.exists(), "the hook printed before writing its file");
    let line = std::fs::read_to_string(&seen).unwrap();
    let (quarantine, new) = line.trim().split_once(' ').unwrap();
    assert_eq!(new, head);
    assert!(!quarantine.is_empty(), "git set no GIT_QUARANTINE_PATH");

    let err = source::export(&p.bare, new, None).unwrap_err();
    assert!(matches!(err, BuilderError::CommitNotFound { .. }), "{err}");
    let src = source::export(&p.bare, new, Some(Path::new(quarantine))).unwrap();
    assert_eq!(src.commit, head);
    assert_eq!(src.procfile.as_deref(), Some("web: ./run\n"));
    assert!(src.has_dockerfile);

    std::fs::write(signal.join("go"), "").unwrap();
    let status = push.wait().await.unwrap();
    let stderr = reader.await.unwrap();
    assert!(status.success(), "{stderr}");
    let src = source::export(&p.bare, &head, None).unwrap();
    assert_eq!(src.commit, head);
}
