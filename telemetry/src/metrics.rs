//! Figures that compare releases: per app, release and process type, per minute, the requests
//! the router saw (by status class, latency histogram, bytes) and the memory and CPU the engine
//! reported. Kept in memory for a day.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// Upper bounds (ms) of the latency histogram's buckets; the last bucket is open.
const LATENCY_BOUNDS_MS: [u64; 24] = [
    1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000,
    5000, 10000, 30000,
];
const MINUTES_KEPT: usize = 24 * 60;

/// One request as the router saw it.
#[derive(Debug, Clone)]
pub struct RequestSample {
    pub release: i64,
    pub process_type: String,
    pub status: u16,
    pub service: Duration,
    pub bytes: u64,
}

/// One process's resource use as the engine reported it.
#[derive(Debug, Clone)]
pub struct UsageSample {
    pub release: i64,
    pub process_type: String,
    pub memory_bytes: u64,
    pub cpu_percent: f64,
}

#[derive(Debug, Clone, Default)]
struct Bucket {
    requests: u64,
    /// 1xx .. 5xx
    by_class: [u64; 5],
    latency: [u64; LATENCY_BOUNDS_MS.len() + 1],
    bytes: u64,
    memory_sum: f64,
    memory_max: u64,
    cpu_sum: f64,
    usage_samples: u64,
}

impl Bucket {
    fn merge(&mut self, o: &Bucket) {
        self.requests += o.requests;
        for i in 0..5 {
            self.by_class[i] += o.by_class[i];
        }
        for (a, b) in self.latency.iter_mut().zip(o.latency.iter()) {
            *a += b;
        }
        self.bytes += o.bytes;
        self.memory_sum += o.memory_sum;
        self.memory_max = self.memory_max.max(o.memory_max);
        self.cpu_sum += o.cpu_sum;
        self.usage_samples += o.usage_samples;
    }

    /// The latency below which `q` of the requests finished (the bucket's upper bound).
    fn percentile(&self, q: f64) -> Option<u64> {
        let total: u64 = self.latency.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.latency.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(LATENCY_BOUNDS_MS.get(i).copied().unwrap_or(60_000));
            }
        }
        None
    }
}

type Key = (i64, String);

struct Minute {
    start: DateTime<Utc>,
    series: HashMap<Key, Bucket>,
}

/// What one release's process type did over a window.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub release: i64,
    pub process_type: String,
    pub requests: u64,
    pub status_1xx: u64,
    pub status_2xx: u64,
    pub status_3xx: u64,
    pub status_4xx: u64,
    pub status_5xx: u64,
    pub p50_ms: Option<u64>,
    pub p95_ms: Option<u64>,
    pub p99_ms: Option<u64>,
    pub bytes: u64,
    pub memory_avg_bytes: Option<u64>,
    pub memory_max_bytes: Option<u64>,
    pub cpu_avg_percent: Option<f64>,
}

/// One release's process type over one step of a time series.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The start of the step (whole minutes).
    pub at: DateTime<Utc>,
    pub release: i64,
    pub process_type: String,
    pub requests: u64,
    /// 1xx .. 5xx
    pub by_class: [u64; 5],
    pub p50_ms: Option<u64>,
    pub p95_ms: Option<u64>,
    pub memory_avg_bytes: Option<u64>,
}

#[derive(Default)]
pub struct Metrics {
    apps: Mutex<HashMap<String, VecDeque<Minute>>>,
}

impl Metrics {
    fn with_bucket(&self, app: &str, key: Key, at: DateTime<Utc>, f: impl FnOnce(&mut Bucket)) {
        let start = at.duration_trunc(TimeDelta::minutes(1)).unwrap_or(at);
        let mut apps = self.apps.lock().expect("metrics poisoned");
        let minutes = apps.entry(app.to_string()).or_default();
        if minutes.back().is_none_or(|m| m.start < start) {
            minutes.push_back(Minute {
                start,
                series: HashMap::new(),
            });
            while minutes.len() > MINUTES_KEPT {
                minutes.pop_front();
            }
        }
        // Late samples land in the newest minute rather than being lost.
        let minute = minutes.back_mut().expect("just pushed");
        f(minute.series.entry(key).or_default());
    }

