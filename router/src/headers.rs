//! Header rewriting on the way to a backend and back.

use bytes::BytesMut;
use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::request_id::RequestId;

pub(crate) static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What the router knows about the client connection, rendered once per connection.
pub(crate) struct ClientInfo {
    /// Client IP, as appended to `X-Forwarded-For`.
    pub(crate) ip: HeaderValue,
    /// The router's own port, for `X-Forwarded-Port`.
    pub(crate) port: HeaderValue,
    /// Whether the client came over TLS.
    pub(crate) tls: bool,
}

impl ClientInfo {
    pub(crate) fn new(client_ip: std::net::IpAddr, port: HeaderValue, tls: bool) -> Self {
        let ip = HeaderValue::try_from(client_ip.to_canonical().to_string())
            .expect("an IP address is a valid header value");
        ClientInfo { ip, port, tls }
    }

    pub(crate) fn protocol(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }
}

/// A request's header fields as bytes: hyper's map, or a head the router parsed itself
/// (names in the client's case).
pub(crate) trait Fields {
    fn each(&self) -> impl Iterator<Item = (&[u8], &[u8])>;
    /// Every value of the field `name` (given in lower case).
    fn all(&self, name: &'static str) -> impl Iterator<Item = &[u8]>;
    fn first(&self, name: &'static str) -> Option<&[u8]> {
        self.all(name).next()
    }
    /// The value of `name` when the field is there exactly once.
    fn only(&self, name: &'static str) -> Option<&[u8]> {
        let mut values = self.all(name);
        let value = values.next()?;
        values.next().is_none().then_some(value)
    }
}

impl Fields for HeaderMap {
    fn each(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.iter()
            .map(|(name, value)| (name.as_str().as_bytes(), value.as_bytes()))
    }

