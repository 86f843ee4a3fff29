//! Host header parsing: which app (if any) a request names.
//!
//! Everything here works on bytes without allocating: it runs once per request.

/// Longest DNS label, so the longest possible app label.
pub(crate) const MAX_LABEL: usize = 63;

/// Longest DNS name.
const MAX_NAME: usize = 253;

/// Is `s` one DNS label (letters, digits, `-`), the only shape an app reachable at APP.DOMAIN has?
pub(crate) fn is_label(s: &[u8]) -> bool {
    !s.is_empty()
        && s.len() <= MAX_LABEL
        && s.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

/// Normalises the router's domain: lower case, no trailing dot, valid DNS labels.
pub(crate) fn normalize_domain(domain: &str) -> Result<String, &'static str> {
    let domain = domain.trim().to_ascii_lowercase();
    let domain = domain.strip_suffix('.').unwrap_or(&domain);
    if domain.is_empty() {
        return Err("it is empty");
    }
    if domain.len() > MAX_NAME - MAX_LABEL - 1 {
        return Err("it is too long to have app names in front of it");
    }
    if !domain.split('.').all(|l| is_label(l.as_bytes())) {
        return Err("it must be dot-separated labels of letters, digits and '-'");
    }
    // An all-numeric last label would let IP literals (127.0.0.1) pass for APP.DOMAIN.
    if domain
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|c| c.is_ascii_digit()))
    {
        return Err("it looks like an IP address; the router needs a DNS name");
    }
    Ok(domain.to_owned())
}

/// The app named by `host` (`APP.DOMAIN`, optionally with `:port` and a trailing dot, any case),
/// lower-cased into `buf`. `domain` must come from [`normalize_domain`].
///
/// Anything else (an IP literal, the bare domain, `a.b.DOMAIN`, characters outside a DNS name)
/// names no app.
pub(crate) fn app_label<'b>(
    host: &[u8],
    domain: &str,
    buf: &'b mut [u8; MAX_LABEL],
) -> Option<&'b str> {
    let host = strip_port(host)?;
    let host = host.strip_suffix(b".").unwrap_or(host);
    let domain = domain.as_bytes();
    // The shortest match is "a." + DOMAIN.
    if host.len() < domain.len() + 2 {
        return None;
    }
    let (label, rest) = host.split_at(host.len() - domain.len() - 1);
    if rest[0] != b'.' || !rest[1..].eq_ignore_ascii_case(domain) || !is_label(label) {
        return None;
    }
    let out = &mut buf[..label.len()];
    for (o, c) in out.iter_mut().zip(label) {
        *o = c.to_ascii_lowercase();
    }
    std::str::from_utf8(out).ok()
}

/// `host` without a trailing `:port`; `None` when what follows the last colon is not a port.
fn strip_port(host: &[u8]) -> Option<&[u8]> {
    match host.iter().rposition(|&c| c == b':') {
        None => Some(host),
        Some(i) => {
            let port = &host[i + 1..];
            (port.len() <= 5 && port.iter().all(u8::is_ascii_digit)).then_some(&host[..i])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(host: &str) -> Option<String> {
        let mut buf = [0; MAX_LABEL];
        app_label(host.as_bytes(), "paas.test", &mut buf).map(str::to_owned)
    }

    #[test]
    fn accepts_app_dot_domain_in_any_spelling() {
        for host in [
            "web.paas.test",
            "WEB.Paas.Test",
            "web.paas.test:8080",
            "web.paas.test.",
            "web.paas.test.:80",
            "web.paas.test:",
        ] {
            assert_eq!(label(host).as_deref(), Some("web"), "{host}");
        }
    }

    #[test]
    fn rejects_everything_else() {
        for host in [
            "",
            "paas.test",
            ".paas.test",
            "a.b.paas.test",
            "evil.com",
            "web.paas.test.evil.com",
            "webpaas.test",
            "../x",
            "..paas.test",
            "we b.paas.test",
            "web_1.paas.test",
            "web.paas.test:http",
            "web.paas.test:123456",
            "127.0.0.1",
            "[::1]:80",
            "web.paas.test..",
            "wéb.paas.test",
            &format!("{}.paas.test", "a".repeat(64)),
        ] {
            assert_eq!(label(host), None, "{host:?}");
        }
    }

    #[test]
    fn domain_is_normalised_and_checked() {
        assert_eq!(
            normalize_domain("Apps.Example.COM.").unwrap(),
            "apps.example.com"
        );
        assert_eq!(normalize_domain("localhost").unwrap(), "localhost");
        for bad in [
            "",
            ".",
            "a..b",
            ".com",
            "exa mple.com",
            "10.0.0.1",
            "a_b.com",
        ] {
            assert!(normalize_domain(bad).is_err(), "{bad:?}");
        }
    }
}
