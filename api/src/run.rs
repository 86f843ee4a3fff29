//! The wire protocol of attached one-off processes (`paas run`), spoken over the WebSocket at a
//! dyno's `attach_url` (docs/run.md). Every message is a binary frame whose first byte is the
//! channel and whose rest is the payload.

use serde::{Deserialize, Serialize};

/// Client to server: bytes for the process's stdin.
pub const STDIN: u8 = 0;
/// Server to client: bytes the process wrote to stdout (everything, with a terminal).
pub const STDOUT: u8 = 1;
/// Server to client: bytes the process wrote to stderr.
pub const STDERR: u8 = 2;
/// Client to server: the terminal's size, JSON [`Resize`]; first right after connecting, then
/// whenever it changes. Ignored without a terminal.
pub const RESIZE: u8 = 3;
/// Server to client: the process ended, JSON [`ExitStatus`]; the server closes next.
pub const EXIT: u8 = 4;
/// Client to server: the end of stdin (empty payload); the process reads end of file. Ignored
/// with a terminal, where ^D typed into it ends input.
pub const STDIN_EOF: u8 = 5;
/// Server to client: the process could not be run or followed, JSON
/// [`ErrorBody`](crate::ErrorBody); the server closes next.
pub const ERROR: u8 = 6;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Resize {
    pub cols: u16,
    pub rows: u16,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExitStatus {
    pub code: i64,
    /// The kernel killed the process for using more memory than its limit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub oom_killed: bool,
}

/// One frame: `channel` then `payload`.
pub fn frame(channel: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(payload.len() + 1);
    f.push(channel);
    f.extend_from_slice(payload);
    f
}

/// A frame's channel and payload; `None` for an empty frame.
pub fn split(frame: &[u8]) -> Option<(u8, &[u8])> {
    let (&channel, payload) = frame.split_first()?;
    Some((channel, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let f = frame(STDOUT, b"hello");
        assert_eq!(f, b"\x01hello");
        assert_eq!(split(&f), Some((STDOUT, &b"hello"[..])));
        assert_eq!(split(&frame(STDIN_EOF, b"")), Some((STDIN_EOF, &b""[..])));
        assert_eq!(split(b""), None);
    }

    #[test]
    fn exit_status_json() {
        let plain = ExitStatus {
            code: 3,
            oom_killed: false,
        };
        assert_eq!(serde_json::to_string(&plain).unwrap(), r#"{"code":3}"#);
        let parsed: ExitStatus = serde_json::from_str(r#"{"code":137,"oom_killed":true}"#).unwrap();
        assert!(parsed.oom_killed);
        let r: Resize = serde_json::from_str(r#"{"cols":80,"rows":24}"#).unwrap();
        assert_eq!((r.cols, r.rows), (80, 24));
    }
}
