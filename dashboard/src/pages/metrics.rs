//! Per-release metrics: totals from `/metrics`, charts over time from `/metrics/series`, and
//! two releases side by side (`?compare=v1,v2`).

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::{TimeDelta, Utc};
use paas_api::metrics::{parse_since, MetricsPoint, MetricsSeries};

use crate::chart::{self, Chart};
use crate::error::{DashboardError, PageResult};
use crate::extract::SignedIn;
use crate::pages::{app_name, render, Layout};
use crate::Shared;

/// The windows the form offers; the metrics are kept for a day.
const WINDOWS: [&str; 4] = ["15m", "1h", "6h", "1d"];
/// At most this many steps per chart: longer windows use longer steps.
const MAX_STEPS: u64 = 60;

const STATUS_LINES: [(&str, &str); 4] = [
    ("2xx", "#17803d"),
    ("3xx", "#3b4fd8"),
    ("4xx", "#b26a00"),
    ("5xx", "#b42318"),
];

/// One release's process type: its totals and its charts.
struct Panel {
    release: i64,
    process_type: String,
    totals: Totals,
    charts: Vec<Chart>,
}

struct Totals {
    requests: u64,
    by_class: [u64; 5],
    p50: String,
    p95: String,
    p99: String,
    memory_avg: String,
    memory_max: String,
}

#[derive(Template)]
#[template(path = "metrics.html")]
struct MetricsPage {
    layout: Layout,
    app: String,
    since: String,
    windows: [&'static str; 4],
    step_minutes: u32,
    compare: String,
    /// Why the comparison could not be made, in plain words.
    compare_error: Option<String>,
    comparing: bool,
    panels: Vec<Panel>,
    width: f64,
    height: f64,
}

fn ms(v: Option<u64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v} ms"))
}

fn mib(v: Option<u64>) -> String {
    v.map_or_else(
        || "–".into(),
        |v| format!("{:.1} MiB", v as f64 / 1_048_576.0),
    )
}

/// `v3,v4` (or `3, 4`) -> the two release numbers.
fn parse_compare(text: &str) -> Result<(i64, i64), String> {
    let bad = || format!("compare two releases like v1,v2 (not {text:?})");
    let parts: Vec<i64> = text
        .split(',')
        .map(|p| {
            let p = p.trim();
            p.strip_prefix('v').unwrap_or(p).parse::<i64>().ok()
        })
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    match parts[..] {
        [a, b] if a > 0 && b > 0 && a != b => Ok((a, b)),
        _ => Err(bad()),
    }
}

