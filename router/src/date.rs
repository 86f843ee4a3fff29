//! The `Date` of responses that come without one (RFC 9110 6.6.1: a proxy adds it), formatted
//! once a second per thread.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

/// `date: Sun, 06 Nov 1994 08:49:37 GMT\r\n`
const LEN: usize = 6 + 29 + 2;

thread_local! {
    static CACHED: RefCell<(u64, [u8; LEN])> = const { RefCell::new((u64::MAX, [0; LEN])) };
}

/// Appends `date: <now>\r\n` to `head`.
pub(crate) fn put(head: &mut bytes::BytesMut) {
    let now = SystemTime::now();
    let second = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    CACHED.with_borrow_mut(|(at, text)| {
        if *at != second {
            let line = format!("date: {}\r\n", httpdate::fmt_http_date(now));
            if line.len() != LEN {
                // A year beyond four digits: written, not cached.
                return head.extend_from_slice(line.as_bytes());
            }
            text.copy_from_slice(line.as_bytes());
            *at = second;
        }
        head.extend_from_slice(text);
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_http_date() {
        let mut head = bytes::BytesMut::new();
        super::put(&mut head);
        let line = String::from_utf8(head.to_vec()).unwrap();
        let value = line
            .strip_prefix("date: ")
            .unwrap()
            .strip_suffix("\r\n")
            .unwrap();
        let parsed = httpdate::parse_http_date(value).unwrap();
        let age = std::time::SystemTime::now().duration_since(parsed).unwrap();
        assert!(age.as_secs() < 2, "{value}");
    }
}
