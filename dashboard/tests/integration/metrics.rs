//! The metrics page in a real Chromium: per-release totals that match what the router counted,
//! charts drawn from the series, and two releases side by side.

use anyhow::Result;

use crate::browser::{Browser, DESKTOP, PHONE};
use crate::support::{deployed, ok};

fn send(p: &paas_testkit::Platform, path: &str, n: usize, want: u16) {
    for _ in 0..n {
        let (status, _) = p.get_via_router("charted.localhost", path).unwrap();
        assert_eq!(status, want, "{path}");
    }
}

/// The totals table's cell for `key` in the panel of release `v`.
fn total(b: &Browser, v: i64, key: &str) -> Result<String> {
    b.text(&format!(
        ".metrics-release[data-release='{v}'][data-type='web'] tr[data-key='{key}'] td"
    ))
}

/// How many drawn shapes (paths and dots) the panel's charts hold.
fn shapes(b: &Browser, v: i64) -> Result<u64> {
    let n = b.execute(&format!(
        "return document.querySelectorAll(\".metrics-release[data-release='{v}'] svg.chart-svg path, \
         .metrics-release[data-release='{v}'] svg.chart-svg circle\").length"
    ))?;
    Ok(n.as_u64().unwrap_or(0))
}

#[test]
fn the_metrics_page_charts_and_compares_releases() -> Result<()> {
    let p = deployed("charted");
    // The deploy's own readiness checks reached v1 too: only 404s are ours alone.
    send(&p, "/", 5, 200);
    send(&p, "/missing", 3, 404);
    ok(&p, p.paas(&["config:set", "V=2", "-a", "charted"]));
    send(&p, "/", 2, 200);
    send(&p, "/nope", 4, 404);
    let (status, api) = p.api("GET", "/apps/charted/metrics", p.token.as_deref(), None)?;
    assert_eq!(status, 200, "{api}");
    let v1 = api["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["release"] == 1 && s["type"] == "web")
        .expect("v1 web in the API's report")
        .clone();
    assert!(v1["status_2xx"].as_u64().unwrap() >= 5, "{v1}");

    let b = Browser::start(&p.api_url)?;
    b.sign_in("admin", "admin-password")?;
    b.wait_for(".app-card[data-app='charted']")?;
    b.goto("/dashboard/apps/charted")?;
    b.click("nav.tabs a[href='/dashboard/apps/charted/metrics']")?;
    b.wait_for(".metrics-release[data-release='2']")?;
    assert_eq!(b.path()?, "/dashboard/apps/charted/metrics");

    // The table shows the router's counts: v2's are all ours, v1's match the API.
    assert_eq!(total(&b, 2, "requests")?, "6");
    assert_eq!(total(&b, 2, "2xx")?, "2");
    assert_eq!(total(&b, 2, "4xx")?, "4");
    assert_eq!(total(&b, 2, "5xx")?, "0");
    assert!(total(&b, 2, "p50")?.ends_with(" ms"));
    assert_eq!(total(&b, 1, "requests")?, v1["requests"].to_string());
    assert_eq!(total(&b, 1, "2xx")?, v1["status_2xx"].to_string());
    assert_eq!(total(&b, 1, "4xx")?, "3");
    // Both releases' request and latency charts have data: lines and dots in the SVG.
    assert!(shapes(&b, 1)? > 0 && shapes(&b, 2)? > 0);
    for v in [1, 2] {
        let drawn = b.execute(&format!(
            "return document.querySelectorAll(\".metrics-release[data-release='{v}'] \
             g[data-series='4xx'] circle, .metrics-release[data-release='{v}'] \
             g[data-series='p95'] path\").length"
        ))?;
        assert!(drawn.as_u64().unwrap_or(0) >= 2, "v{v}: {drawn}");
    }
    b.set_size(PHONE)?;
    b.screenshot("metrics-phone")?;
    b.set_size(DESKTOP)?;
    b.screenshot("metrics-desktop")?;
    b.scroll_to(".metrics-release[data-release='1'] figure.chart")?;
    b.screenshot("metrics-charts-desktop")?;

    // Side by side, in the order asked for, through the form.
    b.fill("metrics-compare", "v2,v1")?;
    b.click(".metrics-form button[type=submit]")?;
    b.wait_for("#metrics-panels.compare")?;
    let order = b.execute(
        "return Array.from(document.querySelectorAll('.metrics-release')).map(e => e.dataset.release).join(',')",
    )?;
    assert_eq!(order, "2,1");
    assert_eq!(total(&b, 2, "4xx")?, "4");
    assert_eq!(total(&b, 1, "4xx")?, "3");
    assert!(b.path()?.starts_with("/dashboard/apps/charted/metrics"));
    b.screenshot("metrics-compare-desktop")?;
    b.set_size(PHONE)?;
    b.screenshot("metrics-compare-phone")?;
    b.scroll_to(".metrics-release[data-release='2'] figure.chart")?;
    b.screenshot("metrics-compare-charts-phone")?;
    b.set_size(DESKTOP)?;

    // A release with no figures, or a malformed pair, is said plainly; markup stays inert.
    b.goto("/dashboard/apps/charted/metrics?compare=v1,v9")?;
    b.wait_for_text("#compare-error", "v9 has no figures")?;
    b.goto("/dashboard/apps/charted/metrics?compare=%3Cb%3Ex%3C/b%3E")?;
    b.wait_for_text("#compare-error", "compare two releases like v1,v2")?;
    assert_eq!(
        b.execute("return document.querySelectorAll('main b').length")?,
        0
    );
    Ok(())
}
