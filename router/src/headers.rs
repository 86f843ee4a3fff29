//! Header rewriting on the way to a backend and back.

use http::header::{
    HeaderMap, HeaderName, HeaderValue, CONNECTION, EXPECT, TE, TRAILER, TRANSFER_ENCODING,
    UPGRADE, VIA,
};

pub(crate) static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
/// Not a standard header, but CGI-style apps turn it into HTTP_PROXY ("httpoxy").
static PROXY: HeaderName = HeaderName::from_static("proxy");
static VIA_PAAS: HeaderValue = HeaderValue::from_static("1.1 paas");
static PROTO_HTTP: HeaderValue = HeaderValue::from_static("http");
static PROTO_HTTPS: HeaderValue = HeaderValue::from_static("https");

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

/// The request's id: the client's `X-Request-Id` when it is sane, otherwise a new random one.
pub(crate) fn request_id(headers: &HeaderMap) -> HeaderValue {
    if let Some(id) = headers.get(&X_REQUEST_ID) {
        if is_sane_request_id(id.as_bytes()) {
            return id.clone();
        }
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let n: u64 = rand::random();
    let mut id = [0u8; 16];
    for (i, c) in id.iter_mut().enumerate() {
        *c = HEX[((n >> (60 - 4 * i)) & 0xf) as usize];
    }
    HeaderValue::from_bytes(&id).expect("hex is a valid header value")
}

/// Heroku's rule (alphanumerics and `+/=-`, at most 200), except that ids from 8 characters are
/// kept, so our own 16-hex ids survive a second hop through a router.
fn is_sane_request_id(id: &[u8]) -> bool {
    (8..=200).contains(&id.len())
        && id
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"+/=-".contains(c))
}

/// Removes hop-by-hop headers (RFC 9110 7.6.1): they describe one connection, not the message.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one pass of comparisons instead of a dozen removals.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    // Indexing instead of collecting keeps this allocation-free.
    let mut i = 0;
    while let Some(value) = headers.get_all(CONNECTION).iter().nth(i).cloned() {
        i += 1;
        let Ok(value) = value.to_str() else { continue };
        for name in value.split(',').map(str::trim) {
            // Removing Connection itself here would shift the index; it goes below.
            if !name.is_empty() && !name.eq_ignore_ascii_case("connection") {
                headers.remove(name);
            }
        }
    }
    for name in [
        &CONNECTION,
        &KEEP_ALIVE,
        &TE,
        &TRAILER,
        &TRANSFER_ENCODING,
        &UPGRADE,
        &PROXY,
    ] {
        headers.remove(name);
    }
    // Proxy-Authorization, Proxy-Connection, ...: addressed to a proxy, and we are the last one.
    while let Some(name) = headers
        .keys()
        .find(|n| n.as_str().starts_with("proxy-"))
        .cloned()
    {
        headers.remove(&name);
    }
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    let name = name.as_str();
    matches!(
        name,
        "connection" | "keep-alive" | "te" | "trailer" | "transfer-encoding" | "upgrade" | "proxy"
    ) || name.starts_with("proxy-")
}

/// Adds what the app needs to know about the original request.
pub(crate) fn add_forwarded(
    headers: &mut HeaderMap,
    client: &ClientInfo,
    request_id: &HeaderValue,
) {
    let forwarded_for = if headers.contains_key(&X_FORWARDED_FOR) {
        append_forwarded_for(headers, &client.ip)
    } else {
        client.ip.clone()
    };
    headers.insert(X_FORWARDED_FOR.clone(), forwarded_for);
    let proto = if client.tls {
        &PROTO_HTTPS
    } else {
        &PROTO_HTTP
    };
    headers.insert(X_FORWARDED_PROTO.clone(), proto.clone());
    headers.insert(X_FORWARDED_PORT.clone(), client.port.clone());
    headers.insert(X_REQUEST_ID.clone(), request_id.clone());
    headers.append(VIA, VIA_PAAS.clone());
    // The router already answered it (hyper sends 100 Continue when the body is first read).
    headers.remove(EXPECT);
}

