//! Builds a Dockerfile with the engine's legacy builder (`POST /build`): no BuildKit, no pulls,
//! because paas hosts have no registry to fetch images or syntax frontends from.

mod parse;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bollard::query_parameters::{BuildImageOptionsBuilder, BuilderVersion};
use bollard::Docker;
use futures_util::StreamExt;
use thiserror::Error;
use tokio::sync::mpsc;

const CPU_PERIOD: i64 = 100_000;

/// Resources of one build's containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildLimits {
    /// Memory per build step, bytes. The engine API takes at most `i32::MAX` (2 GiB - 1 B);
    /// larger values are capped there.
    pub memory_bytes: i64,
    /// CPU time per 100 000 µs period (150 000 = 1.5 CPUs).
    pub cpu_quota: i64,
    /// The whole build, context upload included.
    pub timeout: Duration,
}

impl Default for BuildLimits {
    fn default() -> Self {
        BuildLimits {
            memory_bytes: 2 << 30,
            cpu_quota: 150_000,
            timeout: Duration::from_secs(20 * 60),
        }
    }
}

#[derive(Debug, Error)]
pub enum BuildError {
    #[error("Dockerfile line {line}: the `# syntax={value}` parser directive is not supported: paas builds with the engine's built-in builder and cannot fetch a syntax frontend (no registry access); remove that line")]
    SyntaxDirective { line: usize, value: String },

    #[error("the Dockerfile has no FROM instruction: start it with `FROM IMAGE`, naming an image present on the paas host")]
    NoFrom,

    #[error("Dockerfile line {line}: {message}")]
    Invalid { line: usize, message: String },

    #[error("Dockerfile line {line}: `{text}` uses ${name}, which has no value: paas passes no build arguments, so give it a default (`ARG {name}=VALUE`) before the first FROM")]
    UnresolvedArg {
        line: usize,
        text: String,
        name: String,
    },

    #[error("Dockerfile line {line}: image {image:?} is not on the paas host, and paas cannot pull images (no registry access): build or import it there first (e.g. deploy/images.sh), or use an image that `docker images` lists")]
    MissingImage { line: usize, image: String },

    #[error("the Docker build failed: {message}")]
    Failed { message: String },

    #[error("the Docker build took longer than the limit of {} s and was stopped: make it faster (cache dependencies in an early layer) or ask the operator to raise the limit", limit.as_secs())]
    Timeout { limit: Duration },

    #[error("the Docker engine finished the build but reported no image for tag {tag}")]
    NoImage { tag: String },

    #[error("talking to the Docker engine: {0}")]
    Docker(#[from] bollard::errors::Error),
}

/// Checks a Dockerfile before building it: no `# syntax=` directive, and every image it starts
/// from or copies from is present on the host (the legacy builder would try to pull it).
pub async fn check(docker: &Docker, dockerfile: &str) -> Result<(), BuildError> {
    let parsed = parse::parse(dockerfile);
    if let Some(d) = parsed.directives.iter().find(|d| d.name == "syntax") {
        return Err(BuildError::SyntaxDirective {
            line: d.line,
            value: d.value.clone(),
        });
    }

    let mut global_args: HashMap<String, Option<String>> = HashMap::new();
    let mut stages: Vec<String> = Vec::new();
    let mut seen_from = false;
    let mut needed: Vec<(usize, String)> = Vec::new();
    for ins in &parsed.instructions {
        match ins.keyword.as_str() {
            "ARG" if !seen_from => global_args.extend(parse::arg_defaults(&ins.args)),
            "FROM" => {
                seen_from = true;
                let words: Vec<&str> = ins
                    .args
                    .split_whitespace()
                    .filter(|w| !w.starts_with("--"))
                    .collect();
                let (image, name) = match words[..] {
                    [image] => (image, None),
                    [image, as_, name] if as_.eq_ignore_ascii_case("as") => (image, Some(name)),
                    _ => {
                        return Err(BuildError::Invalid {
                            line: ins.line,
                            message: format!(
                                "expected `FROM IMAGE [AS NAME]`, found `FROM {}`",
                                ins.args
                            ),
                        })
                    }
                };
                let image = parse::substitute(image, &global_args).map_err(|name| {
                    BuildError::UnresolvedArg {
                        line: ins.line,
                        text: format!("FROM {}", ins.args),
                        name,
                    }
                })?;
                let lower = image.to_ascii_lowercase();
                if image.is_empty() {
                    return Err(BuildError::Invalid {
                        line: ins.line,
                        message: "FROM names no image".to_string(),
                    });
                }
                if lower != "scratch" && !stages.contains(&lower) {
                    needed.push((ins.line, image));
                }
                if let Some(name) = name {
                    stages.push(name.to_ascii_lowercase());
                }
            }
            "COPY" => {
                let from = ins
                    .args
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("--from="));
                if let Some(from) = from {
                    let lower = from.to_ascii_lowercase();
                    let is_index = from.bytes().all(|b| b.is_ascii_digit());
                    if !is_index && !stages.contains(&lower) {
                        needed.push((ins.line, from.to_string()));
                    }
                }
            }
            _ => {}
        }
    }
    if !seen_from {
        return Err(BuildError::NoFrom);
    }

