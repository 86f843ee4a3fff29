//! Response heads on their way to the client: a process's, kept in the bytes it came in
//! (its hop-by-hop fields left out) plus the fields the router adds, or one of the router's
//! own pages. The router's HTTP/1.1 server writes a process's head straight from those bytes;
//! hyper's servers get a header map built from them.

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};

use crate::body::ResponseBody;
use crate::headers;
use crate::request_id::RequestId;

/// Where a field's name and value are in a head: (offset, length) each.
pub(crate) type FieldSpan = ((usize, usize), (usize, usize));

/// A process's response head.
pub(crate) struct ProcessHead {
    pub(crate) status: StatusCode,
    /// The process's fields that go on, as header lines (`name: value\r\n` each): most often
    /// a slice of the head as it came, otherwise a copy of the lines kept.
    lines: Bytes,
    /// Whether the process sent Content-Length and Date (the router adds neither).
    has_length: bool,
    has_date: bool,
    /// What the router adds.
    request_id: Option<RequestId>,
    /// Rare (a client's first canary answer): out of line, so the head stays small to move.
    cookie: Option<Box<HeaderValue>>,
}

impl ProcessHead {
    /// `spans` are the fields of `raw` that go on, as ((offset, length) of the name, (offset,
    /// length) of the value); `all` when no field of the head was left out. `has` says whether
    /// those fields include Content-Length and Date (the parser has looked at every name).
    pub(crate) fn new(
        status: StatusCode,
        raw: &Bytes,
        spans: &[FieldSpan],
        all: bool,
        has: Has,
    ) -> ProcessHead {
        let slice = |(at, n): (usize, usize)| &raw[at..at + n];
        // Lines that lie as they came go on as a slice of the head.
        let in_place = all
            .then(|| {
                headers::lines_in_place(raw, spans.iter().map(|&((at, _), (v, n))| (at, v + n)))
            })
            .flatten();
        let lines = match in_place {
            Some(range) => raw.slice(range),
            None if spans.is_empty() => Bytes::new(),
            None => {
                let size = spans.iter().map(|(n, v)| n.1 + v.1 + 4).sum();
                let mut lines = Vec::with_capacity(size);
                for &(name, value) in spans {
                    lines.extend_from_slice(slice(name));
                    lines.extend_from_slice(b": ");
                    lines.extend_from_slice(slice(value));
                    lines.extend_from_slice(b"\r\n");
                }
                Bytes::from(lines)
            }
        };
        ProcessHead {
            status,
            lines,
            has_length: has.length,
            has_date: has.date,
            request_id: None,
            cookie: None,
        }
    }

    /// The process's header lines, to be written as they are.
    pub(crate) fn lines(&self) -> &Bytes {
        &self.lines
    }

    /// Lets go of the lines once they are written: they share the process connection's read
    /// buffer, which can then reuse its space for the body.
    pub(crate) fn release_lines(&mut self) {
        self.lines = Bytes::new();
    }

    /// The fields the router adds, in the order they go out.
    pub(crate) fn added(&self) -> impl Iterator<Item = (&'static str, HeaderValue)> + '_ {
        let id = self
            .request_id
            .iter()
            .map(|v| ("x-request-id", v.to_header()));
        let via = std::iter::once(("via", VIA_PAAS.clone()));
        let cookie = self.cookie.iter().map(|v| ("set-cookie", (**v).clone()));
        id.chain(via).chain(cookie)
    }

    /// Writes the fields the router adds as header lines (as [`ProcessHead::added`] lists them).
    pub(crate) fn write_added(&self, into: &mut bytes::BytesMut) {
        if let Some(id) = &self.request_id {
            into.extend_from_slice(b"x-request-id: ");
            into.extend_from_slice(id.as_bytes());
            into.extend_from_slice(b"\r\n");
        }
        into.extend_from_slice(b"via: 1.1 paas\r\n");
        if let Some(cookie) = &self.cookie {
            into.extend_from_slice(b"set-cookie: ");
            into.extend_from_slice(cookie.as_bytes());
            into.extend_from_slice(b"\r\n");
        }
    }

    pub(crate) fn set_request_id(&mut self, id: RequestId) {
        self.request_id = Some(id);
    }

    pub(crate) fn set_cookie(&mut self, cookie: HeaderValue) {
        self.cookie = Some(Box::new(cookie));
    }

    /// The process's fields (not the router's), parsed back from the lines.
    pub(crate) fn fields(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.lines.split(|&c| c == b'\n').filter_map(|line| {
            let line = line.strip_suffix(b"\r")?;
            let colon = line.iter().position(|&c| c == b':')?;
            Some((&line[..colon], line[colon + 1..].trim_ascii()))
        })
    }

    #[cfg(test)]
    pub(crate) fn get(&self, name: &str) -> Option<&[u8]> {
        self.fields()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, value)| value)
    }

    #[cfg(test)]
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// As hyper's servers take it.
    pub(crate) fn into_parts(self) -> http::response::Parts {
        let mut headers = HeaderMap::with_capacity(8);
        for (name, value) in self.fields() {
            // The parser let through only valid names and values.
            if let (Ok(name), Ok(value)) =
                (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
            {
                headers.append(name, value);
            }
        }
        for (name, value) in self.added() {
            headers.append(name, value);
        }
        let mut response = Response::new(());
        *response.status_mut() = self.status;
        *response.headers_mut() = headers;
        response.into_parts().0
    }
}

/// Whether a process's head, as it goes on, has Content-Length and Date.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Has {
    pub(crate) length: bool,
    pub(crate) date: bool,
}

