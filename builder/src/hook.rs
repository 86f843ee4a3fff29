//! The pre-receive hook: git runs `paasd git-hook pre-receive` inside the pushed repository;
//! it hands the ref updates to the controller and relays the build log back to the pusher.
//!
//! Everything written to stdout here reaches the pusher as `remote: ...`; exiting non-zero makes
//! git reject the push ("pre-receive hook declined").

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub const RESULT_OK: &str = "paas-hook-result: ok";
pub const RESULT_FAILED: &str = "paas-hook-result: failed";

/// Header carrying `PAAS_HOOK_SECRET`.
pub const SECRET_HEADER: &str = "X-Paas-Hook-Secret";

pub const ENV_URL: &str = "PAAS_HOOK_URL";
pub const ENV_SECRET: &str = "PAAS_HOOK_SECRET";
pub const ENV_APP: &str = "PAAS_APP";
pub const ENV_USER: &str = "PAAS_PUSH_USER";

/// What the hook POSTs to `PAAS_HOOK_URL` as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookRequest {
    pub app: String,
    pub user: String,
    pub refs: Vec<RefUpdate>,
    /// `GIT_QUARANTINE_PATH`: where the pushed objects wait until every hook accepted them.
    pub quarantine: Option<String>,
    /// Absolute path of the repository.
    pub repo: String,
}

/// One `OLD NEW REFNAME` line of the hook's stdin (an all-zero id means created / deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefUpdate {
    pub old: String,
    pub new: String,
    pub name: String,
}

#[derive(Debug, Error)]
enum HookError {
    #[error("{0} is not set: this hook runs only inside a push through the paas git endpoint")]
    MissingEnv(&'static str),
    #[error("git passed an unexpected line to the pre-receive hook: {0:?}")]
    BadInput(String),
    #[error("reading the ref updates from git: {0}")]
    Stdin(#[source] std::io::Error),
    #[error("could not reach the paas controller at {url}: {source}; the push was not deployed, try again")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the paas controller refused the push ({status}): {message}")]
    Refused {
        status: reqwest::StatusCode,
        message: String,
    },
    #[error("lost the connection to the paas controller during the build: {0}; the push was not deployed")]
    Lost(#[source] std::io::Error),
    #[error("the paas controller ended the build log without a result; the push was not deployed")]
    NoResult,
}

/// Entry point for `paasd git-hook pre-receive`: reads the process's stdin and environment and
/// writes to its stdout. Returns the exit code. Blocking: call it outside any async runtime.
pub fn run_pre_receive() -> i32 {
    let env: HashMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    run_pre_receive_with(std::io::stdin().lock(), std::io::stdout().lock(), &env)
}

/// [`run_pre_receive`] with its inputs and output passed in. `env` needs `PAAS_HOOK_URL`,
/// `PAAS_HOOK_SECRET`, `PAAS_APP`, `PAAS_PUSH_USER`, and uses `GIT_QUARANTINE_PATH` and
/// `GIT_DIR` (relative ones are taken from the current directory).
pub fn run_pre_receive_with(
    stdin: impl BufRead,
    mut stdout: impl Write,
    env: &HashMap<String, String>,
) -> i32 {
    match run(stdin, &mut stdout, env) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            tracing::debug!("pre-receive hook: {e}");
            let _ = stdout.write_all(format!("paas: {e}\n").as_bytes());
            let _ = stdout.flush();
            1
        }
    }
}

fn var<'a>(env: &'a HashMap<String, String>, name: &'static str) -> Result<&'a str, HookError> {
    env.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or(HookError::MissingEnv(name))
}

fn read_refs(stdin: impl BufRead) -> Result<Vec<RefUpdate>, HookError> {
    let mut refs = Vec::new();
    for line in stdin.lines() {
        let line = line.map_err(HookError::Stdin)?;
        if line.trim().is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [old, new, name] = parts[..] else {
            return Err(HookError::BadInput(line));
        };
        refs.push(RefUpdate {
            old: old.to_string(),
            new: new.to_string(),
            name: name.to_string(),
        });
    }
    Ok(refs)
}

fn repo_path(env: &HashMap<String, String>) -> String {
    // git runs hooks of a bare repository from inside it, with GIT_DIR often just ".".
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let dir = env.get("GIT_DIR").map(Path::new).unwrap_or(Path::new("."));
    let abs = cwd.join(dir);
    std::fs::canonicalize(&abs)
        .unwrap_or(abs)
        .to_string_lossy()
        .into_owned()
}

fn run(
    stdin: impl BufRead,
    out: &mut impl Write,
    env: &HashMap<String, String>,
) -> Result<bool, HookError> {
    let url = var(env, ENV_URL)?;
    let secret = var(env, ENV_SECRET)?;
    let request = HookRequest {
        app: var(env, ENV_APP)?.to_string(),
        user: var(env, ENV_USER)?.to_string(),
        refs: read_refs(stdin)?,
        quarantine: env
            .get("GIT_QUARANTINE_PATH")
            .filter(|q| !q.is_empty())
            .cloned(),
        repo: repo_path(env),
    };

    // No overall timeout: the response lasts as long as the build. The controller is our own
    // daemon, so a proxy from the environment would only be in the way.
    let client = reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(None)
        .no_proxy()
        .build()
        .map_err(|source| HookError::Unreachable {
            url: url.to_string(),
            source,
        })?;
    let response = client
        .post(url)
        .header(SECRET_HEADER, secret)
        .json(&request)
        .send()
        .map_err(|source| HookError::Unreachable {
            url: url.to_string(),
            source,
        })?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().unwrap_or_default();
        let message = serde_json::from_str::<paas_api::ErrorBody>(&text)
            .map(|b| b.message)
            .unwrap_or_else(|_| text.trim().to_string());
        return Err(HookError::Refused { status, message });
    }
    relay(response, out)
}

/// Copies the log lines to `out` as they arrive and returns the verdict of the result line.
fn relay(body: impl Read, out: &mut impl Write) -> Result<bool, HookError> {
    let mut reader = BufReader::new(body);
    let mut result = None;
    let mut out_ok = true;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(HookError::Lost)?;
        if n == 0 {
            break;
        }
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        if line == RESULT_OK.as_bytes() {
            result = Some(true);
            continue;
        }
        if line == RESULT_FAILED.as_bytes() {
            result = Some(false);
            continue;
        }
        if out_ok {
            line.push(b'\n');
            // If the pusher went away, keep reading so the controller can finish cleanly.
            out_ok = out.write_all(&line).and_then(|()| out.flush()).is_ok();
        }
    }
    result.ok_or(HookError::NoResult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_strips_the_result_line() {
        let mut out = Vec::new();
        let body = "one\r\ntwo\npaas-hook-result: ok\n";
        assert!(relay(body.as_bytes(), &mut out).unwrap());
        assert_eq!(out, b"one\ntwo\n");

        let mut out = Vec::new();
        assert!(!relay("x\npaas-hook-result: failed".as_bytes(), &mut out).unwrap());
        assert_eq!(out, b"x\n");

        let mut out = Vec::new();
        assert!(matches!(
            relay("x\n".as_bytes(), &mut out),
            Err(HookError::NoResult)
        ));
    }

    #[test]
    fn refs_are_parsed() {
        let input = "0000 1111 refs/heads/master\n\naaaa bbbb refs/tags/v1\n";
        let refs = read_refs(input.as_bytes()).unwrap();
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[1].name, "refs/tags/v1");
        assert!(matches!(
            read_refs("only two\n".as_bytes()),
            Err(HookError::BadInput(_))
        ));
    }
}
