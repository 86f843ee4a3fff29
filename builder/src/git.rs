//! Git smart HTTP plumbing around the real `git receive-pack` / `git upload-pack`.
//!
//! The controller owns routing and auth; these functions run git with `--stateless-rpc` and
//! shuttle bytes. Responses stream, because the build log travels inside the receive-pack
//! response (as sideband messages from the pre-receive hook) while the build runs.

use std::io::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{ChildStdin, Command};
use tokio_util::io::ReaderStream;

use crate::BuilderError;

pub const RECEIVE_PACK_ADVERTISEMENT: &str = "application/x-git-receive-pack-advertisement";
pub const RECEIVE_PACK_RESULT: &str = "application/x-git-receive-pack-result";
pub const UPLOAD_PACK_ADVERTISEMENT: &str = "application/x-git-upload-pack-advertisement";
pub const UPLOAD_PACK_RESULT: &str = "application/x-git-upload-pack-result";

/// Variables that would make a child git look at another repository than the one named.
const GIT_ENV_TO_CLEAR: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_QUARANTINE_PATH",
    "GIT_PROTOCOL",
];

/// Decompressed output handed to git per step; bounds memory for highly compressible bodies.
const GZIP_SLICE: usize = 4096;

#[derive(Clone, Copy)]
enum Service {
    ReceivePack,
    UploadPack,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::ReceivePack => "receive-pack",
            Service::UploadPack => "upload-pack",
        }
    }
}

fn git_command(args: &[&str], repo: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.args(args).arg(repo);
    for var in GIT_ENV_TO_CLEAR {
        cmd.env_remove(var);
    }
    cmd
}

fn hook_script(paasd_exe: &Path) -> Vec<u8> {
    // Single-quoted for sh; a quote inside the path becomes '\''.
    let mut quoted = Vec::new();
    for &b in paasd_exe.as_os_str().as_bytes() {
        if b == b'\'' {
            quoted.extend_from_slice(b"'\\''");
        } else {
            quoted.push(b);
        }
    }
    let mut script = b"#!/bin/sh\nexec '".to_vec();
    script.extend_from_slice(&quoted);
    script.extend_from_slice(b"' git-hook pre-receive\n");
    script
}

/// Creates the bare repository if needed and writes (or refreshes) its pre-receive hook, which
/// execs `PAASD_EXE git-hook pre-receive`. Safe to call on every push.
pub fn ensure_repo(repo: &Path, paasd_exe: &Path) -> Result<(), BuilderError> {
    if !paasd_exe.is_absolute() {
        return Err(BuilderError::RelativeHookProgram(paasd_exe.to_path_buf()));
    }
    if !repo.join("HEAD").is_file() {
        std::fs::create_dir_all(repo).map_err(|e| BuilderError::io("create", repo, e))?;
        let mut cmd = std::process::Command::new("git");
        cmd.args(["init", "--bare", "--quiet"]).arg(repo);
        for var in GIT_ENV_TO_CLEAR {
            cmd.env_remove(var);
        }
        let command = format!("git init --bare {}", repo.display());
        let out = cmd.output().map_err(|source| BuilderError::Spawn {
            command: command.clone(),
            source,
        })?;
        if !out.status.success() {
            return Err(BuilderError::GitCommand {
                command,
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        tracing::info!(repo = %repo.display(), "created git repository");
    }

    let hooks = repo.join("hooks");
    std::fs::create_dir_all(&hooks).map_err(|e| BuilderError::io("create", &hooks, e))?;
    let hook = hooks.join("pre-receive");
    let script = hook_script(paasd_exe);
    let current = std::fs::read(&hook).ok();
    if current.as_deref() != Some(script.as_slice()) {
        // Write then rename, so a push arriving meanwhile never runs a half-written hook.
        let tmp = hooks.join(".pre-receive.tmp");
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&script)?;
            f.sync_all()
        };
        write().map_err(|e| BuilderError::io("write", &tmp, e))?;
        std::fs::rename(&tmp, &hook).map_err(|e| BuilderError::io("install", &hook, e))?;
    }
    let perms = std::fs::metadata(&hook)
        .map_err(|e| BuilderError::io("stat", &hook, e))?
        .permissions();
    if perms.mode() & 0o777 != 0o755 {
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| BuilderError::io("chmod", &hook, e))?;
    }
    Ok(())
}

fn require_repo(repo: &Path) -> Result<(), BuilderError> {
    if repo.join("HEAD").is_file() {
        Ok(())
    } else {
        Err(BuilderError::RepoMissing {
            path: repo.to_path_buf(),
        })
    }
}

fn pkt_line(payload: &str) -> String {
    format!("{:04x}{payload}", payload.len() + 4)
}

