//! Response heads on their way to the client: a process's, kept in the bytes it came in
//! (its hop-by-hop fields left out) plus the fields the router adds, or one of the router's
//! own pages. The router's HTTP/1.1 server writes a process's head straight from those bytes;
//! hyper's servers get a header map built from them.

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};

use crate::body::ResponseBody;

/// Where a field's name and value are in the head's bytes.
#[derive(Clone, Copy)]
struct Span {
    name: (u32, u32),
    value: (u32, u32),
}

/// A process's response head.
pub(crate) struct ProcessHead {
    pub(crate) status: StatusCode,
    raw: Bytes,
    fields: Vec<Span>,
    added: Vec<(HeaderName, HeaderValue)>,
    /// Whether the process sent Content-Length and Date (the router adds neither to `added`).
    has_length: bool,
    has_date: bool,
}

impl ProcessHead {
    /// `fields` are (name, value) slices of `raw`.
    pub(crate) fn new<'r>(
        status: StatusCode,
        raw: &'r Bytes,
        fields: impl Iterator<Item = (&'r [u8], &'r [u8])>,
    ) -> ProcessHead {
        let base = raw.as_ptr() as usize;
        let at = |s: &[u8]| ((s.as_ptr() as usize - base) as u32, s.len() as u32);
        let (mut has_length, mut has_date) = (false, false);
        let fields = fields
            .map(|(name, value)| {
                has_length |= name.eq_ignore_ascii_case(b"content-length");
                has_date |= name.eq_ignore_ascii_case(b"date");
                Span {
                    name: at(name),
                    value: at(value),
                }
            })
            .collect();
        ProcessHead {
            status,
            raw: raw.clone(),
            fields,
            // Request id, Via and maybe a cookie.
            added: Vec::with_capacity(3),
            has_length,
            has_date,
        }
    }

    fn slice(&self, (at, len): (u32, u32)) -> &[u8] {
        &self.raw[at as usize..(at + len) as usize]
    }

    /// Every field, the process's first, in the order they go out.
    pub(crate) fn fields(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let raw = self
            .fields
            .iter()
            .map(|span| (self.slice(span.name), self.slice(span.value)));
        let added = self
            .added
            .iter()
            .map(|(name, value)| (name.as_str().as_bytes(), value.as_bytes()));
        raw.chain(added)
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

    /// Removes the process's fields named `name` (any case).
    pub(crate) fn remove(&mut self, name: &[u8]) {
        let raw = &self.raw;
        self.fields.retain(|span| {
            let (at, len) = span.name;
            !raw[at as usize..(at + len) as usize].eq_ignore_ascii_case(name)
        });
    }

    pub(crate) fn append(&mut self, name: HeaderName, value: HeaderValue) {
        self.added.push((name, value));
    }

    /// As hyper's servers take it.
    pub(crate) fn into_parts(self) -> http::response::Parts {
        let mut headers = HeaderMap::with_capacity(self.fields.len() + self.added.len());
        for span in &self.fields {
            // The parser let through only valid names and values.
            let name = HeaderName::from_bytes(self.slice(span.name));
            let (at, len) = span.value;
            let value =
                HeaderValue::from_maybe_shared(self.raw.slice(at as usize..(at + len) as usize));
            if let (Ok(name), Ok(value)) = (name, value) {
                headers.append(name, value);
            }
        }
        for (name, value) in self.added {
            headers.append(name, value);
        }
        let mut response = Response::new(());
        *response.status_mut() = self.status;
        *response.headers_mut() = headers;
        response.into_parts().0
    }
}

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

    #[test]
    fn fields_come_from_the_head_and_the_router() {
        let raw = Bytes::from_static(b"X-A: 1\r\nX-Request-Id: theirs\r\nx-b: 2\r\n");
        let mut fields = [httparse::EMPTY_HEADER; 4];
        let httparse::Status::Complete((_, parsed)) = httparse::parse_headers(
            b"X-A: 1\r\nX-Request-Id: theirs\r\nx-b: 2\r\n\r\n",
            &mut fields,
        )
        .unwrap() else {
            panic!("complete")
        };
        // Spans are offsets, so parse the very bytes kept.
        let offsets: Vec<(usize, usize, usize, usize)> = parsed
            .iter()
            .map(|f| {
                let base = parsed[0].name.as_ptr() as usize;
                (
                    f.name.as_ptr() as usize - base,
                    f.name.len(),
                    f.value.as_ptr() as usize - base,
                    f.value.len(),
                )
            })
            .collect();
        let mut head = ProcessHead::new(
            StatusCode::OK,
            &raw,
            offsets
                .iter()
                .map(|&(n, nl, v, vl)| (&raw[n..n + nl], &raw[v..v + vl])),
        );
        head.remove(b"x-request-id");
        head.append(
            HeaderName::from_static("x-request-id"),
            HeaderValue::from_static("ours"),
        );
        let listed: Vec<(String, String)> = head
            .fields()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                ("X-A".to_owned(), "1".to_owned()),
                ("x-b".to_owned(), "2".to_owned()),
                ("x-request-id".to_owned(), "ours".to_owned()),
            ]
        );
        assert_eq!(head.get("x-a"), Some(&b"1"[..]));
        let parts = head.into_parts();
        assert_eq!(parts.headers["x-a"], "1");
        assert_eq!(parts.headers["x-request-id"], "ours");
        assert_eq!(parts.headers.len(), 3);
    }
}
