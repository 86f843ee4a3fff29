//! Per-release metrics: what the router saw for each release, compared side by side.

use crate::support::{checkout_for, ok, platform_with, push};

fn send(p: &paas_testkit::Platform, path: &str, n: usize, want: u16) {
    for _ in 0..n {
        let (status, _) = p.get_via_router("measured.localhost", path).unwrap();
        assert_eq!(status, want, "{path}");
    }
}

/// The words of the `--compare` output's row named `key`.
fn row(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("no {key} row in:\n{text}"))
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn metrics_compare_the_status_counts_of_two_releases() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics_listen = format!("127.0.0.1:{port}");
    let p = platform_with(&[("PAAS_METRICS_LISTEN", &metrics_listen)]);
    let checkout = checkout_for(&p, "measured");
    // Once the push returns, v1 is live and routed: nothing else has sent it requests.
    ok(&p, push(checkout.path()));
    send(&p, "/", 10, 200);
    send(&p, "/missing", 5, 404);
    ok(&p, p.paas(&["config:set", "V=2", "-a", "measured"]));
    send(&p, "/", 7, 200);
    send(&p, "/nope", 3, 404);

    let out = ok(
        &p,
        p.paas(&["metrics", "--compare", "v1", "v2", "-a", "measured"]),
    );
    assert_eq!(row(&out, "web"), ["web", "v1", "v2"], "{out}");
    assert_eq!(row(&out, "requests"), ["requests", "15", "10"], "{out}");
    assert_eq!(row(&out, "2xx"), ["2xx", "10", "7"], "{out}");
    assert_eq!(row(&out, "4xx"), ["4xx", "5", "3"], "{out}");
    assert_eq!(row(&out, "5xx"), ["5xx", "0", "0"], "{out}");
    let p50 = row(&out, "p50");
    assert!(p50[1].ends_with("ms") && p50[2].ends_with("ms"), "{out}");

    let json = ok(
        &p,
        p.paas(&["metrics", "--since", "15m", "--json", "-a", "measured"]),
    );
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["since_seconds"], 900);
    let v2 = report["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["release"] == 2)
        .unwrap();
    assert_eq!(
        (v2["type"].as_str(), v2["status_2xx"].as_u64()),
        (Some("web"), Some(7))
    );

    // Prometheus carries the same counts for what is routed now (the router drops a release's
    // series once it no longer serves).
    let scraped = reqwest::blocking::get(format!("http://{metrics_listen}/metrics"))
        .unwrap()
        .text()
        .unwrap();
    let count = |release: &str, code: &str| {
        let series = format!("paas_router_requests_total{{app=\"measured\",release=\"{release}\",process_type=\"web\",code=\"{code}\"}} ");
        scraped
            .lines()
            .find_map(|l| l.strip_prefix(&series))
            .map(|n| n.trim().to_string())
    };
    assert_eq!(count("v2", "2xx").as_deref(), Some("7"), "{scraped}");
    assert_eq!(count("v2", "4xx").as_deref(), Some("3"), "{scraped}");

    // ... and the engine's memory and CPU figures, once sampled.
    let gauges = paas_testkit::eventually(std::time::Duration::from_secs(40), || {
        let text = reqwest::blocking::get(format!("http://{metrics_listen}/metrics"))
            .unwrap()
            .text()
            .unwrap();
        let memory = text.lines().any(|l| {
            l.starts_with(
                "paas_process_memory_bytes{app=\"measured\",release=\"v2\",process_type=\"web\"} ",
            )
        });
        let cpu = text.lines().any(|l| {
            l.starts_with(
                "paas_process_cpu_percent{app=\"measured\",release=\"v2\",process_type=\"web\"} ",
            )
        });
        if memory && cpu {
            Ok(())
        } else {
            Err(None)
        }
    });
    assert!(gauges.is_ok(), "memory and CPU gauges for v2");

    let err = p.paas(&["metrics", "--since", "2w", "-a", "measured"]);
    assert!(!err.status.success());
    let (status, body) = p
        .api(
            "GET",
            "/apps/measured/metrics?since=3d",
            p.token.as_deref(),
            None,
        )
        .unwrap();
    assert_eq!((status, body["id"].as_str()), (422, Some("invalid_params")));
}
