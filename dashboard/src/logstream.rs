//! Log lines out of a log session's stream, whichever way the API sends them: plain text, one
//! line per log line, or server-sent events (`data:` lines). The dashboard re-sends them to the
//! browser as server-sent events either way, so the page's script reads one format.

/// Splits a byte stream into log lines as chunks arrive (a chunk may end mid-line).
#[derive(Debug)]
pub struct LineDecoder {
    sse: bool,
    pending: Vec<u8>,
}

impl LineDecoder {
    /// `content_type`: the stream's `Content-Type` (`text/event-stream` means SSE).
    pub fn new(content_type: Option<&str>) -> LineDecoder {
        let sse = content_type.is_some_and(|t| {
            t.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/event-stream"))
        });
        LineDecoder {
            sse,
            pending: Vec::new(),
        }
    }

    /// The complete lines in what has arrived so far.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(chunk);
        let mut lines = Vec::new();
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let raw: Vec<u8> = self.pending.drain(..=end).collect();
            if let Some(line) = self.line(&raw[..end]) {
                lines.push(line);
            }
        }
        lines
    }

    /// Whatever was left without a final newline, when the stream ends.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.pending);
        if rest.is_empty() {
            return None;
        }
        self.line(&rest)
    }

    fn line(&self, raw: &[u8]) -> Option<String> {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = String::from_utf8_lossy(raw);
        if !self.sse {
            return Some(text.into_owned());
        }
        // Only `data` fields carry lines; `event`, `id`, `retry`, comments (`:`) and the blank
        // line ending each event do not.
        let value = text.strip_prefix("data")?;
        if value.is_empty() {
            return Some(String::new());
        }
        let value = value.strip_prefix(':')?;
        Some(value.strip_prefix(' ').unwrap_or(value).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_lines_across_chunks() {
        let mut d = LineDecoder::new(Some("text/plain; charset=utf-8"));
        assert_eq!(d.push(b"2024 app[web.1]: hel"), Vec::<String>::new());
        assert_eq!(
            d.push(b"lo\r\nsecond\n\nthird"),
            vec!["2024 app[web.1]: hello", "second", ""]
        );
        assert_eq!(d.finish().as_deref(), Some("third"));
        assert_eq!(d.finish(), None);
    }

    #[test]
    fn server_sent_events_keep_only_data() {
        let mut d = LineDecoder::new(Some("text/event-stream"));
        let lines = d.push(
            b": keep-alive\n\nevent: log\nid: 7\ndata: 2024 app[web.1]: <b>hi</b>\n\ndata:no space\ndata\ndatabase: x\n",
        );
        assert_eq!(lines, vec!["2024 app[web.1]: <b>hi</b>", "no space", ""]);
        let mut d = LineDecoder::new(Some("Text/Event-Stream; charset=utf-8"));
        assert_eq!(d.push(b"data: a\r\n\r\n"), vec!["a"]);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_dropped() {
        let mut d = LineDecoder::new(None);
        assert_eq!(d.push(b"a\xffb\n"), vec!["a\u{fffd}b"]);
    }
}