    pub fn record_request(&self, app: &str, s: &RequestSample) {
        self.record_request_at(app, s, Utc::now());
    }

    pub fn record_request_at(&self, app: &str, s: &RequestSample, at: DateTime<Utc>) {
        let ms = s.service.as_millis() as u64;
        let slot = LATENCY_BOUNDS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(LATENCY_BOUNDS_MS.len());
        self.with_bucket(app, (s.release, s.process_type.clone()), at, |b| {
            b.requests += 1;
            let class = usize::from(s.status / 100).clamp(1, 5) - 1;
            b.by_class[class] += 1;
            b.latency[slot] += 1;
            b.bytes += s.bytes;
        });
    }

    pub fn record_usage(&self, app: &str, s: &UsageSample) {
        self.with_bucket(app, (s.release, s.process_type.clone()), Utc::now(), |b| {
            b.memory_sum += s.memory_bytes as f64;
            b.memory_max = b.memory_max.max(s.memory_bytes);
            b.cpu_sum += s.cpu_percent;
            b.usage_samples += 1;
        });
    }

    /// Per release and process type, over the last `since`, newest release first.
    pub fn summary(&self, app: &str, since: Duration) -> Vec<Summary> {
        let from = Utc::now() - TimeDelta::from_std(since).unwrap_or(TimeDelta::days(1));
        let from = from.duration_trunc(TimeDelta::minutes(1)).unwrap_or(from);
        let apps = self.apps.lock().expect("metrics poisoned");
        let mut merged: BTreeMap<Key, Bucket> = BTreeMap::new();
        for minute in apps
            .get(app)
            .into_iter()
            .flatten()
            .filter(|m| m.start >= from)
        {
            for (key, bucket) in &minute.series {
                merged.entry(key.clone()).or_default().merge(bucket);
            }
        }
        let mut out: Vec<Summary> = merged
            .into_iter()
            .map(|((release, process_type), b)| {
                let samples = (b.usage_samples > 0).then_some(b.usage_samples as f64);
                Summary {
                    release,
                    process_type,
                    requests: b.requests,
                    status_1xx: b.by_class[0],
                    status_2xx: b.by_class[1],
                    status_3xx: b.by_class[2],
                    status_4xx: b.by_class[3],
                    status_5xx: b.by_class[4],
                    p50_ms: b.percentile(0.50),
                    p95_ms: b.percentile(0.95),
                    p99_ms: b.percentile(0.99),
                    bytes: b.bytes,
                    memory_avg_bytes: samples.map(|n| (b.memory_sum / n) as u64),
                    memory_max_bytes: samples.map(|_| b.memory_max),
                    cpu_avg_percent: samples.map(|n| b.cpu_sum / n),
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.release
                .cmp(&a.release)
                .then(a.process_type.cmp(&b.process_type))
        });
        out
    }

    /// Per step of `step` minutes (at least one) over the last `since`, per release and process
    /// type: oldest step first, then release and process type. Steps with no figures are left out.
    pub fn series(&self, app: &str, since: Duration, step: u32) -> Vec<Point> {
        let step = TimeDelta::minutes(i64::from(step.max(1)));
        let from = Utc::now() - TimeDelta::from_std(since).unwrap_or(TimeDelta::days(1));
        let from = from.duration_trunc(TimeDelta::minutes(1)).unwrap_or(from);
        let apps = self.apps.lock().expect("metrics poisoned");
        let mut merged: BTreeMap<(DateTime<Utc>, Key), Bucket> = BTreeMap::new();
        for minute in apps
            .get(app)
            .into_iter()
            .flatten()
            .filter(|m| m.start >= from)
        {
            // Steps count from the window's start so every step but the last is full.
            let steps = (minute.start - from).num_minutes() / step.num_minutes();
            let at = from + step * steps as i32;
            for (key, bucket) in &minute.series {
                merged.entry((at, key.clone())).or_default().merge(bucket);
            }
        }
        merged
            .into_iter()
            .map(|((at, (release, process_type)), b)| Point {
                at,
                release,
                process_type,
                requests: b.requests,
                by_class: b.by_class,
                p50_ms: b.percentile(0.50),
                p95_ms: b.percentile(0.95),
                memory_avg_bytes: (b.usage_samples > 0)
                    .then(|| (b.memory_sum / b.usage_samples as f64) as u64),
            })
            .collect()
    }

    /// Memory and CPU gauges in Prometheus text format: per app, release and process type, the
    /// averages over the last two minutes (the sampler runs more often than that).
    pub fn prometheus_usage(&self) -> String {
        let apps: Vec<String> = self
            .apps
            .lock()
            .expect("metrics poisoned")
            .keys()
            .cloned()
            .collect();
        let mut memory = String::new();
        let mut cpu = String::new();
        for app in apps {
            for s in self.summary(&app, Duration::from_secs(120)) {
                let labels = format!(
                    "app=\"{app}\",release=\"v{}\",process_type=\"{}\"",
                    s.release, s.process_type
                );
                if let (Some(m), Some(c)) = (s.memory_avg_bytes, s.cpu_avg_percent) {
                    memory.push_str(&format!("paas_process_memory_bytes{{{labels}}} {m}\n"));
                    cpu.push_str(&format!("paas_process_cpu_percent{{{labels}}} {c:.3}\n"));
                }
            }
        }
        format!(
            "# HELP paas_process_memory_bytes Memory in use by an app's processes (average per process).\n\
             # TYPE paas_process_memory_bytes gauge\n{memory}\
             # HELP paas_process_cpu_percent CPU use of an app's processes (average per process, 100 = one CPU).\n\
             # TYPE paas_process_cpu_percent gauge\n{cpu}"
        )
    }

    pub fn forget(&self, app: &str) {
        self.apps.lock().expect("metrics poisoned").remove(app);
    }
}

/// Samples every running process's memory and CPU every `every`.
pub fn spawn_usage_sampler(
    metrics: std::sync::Arc<Metrics>,
    runtime: std::sync::Arc<dyn paas_scheduler::Runtime>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Ok(processes) = runtime.list(None).await {
                let running = processes
                    .into_iter()
                    .filter(|p| p.state == paas_scheduler::ProcessState::Up);
                let samples = futures_util::future::join_all(running.map(|p| {
                    let runtime = runtime.clone();
                    async move { (runtime.usage(&p).await, p) }
                }))
                .await;
                for (usage, p) in samples {
                    if let Ok(u) = usage {
                        let sample = UsageSample {
                            release: p.release,
                            process_type: p.process_type.clone(),
                            memory_bytes: u.memory_bytes,
                            cpu_percent: u.cpu_percent,
                        };
                        metrics.record_usage(&p.app, &sample);
                    }
                }
            }
            tokio::time::sleep(every).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(release: i64, status: u16, ms: u64) -> RequestSample {
        RequestSample {
            release,
            process_type: "web".into(),
            status,
            service: Duration::from_millis(ms),
            bytes: 10,
        }
    }

    #[test]
    fn summarises_per_release_with_percentiles() {
        let m = Metrics::default();
        for i in 0..100 {
            m.record_request("shop", &req(7, if i < 90 { 200 } else { 500 }, i));
        }
        for _ in 0..10 {
            m.record_request("shop", &req(8, 404, 3));
        }
        m.record_usage(
            "shop",
            &UsageSample {
                release: 8,
                process_type: "web".into(),
                memory_bytes: 100,
                cpu_percent: 1.0,
            },
        );
        m.record_usage(
            "shop",
            &UsageSample {
                release: 8,
                process_type: "web".into(),
                memory_bytes: 300,
                cpu_percent: 3.0,
            },
        );
        let s = m.summary("shop", Duration::from_secs(3600));
        assert_eq!(s.len(), 2);
        let (v8, v7) = (&s[0], &s[1]);
        assert_eq!(
            (
                v7.release,
                v7.requests,
                v7.status_2xx,
                v7.status_5xx,
                v7.bytes
            ),
            (7, 100, 90, 10, 1000)
        );
        assert_eq!(
            (v7.p50_ms, v7.p95_ms, v7.p99_ms),
            (Some(50), Some(100), Some(100))
        );
        assert_eq!((v8.release, v8.status_4xx, v8.p50_ms), (8, 10, Some(3)));
        assert_eq!(
            (v8.memory_avg_bytes, v8.memory_max_bytes, v8.cpu_avg_percent),
            (Some(200), Some(300), Some(2.0))
        );
        assert!(v7.memory_avg_bytes.is_none());
    }

    #[test]
    fn old_minutes_fall_outside_the_window() {
        let m = Metrics::default();
        m.record_request_at("shop", &req(1, 200, 5), Utc::now() - TimeDelta::hours(2));
        m.record_request("shop", &req(2, 200, 5));
        let s = m.summary("shop", Duration::from_secs(3600));
        assert_eq!(s.iter().map(|x| x.release).collect::<Vec<_>>(), [2]);
        assert_eq!(m.summary("shop", Duration::from_secs(3 * 3600)).len(), 2);
    }

    #[test]
    fn series_buckets_per_step_and_release() {
        let m = Metrics::default();
        let now = Utc::now();
        let base = now.duration_trunc(TimeDelta::minutes(1)).unwrap();
        // Outside a 30 minute window.
        m.record_request_at("shop", &req(1, 200, 5), now - TimeDelta::hours(2));
        m.record_request_at("shop", &req(1, 200, 5), base - TimeDelta::minutes(3));
        m.record_request_at("shop", &req(1, 404, 40), base - TimeDelta::minutes(3));
        m.record_request_at("shop", &req(2, 500, 200), base - TimeDelta::minutes(3));
        m.record_request_at("shop", &req(1, 200, 5), base - TimeDelta::minutes(2));
        m.record_request_at("shop", &req(1, 200, 5), base);
        let per_minute = m.series("shop", Duration::from_secs(1800), 1);
        let got: Vec<_> = per_minute
            .iter()
            .map(|p| {
                (
                    (base - p.at).num_minutes(),
                    p.release,
                    p.requests,
                    p.by_class,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (3, 1, 2, [0, 1, 0, 1, 0]),
                (3, 2, 1, [0, 0, 0, 0, 1]),
                (2, 1, 1, [0, 1, 0, 0, 0]),
                (0, 1, 1, [0, 1, 0, 0, 0]),
            ]
        );
        assert_eq!(
            (per_minute[0].p50_ms, per_minute[0].p95_ms),
            (Some(5), Some(50))
        );
        assert!(per_minute[0].memory_avg_bytes.is_none());

        // A 2h window takes the old request too; 60-minute steps merge minutes.
        let hourly = m.series("shop", Duration::from_secs(7200), 60);
        let v1: Vec<_> = hourly
            .iter()
            .filter(|p| p.release == 1)
            .map(|p| p.requests)
            .collect();
        // Steps run from the window's start (now - 2h): the current minute opens a third step.
        assert_eq!(v1, [1, 3, 1]);
        assert!(hourly.windows(2).all(|w| w[0].at <= w[1].at));
        assert!(m.series("nope", Duration::from_secs(60), 1).is_empty());
    }

    #[test]
    fn series_averages_memory_per_step() {
        let m = Metrics::default();
        for memory_bytes in [100, 300] {
            m.record_usage(
                "shop",
                &UsageSample {
                    release: 3,
                    process_type: "web".into(),
                    memory_bytes,
                    cpu_percent: 0.0,
                },
            );
        }
        let s = m.series("shop", Duration::from_secs(600), 0);
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].requests, s[0].memory_avg_bytes), (0, Some(200)));
    }
}
