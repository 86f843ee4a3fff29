//! Runs the built `paas` binary in a throwaway HOME, and a tiny canned HTTP server standing in
//! for the controller so the requests the CLI sends can be checked.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// `paas ARGS` with HOME at `home`, in directory `cwd`, with no credentials from the caller's
/// environment, plus `env`.
pub fn paas_in(home: &Path, cwd: &Path, env: &[(&str, &str)], args: &[&str]) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_paas"));
    cmd.args(args)
        .current_dir(cwd)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("PAAS_API_URL")
        .env_remove("PAAS_TOKEN")
        // Keep git from finding a repository above the temp dirs, or the user's git config.
        .env("GIT_CEILING_DIRECTORIES", home.parent().unwrap_or(home))
        .env("GIT_CONFIG_NOSYSTEM", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run paas");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn paas(home: &Path, env: &[(&str, &str)], args: &[&str]) -> Out {
    paas_in(home, home, env, args)
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body {:?} is not JSON: {e}", self.body))
    }

    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

pub fn json(status: u16, body: serde_json::Value) -> Reply {
    Reply {
        status,
        content_type: "application/json",
        body: body.to_string(),
    }
}

pub fn text(body: &str) -> Reply {
    Reply {
        status: 200,
        content_type: "text/plain",
        body: body.to_string(),
    }
}

/// Answers connections in order with the canned replies (one request per connection), then
/// 500s; records every request.
pub struct FakeApi {
    pub url: String,
    listener: Option<TcpListener>,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Request>>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeApi {
    pub fn bind() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        FakeApi {
            url,
            listener: Some(listener),
            stop: Arc::default(),
            seen: Arc::default(),
            thread: None,
        }
    }

    pub fn serve(&mut self, replies: Vec<Reply>) {
        let listener = self.listener.take().expect("serve once");
        let (stop, seen) = (self.stop.clone(), self.seen.clone());
        self.thread = Some(std::thread::spawn(move || {
            let mut replies = replies.into_iter();
            for conn in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut conn) = conn else { continue };
                let Some(req) = read_request(&mut conn) else {
                    continue;
                };
                seen.lock().unwrap().push(req);
                let reply = replies.next().unwrap_or_else(|| {
                    json(500, serde_json::json!({"id": "test", "message": "the fake API has no reply left"}))
                });
                let head = format!(
                    "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    reply.status,
                    reply.content_type,
                    reply.body.len()
                );
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(reply.body.as_bytes());
            }
        }));
    }

    /// Stops the server and returns what it received.
    pub fn finish(mut self) -> Vec<Request> {
        self.stop.store(true, Ordering::SeqCst);
        let addr = self.url.trim_start_matches("http://").to_string();
        let _ = TcpStream::connect(addr); // wakes the accept loop
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        let seen = self.seen.lock().unwrap().clone();
        seen
    }
}

fn read_request(conn: &mut TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(conn.try_clone().ok()?);
    let mut first = String::new();
    reader.read_line(&mut first).ok()?;
    let mut parts = first.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

pub const ID: &str = "00000000-0000-0000-0000-000000000001";
pub const T: &str = "2026-11-22T10:00:00Z";

pub fn app_json(name: &str, release: Option<i64>) -> serde_json::Value {
    serde_json::json!({
        "id": ID, "name": name, "owner": {"id": ID, "name": "admin"},
        "web_url": format!("http://{name}.localhost/"),
        "git_url": format!("http://127.0.0.1:7000/{name}.git"),
        "created_at": T, "updated_at": T, "released_at": null, "current_release": release,
    })
}

pub fn release_json(version: i64, description: &str, current: bool) -> serde_json::Value {
    serde_json::json!({
        "id": ID, "app": {"id": ID, "name": "hello"}, "version": version, "description": description,
        "status": "succeeded", "current": current, "slug": null, "user": {"id": ID, "name": "admin"},
        "created_at": T, "updated_at": T,
    })
}
