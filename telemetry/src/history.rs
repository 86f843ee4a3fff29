//! An app's log history on disk: two segment files, the current one appended to and rotated
//! into the previous one when full, so an app never holds more than twice the segment size and
//! the oldest lines go first. Survives restarts; read back when the hub starts.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::line::LogLine;

pub struct History {
    dir: PathBuf,
    segment_bytes: u64,
    current: BufWriter<File>,
    written: u64,
}

const CURRENT: &str = "current.log";
const PREVIOUS: &str = "previous.log";

impl History {
    pub fn open(dir: &Path, segment_bytes: u64) -> std::io::Result<History> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(CURRENT);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let written = file.metadata()?.len();
        Ok(History {
            dir: dir.to_path_buf(),
            segment_bytes,
            current: BufWriter::new(file),
            written,
        })
    }

    /// The newest `n` lines, oldest first.
    pub fn tail(dir: &Path, n: usize) -> Vec<LogLine> {
        let mut lines = Vec::new();
        for name in [PREVIOUS, CURRENT] {
            let Ok(file) = File::open(dir.join(name)) else {
                continue;
            };
            for text in BufReader::new(file).lines().map_while(Result::ok) {
                if let Ok(line) = text.parse::<LogLine>() {
                    lines.push(line);
                }
            }
        }
        let skip = lines.len().saturating_sub(n);
        lines.drain(..skip);
        lines
    }

    /// Buffered; [`History::flush`] makes it durable.
    pub fn append(&mut self, line: &LogLine) -> std::io::Result<()> {
        let text = format!("{line}\n");
        if self.written + text.len() as u64 > self.segment_bytes && self.written > 0 {
            self.rotate()?;
        }
        self.current.write_all(text.as_bytes())?;
        self.written += text.len() as u64;
        Ok(())
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.current.flush()
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.current.flush()?;
        std::fs::rename(self.dir.join(CURRENT), self.dir.join(PREVIOUS))?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(CURRENT))?;
        self.current = BufWriter::new(file);
        self.written = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::Source;

    #[test]
    fn keeps_the_newest_lines_within_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = History::open(dir.path(), 4096).unwrap();
        for i in 0..1000 {
            h.append(&LogLine::new(
                Source::App,
                Some("web.1".into()),
                format!("line {i}"),
            ))
            .unwrap();
        }
        h.flush().unwrap();
        let on_disk: u64 = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        assert!(on_disk <= 2 * 4096, "{on_disk} bytes");
        let tail = History::tail(dir.path(), 5);
        let messages: Vec<&str> = tail.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(
            messages,
            ["line 995", "line 996", "line 997", "line 998", "line 999"]
        );
        // Reopened (a restart): appends continue after what is there.
        let mut h = History::open(dir.path(), 4096).unwrap();
        h.append(&LogLine::new(Source::Platform, None, "after restart"))
            .unwrap();
        h.flush().unwrap();
        assert_eq!(History::tail(dir.path(), 1)[0].message, "after restart");
    }
}
