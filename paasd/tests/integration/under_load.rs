//! The zero-downtime benchmark (`bench/deploy-under-load.sh`): requests flow through the router
//! the whole time while ten deploys of every kind run back to back. Ignored in the normal run
//! because it measures rather than checks a feature; its target is zero failed requests.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use paas_testkit::commit_all;

use crate::support::{checkout_for, ok, platform_with, push, served};

/// One deploy of the sequence.
type Step<'a> = Box<dyn Fn() + 'a>;

#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    ok: AtomicU64,
    errors: AtomicU64,
    by_status: Mutex<BTreeMap<u16, u64>>,
    slowest_ms: AtomicU64,
}

#[test]
#[ignore = "benchmark: run by bench/deploy-under-load.sh"]
fn deploys_under_load_drop_no_request() {
    let p = platform_with(&[]);
    let checkout = checkout_for(&p, "steady");
    ok(&p, push(checkout.path()));
    ok(&p, p.paas(&["scale", "web=2", "-a", "steady"]));
    served(&p, "steady.localhost");

    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let url = format!("http://{}/", p.router_addr);
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (tally, stop, url) = (tally.clone(), stop.clone(), url.clone());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    tally.sent.fetch_add(1, Ordering::Relaxed);
                    match client.get(&url).header("Host", "steady.localhost").send() {
                        Ok(res) if res.status().is_success() => {
                            let _ = res.bytes();
                            tally.ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(res) => {
                            let mut by = tally.by_status.lock().unwrap();
                            *by.entry(res.status().as_u16()).or_default() += 1;
                        }
                        Err(_) => {
                            tally.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    let ms = started.elapsed().as_millis() as u64;
                    tally.slowest_ms.fetch_max(ms, Ordering::Relaxed);
                }
            })
        })
        .collect();

    let started = Instant::now();
    let mut timings = Vec::new();
    let app = ["-a", "steady"];
    let steps: Vec<(&str, Step)> = vec![
        (
            "push (code change)",
            Box::new(|| code_push(&p, checkout.path(), 1)),
        ),
        (
            "config:set",
            Box::new(|| {
                ok(&p, p.paas(&[&["config:set", "A=1"][..], &app].concat()));
            }),
        ),
        (
            "rollback",
            Box::new(|| {
                ok(&p, p.paas(&[&["rollback"][..], &app].concat()));
            }),
        ),
        (
            "ps:restart",
            Box::new(|| {
                ok(&p, p.paas(&[&["ps:restart"][..], &app].concat()));
            }),
        ),
        (
            "scale web=1",
            Box::new(|| {
                ok(&p, p.paas(&[&["scale", "web=1"][..], &app].concat()));
            }),
        ),
        (
            "scale web=3",
            Box::new(|| {
                ok(&p, p.paas(&[&["scale", "web=3"][..], &app].concat()));
            }),
        ),
        (
            "push (code change)",
            Box::new(|| code_push(&p, checkout.path(), 2)),
        ),
        (
            "config:unset",
            Box::new(|| {
                ok(&p, p.paas(&[&["config:unset", "A"][..], &app].concat()));
            }),
        ),
        (
            "ps:restart web",
            Box::new(|| {
                ok(&p, p.paas(&[&["ps:restart", "web"][..], &app].concat()));
            }),
        ),
        (
            "rollback",
            Box::new(|| {
                ok(&p, p.paas(&[&["rollback"][..], &app].concat()));
            }),
        ),
    ];
    for (name, step) in &steps {
        let t = Instant::now();
        step();
        timings.push((name.to_string(), t.elapsed()));
    }
    // Requests keep flowing a little after the last deploy, when the last old process stops.
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.join().unwrap();
    }
    let elapsed = started.elapsed();

    let sent = tally.sent.load(Ordering::Relaxed);
    let good = tally.ok.load(Ordering::Relaxed);
    let errors = tally.errors.load(Ordering::Relaxed);
    let by_status = tally.by_status.lock().unwrap().clone();
    let non_2xx: u64 = by_status.values().sum();
    println!("\n| deploy | seconds |\n|---|---|");
    for (name, t) in &timings {
        println!("| {name} | {:.1} |", t.as_secs_f64());
    }
    println!("\n| requests sent | 2xx | non-2xx | connection errors | req/s | slowest |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| {sent} | {good} | {non_2xx} {by_status:?} | {errors} | {:.0} | {} ms |",
        sent as f64 / elapsed.as_secs_f64(),
        tally.slowest_ms.load(Ordering::Relaxed)
    );
    println!("\nfailed requests: {}", non_2xx + errors);
    assert_eq!(
        non_2xx + errors,
        0,
        "zero-downtime deploys drop no request\n{}",
        p.log()
    );
}

fn code_push(p: &paas_testkit::Platform, checkout: &std::path::Path, n: u32) {
    std::fs::write(checkout.join("www/version.txt"), format!("{n}\n")).unwrap();
    commit_all(checkout, &format!("version {n}")).unwrap();
    ok(p, push(checkout));
}

#[test]
#[ignore = "benchmark: run by bench/deploy-under-load.sh"]
fn deploy_timings() {
    let p = platform_with(&[]);
    let checkout = checkout_for(&p, "timed");
    let t = Instant::now();
    ok(&p, push(checkout.path()));
    served(&p, "timed.localhost");
    let first = t.elapsed();

    let t = Instant::now();
    code_push(&p, checkout.path(), 1);
    crate::support::served_containing(&p, "timed.localhost", "release=v2");
    let cached = t.elapsed();

    let t = Instant::now();
    ok(&p, p.paas(&["scale", "web=10", "-a", "timed"]));
    let scaled = t.elapsed();
    let ps = crate::support::dynos(&p, "timed");
    assert_eq!(
        ps.iter().filter(|d| d["state"] == "up").count(),
        10,
        "{ps:?}"
    );

    println!("\n| step | seconds |\n|---|---|");
    println!(
        "| first push to live (image layers cached by the engine) | {:.1} |",
        first.as_secs_f64()
    );
    println!(
        "| push of a code change to live (cached rebuild) | {:.1} |",
        cached.as_secs_f64()
    );
    println!(
        "| scale web=1 -> 10, all ten passing health checks | {:.1} |",
        scaled.as_secs_f64()
    );
}
