//! Per process type settings: resource limits and health checks (paas resources, in the
//! Heroku API's style).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `GET /apps/{app}/limits`: one entry per process type that has limits.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProcessLimits {
    #[serde(rename = "type")]
    pub process_type: String,
    /// e.g. `512M`; none means unlimited.
    pub memory: Option<String>,
    pub memory_bytes: Option<i64>,
    /// CPUs, e.g. `0.5`; none means unlimited.
    pub cpu: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LimitsUpdate {
    /// `512M`, `1G`, `1536K` or a byte count; `null` removes the limit.
    pub memory: Option<String>,
    pub cpu: Option<f64>,
}

/// `PATCH /apps/{app}/limits`: type -> new limits (replacing the type's old ones).
pub type LimitsPatch = BTreeMap<String, LimitsUpdate>;

/// `GET /apps/{app}/healthchecks`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HealthCheck {
    #[serde(rename = "type")]
    pub process_type: String,
    /// The HTTP path that must answer 2xx or 3xx; none: accepting TCP on `PORT` is enough.
    pub path: Option<String>,
    pub attempts: u32,
    /// Seconds between checks.
    pub interval: f64,
    /// Seconds one check may take.
    pub timeout: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct HealthCheckUpdate {
    pub path: Option<String>,
    pub attempts: Option<u32>,
    pub interval: Option<f64>,
    pub timeout: Option<f64>,
}

/// `PATCH /apps/{app}/healthchecks`: type -> check (`{"path": null}` goes back to TCP).
pub type HealthChecksPatch = BTreeMap<String, HealthCheckUpdate>;

/// `512M` -> bytes. Units K, M, G (powers of 1024), case-insensitive, optional `B`/`iB`.
pub fn parse_memory(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits_end);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("invalid memory size {t:?}: use e.g. 512M or 1G"))?;
    let factor: i64 = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return Err(format!("invalid memory size {t:?}: use e.g. 512M or 1G")),
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("memory size {t:?} is too large"))
}

/// Bytes -> the shortest exact `512M` form.
pub fn format_memory(bytes: i64) -> String {
    for (unit, factor) in [("G", 1i64 << 30), ("M", 1 << 20), ("K", 1 << 10)] {
        if bytes % factor == 0 {
            return format!("{}{unit}", bytes / factor);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory("512M"), Ok(512 << 20));
        assert_eq!(parse_memory("1g"), Ok(1 << 30));
        assert_eq!(parse_memory("1536KiB"), Ok(1536 << 10));
        assert_eq!(parse_memory("1000"), Ok(1000));
        for bad in ["", "M", "12X", "-5M", "1.5G"] {
            assert!(parse_memory(bad).is_err(), "{bad}");
        }
        assert_eq!(format_memory(512 << 20), "512M");
        assert_eq!(format_memory(1 << 30), "1G");
        assert_eq!(format_memory(1000), "1000");
    }
}

/// `GET /apps/{app}/router-settings`: how the router treats the app's requests.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RouterSettings {
    /// Seconds to open a connection to a process before trying another.
    pub connect_timeout: f64,
    /// Seconds from a request's arrival to the app's response head (504 beyond; Heroku's 30).
    pub response_timeout: f64,
    /// Seconds of silence on a streamed body or a WebSocket before it is cut (Heroku's 55).
    pub idle_timeout: f64,
    /// Largest request body (413 beyond), e.g. `10M`; none: no limit.
    pub max_body: Option<String>,
    /// Answer plain-HTTP requests with a redirect to HTTPS.
    pub redirect_https: bool,
    /// `round-robin` or `least-outstanding`.
    pub balance: String,
}

impl Default for RouterSettings {
    fn default() -> Self {
        RouterSettings {
            connect_timeout: 5.0,
            response_timeout: 30.0,
            idle_timeout: 55.0,
            max_body: None,
            redirect_https: false,
            balance: "round-robin".into(),
        }
    }
}

/// `PATCH /apps/{app}/router-settings`: only the fields given change; `"max_body": ""` removes
/// the limit.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RouterSettingsUpdate {
    pub connect_timeout: Option<f64>,
    pub response_timeout: Option<f64>,
    pub idle_timeout: Option<f64>,
    pub max_body: Option<String>,
    pub redirect_https: Option<bool>,
    pub balance: Option<String>,
}

impl RouterSettings {
    /// Applies an update, checking every value; on an error nothing is applied.
    pub fn updated(&self, u: &RouterSettingsUpdate) -> Result<RouterSettings, String> {
        let mut s = self.clone();
        let secs = |v: f64, what: &str| {
            if v > 0.0 && v <= 3600.0 {
                Ok(v)
            } else {
                Err(format!("{what} must be between 0 and 3600 seconds"))
            }
        };
        if let Some(v) = u.connect_timeout {
            s.connect_timeout = secs(v, "connect_timeout")?;
        }
        if let Some(v) = u.response_timeout {
            s.response_timeout = secs(v, "response_timeout")?;
        }
        if let Some(v) = u.idle_timeout {
            s.idle_timeout = secs(v, "idle_timeout")?;
        }
        if let Some(m) = &u.max_body {
            s.max_body = if m.is_empty() {
                None
            } else {
                parse_memory(m).map_err(|_| format!("invalid max_body {m:?}: use e.g. 10M"))?;
                Some(m.clone())
            };
        }
        if let Some(r) = u.redirect_https {
            s.redirect_https = r;
        }
        if let Some(b) = &u.balance {
            if b != "round-robin" && b != "least-outstanding" {
                return Err(format!(
                    "invalid balance {b:?}: use round-robin or least-outstanding"
                ));
            }
            s.balance = b.clone();
        }
        Ok(s)
    }
}