/// The incoming `X-Forwarded-For` list (all its lines) with the client IP appended.
fn append_forwarded_for(headers: &HeaderMap, ip: &HeaderValue) -> HeaderValue {
    let mut list = String::with_capacity(64);
    for value in headers.get_all(&X_FORWARDED_FOR) {
        let Ok(value) = value.to_str() else { continue };
        let value = value.trim().trim_end_matches(',');
        if !value.is_empty() {
            list.push_str(value);
            list.push_str(", ");
        }
    }
    list.push_str(ip.to_str().unwrap_or_default());
    HeaderValue::try_from(list).unwrap_or_else(|_| ip.clone())
}

/// Rewrites a backend's response headers for the client.
pub(crate) fn prepare_response(headers: &mut HeaderMap, request_id: &HeaderValue) {
    strip_hop_by_hop(headers);
    headers.insert(X_REQUEST_ID.clone(), request_id.clone());
    headers.append(VIA, VIA_PAAS.clone());
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

    #[test]
    fn strips_hop_by_hop_and_connection_named_headers() {
        let mut headers = map(&[
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
            ("x-kept", "yes"),
            ("content-length", "3"),
        ]);
        strip_hop_by_hop(&mut headers);
        let mut left: Vec<_> = headers.keys().map(|k| k.as_str()).collect();
        left.sort();
        assert_eq!(left, ["content-length", "x-kept"]);
    }

    #[test]
    fn forwarded_headers_append_the_client() {
        let client = ClientInfo::new(
            [10, 0, 0, 7].into(),
            HeaderValue::from_static("8080"),
            false,
        );
        let id = HeaderValue::from_static("0123456789abcdef");

        let mut headers = map(&[("x-forwarded-proto", "https"), ("via", "1.0 other")]);
        add_forwarded(&mut headers, &client, &id);
        assert_eq!(headers["x-forwarded-for"], "10.0.0.7");
        assert_eq!(headers["x-forwarded-proto"], "http");
        assert_eq!(headers["x-forwarded-port"], "8080");
        assert_eq!(headers["x-request-id"], "0123456789abcdef");
        let via: Vec<_> = headers.get_all("via").iter().collect();
        assert_eq!(via, ["1.0 other", "1.1 paas"]);

        let mut headers = map(&[
            ("x-forwarded-for", "203.0.113.1, 198.51.100.2"),
            ("x-forwarded-for", "192.0.2.3"),
        ]);
        add_forwarded(&mut headers, &client, &id);
        assert_eq!(
            headers["x-forwarded-for"],
            "203.0.113.1, 198.51.100.2, 192.0.2.3, 10.0.0.7"
        );
    }

    #[test]
    fn ipv4_mapped_clients_show_as_ipv4() {
        let ip: std::net::IpAddr = "::ffff:192.0.2.9".parse().unwrap();
        let client = ClientInfo::new(ip, HeaderValue::from_static("80"), false);
        assert_eq!(client.ip, "192.0.2.9");
    }

    #[test]
    fn request_id_keeps_sane_ids_only() {
        let sane = "Abc123+/=-Abc123+/=-";
        assert_eq!(request_id(&map(&[("x-request-id", sane)])), sane);
        for bad in [
            "short",
            "has space in it here",
            "semi;colon;semi;colon",
            "<script>alert</script>",
        ] {
            let id = request_id(&map(&[("x-request-id", bad)]));
            assert_ne!(id, bad);
            assert_eq!(id.len(), 16);
        }
        let long = "a".repeat(201);
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-request-id",
            HeaderValue::try_from(long.as_str()).unwrap(),
        );
        assert_eq!(request_id(&headers).len(), 16);

        let generated = request_id(&HeaderMap::new());
        assert!(generated.as_bytes().iter().all(u8::is_ascii_hexdigit));
        assert_ne!(generated, request_id(&HeaderMap::new()));
    }
}