    fn all(&self, name: &'static str) -> impl Iterator<Item = &[u8]> {
        self.get_all(name).iter().map(HeaderValue::as_bytes)
    }
}

impl Fields for [httparse::Header<'_>] {
    fn each(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.iter()
            .map(|field| (field.name.as_bytes(), field.value))
    }

    fn all(&self, name: &'static str) -> impl Iterator<Item = &[u8]> {
        self.iter()
            .filter(move |field| field.name.eq_ignore_ascii_case(name))
            .map(|field| field.value)
    }
}

/// A Content-Length value (RFC 9110 8.6: digits only, around them only what httparse left of
/// the spaces); `None` for anything else, or a number past `u64`.
pub(crate) fn content_length(value: &[u8]) -> Option<u64> {
    let digits = value.trim_ascii();
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &c| {
        let digit = c.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// Whether a field describes one connection, not the message (RFC 9110 7.6.1); `name` in any
/// case.
pub(crate) fn is_hop_by_hop(name: &[u8]) -> bool {
    // Sorted out by length first: most names are none of these.
    let named = |hop: &str| name.eq_ignore_ascii_case(hop.as_bytes());
    let hop = match name.len() {
        2 => named("te"),
        5 => named("proxy"),
        7 => named("trailer") || named("upgrade"),
        10 => named("connection") || named("keep-alive"),
        17 => named("transfer-encoding"),
        _ => false,
    };
    hop || (name.len() > 6 && name[..6].eq_ignore_ascii_case(b"proxy-"))
}

/// Whether a `Connection` header names headers of its own (beyond the usual tokens), which
/// then go with it.
pub(crate) fn connection_names_headers<F: Fields + ?Sized>(fields: &F) -> bool {
    fields.all("connection").any(names_other_headers)
}

/// Whether a `Connection` value lists header names (not just close/keep-alive/upgrade).
pub(crate) fn names_other_headers(value: &[u8]) -> bool {
    value.split(|&c| c == b',').any(|token| {
        let token = token.trim_ascii();
        !token.is_empty()
            && !token.eq_ignore_ascii_case(b"keep-alive")
            && !token.eq_ignore_ascii_case(b"close")
            && !token.eq_ignore_ascii_case(b"upgrade")
    })
}

/// What the head of a request to a process says beyond the client's own headers.
pub(crate) struct Outbound<'a> {
    pub(crate) client: &'a ClientInfo,
    pub(crate) request_id: &'a RequestId,
    /// The `Host` to send when the request named its target in absolute form (or, over
    /// HTTP/2, as `:authority`).
    pub(crate) host: Option<&'a str>,
    /// The protocol of an upgrade request, whose `Connection`/`Upgrade` go along.
    pub(crate) upgrade: Option<&'a HeaderValue>,
    pub(crate) chunked: bool,
}

/// Writes the request head for the process straight from the client's headers: hop-by-hop
/// headers left out (RFC 9110 7.6.1), the forwarding headers added. Writing instead of
/// editing the header map saves its rehashing on every request.
/// The head is written into `into`, a buffer kept for the purpose (its space is used again
/// once the bytes returned are dropped).
pub(crate) fn encode_request_head<F: Fields + ?Sized>(
    method: &http::Method,
    path: &str,
    fields: &F,
    out: &Outbound<'_>,
    into: &mut BytesMut,
) -> bytes::Bytes {
    into.reserve(512 + path.len());
    let head = into;
    put_request_line(head, method, path);
    let named_by_connection = connection_names_headers(fields);
    let mut forwarded_for = None::<Vec<u8>>;
    for (name, value) in fields.each() {
        let is = |other: &str| name.eq_ignore_ascii_case(other.as_bytes());
        if (named_by_connection && is_named_by_connection(fields, name))
            || (out.host.is_some() && is("host"))
        {
            continue;
        }
        if !is_rewritten(name) {
            put_field(head, name, value);
        } else if is("x-forwarded-for") {
            let list = forwarded_for.get_or_insert_with(Vec::new);
            let Ok(value) = std::str::from_utf8(value) else {
                continue;
            };
            let value = value.trim().trim_end_matches(',');
            if !value.is_empty() {
                list.extend_from_slice(value.as_bytes());
                list.extend_from_slice(b", ");
            }
        }
        // The other rewritten fields stay behind: the router writes the forwarding ones and
        // the request id itself, and already answered `Expect` (hyper sends 100 Continue
        // when the body is first read).
    }
    put_added_fields(head, forwarded_for.as_deref(), out);
    head.split().freeze()
}

/// The request head for the process from a head whose header lines all go on unchanged
/// ([`verbatim_lines`]): those lines in one copy, then the router's fields.
pub(crate) fn encode_request_head_verbatim(
    method: &http::Method,
    path: &str,
    lines: &[u8],
    out: &Outbound<'_>,
    into: &mut BytesMut,
) -> bytes::Bytes {
    into.reserve(256 + path.len() + lines.len());
    put_request_line(into, method, path);
    into.extend_from_slice(lines);
    put_added_fields(into, None, out);
    into.split().freeze()
}

/// The header lines of a parsed request head (`raw` is the head the `fields` were parsed
/// from) when the process gets every one of them as it came: none is one the router leaves
/// out or writes itself, and they lie in place ([`lines_in_place`]). Most requests are such;
/// their fields then cost one copy instead of one each.
pub(crate) fn verbatim_lines<'b>(
    raw: &'b [u8],
    fields: &[httparse::Header<'b>],
) -> Option<&'b [u8]> {
    if fields
        .iter()
        .any(|field| is_rewritten(field.name.as_bytes()))
    {
        return None;
    }
    let base = raw.as_ptr() as usize;
    // A slice from outside `raw` (never, for fields parsed from it) gets an offset no line has.
    let offset = |s: &[u8]| {
        (s.as_ptr() as usize)
            .checked_sub(base)
            .unwrap_or(usize::MAX)
    };
    let lines = fields.iter().map(|field| {
        let name = offset(field.name.as_bytes());
        (name, offset(field.value).saturating_add(field.value.len()))
    });
    raw.get(lines_in_place(raw, lines)?)
}

/// Where a head's header lines lie when they can go on as they came: every line ends in CRLF
/// right where the next begins. `lines` are (offset of the name, offset just past the
/// value) in `raw`; `None` when they do not lie so, or there are none.
pub(crate) fn lines_in_place(
    raw: &[u8],
    lines: impl IntoIterator<Item = (usize, usize)>,
) -> Option<std::ops::Range<usize>> {
    let mut lines = lines.into_iter();
    let (start, mut end) = lines.next()?;
    loop {
        let next = end.checked_add(2)?;
        if raw.get(end..next)? != b"\r\n" {
            return None;
        }
        match lines.next() {
            None => return Some(start..next),
            Some((name, value_end)) if name == next => end = value_end,
            Some(_) => return None,
        }
    }
}

fn put_request_line(head: &mut BytesMut, method: &http::Method, path: &str) {
    head.extend_from_slice(method.as_str().as_bytes());
    head.extend_from_slice(b" ");
    head.extend_from_slice(path.as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\n");
}

/// The fields the router adds to every request, and the blank line that ends the head.
/// `forwarded_for` is the client's own list (ending in ", "), if it sent one.
fn put_added_fields(head: &mut BytesMut, forwarded_for: Option<&[u8]>, out: &Outbound<'_>) {
    if let Some(host) = out.host {
        put_field(head, b"host", host.as_bytes());
    }
    head.extend_from_slice(b"x-forwarded-for: ");
    if let Some(list) = forwarded_for {
        head.extend_from_slice(list);
    }
    head.extend_from_slice(out.client.ip.as_bytes());
    // The fixed parts of the added fields in as few pieces as possible: each is a copy call.
    head.extend_from_slice(if out.client.tls {
        b"\r\nx-forwarded-proto: https\r\nx-forwarded-port: "
    } else {
        b"\r\nx-forwarded-proto: http\r\nx-forwarded-port: "
    });
    head.extend_from_slice(out.client.port.as_bytes());
    head.extend_from_slice(b"\r\nx-request-id: ");
    head.extend_from_slice(out.request_id.as_bytes());
    head.extend_from_slice(b"\r\nvia: 1.1 paas\r\n");
    if let Some(protocol) = out.upgrade {
        put_field(head, b"connection", b"upgrade");
        put_field(head, b"upgrade", protocol.as_bytes());
    }
    if out.chunked {
        put_field(head, b"transfer-encoding", b"chunked");
    }
    head.extend_from_slice(b"\r\n");
}

/// Whether the router leaves a request field out of the process's head or writes it itself:
/// hop-by-hop fields, the forwarding fields, the request id and `Expect`. Sorted out by
/// length first, like [`is_hop_by_hop`].
fn is_rewritten(name: &[u8]) -> bool {
    let named = |other: &str| name.eq_ignore_ascii_case(other.as_bytes());
    is_hop_by_hop(name)
        || match name.len() {
            6 => named("expect"),
            12 => named("x-request-id"),
            15 => named("x-forwarded-for"),
            16 => named("x-forwarded-port"),
            17 => named("x-forwarded-proto"),
            _ => false,
        }
}

/// Appends the line `name: value`. Every field of every request and response goes through
/// here: one capacity check for the line instead of one per piece.
pub(crate) fn put_field(head: &mut BytesMut, name: &[u8], value: &[u8]) {
    let n = name.len() + value.len() + 4;
    head.reserve(n);
    let line = &mut head.spare_capacity_mut()[..n];
    let (name_to, rest) = line.split_at_mut(name.len());
    name_to.write_copy_of_slice(name);
    let (colon, rest) = rest.split_at_mut(2);
    colon.write_copy_of_slice(b": ");
    let (value_to, end) = rest.split_at_mut(value.len());
    value_to.write_copy_of_slice(value);
    end.write_copy_of_slice(b"\r\n");
    // SAFETY: the `n` bytes after the current length were all written just above.
    unsafe { head.set_len(head.len() + n) };
}

fn is_named_by_connection<F: Fields + ?Sized>(fields: &F, name: &[u8]) -> bool {
    fields.all("connection").any(|value| has_token(value, name))
}

/// Whether the comma-separated list `value` (a `Connection` header, say) has `token`, in any
/// case.
pub(crate) fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&c| c == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (k, v) in pairs {
            headers.append(*k, HeaderValue::from_static(v));
        }
        headers
    }

