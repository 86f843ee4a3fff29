//! The log pipeline benchmark (`bench/logs.sh`): one process writes as many lines as it can;
//! they travel through the platform to a `paas logs -t` reader and to a syslog drain. Prints
//! lines per second at each end, paasd's CPU use, and how long the app took to write them
//! compared with the same command on the bare engine. Target: 50,000 lines/s per app.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use paas_testkit::{bin, docker, eventually};
use tokio::io::{AsyncBufReadExt, AsyncReadExt};

use crate::support::{checkout_for, ok, platform_with, push, served, set_procfile};

const LINES: u64 = 200_000;
const SPEW: &str =
    "yes 'paas log throughput benchmark line of a typical length, some 70 chars' | head -n 200000";

/// Seconds of CPU (user + system) a process has used, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (field(11) + field(12)) / 100.0
}

/// A plain syslog receiver; counts benchmark lines and notes when the last one came.
async fn count_frames(
    listener: tokio::net::TcpListener,
    count: Arc<AtomicU64>,
    done: Arc<Mutex<Option<Instant>>>,
) {
    while let Ok((tcp, _)) = listener.accept().await {
        let (count, done) = (count.clone(), done.clone());
        tokio::spawn(async move {
            let mut r = tokio::io::BufReader::new(tcp);
            let mut len = Vec::new();
            loop {
                len.clear();
                if r.read_until(b' ', &mut len).await.unwrap_or(0) == 0 {
                    return;
                }
                let n: usize = String::from_utf8_lossy(&len).trim().parse().unwrap_or(0);
                let mut msg = vec![0; n];
                if r.read_exact(&mut msg).await.is_err() {
                    return;
                }
                let ours = msg.windows(10).any(|w| w == b"throughput");
                if ours && count.fetch_add(1, Ordering::Relaxed) + 1 == LINES {
                    *done.lock().unwrap() = Some(Instant::now());
                }
            }
        });
    }
}

#[test]
#[ignore = "benchmark: run by bench/logs.sh"]
fn log_lines_per_second_through_the_platform() {
    let p = platform_with(&[]);
    let checkout = checkout_for(&p, "spew");
    set_procfile(
        checkout.path(),
        &format!("web: /app/start\nspew: sleep 2; {SPEW}; sleep 600\n"),
    );
    ok(&p, push(checkout.path()));
    served(&p, "spew.localhost");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let drained = Arc::new(AtomicU64::new(0));
    let drain_done = Arc::new(Mutex::new(None::<Instant>));
    let port = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(count_frames(listener, drained.clone(), drain_done.clone()));
        port
    });
    ok(
        &p,
        p.paas(&[
            "drains:add",
            &format!("syslog://127.0.0.1:{port}"),
            "-a",
            "spew",
        ]),
    );

    let mut follower = Command::new(bin("paas"))
        .args(["logs", "-t", "-n", "0", "--ps", "spew.1", "-a", "spew"])
        .env("HOME", p.home.path())
        .env("PAAS_API_URL", &p.api_url)
        .env("PAAS_TOKEN", p.token.as_deref().unwrap())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = follower.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut n, mut first, mut last) = (0u64, None, None);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("throughput") {
                first.get_or_insert_with(Instant::now);
                n += 1;
                if n == LINES {
                    last = Some(Instant::now());
                    break;
                }
            }
        }
        (n, first, last)
    });
    std::thread::sleep(Duration::from_secs(1));

    let pid = p.pid().unwrap();
    let (cpu_before, started) = (cpu_seconds(pid), Instant::now());
    ok(&p, p.paas(&["scale", "spew=1", "-a", "spew"]));
    let (seen, first, last) = reader.join().unwrap();
    let _ = follower.kill();
    let _ = follower.wait();
    let reader_done = last.unwrap_or_else(|| panic!("the reader got {seen} of {LINES} lines"));
    let drain_done_at = eventually(Duration::from_secs(60), || {
        drain_done.lock().unwrap().ok_or(None)
    })
    .unwrap_or_else(|e| {
        panic!(
            "the drain got {} of {LINES}: {e}",
            drained.load(Ordering::Relaxed)
        )
    });
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid) - cpu_before;

    let app_secs = p
        .containers("spew")
        .into_iter()
        .find(|id| label(id, "paas.process") == "spew")
        .map(|id| span_of_output(&id))
        .unwrap_or(f64::NAN);
    let bare_secs = {
        let t = Instant::now();
        let out = docker()
            .args([
                "run",
                "--rm",
                "--label",
                &format!("paas.instance={}", p.instance),
                "paas/busybox:latest",
            ])
            .args(["sh", "-c", &format!("{SPEW} >/dev/null")])
            .output()
            .unwrap();
        assert!(out.status.success());
        t.elapsed().as_secs_f64()
    };

    let first = first.unwrap();
    let to_reader = LINES as f64 / reader_done.duration_since(first).as_secs_f64();
    let to_drain = LINES as f64 / drain_done_at.duration_since(first).as_secs_f64();
    println!("\n| lines | to `paas logs -t` (lines/s) | to a syslog drain (lines/s) | paasd CPU (% of one core) | app writing them (s) | same command on the bare engine, to /dev/null (s) |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| {seen} | {to_reader:.0} | {to_drain:.0} | {:.0} | {app_secs:.2} | {bare_secs:.2} |",
        cpu / wall * 100.0
    );
}

fn label(id: &str, name: &str) -> String {
    let out = docker()
        .args([
            "inspect",
            "-f",
            &format!("{{{{index .Config.Labels \"{name}\"}}}}"),
            id,
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Seconds between the first and last line a container wrote, by the engine's timestamps.
fn span_of_output(id: &str) -> f64 {
    let stamp = |tail: &str| {
        let out = docker()
            .args(["logs", "--timestamps", "--tail", tail, id])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let first = text
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().next())
            .map(str::to_string);
        first.and_then(|t| seconds_of_day(&t))
    };
    let first = stamp("all").unwrap_or(f64::NAN);
    let last = stamp("1").unwrap_or(f64::NAN);
    last - first
}

/// `2026-11-22T10:00:00.123456789Z` -> seconds since midnight (enough for a span).
fn seconds_of_day(t: &str) -> Option<f64> {
    let time = t.split('T').nth(1)?.trim_end_matches('Z');
    let mut parts = time.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}
