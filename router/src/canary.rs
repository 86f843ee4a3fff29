//! Which side of a canary deploy a request goes to, kept per client by a cookie.

use std::sync::atomic::Ordering::Relaxed;

use http::header::HeaderValue;

use crate::headers::Fields;
use crate::table::{AppEntry, Pool};

const COOKIE_NAME: &str = "paas_canary";

/// The pool for this request, and the `Set-Cookie` value when the client was just assigned.
pub(crate) fn choose<'e, F: Fields + ?Sized>(
    entry: &'e AppEntry,
    headers: &F,
) -> (&'e Pool, Option<HeaderValue>) {
    let stable = &entry.stable;
    let Some(canary) = &entry.canary else {
        return (stable, None);
    };
    if canary.weight == 0 || canary.pool.upstreams.is_empty() {
        return (stable, None);
    }
    if stable.upstreams.is_empty() {
        return (&canary.pool, None);
    }
    if let Some(to_canary) = from_cookie(headers, canary.release) {
        return (if to_canary { &canary.pool } else { stable }, None);
    }
    // Exactly `weight` in every 100 clients: the n-th goes to the canary when that moves
    // floor(n * weight / 100).
    let n = canary.assigned.fetch_add(1, Relaxed);
    let w = u64::from(canary.weight);
    let to_canary = (n + 1) * w / 100 > n * w / 100;
    let side = if to_canary { "canary" } else { "stable" };
    let cookie = format!(
        "{COOKIE_NAME}=v{}:{side}; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax",
        canary.release
    );
    let cookie = HeaderValue::try_from(cookie).expect("a cookie of ASCII is a header value");
    (if to_canary { &canary.pool } else { stable }, Some(cookie))
}

/// The side the client's cookie names, when it was given for this canary release.
fn from_cookie<F: Fields + ?Sized>(headers: &F, release: u64) -> Option<bool> {
    for header in headers.all("cookie") {
        let Ok(header) = std::str::from_utf8(header) else {
            continue;
        };
        for pair in header.split(';') {
            let Some((name, value)) = pair.trim().split_once('=') else {
                continue;
            };
            if name != COOKIE_NAME {
                continue;
            }
            let Some((version, side)) = value.split_once(':') else {
                continue;
            };
            if version.strip_prefix('v').and_then(|v| v.parse().ok()) != Some(release) {
                continue;
            }
            match side {
                "canary" => return Some(true),
                "stable" => return Some(false),
                _ => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{HeaderMap, COOKIE};

    fn headers(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::try_from(cookie).unwrap());
        h
    }

    #[test]
    fn cookie_names_a_side_only_for_the_same_release() {
        assert_eq!(
            from_cookie(&headers("a=1; paas_canary=v8:canary"), 8),
            Some(true)
        );
        assert_eq!(
            from_cookie(&headers("paas_canary=v8:stable;b=2"), 8),
            Some(false)
        );
        assert_eq!(from_cookie(&headers("paas_canary=v7:canary"), 8), None);
        assert_eq!(from_cookie(&headers("paas_canary=v8:other"), 8), None);
        assert_eq!(from_cookie(&headers("xpaas_canary=v8:canary"), 8), None);
        assert_eq!(from_cookie(&HeaderMap::new(), 8), None);
    }
}
