//! Request ids: the client's `X-Request-Id` when it is sane, otherwise 16 hex digits made here.
//! A made id stays 16 bytes inline until a header map needs it (pages, hyper's servers): every
//! request has one, and most only ever write it out as bytes.

use std::fmt;

use http::header::HeaderValue;

use crate::headers::Fields;

#[derive(Clone, PartialEq, Eq)]
pub(crate) enum RequestId {
    Made([u8; 16]),
    Given(HeaderValue),
}

impl RequestId {
    /// The request's id, from its fields.
    pub(crate) fn of<F: Fields + ?Sized>(fields: &F) -> RequestId {
        if let Some(id) = fields.first("x-request-id") {
            if is_sane(id) {
                if let Ok(id) = HeaderValue::from_bytes(id) {
                    return RequestId::Given(id);
                }
            }
        }
        let n = NEXT.with(|state| {
            // wyrand: 64 random-looking bits per step from a state seeded once per thread.
            let s = state.get().wrapping_add(0xa076_1d64_78bd_642f);
            state.set(s);
            let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
            ((t >> 64) as u64) ^ (t as u64)
        });
        let mut id = [0u8; 16];
        for (pair, byte) in id.chunks_exact_mut(2).zip(n.to_be_bytes()) {
            pair.copy_from_slice(&HEX_PAIRS[usize::from(byte)]);
        }
        RequestId::Made(id)
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            RequestId::Made(id) => id,
            RequestId::Given(id) => id.as_bytes(),
        }
    }

    /// Made ids are hex and given ones passed [`is_sane`]: ASCII either way.
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("-")
    }

    pub(crate) fn to_header(&self) -> HeaderValue {
        match self {
            RequestId::Made(id) => {
                HeaderValue::from_bytes(id).expect("hex is a valid header value")
            }
            RequestId::Given(id) => id.clone(),
        }
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

thread_local! {
    /// Request ids need to be unique, not secret: a fast generator seeded from the OS's
    /// randomness (through `rand`) once per thread instead of `rand`'s CSPRNG per request.
    static NEXT: std::cell::Cell<u64> = std::cell::Cell::new(rand::random());
}

/// The two hex digits of each byte.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut table = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = [HEX[i >> 4], HEX[i & 0xf]];
        i += 1;
    }
    table
};

/// Heroku's rule (alphanumerics and `+/=-`, at most 200), except that ids from 8 characters are
/// kept, so our own 16-hex ids survive a second hop through a router.
fn is_sane(id: &[u8]) -> bool {
    (8..=200).contains(&id.len())
        && id
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"+/=-".contains(c))
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::*;

    fn of(id: &str) -> RequestId {
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::try_from(id).unwrap());
        RequestId::of(&headers)
    }

    #[test]
    fn sane_ids_are_kept_and_others_replaced() {
        let sane = "Abc123+/=-Abc123+/=-";
        let long = "a".repeat(201);
        assert_eq!(of(sane).as_str(), sane);
        assert_eq!(of(sane).to_header(), sane);
        for bad in [
            "short",
            "has space in it here",
            "semi;colon;semi;colon",
            "<script>alert</script>",
            long.as_str(),
        ] {
            let id = of(bad);
            assert_ne!(id.as_str(), bad);
            assert!(matches!(id, RequestId::Made(_)));
        }
        let made = RequestId::of(&HeaderMap::new());
        assert_eq!(made.to_header().as_bytes(), made.as_bytes());
        assert_eq!(format!("{made}"), made.as_str());
        assert_ne!(made, RequestId::of(&HeaderMap::new()));
    }

    #[test]
    fn made_ids_are_distinct_lower_hex_and_differ_per_thread() {
        let ids = || -> Vec<RequestId> {
            (0..5_000)
                .map(|_| RequestId::of(&HeaderMap::new()))
                .collect()
        };
        let mut all = ids();
        all.extend(std::thread::spawn(ids).join().unwrap());
        for id in &all {
            assert_eq!(id.as_bytes().len(), 16, "{id:?}");
            assert!(
                id.as_bytes()
                    .iter()
                    .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')),
                "{id:?}"
            );
        }
        let distinct: std::collections::HashSet<_> = all.iter().map(RequestId::as_bytes).collect();
        assert_eq!(distinct.len(), all.len(), "a request id came up twice");
    }
}
