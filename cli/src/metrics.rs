//! `metrics`: requests, status classes, latency and resource use per release, and two releases
//! side by side.

use anyhow::{bail, Result};
use clap::Args;
use paas_api::metrics::{parse_since, MetricsReport, MetricsSeries};

use crate::args::AppArg;
use crate::client::{self, Client};
use crate::output;
use crate::releases::parse_version;

#[derive(Debug, Args)]
pub struct MetricsArgs {
    #[command(flatten)]
    pub app: AppArg,
    /// How far back: 30m, 1h, 1d (at most a day)
    #[arg(long, default_value = "1h")]
    pub since: String,
    /// Two releases side by side, e.g. --compare v7 v8
    #[arg(long, num_args = 2, value_names = ["vA", "vB"])]
    pub compare: Option<Vec<String>>,
    /// Print the API's JSON answer
    #[arg(long)]
    pub json: bool,
}

fn ms(v: Option<u64>) -> String {
    v.map(|v| format!("{v}ms")).unwrap_or_else(|| "-".into())
}

fn memory(v: Option<u64>) -> String {
    v.map(|b| format!("{:.1}M", b as f64 / (1 << 20) as f64))
        .unwrap_or_else(|| "-".into())
}

fn cpu(v: Option<f64>) -> String {
    v.map(|c| format!("{c:.1}%")).unwrap_or_else(|| "-".into())
}

/// The rows of one series, in the order both views use.
fn figures(s: &MetricsSeries) -> Vec<(&'static str, String)> {
    vec![
        ("requests", s.requests.to_string()),
        ("2xx", s.status_2xx.to_string()),
        ("3xx", s.status_3xx.to_string()),
        ("4xx", s.status_4xx.to_string()),
        ("5xx", s.status_5xx.to_string()),
        ("p50", ms(s.p50_ms)),
        ("p95", ms(s.p95_ms)),
        ("p99", ms(s.p99_ms)),
        ("memory avg", memory(s.memory_avg_bytes)),
        ("memory max", memory(s.memory_max_bytes)),
        ("cpu avg", cpu(s.cpu_avg_percent)),
    ]
}

pub fn run(args: MetricsArgs) -> Result<()> {
    let app = args.app.resolve()?;
    parse_since(&args.since).map_err(anyhow::Error::msg)?;
    let compare = match &args.compare {
        Some(v) => Some((parse_version(&v[0])?, parse_version(&v[1])?)),
        None => None,
    };
    let api = Client::connect()?;
    let value = api.get_query(&["apps", &app, "metrics"], &[("since", &args.since)])?;
    if args.json {
        return output::print_json(&value);
    }
    let report: MetricsReport = client::decode(value)?;
    print!("{}", render(&app, &args.since, &report, compare)?);
    Ok(())
}

fn render(
    app: &str,
    since: &str,
    report: &MetricsReport,
    compare: Option<(i64, i64)>,
) -> Result<String> {
    let mut out = String::new();
    match compare {
        None => {
            out.push_str(&format!("=== {app} Metrics (last {since})\n"));
            if report.series.is_empty() {
                out.push_str("Nothing recorded in that time.\n");
                return Ok(out);
            }
            let mut rows = vec![["release", "type"]
                .iter()
                .map(|s| s.to_string())
                .chain(
                    figures(&report.series[0])
                        .iter()
                        .map(|(k, _)| k.to_string()),
                )
                .collect::<Vec<_>>()];
            for s in &report.series {
                let mut row = vec![format!("v{}", s.release), s.process_type.clone()];
                row.extend(figures(s).into_iter().map(|(_, v)| v));
                rows.push(row);
            }
            out.push_str(&output::table(&rows));
        }
        Some((a, b)) => {
            out.push_str(&format!("=== {app}: v{a} vs v{b} (last {since})\n"));
            let mut types: Vec<&str> = report
                .series
                .iter()
                .filter(|s| s.release == a || s.release == b)
                .map(|s| s.process_type.as_str())
                .collect();
            types.sort();
            types.dedup();
            if types.is_empty() {
                bail!("nothing recorded for v{a} or v{b} in the last {since}");
            }
            for t in types {
                let find = |v: i64| {
                    report
                        .series
                        .iter()
                        .find(|s| s.release == v && s.process_type == t)
                };
                let empty = MetricsSeries {
                    release: 0,
                    process_type: t.to_string(),
                    requests: 0,
                    status_1xx: 0,
                    status_2xx: 0,
                    status_3xx: 0,
                    status_4xx: 0,
                    status_5xx: 0,
                    p50_ms: None,
                    p95_ms: None,
                    p99_ms: None,
                    bytes: 0,
                    memory_avg_bytes: None,
                    memory_max_bytes: None,
                    cpu_avg_percent: None,
                };
                let (fa, fb) = (
                    figures(find(a).unwrap_or(&empty)),
                    figures(find(b).unwrap_or(&empty)),
                );
                let mut rows = vec![vec![t.to_string(), format!("v{a}"), format!("v{b}")]];
                for ((k, va), (_, vb)) in fa.into_iter().zip(fb) {
                    rows.push(vec![k.to_string(), va, vb]);
                }
                out.push_str(&output::table(&rows));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(release: i64, ok: u64, errors: u64) -> MetricsSeries {
        MetricsSeries {
            release,
            process_type: "web".into(),
            requests: ok + errors,
            status_1xx: 0,
            status_2xx: ok,
            status_3xx: 0,
            status_4xx: 0,
            status_5xx: errors,
            p50_ms: Some(3),
            p95_ms: Some(7),
            p99_ms: Some(15),
            bytes: 100,
            memory_avg_bytes: Some(3 << 20),
            memory_max_bytes: None,
            cpu_avg_percent: Some(0.25),
        }
    }

    #[test]
    fn side_by_side() {
        let report = MetricsReport {
            since_seconds: 3600,
            series: vec![series(8, 5, 5), series(7, 10, 0)],
        };
        let text = render("shop", "1h", &report, Some((7, 8))).unwrap();
        let line = |k: &str| {
            text.lines()
                .find(|l| l.starts_with(k))
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(line("web"), "web v7 v8");
        assert_eq!(line("2xx"), "2xx 10 5");
        assert_eq!(line("5xx"), "5xx 0 5");
        assert_eq!(line("memory avg"), "memory avg 3.0M 3.0M");
        assert!(render("shop", "1h", &report, Some((1, 2))).is_err());
        let table = render("shop", "1h", &report, None).unwrap();
        assert!(table.lines().nth(2).unwrap().starts_with("v8"), "{table}");
    }
}