    /// The head written for `headers`, read back as (name, value) pairs.
    fn written(headers: &HeaderMap, out: &Outbound<'_>) -> (String, Vec<(String, String)>) {
        let head = encode_request_head(
            &http::Method::GET,
            "/p?q=1",
            headers,
            out,
            &mut BytesMut::new(),
        );
        let mut fields = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut fields);
        assert!(request.parse(&head).unwrap().is_complete());
        let line = format!("{} {}", request.method.unwrap(), request.path.unwrap());
        let fields = request
            .headers
            .iter()
            .map(|f| {
                (
                    f.name.to_owned(),
                    String::from_utf8_lossy(f.value).into_owned(),
                )
            })
            .collect();
        (line, fields)
    }

    fn values<'a>(fields: &'a [(String, String)], name: &str) -> Vec<&'a str> {
        fields
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn client() -> ClientInfo {
        ClientInfo::new(
            [10, 0, 0, 7].into(),
            HeaderValue::from_static("8080"),
            false,
        )
    }

    fn outbound<'a>(client: &'a ClientInfo, id: &'a RequestId) -> Outbound<'a> {
        Outbound {
            client,
            request_id: id,
            host: None,
            upgrade: None,
            chunked: false,
        }
    }

    #[test]
    fn hop_by_hop_and_connection_named_headers_are_left_out() {
        let headers = map(&[
            ("host", "web.paas.test"),
            ("connection", "keep-alive, X-Secret"),
            ("connection", "x-other"),
            ("x-secret", "1"),
            ("x-other", "1"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("trailer", "x-sum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("proxy", "http://evil"),
            ("proxy-authorization", "Basic x"),
            ("proxy-connection", "keep-alive"),
            ("proxy-foo", "bar"),
            ("expect", "100-continue"),
            ("x-kept", "yes"),
            ("content-length", "3"),
        ]);
        let (client, id) = (client(), RequestId::Made(*b"0123456789abcdef"));
        let (line, fields) = written(&headers, &outbound(&client, &id));
        assert_eq!(line, "GET /p?q=1");
        let mut names: Vec<_> = fields.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "content-length",
                "host",
                "via",
                "x-forwarded-for",
                "x-forwarded-port",
                "x-forwarded-proto",
                "x-kept",
                "x-request-id"
            ]
        );

        // An upgrade keeps its own Connection and Upgrade; a chunked body says so.
        let protocol = HeaderValue::from_static("websocket");
        let out = Outbound {
            upgrade: Some(&protocol),
            chunked: true,
            host: Some("web.paas.test:8080"),
            ..outbound(&client, &id)
        };
        let (_, fields) = written(&headers, &out);
        assert_eq!(values(&fields, "connection"), ["upgrade"]);
        assert_eq!(values(&fields, "upgrade"), ["websocket"]);
        assert_eq!(values(&fields, "transfer-encoding"), ["chunked"]);
        assert_eq!(values(&fields, "host"), ["web.paas.test:8080"]);
    }

    /// The request head the process gets for `raw`, by the verbatim path when it applies
    /// (`Some`) and by the field-by-field one.
    fn both_ways(raw: &[u8]) -> (Option<bytes::Bytes>, bytes::Bytes) {
        let mut fields = [httparse::EMPTY_HEADER; 16];
        let mut request = httparse::Request::new(&mut fields);
        let len = match request.parse(raw).unwrap() {
            httparse::Status::Complete(len) => len,
            httparse::Status::Partial => panic!("incomplete head"),
        };
        let (client, id) = (client(), RequestId::Made(*b"0123456789abcdef"));
        let out = outbound(&client, &id);
        let method = http::Method::GET;
        let path = request.path.unwrap();
        let verbatim = verbatim_lines(&raw[..len], request.headers).map(|lines| {
            encode_request_head_verbatim(&method, path, lines, &out, &mut BytesMut::new())
        });
        let each =
            encode_request_head(&method, path, &*request.headers, &out, &mut BytesMut::new());
        (verbatim, each)
    }

    #[test]
    fn plain_heads_go_on_in_one_copy_and_as_they_would_field_by_field() {
        let raw = b"GET /p?q=1 HTTP/1.1\r\nHost: web.paas.test\r\nUser-Agent: curl/8\r\n\
                    Accept: */*\r\nCookie: a=1; b=2\r\n\r\n";
        let (verbatim, each) = both_ways(raw);
        assert_eq!(verbatim.as_deref(), Some(&each[..]));
        assert!(each.starts_with(b"GET /p?q=1 HTTP/1.1\r\nHost: web.paas.test\r\nUser-Agent"));
        assert!(each.ends_with(b"x-request-id: 0123456789abcdef\r\nvia: 1.1 paas\r\n\r\n"));
    }

    #[test]
    fn heads_with_fields_the_router_changes_or_odd_lines_go_field_by_field() {
        for field in [
            "Connection: keep-alive",
            "X-Forwarded-For: 203.0.113.9",
            "x-forwarded-proto: https",
            "X-Forwarded-Port: 443",
            "X-Request-Id: abc",
            "TE: trailers",
            "Proxy-Authorization: Basic x",
            "Keep-Alive: timeout=5",
        ] {
            let raw = format!("GET / HTTP/1.1\r\nHost: a.paas.test\r\n{field}\r\n\r\n");
            let (verbatim, each) = both_ways(raw.as_bytes());
            assert!(verbatim.is_none(), "{field} went on verbatim");
            let name = field.split(':').next().unwrap();
            let mut fields = [httparse::EMPTY_HEADER; 16];
            let mut parsed = httparse::Request::new(&mut fields);
            assert!(parsed.parse(&each).unwrap().is_complete());
            let written: Vec<_> = parsed
                .headers
                .iter()
                .filter(|f| f.name.eq_ignore_ascii_case(name))
                .map(|f| String::from_utf8_lossy(f.value).into_owned())
                .collect();
            let expected: &[&str] = match name.to_ascii_lowercase().as_str() {
                "x-forwarded-for" => &["203.0.113.9, 10.0.0.7"],
                "x-forwarded-proto" => &["http"],
                "x-forwarded-port" => &["8080"],
                "x-request-id" => &["0123456789abcdef"],
                _ => &[],
            };
            assert_eq!(written, expected, "{field}");
        }
        // Lines ended by a bare LF, or with space before the CRLF, are written out anew.
        for raw in [
            &b"GET / HTTP/1.1\nHost: a.paas.test\nAccept: */*\n\n"[..],
            b"GET / HTTP/1.1\r\nHost: a.paas.test \r\nAccept: */*\r\n\r\n",
        ] {
            let (verbatim, each) = both_ways(raw);
            assert!(verbatim.is_none());
            assert!(
                each.starts_with(b"GET / HTTP/1.1\r\nhost: a.paas.test\r\n")
                    || each.starts_with(b"GET / HTTP/1.1\r\nHost: a.paas.test\r\n")
            );
        }
    }

    #[test]
    fn content_lengths_are_digits_only() {
        for (value, length) in [
            ("0", Some(0)),
            ("14", Some(14)),
            (" 7 ", Some(7)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None),
            ("000000000000000000001", None),
            ("+5", None),
            ("-1", None),
            ("", None),
            ("1a", None),
            ("1,1", None),
            ("0x10", None),
        ] {
            assert_eq!(content_length(value.as_bytes()), length, "{value:?}");
        }
    }

    #[test]
    fn forwarded_headers_append_the_client() {
        let (client, id) = (client(), RequestId::Made(*b"0123456789abcdef"));
        let headers = map(&[
            ("x-forwarded-proto", "https"),
            ("x-forwarded-port", "1"),
            ("x-request-id", "forged"),
            ("via", "1.0 other"),
        ]);
        let (_, fields) = written(&headers, &outbound(&client, &id));
        assert_eq!(values(&fields, "x-forwarded-for"), ["10.0.0.7"]);
        assert_eq!(values(&fields, "x-forwarded-proto"), ["http"]);
        assert_eq!(values(&fields, "x-forwarded-port"), ["8080"]);
        assert_eq!(values(&fields, "x-request-id"), ["0123456789abcdef"]);
        assert_eq!(values(&fields, "via"), ["1.0 other", "1.1 paas"]);

        let headers = map(&[
            ("x-forwarded-for", "203.0.113.1, 198.51.100.2"),
            ("x-forwarded-for", "192.0.2.3,"),
        ]);
        let (_, fields) = written(&headers, &outbound(&client, &id));
        assert_eq!(
            values(&fields, "x-forwarded-for"),
            ["203.0.113.1, 198.51.100.2, 192.0.2.3, 10.0.0.7"]
        );
    }

    #[test]
    fn ipv4_mapped_clients_show_as_ipv4() {
        let ip: std::net::IpAddr = "::ffff:192.0.2.9".parse().unwrap();
        let client = ClientInfo::new(ip, HeaderValue::from_static("80"), false);
        assert_eq!(client.ip, "192.0.2.9");
    }
}
