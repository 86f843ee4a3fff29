//! One log line, as every reader sees it: `TIMESTAMP SOURCE[PROCESS]: message`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The app's processes' stdout and stderr.
    App,
    /// The router's access log.
    Router,
    /// Build output.
    Build,
    /// What the platform did: releases, scaling, crashes, restarts, failed health checks.
    Platform,
}

impl Source {
    pub const ALL: [Source; 4] = [Source::App, Source::Router, Source::Build, Source::Platform];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::App => "app",
            Source::Router => "router",
            Source::Build => "build",
            Source::Platform => "platform",
        }
    }
}

impl FromStr for Source {
    type Err = String;
    fn from_str(s: &str) -> Result<Source, String> {
        Source::ALL
            .into_iter()
            .find(|src| src.as_str() == s)
            .ok_or_else(|| format!("unknown log source {s:?}: use app, router, build or platform"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub time: DateTime<Utc>,
    pub source: Source,
    /// `web.1` for app lines; the build or process concerned for others, if any.
    pub process: Option<String>,
    pub message: String,
}

impl LogLine {
    pub fn new(source: Source, process: Option<String>, message: impl Into<String>) -> LogLine {
        LogLine {
            time: Utc::now(),
            source,
            process,
            message: message.into(),
        }
    }
}

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            self.time.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
            self.source.as_str()
        )?;
        if let Some(p) = &self.process {
            write!(f, "[{p}]")?;
        }
        // One event is one line: embedded newlines would forge lines of other sources.
        let message = self.message.replace(['\n', '\r'], " ");
        write!(f, ": {message}")
    }
}

impl FromStr for LogLine {
    type Err = String;
    /// Parses what `Display` wrote (the on-disk history).
    fn from_str(s: &str) -> Result<LogLine, String> {
        let bad = || format!("not a log line: {s:?}");
        let (time, rest) = s.split_once(' ').ok_or_else(bad)?;
        let time = DateTime::parse_from_rfc3339(time)
            .map_err(|_| bad())?
            .with_timezone(&Utc);
        let (tag, message) = rest.split_once(": ").ok_or_else(bad)?;
        let (source, process) = match tag.split_once('[') {
            Some((source, process)) => (
                source,
                Some(process.strip_suffix(']').ok_or_else(bad)?.to_string()),
            ),
            None => (tag, None),
        };
        Ok(LogLine {
            time,
            source: source.parse()?,
            process,
            message: message.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_back() {
        let mut l = LogLine::new(Source::App, Some("web.1".into()), "hello: world");
        l.time = DateTime::parse_from_rfc3339("2026-11-22T10:00:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            l.to_string(),
            "2026-11-22T10:00:00.123456Z app[web.1]: hello: world"
        );
        assert_eq!(l.to_string().parse::<LogLine>().unwrap(), l);
        let p = LogLine {
            process: None,
            source: Source::Platform,
            ..l.clone()
        };
        assert_eq!(
            p.to_string(),
            "2026-11-22T10:00:00.123456Z platform: hello: world"
        );
        assert_eq!(p.to_string().parse::<LogLine>().unwrap(), p);
    }

    #[test]
    fn newlines_cannot_forge_lines() {
        let l = LogLine::new(
            Source::App,
            Some("web.1".into()),
            "a\n2026-01-01T00:00:00Z platform: fake",
        );
        assert_eq!(l.to_string().lines().count(), 1);
    }

    #[test]
    fn garbage_is_refused() {
        for bad in [
            "",
            "no time",
            "2026-11-22T10:00:00Z",
            "2026-11-22T10:00:00Z x[1]: y",
            "2026-11-22T10:00:00Z app[web.1 y",
        ] {
            assert!(bad.parse::<LogLine>().is_err(), "{bad}");
        }
    }
}