impl Has {
    /// Looks at the names of the fields `spans` keep of `raw`.
    pub(crate) fn of(raw: &[u8], spans: &[FieldSpan]) -> Has {
        let mut has = Has::default();
        for &((at, n), _) in spans {
            let name = &raw[at..at + n];
            has.length |= name.eq_ignore_ascii_case(b"content-length");
            has.date |= name.eq_ignore_ascii_case(b"date");
        }
        has
    }
}

static VIA_PAAS: HeaderValue = HeaderValue::from_static("1.1 paas");

/// A response's head: a process's or the router's own.
pub(crate) enum ReplyHead {
    Process(ProcessHead),
    Page(http::response::Parts),
}

/// What the router answers a request with.
pub(crate) struct Reply {
    pub(crate) head: ReplyHead,
    pub(crate) body: ResponseBody,
}

impl Reply {
    pub(crate) fn status(&self) -> StatusCode {
        match &self.head {
            ReplyHead::Process(head) => head.status,
            ReplyHead::Page(parts) => parts.status,
        }
    }

    pub(crate) fn has_length(&self) -> bool {
        match &self.head {
            ReplyHead::Process(head) => head.has_length,
            ReplyHead::Page(parts) => parts.headers.contains_key(http::header::CONTENT_LENGTH),
        }
    }

    pub(crate) fn has_date(&self) -> bool {
        match &self.head {
            ReplyHead::Process(head) => head.has_date,
            ReplyHead::Page(parts) => parts.headers.contains_key(http::header::DATE),
        }
    }

    /// As hyper's servers take it.
    pub(crate) fn into_response(self) -> Response<ResponseBody> {
        let parts = match self.head {
            ReplyHead::Process(head) => head.into_parts(),
            ReplyHead::Page(parts) => parts,
        };
        Response::from_parts(parts, self.body)
    }
}

impl From<Response<ResponseBody>> for Reply {
    fn from(response: Response<ResponseBody>) -> Reply {
        let (parts, body) = response.into_parts();
        Reply {
            head: ReplyHead::Page(parts),
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(raw: &'static [u8], keep: &[&str]) -> (ProcessHead, bool) {
        let raw = Bytes::from_static(raw);
        let mut fields = [httparse::EMPTY_HEADER; 8];
        let mut response = httparse::Response::new(&mut fields);
        assert!(response.parse(&raw).unwrap().is_complete());
        let base = raw.as_ptr() as usize;
        let at = |s: &[u8]| (s.as_ptr() as usize - base, s.len());
        let spans: Vec<_> = response
            .headers
            .iter()
            .filter(|f| keep.contains(&f.name))
            .map(|f| (at(f.name.as_bytes()), at(f.value)))
            .collect();
        let all = spans.len() == response.headers.len();
        let head = ProcessHead::new(StatusCode::OK, &raw, &spans, all, Has::of(&raw, &spans));
        let shared = head.lines.as_ptr() as usize >= base
            && (head.lines.as_ptr() as usize) < base + raw.len();
        (head, shared)
    }

    #[test]
    fn lines_are_passed_on_in_place_when_nothing_is_left_out() {
        let (head, shared) = parsed(
            b"HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 2\r\n\r\n",
            &["X-A", "Content-Length"],
        );
        assert!(shared, "no copy");
        assert_eq!(&head.lines()[..], b"X-A: 1\r\nContent-Length: 2\r\n");
        assert!(head.has_length && !head.has_date);

        let (head, shared) = head_of_kept();
        assert!(!shared, "a copy without the field left out");
        assert_eq!(&head.lines()[..], b"X-A: 1\r\nDate: today\r\n");
        assert!(head.has_date && !head.has_length);

        // Lines ended by a bare LF are written out anew.
        let (head, shared) = parsed(b"HTTP/1.1 200 OK\nX-A: 1\nX-B: 2\n\n", &["X-A", "X-B"]);
        assert!(!shared);
        assert_eq!(&head.lines()[..], b"X-A: 1\r\nX-B: 2\r\n");
    }

    fn head_of_kept() -> (ProcessHead, bool) {
        parsed(
            b"HTTP/1.1 200 OK\r\nX-A: 1\r\nKeep-Alive: 5\r\nDate: today\r\n\r\n",
            &["X-A", "Date"],
        )
    }

    #[test]
    fn the_router_adds_its_fields_after_the_process() {
        let (mut head, _) = head_of_kept();
        head.set_request_id(RequestId::Given(HeaderValue::from_static("ours")));
        head.set_cookie(HeaderValue::from_static("c=1"));
        let added: Vec<(&str, String)> = head
            .added()
            .map(|(n, v)| (n, v.to_str().unwrap().to_owned()))
            .collect();
        assert_eq!(
            added,
            [
                ("x-request-id", "ours".to_owned()),
                ("via", "1.1 paas".to_owned()),
                ("set-cookie", "c=1".to_owned())
            ]
        );
        let mut written = bytes::BytesMut::new();
        head.write_added(&mut written);
        let listed: String = head
            .added()
            .map(|(n, v)| format!("{n}: {}\r\n", v.to_str().unwrap()))
            .collect();
        assert_eq!(&written[..], listed.as_bytes());
        assert_eq!(head.get("date"), Some(&b"today"[..]));
        let parts = head.into_parts();
        assert_eq!(parts.headers["x-a"], "1");
        assert_eq!(parts.headers["x-request-id"], "ours");
        assert_eq!(parts.headers["via"], "1.1 paas");
        assert_eq!(parts.headers.len(), 5);
    }
}
