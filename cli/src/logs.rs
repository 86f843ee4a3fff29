//! `logs`: open a log session, then copy its stream to stdout line by line.

use std::io::{self, BufRead, BufReader, Write};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use paas_api::{LogSession, LogSessionCreate};

use crate::args::AppArg;
use crate::client::Client;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Source {
    App,
    Router,
    Build,
    Platform,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::App => "app",
            Source::Router => "router",
            Source::Build => "build",
            Source::Platform => "platform",
        }
    }
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub app: AppArg,
    /// Number of past lines to show
    #[arg(short = 'n', long = "num")]
    pub num: Option<u32>,
    /// Keep streaming new lines until interrupted
    #[arg(short, long)]
    pub tail: bool,
    /// Only this process type or process, e.g. web or web.1
    #[arg(
        short = 'p',
        long = "ps",
        visible_alias = "dyno",
        value_name = "PROCESS"
    )]
    pub ps: Option<String>,
    /// Only lines from this source
    #[arg(short, long, value_enum)]
    pub source: Option<Source>,
}

fn session_request(args: &LogsArgs) -> Result<LogSessionCreate> {
    if args.num.is_some_and(|n| n > 1500) {
        anyhow::bail!("-n may be at most 1500 lines");
    }
    if let Some(ps) = &args.ps {
        let process_type = ps.split_once('.').map_or(ps.as_str(), |(t, _)| t);
        paas_api::validate_process_type(process_type)?;
    }
    Ok(LogSessionCreate {
        lines: args.num,
        tail: Some(args.tail),
        dyno: args.ps.clone(),
        source: args.source.map(|s| s.as_str().to_string()),
    })
}

pub fn run(args: LogsArgs) -> Result<()> {
    let app = args.app.resolve()?;
    let body = session_request(&args)?;
    let api = Client::connect()?;
    let session: LogSession = api.post(&["apps", &app, "log-sessions"], &body)?;
    let stream = api.open_stream(&session.logplex_url)?;
    copy_lines(BufReader::new(stream), &mut io::stdout().lock())
}

/// Copies whole lines as they arrive, flushing each so `paas logs -t` is live even through a
/// pipe. A reader that went away (`paas logs | head`) ends the copy quietly.
fn copy_lines(mut input: impl BufRead, out: &mut impl Write) -> Result<()> {
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .context("the log stream broke off")?;
        if n == 0 {
            return Ok(());
        }
        // Server-sent events: `data: LINE`, blank separators and `:` comments (keep-alives).
        if line.iter().all(|b| b.is_ascii_whitespace()) || line.starts_with(b":") {
            continue;
        }
        if let Some(rest) = line
            .strip_prefix(b"data: ")
            .or_else(|| line.strip_prefix(b"data:"))
        {
            line = rest.to_vec();
        }
        if !line.ends_with(b"\n") {
            line.push(b'\n');
        }
        match out.write_all(&line).and_then(|()| out.flush()) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(e).context("cannot write to stdout"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct ClosedPipe;
    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn server_sent_events_become_plain_lines() {
        let mut out = Vec::new();
        let sse = b"data: a app[web.1]: one\n\n: keep-alive\n\ndata: b router: two\n\n";
        copy_lines(&sse[..], &mut out).unwrap();
        assert_eq!(out, b"a app[web.1]: one\nb router: two\n");
    }

    #[test]
    fn lines_are_copied_whole_and_terminated() {
        let mut out = Vec::new();
        copy_lines(&b"a app[web.1]: one\nb app[web.1]: two"[..], &mut out).unwrap();
        assert_eq!(out, b"a app[web.1]: one\nb app[web.1]: two\n");
        copy_lines(&b"x\n"[..], &mut ClosedPipe).unwrap();
    }

    #[test]
    fn session_request_carries_the_filters() {
        let args = LogsArgs {
            app: AppArg::default(),
            num: Some(50),
            tail: true,
            ps: Some("web.1".into()),
            source: Some(Source::Router),
        };
        let req = session_request(&args).unwrap();
        assert_eq!(req.lines, Some(50));
        assert_eq!(req.tail, Some(true));
        assert_eq!(req.dyno.as_deref(), Some("web.1"));
        assert_eq!(req.source.as_deref(), Some("router"));
        let bad = LogsArgs {
            ps: Some("Web.1".into()),
            ..args
        };
        assert!(session_request(&bad).is_err());
    }
}