pub async fn metrics_page(
    State(state): State<Shared>,
    user: SignedIn,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> PageResult<Response> {
    let name = app_name(&name)?;
    let since = query.get("since").map_or("1h", |s| s.trim()).to_string();
    let since_secs = parse_since(&since).map_err(|message| DashboardError::Api {
        status: 422,
        message,
    })?;
    let step_minutes = (since_secs / 60).div_ceil(MAX_STEPS).max(1) as u32;
    let report = state.api.metrics(user.token(), name, &since).await?;
    let series = state
        .api
        .metrics_series(user.token(), name, &since, step_minutes)
        .await?;

    let compare = query.get("compare").cloned().unwrap_or_default();
    let (wanted, compare_error) = match compare.trim() {
        "" => (None, None),
        text => match parse_compare(text) {
            Ok(pair) => (Some(pair), None),
            Err(e) => (None, Some(e)),
        },
    };
    let mut totals: Vec<MetricsSeries> = report.series;
    let mut compare_error = compare_error;
    if let Some((a, b)) = wanted {
        for v in [a, b] {
            if !totals.iter().any(|s| s.release == v) {
                compare_error = Some(format!("v{v} has no figures in the last {since}"));
            }
        }
        if compare_error.is_none() {
            // In the order asked for: the left column is the first release named.
            totals.retain(|s| s.release == a || s.release == b);
            totals.sort_by_key(|s| (s.release != a, s.process_type.clone()));
        }
    }
    let comparing = wanted.is_some() && compare_error.is_none();

    let mut points: BTreeMap<(i64, String), Vec<&MetricsPoint>> = BTreeMap::new();
    for p in &series.points {
        points
            .entry((p.release, p.process_type.clone()))
            .or_default()
            .push(p);
    }
    let from = Utc::now() - TimeDelta::seconds(since_secs as i64);
    let span = since_secs as f64 / 60.0;
    let minute = |p: &MetricsPoint| (p.at - from).num_seconds() as f64 / 60.0;
    let step = f64::from(step_minutes);
    // One scale per kind of chart across the panels shown, so releases compare at a glance.
    let shown: Vec<&MetricsPoint> = totals
        .iter()
        .flat_map(|t| {
            points
                .get(&(t.release, t.process_type.clone()))
                .into_iter()
                .flatten()
                .copied()
        })
        .collect();
    let class = |p: &MetricsPoint, i: usize| {
        [p.status_2xx, p.status_3xx, p.status_4xx, p.status_5xx][i] as f64
    };
    let top_rate = shown
        .iter()
        .flat_map(|p| (0..4).map(move |i| class(p, i) / step))
        .fold(0.0, f64::max)
        .ceil();
    let top_ms = shown
        .iter()
        .filter_map(|p| p.p95_ms.max(p.p50_ms))
        .max()
        .unwrap_or(0) as f64;
    let top_mem = shown
        .iter()
        .filter_map(|p| p.memory_avg_bytes)
        .max()
        .unwrap_or(0) as f64;

    let panels = totals
        .into_iter()
        .map(|t| {
            let pts = points
                .get(&(t.release, t.process_type.clone()))
                .cloned()
                .unwrap_or_default();
            let requests = Chart {
                title: "Requests per minute by status class".into(),
                top_label: format!("{} req/min", top_rate.max(1.0)),
                lines: STATUS_LINES
                    .iter()
                    .enumerate()
                    .map(|(i, (label, colour))| {
                        let xy: Vec<(f64, f64)> = pts
                            .iter()
                            .filter(|p| p.requests > 0)
                            .map(|p| (minute(p), class(p, i) / step))
                            .collect();
                        chart::line(label, colour, &xy, span, top_rate)
                    })
                    .collect(),
            };
            let latency_line = |label, colour, f: fn(&MetricsPoint) -> Option<u64>| {
                let xy: Vec<(f64, f64)> = pts
                    .iter()
                    .filter_map(|p| f(p).map(|v| (minute(p), v as f64)))
                    .collect();
                chart::line(label, colour, &xy, span, top_ms)
            };
            let latency = Chart {
                title: "Latency".into(),
                top_label: format!("{} ms", top_ms.max(1.0)),
                lines: vec![
                    latency_line("p50", "#3b4fd8", |p| p.p50_ms),
                    latency_line("p95", "#b26a00", |p| p.p95_ms),
                ],
            };
            let mem: Vec<(f64, f64)> = pts
                .iter()
                .filter_map(|p| p.memory_avg_bytes.map(|m| (minute(p), m as f64)))
                .collect();
            let memory = Chart {
                title: "Memory per process (average)".into(),
                top_label: mib(Some(top_mem as u64)),
                lines: vec![chart::line("memory", "#5b6475", &mem, span, top_mem)],
            };
            Panel {
                release: t.release,
                process_type: t.process_type,
                totals: Totals {
                    requests: t.requests,
                    by_class: [
                        t.status_1xx,
                        t.status_2xx,
                        t.status_3xx,
                        t.status_4xx,
                        t.status_5xx,
                    ],
                    p50: ms(t.p50_ms),
                    p95: ms(t.p95_ms),
                    p99: ms(t.p99_ms),
                    memory_avg: mib(t.memory_avg_bytes),
                    memory_max: mib(t.memory_max_bytes),
                },
                charts: vec![requests, latency, memory],
            }
        })
        .collect();

    render(&MetricsPage {
        layout: Layout::new(&state, &user.0),
        app: name.to_string(),
        since,
        windows: WINDOWS,
        step_minutes,
        compare,
        compare_error,
        comparing,
        panels,
        width: chart::WIDTH,
        height: chart::HEIGHT,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_takes_two_distinct_releases() {
        assert_eq!(parse_compare("v1,v2"), Ok((1, 2)));
        assert_eq!(parse_compare(" 4 , v3 "), Ok((4, 3)));
        for bad in ["v1", "v1,v1", "v1,v2,v3", "a,b", "v0,v1", "v1,"] {
            assert!(parse_compare(bad).is_err(), "{bad}");
        }
    }
}
