//! Host names: which app (if any) a request's host names, and checks of configured names.
//!
//! The per-request part works on bytes in a stack buffer without allocating.

/// Longest DNS label, so the longest possible app label.
pub(crate) const MAX_LABEL: usize = 63;

/// Longest DNS name.
pub(crate) const MAX_NAME: usize = 253;

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
    check_name(domain)?;
    Ok(domain.to_owned())
}

fn check_name(name: &str) -> Result<(), &'static str> {
    if name.len() > MAX_NAME {
        return Err("it is longer than 253 characters");
    }
    if !name.split('.').all(|l| is_label(l.as_bytes())) {
        return Err("it must be dot-separated labels of letters, digits and '-'");
    }
    // An all-numeric last label would let IP literals (127.0.0.1) pass for a name.
    if name
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|c| c.is_ascii_digit()))
    {
        return Err("it looks like an IP address; a DNS name is needed");
    }
    Ok(())
}

/// A custom domain as the route table holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DomainPattern {
    Exact(String),
    /// `*.example.com`, held as `example.com`.
    Wildcard(String),
}

/// Checks and normalises a custom domain (`www.example.com` or `*.example.com`). Names equal to
/// or under the router's own `domain` are refused: they would shadow `APP.DOMAIN`.
pub(crate) fn parse_custom_domain(name: &str, domain: &str) -> Result<DomainPattern, &'static str> {
    let name = name.trim().to_ascii_lowercase();
    let name = name.strip_suffix('.').unwrap_or(&name);
    let (wildcard, rest) = match name.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, name),
    };
    if rest.is_empty() {
        return Err("it is empty");
    }
    check_name(rest)?;
    if wildcard && !rest.contains('.') {
        return Err("a wildcard must be followed by at least two labels (*.example.com)");
    }
    if rest == domain || rest.ends_with(&format!(".{domain}")) {
        return Err("names under the platform's own domain belong to its apps");
    }
    Ok(if wildcard {
        DomainPattern::Wildcard(rest.to_owned())
    } else {
        DomainPattern::Exact(rest.to_owned())
    })
}

/// `host` (a `Host` header or URI authority: any case, optional `:port` and trailing dot)
/// lower-cased into `buf`, or `None` when it is not a DNS name (IP literals, stray characters,
/// empty labels).
pub(crate) fn normalize_host<'b>(host: &[u8], buf: &'b mut [u8; MAX_NAME]) -> Option<&'b str> {
    let host = strip_port(host)?;
    let host = host.strip_suffix(b".").unwrap_or(host);
    if host.is_empty() || host.len() > MAX_NAME {
        return None;
    }
    let out = &mut buf[..host.len()];
    // Every request's host goes through here: one table lookup per byte.
    let mut label_start = 0;
    for (i, (o, &c)) in out.iter_mut().zip(host).enumerate() {
        let lower = HOST_BYTE[usize::from(c)];
        if lower == 0 {
            return None;
        }
        if lower == b'.' {
            if i == label_start || i - label_start > MAX_LABEL {
                return None;
            }
            label_start = i + 1;
        }
        *o = lower;
    }
    if host.len() - label_start > MAX_LABEL {
        return None;
    }
    // SAFETY: HOST_BYTE maps every byte to ASCII or rejects it, so `out` is ASCII (checking
    // it again costs every request ~100 instructions).
    Some(unsafe { std::str::from_utf8_unchecked(out) })
}

/// What a byte of a host name becomes in lower case; `0` for bytes a DNS name cannot have.
const HOST_BYTE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        table[c] = match b {
            b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' => b,
            b'A'..=b'Z' => b.to_ascii_lowercase(),
            _ => 0,
        };
        c += 1;
    }
    table
};

/// The app label of a normalised `host` of the form `APP.domain`.
pub(crate) fn app_label<'h>(host: &'h str, domain: &str) -> Option<&'h str> {
    let label = host.strip_suffix(domain)?.strip_suffix('.')?;
    is_label(label.as_bytes()).then_some(label)
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
        let mut buf = [0; MAX_NAME];
        let host = normalize_host(host.as_bytes(), &mut buf)?;
        app_label(host, "paas.test").map(str::to_owned)
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
    fn hosts_are_normalised() {
        let mut buf = [0; MAX_NAME];
        assert_eq!(
            normalize_host(b"WWW.Example.COM.:443", &mut buf),
            Some("www.example.com")
        );
        for bad in ["a..b", ".a", "a b", "[::1]", "a:b"] {
            assert_eq!(normalize_host(bad.as_bytes(), &mut buf), None, "{bad}");
        }
    }

    #[test]
    fn custom_domains_are_checked() {
        use DomainPattern::*;
        let p = |s| parse_custom_domain(s, "paas.test");
        assert_eq!(p("WWW.Example.com."), Ok(Exact("www.example.com".into())));
        assert_eq!(p("*.example.com"), Ok(Wildcard("example.com".into())));
        for bad in [
            "",
            "*.",
            "*.com",
            "a.*.example.com",
            "10.0.0.1",
            "paas.test",
            "x.paas.test",
            "*.paas.test",
            "exa mple.com",
        ] {
            assert!(p(bad).is_err(), "{bad:?}");
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
