//! A container's log stream as lines.

use bollard::query_parameters::LogsOptionsBuilder;
use bollard::Docker;
use chrono::{DateTime, Utc};
use futures_util::{future, stream, StreamExt};

use crate::runtime::{LogLine, LogStream, LogsFrom, Process};

pub(super) fn stream(
    docker: &Docker,
    process: &Process,
    from: LogsFrom,
    follow: bool,
) -> LogStream {
    let options = LogsOptionsBuilder::new()
        .stdout(true)
        .stderr(true)
        .timestamps(true)
        .follow(follow);
    let options = match from {
        LogsFrom::Tail(n) => options.tail(&n.to_string()),
        // The engine takes whole seconds; 0 would mean "from the start" anyway.
        LogsFrom::Since(t) => options
            .tail("all")
            .since(i32::try_from(t.timestamp().max(0)).unwrap_or(i32::MAX)),
    }
    .build();
    let name = process.name();
    let id = process.id.clone();
    let chunks = docker.logs(&process.id, Some(options));
    Box::pin(
        chunks
            // LogStream carries lines only: an engine error ends the stream, and is logged.
            .scan((), move |_, chunk| {
                future::ready(match chunk {
                    Ok(chunk) => Some(chunk.into_bytes()),
                    Err(e) => {
                        tracing::warn!(container = %id, error = %e, "log stream ended");
                        None
                    }
                })
            })
            .flat_map(move |bytes| stream::iter(lines(&name, &bytes))),
    )
}

/// Splits one chunk from the engine into lines, each with the timestamp the engine put in front.
fn lines(process: &str, chunk: &[u8]) -> Vec<LogLine> {
    let text = String::from_utf8_lossy(chunk);
    text.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.is_empty())
        .map(|l| {
            let stamped = l
                .split_once(' ')
                .and_then(|(t, rest)| Some((DateTime::parse_from_rfc3339(t).ok()?, rest)));
            let (time, line) = match stamped {
                Some((t, rest)) => (t.with_timezone(&Utc), rest),
                None => (Utc::now(), l),
            };
            LogLine {
                time,
                process: process.to_owned(),
                line: line.to_owned(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_split_into_stamped_lines() {
        let chunk = b"2024-05-01T10:00:00.123456789Z hello world\n2024-05-01T10:00:01Z second\r\n";
        let got = lines("web.1", chunk);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].line, "hello world");
        assert_eq!(got[0].process, "web.1");
        assert_eq!(
            got[0].time.to_rfc3339(),
            "2024-05-01T10:00:00.123456789+00:00"
        );
        assert_eq!(got[1].line, "second");
        assert_eq!(got[1].time.timestamp(), 1_714_557_601);
    }

    #[test]
    fn empty_messages_keep_their_stamp_and_unstamped_lines_survive() {
        let got = lines("worker.3", b"2024-05-01T10:00:00Z \nno stamp here\n");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].line, "");
        assert_eq!(got[1].line, "no stamp here");
    }
}
