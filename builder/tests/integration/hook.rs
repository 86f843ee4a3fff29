//! `hook::run_pre_receive_with` against a streaming endpoint in the test.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use paas_builder::hook::{self, HookRequest, RefUpdate};

use crate::support::serve;

const SECRET: &str = "s3cret";
const ZERO: &str = "0000000000000000000000000000000000000000";
const NEW: &str = "1111111111111111111111111111111111111111";

type Seen = Arc<Mutex<Vec<HookRequest>>>;

/// Answers like the controller: the user name picks the script.
async fn controller_hook(
    State(seen): State<Seen>,
    headers: HeaderMap,
    Json(req): Json<HookRequest>,
) -> Response {
    if headers
        .get("x-paas-hook-secret")
        .and_then(|v| v.to_str().ok())
        != Some(SECRET)
    {
        let body = r#"{"id":"unauthorized","message":"bad hook secret"}"#;
        return (StatusCode::UNAUTHORIZED, body).into_response();
    }
    let user = req.user.clone();
    seen.lock().unwrap().push(req);
    let script: Vec<(u64, &'static str)> = match user.as_str() {
        "ok" => vec![
            (0, "-----> building x\n"),
            (400, "done\n"),
            (0, "paas-hook-result: ok\n"),
        ],
        "fail" => vec![(0, "error: boom\n"), (0, "paas-hook-result: failed\n")],
        _ => vec![(0, "no verdict\n")],
    };
    let stream = futures_util::stream::unfold(script.into_iter(), |mut it| async move {
        let (delay, line) = it.next()?;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        Some((
            Ok::<_, std::io::Error>(Bytes::from_static(line.as_bytes())),
            it,
        ))
    });
    Body::from_stream(stream).into_response()
}

async fn start() -> (String, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route("/hook", post(controller_hook))
        .with_state(seen.clone());
    (format!("http://{}/hook", serve(app).await), seen)
}

/// Records when each write happened, to tell streamed from buffered output.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<(Instant, String)>>>);

impl Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf).into_owned();
        self.0.lock().unwrap().push((Instant::now(), text));
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Recorder {
    fn text(&self) -> String {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, t)| t.as_str())
            .collect()
    }
}

fn env(url: &str, user: &str, secret: &str) -> HashMap<String, String> {
    [
        ("PAAS_HOOK_URL", url),
        ("PAAS_HOOK_SECRET", secret),
        ("PAAS_APP", "x"),
        ("PAAS_PUSH_USER", user),
        ("GIT_QUARANTINE_PATH", "/repos/x.git/objects/incoming-1"),
        ("GIT_DIR", "/tmp"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

async fn run(stdin: &str, env: HashMap<String, String>) -> (i32, Recorder) {
    let out = Recorder::default();
    let (stdin, writer) = (stdin.to_string(), out.clone());
    let code = tokio::task::spawn_blocking(move || {
        hook::run_pre_receive_with(stdin.as_bytes(), writer, &env)
    })
    .await
    .unwrap();
    (code, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_build_streams_lines_and_exits_0() {
    let (url, seen) = start().await;
    let stdin = format!("{ZERO} {NEW} refs/heads/master\n");
    let (code, out) = run(&stdin, env(&url, "ok", SECRET)).await;
    assert_eq!(code, 0, "{}", out.text());
    assert_eq!(out.text(), "-----> building x\ndone\n");

    let writes = out.0.lock().unwrap().clone();
    let gap = writes.last().unwrap().0 - writes.first().unwrap().0;
    assert!(
        gap >= Duration::from_millis(300),
        "lines were not relayed as they came: {gap:?}"
    );

    let req = seen.lock().unwrap()[0].clone();
    let expected = HookRequest {
        app: "x".into(),
        user: "ok".into(),
        refs: vec![RefUpdate {
            old: ZERO.into(),
            new: NEW.into(),
            name: "refs/heads/master".into(),
        }],
        quarantine: Some("/repos/x.git/objects/incoming-1".into()),
        repo: "/tmp".into(),
    };
    assert_eq!(req, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_build_exits_1() {
    let (url, _) = start().await;
    let (code, out) = run(
        &format!("{ZERO} {NEW} refs/heads/master\n"),
        env(&url, "fail", SECRET),
    )
    .await;
    assert_eq!(code, 1);
    assert_eq!(out.text(), "error: boom\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_verdict_exits_1() {
    let (url, _) = start().await;
    let (code, out) = run(
        &format!("{ZERO} {NEW} refs/heads/main\n"),
        env(&url, "mute", SECRET),
    )
    .await;
    assert_eq!(code, 1);
    let text = out.text();
    assert!(text.starts_with("no verdict\n"), "{text}");
    assert!(text.contains("without a result"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_and_unreachable_controllers_exit_1() {
    let (url, seen) = start().await;
    let stdin = format!("{ZERO} {NEW} refs/heads/master\n");
    let (code, out) = run(&stdin, env(&url, "ok", "wrong")).await;
    assert_eq!(code, 1);
    assert!(
        out.text()
            .contains("refused the push (401 Unauthorized): bad hook secret"),
        "{}",
        out.text()
    );
    assert!(seen.lock().unwrap().is_empty());

    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, out) = run(
        &stdin,
        env(&format!("http://127.0.0.1:{port}/hook"), "ok", SECRET),
    )
    .await;
    assert_eq!(code, 1);
    assert!(
        out.text().contains("could not reach the paas controller"),
        "{}",
        out.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_environment_or_input_exits_1() {
    let (url, seen) = start().await;
    let mut no_url = env(&url, "ok", SECRET);
    no_url.remove("PAAS_HOOK_URL");
    let (code, out) = run(&format!("{ZERO} {NEW} refs/heads/master\n"), no_url).await;
    assert_eq!(code, 1);
    assert!(
        out.text().contains("PAAS_HOOK_URL is not set"),
        "{}",
        out.text()
    );

    let (code, out) = run("garbage\n", env(&url, "ok", SECRET)).await;
    assert_eq!(code, 1);
    assert!(out.text().contains("unexpected line"), "{}", out.text());
    assert!(seen.lock().unwrap().is_empty());
}
