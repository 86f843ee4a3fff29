use std::net::TcpListener;
use std::process::Output;
use std::time::Duration;

use paas_testkit::{eventually, free_addrs, paasd_command, Platform};

/// Runs paasd expecting it to refuse to start; returns its output.
pub(crate) fn refuses(configure: impl FnOnce(&mut std::process::Command)) -> Output {
    let data = tempfile::tempdir().unwrap();
    let (api, router) = free_addrs();
    let mut cmd = paasd_command(data.path(), api, router);
    configure(&mut cmd);
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let exited = eventually(Duration::from_secs(20), || {
        child.try_wait().unwrap().ok_or(None)
    });
    if exited.is_err() {
        let _ = child.kill();
        panic!("paasd kept running when it should have refused to start");
    }
    child.wait_with_output().unwrap()
}

#[track_caller]
pub(crate) fn one_line_reason(out: &Output, needle: &str) {
    assert!(!out.status.success(), "exit status {:?}", out.status);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("paasd: ") && last.contains(needle),
        "reason {needle:?} not in last line: {stderr}"
    );
}

#[test]
fn refuses_to_start_with_a_one_line_reason() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = refuses(|c| {
        c.env("PAAS_API_LISTEN", format!("127.0.0.1:{port}"));
    });
    one_line_reason(&out, &format!("cannot listen on 127.0.0.1:{port}"));

    let out = refuses(|c| {
        c.env("PAAS_ROUTER_LISTEN", format!("127.0.0.1:{port}"));
    });
    one_line_reason(
        &out,
        &format!("cannot listen on 127.0.0.1:{port} for the router"),
    );

    let out = refuses(|c| {
        c.env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    });
    one_line_reason(
        &out,
        "Docker unreachable at unix:///nonexistent/docker.sock",
    );

    let out = refuses(|c| {
        c.env("DATABASE_URL", "mysql://localhost/paas");
    });
    one_line_reason(&out, "unsupported database URL");
}

#[test]
fn sigterm_stops_cleanly() {
    let mut p = Platform::start().unwrap();
    assert!(p.stop(), "paasd exits 0 on SIGTERM: {}", p.log());
    assert!(p.log().contains("stopping"), "{}", p.log());
    assert!(!p.log().contains("panicked"), "{}", p.log());
}