    let mut checked = HashSet::new();
    for (line, image) in needed {
        if !checked.insert(image.clone()) {
            continue;
        }
        match docker.inspect_image(&image).await {
            Ok(_) => {}
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                return Err(BuildError::MissingImage { line, image });
            }
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 400,
                message,
            }) => {
                return Err(BuildError::Invalid {
                    line,
                    message: format!("{image:?} is not a valid image name: {message}"),
                });
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Builds `context_tar` (with `Dockerfile` at its root) and tags the image `tag`. Every line
/// of build output goes to `log` as it arrives. Returns the image id (`sha256:...`).
pub async fn build(
    docker: &Docker,
    context_tar: Vec<u8>,
    tag: &str,
    limits: &BuildLimits,
    log: mpsc::Sender<String>,
) -> Result<String, BuildError> {
    let memory = i32::try_from(limits.memory_bytes.max(0)).unwrap_or(i32::MAX);
    let cpu_quota = i32::try_from(limits.cpu_quota.max(0)).unwrap_or(i32::MAX);
    let mut options = BuildImageOptionsBuilder::new()
        .dockerfile("Dockerfile")
        .t(tag)
        .rm(true)
        .forcerm(true)
        .version(BuilderVersion::BuilderV1);
    if memory > 0 {
        options = options.memory(memory);
    }
    if cpu_quota > 0 {
        options = options.cpuperiod(CPU_PERIOD as i32).cpuquota(cpu_quota);
    }
    let options = options.build();
    let context = bytes::Bytes::from(context_tar);

    let run = async {
        let mut retried = false;
        loop {
            match attempt(docker, options.clone(), context.clone(), tag, &log).await {
                Err(BuildError::Failed { message }) if !retried && lost_cache_layer(&message) => {
                    retried = true;
                    let _ = log.send(LOST_CACHE_LAYER.to_string()).await;
                }
                other => return other,
            }
        }
    };
    // Dropping the request on timeout makes the engine cancel the build; `forcerm` then
    // removes its containers.
    tokio::time::timeout(limits.timeout, run)
        .await
        .unwrap_or(Err(BuildError::Timeout {
            limit: limits.timeout,
        }))
}

const LOST_CACHE_LAYER: &str = "-----> A cached layer this build used was removed meanwhile (with another release's image); building again";

/// Whether a build failed because an image it reused from the build cache was removed while
/// it ran: untagging an old release's image also removes its untagged parents, which are the
/// cache of every build with the same first steps. Building again does not find it in the
/// cache any more and makes the layer anew.
fn lost_cache_layer(message: &str) -> bool {
    message.contains("unknown parent image ID") || message.contains("failed to set parent")
}

async fn attempt(
    docker: &Docker,
    options: bollard::query_parameters::BuildImageOptions,
    context: bytes::Bytes,
    tag: &str,
    log: &mpsc::Sender<String>,
) -> Result<String, BuildError> {
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(context)));
    let mut lines = LineSplitter::default();
    let mut image_id = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(text) = info.stream.as_deref() {
                    for line in lines.push(text) {
                        let _ = log.send(line).await;
                    }
                }
                if let Some(status) = info.status {
                    let _ = log.send(status).await;
                }
                if let Some(id) = info.aux.and_then(|aux| aux.id) {
                    image_id = Some(id);
                }
            }
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                if let Some(rest) = lines.finish() {
                    let _ = log.send(rest).await;
                }
                let _ = log.send(error.clone()).await;
                return Err(BuildError::Failed { message: error });
            }
            Err(e) => return Err(BuildError::Docker(e)),
        }
    }
    if let Some(rest) = lines.finish() {
        let _ = log.send(rest).await;
    }
    match image_id {
        Some(id) => Ok(id),
        // Older engines only print "Successfully built"; the tag tells the id.
        None => match docker.inspect_image(tag).await {
            Ok(image) => image.id.ok_or_else(|| BuildError::NoImage {
                tag: tag.to_string(),
            }),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Err(BuildError::NoImage {
                tag: tag.to_string(),
            }),
            Err(e) => Err(e.into()),
        },
    }
}

/// Reassembles lines from the engine's `stream` fragments, which need not end at line ends.
#[derive(Default)]
struct LineSplitter {
    partial: String,
}

impl LineSplitter {
    fn push(&mut self, text: &str) -> Vec<String> {
        self.partial.push_str(text);
        let mut lines = Vec::new();
        while let Some(pos) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=pos).collect();
            lines.push(line.trim_end_matches(['\n', '\r']).to_string());
        }
        lines
    }

    fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.partial);
        (!rest.is_empty()).then_some(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_splitter() {
        let mut s = LineSplitter::default();
        assert_eq!(s.push("Step 1/2 : FROM x\n ---> ab"), ["Step 1/2 : FROM x"]);
        assert_eq!(s.push("c\r\n\nhi"), [" ---> abc", ""]);
        assert_eq!(s.finish().as_deref(), Some("hi"));
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn a_cache_layer_removed_mid_build_is_told_from_other_failures() {
        assert!(lost_cache_layer("failed to export image: failed to set parent sha256:f7d8ed80e42e: unknown parent image ID sha256:f7d8ed80e42e"));
        assert!(!lost_cache_layer(
            "The command '/bin/sh -c make' returned a non-zero code: 2"
        ));
        assert!(!lost_cache_layer(
            "COPY failed: file not found in build context"
        ));
    }
}
