//! The build container: a build-stack container holding the source, the buildpacks, ENV_DIR
//! and `runner.sh`, with the app's cache and the host's CA bundle mounted, limited in memory,
//! CPU and time; its output is relayed line by line.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::{StreamExt, TryStreamExt};
use tokio::sync::mpsc;

use super::release;
use super::select::Plan;
use super::tarball::{self, TarWriter};
use super::{BuildRequest, BuildpackError, BuildpackSettings};
use crate::stack::StackImages;

const RUNNER: &str = include_str!("runner.sh");
/// Where the CA bundle appears in build containers; stacks point their CA variables here too.
const CA_PATH: &str = "/etc/ssl/certs/ca-certificates.crt";
const CPU_PERIOD: i64 = 100_000;
/// Enough for any real build, few enough that a fork bomb stays contained.
const PIDS_LIMIT: i64 = 4096;
pub(super) const BUILDER_LABEL: &str = "paas.builder";

pub(super) fn prepare_cache(dir: &Path) -> Result<(), BuildpackError> {
    std::fs::create_dir_all(dir).map_err(|e| BuildpackError::io("create the build cache", dir, e))
}

/// Creates the build container and copies the build's inputs into it. Nothing runs yet.
pub(super) async fn create(
    docker: &Docker,
    settings: &BuildpackSettings,
    images: &StackImages,
    req: &BuildRequest,
    plan: &Plan,
) -> Result<String, BuildpackError> {
    let cache = req
        .cache_dir
        .canonicalize()
        .map_err(|e| BuildpackError::io("open the build cache", &req.cache_dir, e))?;
    let ca = settings.ca_bundle.canonicalize().map_err(|e| {
        BuildpackError::io(
            "read the CA bundle (PAAS_CA_BUNDLE)",
            &settings.ca_bundle,
            e,
        )
    })?;
    let mut env = vec![
        format!("STACK={}", settings.stack.build_image),
        format!("SOURCE_VERSION={}", req.commit),
        "HOME=/app".to_string(),
        "PYTHONUNBUFFERED=1".to_string(),
        format!("PAAS_BUILD_USER={}", images.run_user),
    ];
    for var in [
        "SSL_CERT_FILE",
        "PIP_CERT",
        "REQUESTS_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
        "npm_config_cafile",
        "CURL_CA_BUNDLE",
        "GIT_SSL_CAINFO",
        "CARGO_HTTP_CAINFO",
    ] {
        env.push(format!("{var}={CA_PATH}"));
    }
    let limits = &req.limits;
    let body = ContainerCreateBody {
        image: Some(images.build_id.clone()),
        cmd: Some(vec!["/bin/bash".into(), "/paas/runner.sh".into()]),
        user: Some("0".into()),
        working_dir: Some("/app".into()),
        env: Some(env),
        labels: Some(HashMap::from([
            (BUILDER_LABEL.to_string(), "build".to_string()),
            ("paas.build.app".to_string(), req.app.clone()),
        ])),
        host_config: Some(HostConfig {
            binds: Some(vec![
                format!("{}:/cache", cache.display()),
                format!("{}:{CA_PATH}:ro", ca.display()),
            ]),
            memory: (limits.memory_bytes > 0).then_some(limits.memory_bytes),
            memory_swap: (limits.memory_bytes > 0).then_some(limits.memory_bytes),
            cpu_period: (limits.cpu_quota > 0).then_some(CPU_PERIOD),
            cpu_quota: (limits.cpu_quota > 0).then_some(limits.cpu_quota),
            pids_limit: Some(PIDS_LIMIT),
            network_mode: Some("bridge".into()),
            init: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    let id = docker
        .create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            body,
        )
        .await?
        .id;
    let inputs = async {
        upload(docker, &id, "/app", req.source_tar.clone()).await?;
        let paas =
            inputs_tar(req, plan).map_err(|e| BuildpackError::io("pack", "the build inputs", e))?;
        upload(docker, &id, "/", paas).await
    };
    if let Err(e) = inputs.await {
        remove(docker, &id).await;
        return Err(e);
    }
    Ok(id)
}

/// `/paas`: the runner, the mode, ENV_DIR and the buildpacks.
fn inputs_tar(req: &BuildRequest, plan: &Plan) -> std::io::Result<Vec<u8>> {
    let mut tar = TarWriter::new();
    tar.dir("paas", 0o755)?;
    tar.file("paas/runner.sh", 0o755, RUNNER.as_bytes())?;
    let mode = if plan.detect { "detect" } else { "explicit" };
    tar.file("paas/mode", 0o644, mode.as_bytes())?;
    tar.dir("paas/out", 0o755)?;
    tar.dir("paas/env", 0o755)?;
    for (key, value) in &req.config {
        tar.file(&format!("paas/env/{key}"), 0o644, value.as_bytes())?;
    }
    tar.dir("paas/buildpacks", 0o755)?;
    for (i, pack) in plan.packs.iter().enumerate() {
        tar.tree(&pack.dir, &format!("paas/buildpacks/{i:02}-{}", pack.name))?;
    }
    tar.finish()
}

pub(super) async fn upload(
    docker: &Docker,
    id: &str,
    path: &str,
    tar: Vec<u8>,
) -> Result<(), BuildpackError> {
    let options = UploadToContainerOptionsBuilder::new().path(path).build();
    docker
        .upload_to_container(id, Some(options), bollard::body_full(tar.into()))
        .await?;
    Ok(())
}

/// `GET archive` of `path`: a tar whose entries start with `path`'s last component.
pub(super) async fn download(
    docker: &Docker,
    id: &str,
    path: &str,
) -> Result<Vec<u8>, BuildpackError> {
    let options = DownloadFromContainerOptionsBuilder::new()
        .path(path)
        .build();
    let chunks: Vec<bytes::Bytes> = docker
        .download_from_container(id, Some(options))
        .try_collect()
        .await?;
    Ok(chunks.concat())
}

pub(super) async fn remove(docker: &Docker, id: &str) {
    let options = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    if let Err(e) = docker.remove_container(id, Some(options)).await {
        tracing::warn!(container = id, error = %e, "removing a build container");
    }
}

/// How the runner ended.
pub(super) struct Outcome {
    code: i64,
    out: BTreeMap<String, Vec<u8>>,
}

/// What the buildpacks made of the app.
pub(super) struct Steps {
    pub buildpacks: Vec<String>,
    pub process_types: BTreeMap<String, String>,
    pub config_vars: BTreeMap<String, String>,
}

/// Starts the container, relays its output to `log` line by line, and waits for it (at most
/// `limit`; then it is killed).
pub(super) async fn run(
    docker: &Docker,
    id: &str,
    limit: Duration,
    log: &mpsc::Sender<String>,
) -> Result<Outcome, BuildpackError> {
    docker
        .start_container(id, None::<bollard::query_parameters::StartContainerOptions>)
        .await?;
    let relay = async {
        let options = LogsOptionsBuilder::new()
            .follow(true)
            .stdout(true)
            .stderr(true)
            .build();
        let mut logs = docker.logs(id, Some(options));
        let mut partial: Vec<u8> = Vec::new();
        while let Some(chunk) = logs.next().await {
            partial.extend_from_slice(&chunk?.into_bytes());
            while let Some(pos) = partial.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = partial.drain(..=pos).collect();
                let _ = log.send(clean(&line)).await;
            }
        }
        if !partial.is_empty() {
            let _ = log.send(clean(&partial)).await;
        }
        let waited = docker
            .wait_container(id, None::<bollard::query_parameters::WaitContainerOptions>)
            .next()
            .await;
        let code = match waited {
            Some(Ok(r)) => r.status_code,
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
            Some(Err(e)) => return Err(e.into()),
            None => -1,
        };
        Ok::<i64, BuildpackError>(code)
    };
    let code = match tokio::time::timeout(limit, relay).await {
        Ok(code) => code?,
        Err(_) => return Err(BuildpackError::Timeout { limit }),
    };
    let out = download(docker, id, "/paas/out").await?;
    let out = tarball::files(&out).map_err(|e| BuildpackError::io("read", "/paas/out", e))?;
    Ok(Outcome { code, out })
}

/// A line of output without its line end or terminal control characters.
fn clean(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches(['\n', '\r']);
    // Progress bars redraw with \r: keep what was drawn last.
    let text = text.rsplit('\r').next().unwrap_or("");
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // An ANSI escape (colours): drop it whole.
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        if !c.is_control() || c == '\t' {
            out.push(c);
        }
    }
    out
}

