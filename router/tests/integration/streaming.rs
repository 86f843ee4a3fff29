//! Large bodies stream through the router without being held in memory.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::support::{backend, host, route, start_router};

const SIZE: u64 = 100 * 1024 * 1024;

/// Peak resident memory of this process since the last reset, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status");
    kb * 1024
}

fn reset_peak_rss() {
    // "5" resets the peak to the current size (Linux 4.0+).
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}

#[tokio::test]
async fn a_100_mib_upload_and_download_stream_in_flat_memory() {
    let r = start_router().await;
    r.router
        .set_route("web", route(&[backend("backend-web").await]));
    // Warm up allocations (pools, buffers) before measuring.
    assert_eq!(r.get_text(&host("web"), "/").await.0, 200);
    let started = Instant::now();
    reset_peak_rss();
    let before = peak_rss();

    let chunk = Bytes::from(vec![b'u'; 64 * 1024]);
    let chunks =
        (0..SIZE / chunk.len() as u64).map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
    let response = r
        .http
        .post(r.url("/count"))
        .header("host", host("web"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), SIZE.to_string());

    let mut response = r.get(&host("web"), &format!("/bytes/{SIZE}")).await;
    assert_eq!(response.status(), 200);
    let mut received = 0u64;
    while let Some(chunk) = response.chunk().await.unwrap() {
        received += chunk.len() as u64;
    }
    assert_eq!(received, SIZE);

    let grown = peak_rss().saturating_sub(before);
    // Buffering either body would hold 100 MiB; streaming needs a few buffers per hop.
    assert!(
        grown < 40 * 1024 * 1024,
        "peak memory grew by {} MiB moving 2 x 100 MiB",
        grown / 1024 / 1024
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    r.stop().await;
}
