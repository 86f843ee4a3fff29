//! How values read on a page.

use chrono::{DateTime, Utc};

/// `2024-05-01 14:03 UTC`.
pub fn time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The machine-readable form for `<time datetime=...>`.
pub fn iso(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `3 min ago`, relative to `now`.
pub fn ago(t: &DateTime<Utc>, now: &DateTime<Utc>) -> String {
    let secs = (*now - *t).num_seconds().max(0);
    match secs {
        0..=59 => "just now".into(),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

/// The first 8 characters of a commit id.
pub fn short_sha(sha: &str) -> String {
    sha.chars().take(8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times() {
        let now = DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |s: i64| now - chrono::Duration::seconds(s);
        assert_eq!(ago(&at(5), &now), "just now");
        assert_eq!(ago(&at(-5), &now), "just now", "clock skew");
        assert_eq!(ago(&at(125), &now), "2 min ago");
        assert_eq!(ago(&at(7200), &now), "2 h ago");
        assert_eq!(ago(&at(3 * 86_400), &now), "3 days ago");
        assert_eq!(time(&now), "2024-05-01 12:00 UTC");
        assert_eq!(iso(&now), "2024-05-01T12:00:00Z");
        assert_eq!(short_sha("0123456789abcdef"), "01234567");
    }
}
