//! Request metrics per app, release and process type, in the Prometheus text format.
//!
//! Each series is a block of atomics that the table's processes point at, so counting a request
//! is a handful of relaxed atomic adds and never a lock or a map lookup. The registry's lock is
//! taken only when the table changes and when `/metrics` is scraped.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::shard::{self, Padded, SHARDS};

/// Upper bounds of the latency histogram buckets, in seconds (the last bucket is `+Inf`).
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
const BUCKETS_US: [u64; 12] = [
    5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
    10_000_000, 30_000_000,
];

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SeriesKey {
    pub(crate) app: Box<str>,
    /// Empty for requests the router answered itself (maintenance, no processes, ...).
    pub(crate) release: Option<u64>,
    pub(crate) process_type: Box<str>,
}

/// One series: a set of counters per thread, summed when scraped.
#[derive(Default)]
pub(crate) struct Series {
    shards: [Padded<Counters>; SHARDS],
}

#[derive(Default)]
struct Counters {
    /// By status class: 1xx .. 5xx.
    status: [AtomicU64; 5],
    /// Per bucket (not cumulative), the last one for slower than every bound.
    latency: [AtomicU64; BUCKETS.len() + 1],
    latency_sum_us: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    upstream_errors: AtomicU64,
}

impl Series {
    fn mine(&self) -> &Counters {
        &self.shards[shard::index()].0
    }

    /// The sum over threads of one counter.
    fn sum(&self, get: impl Fn(&Counters) -> &AtomicU64) -> u64 {
        self.shards.iter().map(|s| get(&s.0).load(Relaxed)).sum()
    }

    pub(crate) fn record(&self, status: u16, elapsed: Duration, bytes_out: u64) {
        let this = self.mine();
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        this.status[class].fetch_add(1, Relaxed);
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let bucket = BUCKETS_US
            .iter()
            .position(|&b| us <= b)
            .unwrap_or(BUCKETS_US.len());
        this.latency[bucket].fetch_add(1, Relaxed);
        this.latency_sum_us.fetch_add(us, Relaxed);
        if bytes_out > 0 {
            this.bytes_out.fetch_add(bytes_out, Relaxed);
        }
    }

    pub(crate) fn bytes_in(&self, n: u64) {
        self.mine().bytes_in.fetch_add(n, Relaxed);
    }

    pub(crate) fn upstream_error(&self) {
        self.mine().upstream_errors.fetch_add(1, Relaxed);
    }
}

/// Every series, by labels. Series of apps that left the table are dropped on the next change
/// once no request holds them.
#[derive(Default)]
pub(crate) struct Metrics {
    series: Mutex<BTreeMap<SeriesKey, Arc<Series>>>,
    pub(crate) unknown_host: AtomicU64,
}

impl Metrics {
    pub(crate) fn series(&self, key: SeriesKey) -> Arc<Series> {
        let mut all = self.series.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(all.entry(key).or_default())
    }

    /// Forgets series only the registry still holds (their app or release is gone).
    pub(crate) fn prune(&self) {
        let mut all = self.series.lock().unwrap_or_else(|e| e.into_inner());
        all.retain(|_, s| Arc::strong_count(s) > 1);
    }

    pub(crate) fn render(&self) -> String {
        let all: Vec<(SeriesKey, Arc<Series>)> = {
            let all = self.series.lock().unwrap_or_else(|e| e.into_inner());
            all.iter()
                .map(|(k, v)| (k.clone(), Arc::clone(v)))
                .collect()
        };
        let mut out = String::with_capacity(256 + all.len() * 2048);
        let labels = |k: &SeriesKey| {
            let release = k.release.map(|r| format!("v{r}")).unwrap_or_default();
            format!(
                "app=\"{}\",release=\"{release}\",process_type=\"{}\"",
                escape(&k.app),
                escape(&k.process_type)
            )
        };

        header(
            &mut out,
            "paas_router_requests_total",
            "counter",
            "Requests answered, by status class.",
        );
        for (k, s) in &all {
            let l = labels(k);
            for i in 0..5 {
                let n = s.sum(|c| &c.status[i]);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "paas_router_requests_total{{{l},code=\"{}xx\"}} {n}",
                        i + 1
                    );
                }
            }
        }

        header(
            &mut out,
            "paas_router_request_duration_seconds",
            "histogram",
            "Time from the request's arrival to the end of the response body.",
        );
        for (k, s) in &all {
            let l = labels(k);
            let mut cumulative = 0;
            for i in 0..=BUCKETS.len() {
                cumulative += s.sum(|c| &c.latency[i]);
                let le = BUCKETS.get(i).map_or("+Inf".to_owned(), |b| b.to_string());
                let _ = writeln!(
                    out,
                    "paas_router_request_duration_seconds_bucket{{{l},le=\"{le}\"}} {cumulative}"
                );
            }
            let sum = s.sum(|c| &c.latency_sum_us) as f64 / 1e6;
            let _ = writeln!(out, "paas_router_request_duration_seconds_sum{{{l}}} {sum}");
            let _ = writeln!(
                out,
                "paas_router_request_duration_seconds_count{{{l}}} {cumulative}"
            );
        }

        for (name, help, get) in [
            (
                "paas_router_request_bytes_total",
                "Request body bytes sent to the app.",
                (|s: &Series| s.sum(|c| &c.bytes_in)) as fn(&Series) -> u64,
            ),
            (
                "paas_router_response_bytes_total",
                "Response body bytes sent to clients.",
                |s: &Series| s.sum(|c| &c.bytes_out),
            ),
            (
                "paas_router_upstream_errors_total",
                "Failures to connect to or get an answer from a process.",
                |s: &Series| s.sum(|c| &c.upstream_errors),
            ),
        ] {
            header(&mut out, name, "counter", help);
            for (k, s) in &all {
                let _ = writeln!(out, "{name}{{{}}} {}", labels(k), get(s));
            }
        }

        header(
            &mut out,
            "paas_router_unknown_host_requests_total",
            "counter",
            "Requests for a host no app serves.",
        );
        let _ = writeln!(
            out,
            "paas_router_unknown_host_requests_total {}",
            self.unknown_host.load(Relaxed)
        );
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_cumulative_buckets() {
        let metrics = Metrics::default();
        let s = metrics.series(SeriesKey {
            app: "web".into(),
            release: Some(3),
            process_type: "web".into(),
        });
        s.record(200, Duration::from_millis(1), 10);
        s.record(204, Duration::from_millis(20), 0);
        s.record(503, Duration::from_secs(60), 5);
        s.upstream_error();
        let text = metrics.render();
        let l = "app=\"web\",release=\"v3\",process_type=\"web\"";
        for line in [
            format!("paas_router_requests_total{{{l},code=\"2xx\"}} 2"),
            format!("paas_router_requests_total{{{l},code=\"5xx\"}} 1"),
            format!("paas_router_request_duration_seconds_bucket{{{l},le=\"0.005\"}} 1"),
            format!("paas_router_request_duration_seconds_bucket{{{l},le=\"0.025\"}} 2"),
            format!("paas_router_request_duration_seconds_bucket{{{l},le=\"30\"}} 2"),
            format!("paas_router_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} 3"),
            format!("paas_router_request_duration_seconds_count{{{l}}} 3"),
            format!("paas_router_response_bytes_total{{{l}}} 15"),
            format!("paas_router_upstream_errors_total{{{l}}} 1"),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        assert!(!text.contains("code=\"4xx\""), "{text}");

        drop(s);
        metrics.prune();
        assert!(!metrics.render().contains("app=\"web\""));
    }
}
