//! `GET /apps/{app}/metrics?since=1h`: requests and resource use per release and process type.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MetricsReport {
    /// The window, in seconds back from now.
    pub since_seconds: u64,
    pub series: Vec<MetricsSeries>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MetricsSeries {
    pub release: i64,
    #[serde(rename = "type")]
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

/// `GET /apps/{app}/metrics/series?since=1h&step=1`: the figures per step of `step_minutes`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MetricsTimeSeries {
    /// The window, in seconds back from now.
    pub since_seconds: u64,
    pub step_minutes: u32,
    /// Oldest step first; steps without figures are left out.
    pub points: Vec<MetricsPoint>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MetricsPoint {
    /// The step's start, RFC 3339.
    pub at: chrono::DateTime<chrono::Utc>,
    pub release: i64,
    #[serde(rename = "type")]
    pub process_type: String,
    pub requests: u64,
    pub status_1xx: u64,
    pub status_2xx: u64,
    pub status_3xx: u64,
    pub status_4xx: u64,
    pub status_5xx: u64,
    pub p50_ms: Option<u64>,
    pub p95_ms: Option<u64>,
    pub memory_avg_bytes: Option<u64>,
}

/// `90s`, `15m`, `1h`, `2d` -> seconds.
pub fn parse_since(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let bad = || format!("invalid duration {t:?}: use e.g. 30m, 1h or 1d");
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    match n.checked_mul(factor) {
        Some(0) | None => Err(bad()),
        Some(secs) => Ok(secs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_since("1h"), Ok(3600));
        assert_eq!(parse_since("15m"), Ok(900));
        assert_eq!(parse_since("2d"), Ok(172_800));
        for bad in ["", "h", "1", "1w", "0m", "-1h", "1.5h"] {
            assert!(parse_since(bad).is_err(), "{bad}");
        }
    }
}