async fn advertise(service: Service, repo: &Path) -> Result<Vec<u8>, BuilderError> {
    require_repo(repo)?;
    let args = [service.name(), "--stateless-rpc", "--advertise-refs"];
    let command = format!("git {} {}", args.join(" "), repo.display());
    let out = git_command(&args, repo)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|source| BuilderError::Spawn {
            command: command.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(BuilderError::GitCommand {
            command,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    let mut body = pkt_line(&format!("# service=git-{}\n", service.name())).into_bytes();
    body.extend_from_slice(b"0000");
    body.extend_from_slice(&out.stdout);
    Ok(body)
}

/// Body of `GET /APP.git/info/refs?service=git-receive-pack` (send with
/// [`RECEIVE_PACK_ADVERTISEMENT`] and `Cache-Control: no-cache`).
pub async fn advertise_receive_pack(repo: &Path) -> Result<Vec<u8>, BuilderError> {
    advertise(Service::ReceivePack, repo).await
}

/// Body of `GET /APP.git/info/refs?service=git-upload-pack` (send with
/// [`UPLOAD_PACK_ADVERTISEMENT`] and `Cache-Control: no-cache`).
pub async fn advertise_upload_pack(repo: &Path) -> Result<Vec<u8>, BuilderError> {
    advertise(Service::UploadPack, repo).await
}

/// Runs `git receive-pack --stateless-rpc REPO` on the request body of
/// `POST /APP.git/git-receive-pack` (gunzipped here when `gzip`, i.e. `Content-Encoding: gzip`).
/// `env` reaches the pre-receive hook. The returned stream is the response body (send with
/// [`RECEIVE_PACK_RESULT`]); it yields git's output as it is written.
pub async fn receive_pack(
    repo: &Path,
    body: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin + 'static,
    gzip: bool,
    env: Vec<(String, String)>,
) -> Result<impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static, BuilderError> {
    rpc(Service::ReceivePack, repo, body, gzip, env).await
}

/// Like [`receive_pack`] for `POST /APP.git/git-upload-pack` (clone and fetch); send with
/// [`UPLOAD_PACK_RESULT`].
pub async fn upload_pack(
    repo: &Path,
    body: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin + 'static,
    gzip: bool,
) -> Result<impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static, BuilderError> {
    rpc(Service::UploadPack, repo, body, gzip, Vec::new()).await
}

async fn rpc(
    service: Service,
    repo: &Path,
    body: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin + 'static,
    gzip: bool,
    env: Vec<(String, String)>,
) -> Result<impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static, BuilderError> {
    require_repo(repo)?;
    let args = [service.name(), "--stateless-rpc"];
    let command = format!("git {} {}", args.join(" "), repo.display());
    let mut child = git_command(&args, repo)
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| BuilderError::Spawn {
            command: command.clone(),
            source,
        })?;
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        unreachable!("all three pipes were requested");
    };

    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::warn!(command = %command, "git: {line}");
        }
    });

    let repo_name = repo.display().to_string();
    tokio::spawn(async move {
        if let Err(e) = feed(stdin, body, gzip).await {
            // Without the whole request git would wait or fail later; end it now.
            tracing::warn!(repo = %repo_name, service = service.name(), "request body: {e}");
            let _ = child.start_kill();
        }
        match child.wait().await {
            Ok(status) if status.success() => {}
            Ok(status) => {
                tracing::warn!(repo = %repo_name, service = service.name(), %status, "git exited")
            }
            Err(e) => tracing::warn!(repo = %repo_name, "waiting for git: {e}"),
        }
    });

    Ok(ReaderStream::new(stdout))
}

/// Copies the request body to git's stdin, gunzipping on the way when asked, then closes stdin.
async fn feed(
    mut stdin: ChildStdin,
    mut body: impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin,
    gzip: bool,
) -> std::io::Result<()> {
    let mut decoder = gzip.then(|| flate2::write::GzDecoder::new(Vec::new()));
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        let written = match decoder.as_mut() {
            None => stdin.write_all(&chunk).await,
            Some(dec) => {
                let mut written = Ok(());
                for slice in chunk.chunks(GZIP_SLICE) {
                    // A decoding error is the client's fault: return it, which ends git.
                    dec.write_all(slice)?;
                    let out = std::mem::take(dec.get_mut());
                    written = stdin.write_all(&out).await;
                    if written.is_err() {
                        break;
                    }
                }
                written
            }
        };
        if written.is_err() {
            // git stopped reading (it answered already or failed; its stderr says why).
            return Ok(());
        }
    }
    if let Some(dec) = decoder {
        let rest = dec.finish()?;
        let _ = stdin.write_all(&rest).await;
    }
    let _ = stdin.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkt_line_lengths() {
        assert_eq!(
            pkt_line("# service=git-receive-pack\n"),
            "001f# service=git-receive-pack\n"
        );
        assert_eq!(
            pkt_line("# service=git-upload-pack\n"),
            "001e# service=git-upload-pack\n"
        );
    }

    #[test]
    fn hook_script_quotes_the_path() {
        let script = hook_script(Path::new("/opt/it's here/paasd"));
        assert_eq!(
            String::from_utf8(script).unwrap(),
            "#!/bin/sh\nexec '/opt/it'\\''s here/paasd' git-hook pre-receive\n"
        );
    }
}
