//! Heroku's `Range` header for listings, parsed leniently: `version ..; max=15, order=desc`,
//! `name a..m`, `id ]abc..; max=10`. Unknown parts are ignored rather than refused.

use axum::http::HeaderMap;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Range {
    pub field: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub max: Option<usize>,
    pub descending: bool,
}

/// Heroku's upper bound for one page.
const MAX_PAGE: usize = 1000;

impl Range {
    pub fn from_headers(headers: &HeaderMap) -> Range {
        headers
            .get(axum::http::header::RANGE)
            .and_then(|v| v.to_str().ok())
            .map(Range::parse)
            .unwrap_or_default()
    }

    pub fn parse(value: &str) -> Range {
        let mut range = Range::default();
        let (spec, options) = value.split_once(';').unwrap_or((value, ""));
        let spec = spec.trim();
        let (field, bounds) = spec.split_once(char::is_whitespace).unwrap_or((spec, ""));
        if !field.is_empty() && !field.contains("..") {
            range.field = Some(field.to_string());
        }
        if let Some((start, end)) = bounds.trim().split_once("..") {
            let clean = |s: &str| {
                let s = s
                    .trim()
                    .trim_start_matches(']')
                    .trim_end_matches('[')
                    .trim();
                (!s.is_empty()).then(|| s.to_string())
            };
            range.start = clean(start);
            range.end = clean(end);
        }
        for option in options.split([',', ';']) {
            let Some((k, v)) = option.split_once('=') else {
                continue;
            };
            match k.trim() {
                "max" => range.max = v.trim().parse().ok(),
                "order" => range.descending = v.trim().eq_ignore_ascii_case("desc"),
                _ => {}
            }
        }
        range
    }

    /// Orders `items` by the key the listing sorts on, keeps those within the bounds, and
    /// truncates to `max`. Keys that look like numbers compare as numbers.
    pub fn apply<T>(&self, mut items: Vec<T>, key: impl Fn(&T) -> String) -> Vec<T> {
        let cmp = |a: &str, b: &str| match (a.parse::<i64>(), b.parse::<i64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => a.cmp(b),
        };
        items.sort_by(|a, b| cmp(&key(a), &key(b)));
        items.retain(|item| {
            let k = key(item);
            self.start.as_deref().is_none_or(|s| cmp(&k, s).is_ge())
                && self.end.as_deref().is_none_or(|e| cmp(&k, e).is_le())
        });
        if self.descending {
            items.reverse();
        }
        items.truncate(self.max.unwrap_or(MAX_PAGE).min(MAX_PAGE));
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_heroku_forms() {
        let r = Range::parse("version ..; max=15, order=desc");
        assert_eq!(r.field.as_deref(), Some("version"));
        assert_eq!(
            (r.start, r.end, r.max, r.descending),
            (None, None, Some(15), true)
        );
        let r = Range::parse("version 3..5");
        assert_eq!(
            (r.start.as_deref(), r.end.as_deref()),
            (Some("3"), Some("5"))
        );
        let r = Range::parse("name ]abc..; max=2;");
        assert_eq!((r.start.as_deref(), r.max), (Some("abc"), Some(2)));
        assert_eq!(
            Range::parse("garbage"),
            Range {
                field: Some("garbage".into()),
                ..Range::default()
            }
        );
        assert_eq!(Range::parse(""), Range::default());
    }

    #[test]
    fn applies_order_bounds_and_max() {
        let versions: Vec<i64> = (1..=12).collect();
        let r = Range::parse("version ..; max=3, order=desc");
        assert_eq!(
            r.apply(versions.clone(), |v| v.to_string()),
            vec![12, 11, 10]
        );
        let r = Range::parse("version 9..10");
        assert_eq!(r.apply(versions, |v| v.to_string()), vec![9, 10]);
    }
}
