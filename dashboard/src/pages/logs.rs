//! The live logs page: recent lines drawn by the server, then followed live by a small script
//! reading server-sent events from [`stream_logs`].

use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use paas_api::LogSessionCreate;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::error::{DashboardError, PageResult};
use crate::extract::SignedIn;
use crate::logstream::LineDecoder;
use crate::pages::{app_name, render, Layout};
use crate::Shared;

/// Lines of history the page starts with.
const HISTORY: u32 = 100;
/// The page is drawn without waiting longer than this for the history.
const HISTORY_TIMEOUT: Duration = Duration::from_secs(5);
pub const SOURCES: [&str; 4] = ["app", "router", "build", "platform"];

#[derive(Debug, Default, Deserialize)]
pub struct LogFilter {
    /// `app`, `router`, `build`, `platform`; empty for all.
    #[serde(default)]
    source: String,
    /// `web.1`, a type `web`, or empty for every process.
    #[serde(default)]
    ps: String,
}

impl LogFilter {
    fn request(&self, tail: bool) -> LogSessionCreate {
        let non_empty = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        LogSessionCreate {
            lines: Some(HISTORY),
            tail: Some(tail),
            dyno: non_empty(&self.ps),
            source: non_empty(&self.source),
        }
    }

    /// The stream's URL with the same filter, its values encoded.
    fn stream_url(&self, app: &str) -> String {
        let mut url = reqwest::Url::parse("http://dashboard.invalid/").expect("static URL");
        url.path_segments_mut().expect("base URL").extend([
            "dashboard",
            "apps",
            app,
            "logs",
            "stream",
        ]);
        url.query_pairs_mut()
            .append_pair("source", self.source.trim())
            .append_pair("ps", self.ps.trim());
        format!("{}?{}", url.path(), url.query().unwrap_or_default())
    }
}

/// One `<option>`.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// "All" first, then each value; the current one selected (kept even when not offered, so
/// the form shows the filter in force).
fn choices(all: &str, values: Vec<String>, current: &str) -> Vec<Choice> {
    let mut values = values;
    if !current.is_empty() && !values.iter().any(|v| v == current) {
        values.push(current.to_string());
    }
    std::iter::once((String::new(), all.to_string()))
        .chain(values.into_iter().map(|v| (v.clone(), v)))
        .map(|(value, label)| Choice {
            selected: value == current,
            value,
            label,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "logs.html")]
struct LogsPage {
    layout: Layout,
    app: String,
    web_url: String,
    sources: Vec<Choice>,
    /// Process types and processes to filter by.
    processes: Vec<Choice>,
    lines: Vec<String>,
    lines_error: Option<String>,
    stream_url: String,
}

pub async fn logs_page(
    State(state): State<Shared>,
    user: SignedIn,
    Path(name): Path<String>,
    Query(filter): Query<LogFilter>,
) -> PageResult<Response> {
    let name = app_name(&name)?;
    let app = state.api.app(user.token(), name).await?;
    let mut processes: Vec<String> = Vec::new();
    for d in state
        .api
        .dynos(user.token(), name)
        .await
        .unwrap_or_default()
    {
        if !processes.contains(&d.process_type) {
            processes.push(d.process_type.clone());
        }
        processes.push(d.name);
    }
    let (lines, lines_error) = match recent_lines(&state, user.token(), name, &filter).await {
        Ok(lines) => (lines, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    render(&LogsPage {
        layout: Layout::new(&state, &user.0),
        stream_url: filter.stream_url(name),
        app: app.name,
        web_url: app.web_url,
        sources: choices(
            "All sources",
            SOURCES.iter().map(|s| s.to_string()).collect(),
            filter.source.trim(),
        ),
        processes: choices("All processes", processes, filter.ps.trim()),
        lines,
        lines_error,
    })
}

async fn recent_lines(
    state: &Shared,
    token: &str,
    app: &str,
    filter: &LogFilter,
) -> Result<Vec<String>, DashboardError> {
    let session = state
        .api
        .log_session(token, app, &filter.request(false))
        .await?;
    let mut res = state.api.open_log_stream(&session.logplex_url).await?;
    let mut decoder = LineDecoder::new(content_type(&res).as_deref());
    let mut lines = Vec::new();
    let read = async {
        while let Ok(Some(chunk)) = res.chunk().await {
            lines.extend(decoder.push(&chunk));
        }
    };
    // A slow engine gives a page with the lines so far rather than no page.
    let _ = tokio::time::timeout(HISTORY_TIMEOUT, read).await;
    lines.extend(decoder.finish());
    Ok(lines)
}

fn content_type(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Server-sent events: a `message` per log line (recent history first, then live), `end` when
/// the stream is over, `failure` with a message in plain words when it cannot start.
pub async fn stream_logs(
    State(state): State<Shared>,
    user: Result<SignedIn, DashboardError>,
    Path(name): Path<String>,
    Query(filter): Query<LogFilter>,
) -> Response {
    let (tx, rx) = mpsc::channel::<Event>(256);
    match user {
        Ok(user) => {
            let token = user.token().to_string();
            tokio::spawn(async move {
                if let Err(e) = follow(&state, &token, &name, &filter, &tx).await {
                    let _ = tx
                        .send(Event::default().event("failure").data(e.to_string()))
                        .await;
                }
            });
        }
        Err(_) => {
            let e = Event::default()
                .event("failure")
                .data("Your sign-in has ended: sign in again to follow the logs.");
            let _ = tx.try_send(e);
        }
    }
    let events = stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok::<_, Infallible>(e), rx))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

async fn follow(
    state: &Shared,
    token: &str,
    app: &str,
    filter: &LogFilter,
    tx: &mpsc::Sender<Event>,
) -> Result<(), DashboardError> {
    let app = app_name(app)?;
    let session = state
        .api
        .log_session(token, app, &filter.request(true))
        .await?;
    let mut res = state.api.open_log_stream(&session.logplex_url).await?;
    let mut decoder = LineDecoder::new(content_type(&res).as_deref());
    loop {
        // A quiet app sends nothing for a long time; the browser leaving must still end the
        // upstream session.
        let chunk = tokio::select! {
            _ = tx.closed() => return Ok(()),
            chunk = res.chunk() => chunk,
        };
        let lines = match chunk {
            Ok(Some(chunk)) => decoder.push(&chunk),
            Ok(None) | Err(_) => {
                if let Some(line) = decoder.finish() {
                    let _ = tx.send(line_event(&line)).await;
                }
                let end = Event::default().event("end").data("The log stream ended.");
                let _ = tx.send(end).await;
                return Ok(());
            }
        };
        for line in lines {
            if tx.send(line_event(&line)).await.is_err() {
                return Ok(());
            }
        }
    }
}

/// SSE data cannot hold a carriage return (it would end the field).
fn line_event(line: &str) -> Event {
    Event::default().data(line.replace('\r', ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_url_keeps_the_filter_encoded() {
        let f = LogFilter {
            source: "app".into(),
            ps: "web.1&x=<y>".into(),
        };
        assert_eq!(
            f.stream_url("myapp"),
            "/dashboard/apps/myapp/logs/stream?source=app&ps=web.1%26x%3D%3Cy%3E"
        );
        let r = f.request(true);
        assert_eq!(r.dyno.as_deref(), Some("web.1&x=<y>"));
        assert_eq!(r.tail, Some(true));
        assert_eq!(LogFilter::default().request(false).source, None);
    }
}