impl Outcome {
    fn text(&self, name: &str) -> String {
        self.out
            .get(name)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    }

    pub fn interpret(&self, plan: &Plan) -> Result<Steps, BuildpackError> {
        let status = self.text("status");
        let fields: Vec<&str> = status.trim_end().split('\t').collect();
        let name = || fields.get(1).unwrap_or(&"?").to_string();
        match fields[0] {
            "ok" => {}
            "none-detected" => {
                let looked_for = self
                    .text("detect-failures")
                    .lines()
                    .map(|l| {
                        let (name, output) = l.split_once('\t').unwrap_or((l, ""));
                        let output = match output.trim() {
                            "" => "its bin/detect did not match".to_string(),
                            o => o.to_string(),
                        };
                        (name.to_string(), output)
                    })
                    .collect();
                return Err(BuildpackError::NoneDetected { looked_for });
            }
            "not-compatible" => {
                return Err(BuildpackError::NotCompatible {
                    buildpack: name(),
                    output: self.text("detect-output"),
                    chosen_by: plan.chosen_by.clone(),
                })
            }
            "no-compile" => return Err(BuildpackError::NoCompile { buildpack: name() }),
            "compile-failed" => {
                return Err(BuildpackError::CompileFailed {
                    buildpack: name(),
                    code: fields.get(2).and_then(|c| c.parse().ok()).unwrap_or(-1),
                })
            }
            "release-failed" => {
                let index = self.text("buildpacks").lines().count().saturating_sub(1);
                return Err(BuildpackError::Release {
                    buildpack: name(),
                    message: format!(
                        "exit {}: {}",
                        fields.get(2).unwrap_or(&"?"),
                        self.text(&format!("release-{index}.err")).trim()
                    ),
                });
            }
            _ => {
                return Err(BuildpackError::Runner {
                    code: self.code,
                    message: if self.code == 137 {
                        "it was killed, probably for using more memory than the build limit (PAAS_BUILD_MEMORY_MB)".into()
                    } else {
                        "see the output above".into()
                    },
                })
            }
        }
        let buildpacks: Vec<String> = self
            .text("buildpacks")
            .lines()
            .map(str::to_string)
            .collect();
        let mut steps = Steps {
            buildpacks,
            process_types: BTreeMap::new(),
            config_vars: BTreeMap::new(),
        };
        for (i, name) in steps.buildpacks.iter().enumerate() {
            let Some(yaml) = self.out.get(&format!("release-{i}")) else {
                continue;
            };
            let parsed = release::parse(&String::from_utf8_lossy(yaml)).map_err(|message| {
                BuildpackError::Release {
                    buildpack: name.clone(),
                    message,
                }
            })?;
            steps.process_types.extend(parsed.default_process_types);
            steps.config_vars.extend(parsed.config_vars);
        }
        Ok(steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_lines() {
        assert_eq!(clean(b"hello\r\n"), "hello");
        assert_eq!(clean(b"10%\r50%\r100%\n"), "100%");
        assert_eq!(clean(b"\x1b[1mbold\x1b[0m\tx\n"), "bold\tx");
    }
}
