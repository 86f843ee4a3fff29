//! Shared helpers: an isolated git CLI, a tiny smart-HTTP server built on `paas_builder::git`,
//! and a stand-in for `paasd git-hook pre-receive`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::TryStreamExt;
use paas_builder::git;

/// Environment that keeps the git CLI away from the machine's config and proxies.
pub fn git_env(cmd: &mut std::process::Command, home: &Path) {
    for var in [
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
        "GIT_DIR",
        "GIT_WORK_TREE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HOME", home)
        .env("XDG_CONFIG_HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("no_proxy", "*")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com");
}

pub fn git_command(dir: &Path, home: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new("git");
    cmd.current_dir(dir).args(args);
    git_env(&mut cmd, home);
    cmd
}

/// Runs git and returns trimmed stdout; fails the test with git's stderr otherwise.
pub fn git_ok(dir: &Path, home: &Path, args: &[&str]) -> String {
    let out = git_command(dir, home, args).output().expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `git push` as an async process, so the in-test server keeps serving meanwhile.
pub async fn git_push(dir: &Path, home: &Path, args: &[&str]) -> Output {
    let mut cmd = git_command(dir, home, &[]);
    cmd.arg("push").args(args);
    tokio::process::Command::from(cmd)
        .output()
        .await
        .expect("run git push")
}

/// A work tree with one commit on `master`.
pub fn work_repo(dir: &Path, home: &Path, files: &[(&str, &[u8])]) -> String {
    std::fs::create_dir_all(dir).unwrap();
    git_ok(dir, home, &["init", "-q", "-b", "master"]);
    for (name, content) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    git_ok(dir, home, &["add", "-A"]);
    git_ok(dir, home, &["commit", "-q", "-m", "first"]);
    git_ok(dir, home, &["rev-parse", "HEAD"])
}

/// Writes a shell stand-in for `paasd`: checks it is called as `git-hook pre-receive`, echoes
/// one line per ref, optionally records its quarantine and waits for a go-ahead file (`$PAAS_TEST_DIR`), and exits with
/// `$PAAS_TEST_EXIT`.
pub fn hook_stand_in(dir: &Path) -> PathBuf {
    let path = dir.join("fake-paasd");
    let script = r#"#!/bin/sh
[ "$1 $2" = "git-hook pre-receive" ] || { echo "stand-in called with: $*"; exit 2; }
while read old new ref; do
  if [ -n "$PAAS_TEST_DIR" ]; then
    echo "$GIT_QUARANTINE_PATH $new" > "$PAAS_TEST_DIR/seen.tmp"
    mv "$PAAS_TEST_DIR/seen.tmp" "$PAAS_TEST_DIR/seen"
  fi
  echo "stand-in: app=$PAAS_APP ref=$ref"
  if [ -n "$PAAS_TEST_DIR" ]; then
    i=0
    while [ ! -e "$PAAS_TEST_DIR/go" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
  fi
done
exit "${PAAS_TEST_EXIT:-1}"
"#;
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[derive(Clone)]
pub struct GitServer {
    /// Directory holding `NAME.git` repositories.
    pub root: PathBuf,
    /// Passed to receive-pack (and so to the hook).
    pub env: Vec<(String, String)>,
    /// `(service, Content-Encoding)` of every POST.
    pub posts: Arc<Mutex<Vec<(String, String)>>>,
}

impl GitServer {
    pub fn new(root: &Path, env: &[(&str, &str)]) -> Self {
        GitServer {
            root: root.to_path_buf(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            posts: Arc::default(),
        }
    }

    /// Serves the repositories on a free loopback port; returns the base URL.
    pub async fn start(&self) -> String {
        let app = Router::new()
            .route("/{repo}/info/refs", get(info_refs))
            .route("/{repo}/git-receive-pack", post(receive))
            .route("/{repo}/git-upload-pack", post(upload))
            .with_state(self.clone());
        format!("http://{}", serve(app).await)
    }
}

pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn failure(e: impl std::fmt::Display) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
}

async fn info_refs(
    State(s): State<GitServer>,
    UrlPath(repo): UrlPath<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let path = s.root.join(repo);
    let (body, content_type) = match q.get("service").map(String::as_str) {
        Some("git-receive-pack") => (
            git::advertise_receive_pack(&path).await,
            git::RECEIVE_PACK_ADVERTISEMENT,
        ),
        Some("git-upload-pack") => (
            git::advertise_upload_pack(&path).await,
            git::UPLOAD_PACK_ADVERTISEMENT,
        ),
        _ => return (StatusCode::FORBIDDEN, "dumb http not served").into_response(),
    };
    match body {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response(),
        Err(e) => failure(e),
    }
}

fn gzip(s: &GitServer, service: &str, headers: &HeaderMap) -> bool {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let gzip = encoding == "gzip";
    s.posts
        .lock()
        .unwrap()
        .push((service.to_string(), encoding));
    gzip
}

async fn receive(
    State(s): State<GitServer>,
    UrlPath(repo): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let gzip = gzip(&s, "receive-pack", &headers);
    let body = body.into_data_stream().map_err(std::io::Error::other);
    match git::receive_pack(&s.root.join(repo), body, gzip, s.env.clone()).await {
        Ok(out) => (
            [(header::CONTENT_TYPE, git::RECEIVE_PACK_RESULT)],
            Body::from_stream(out),
        )
            .into_response(),
        Err(e) => failure(e),
    }
}

async fn upload(
    State(s): State<GitServer>,
    UrlPath(repo): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let gzip = gzip(&s, "upload-pack", &headers);
    let body = body.into_data_stream().map_err(std::io::Error::other);
    match git::upload_pack(&s.root.join(repo), body, gzip).await {
        Ok(out) => (
            [(header::CONTENT_TYPE, git::UPLOAD_PACK_RESULT)],
            Body::from_stream(out),
        )
            .into_response(),
        Err(e) => failure(e),
    }
}
