//! The slug image: the built `/app` on the run stack in two layers. What the buildpacks added
//! beside the source (hidden directories such as `.heroku`, and `node_modules`) is the
//! dependencies layer, reused as long as its files are the same; the rest, and the launcher,
//! is the code layer. Each layer is a container of the image below, an `PUT archive` and a
//! commit, which measured faster than a Dockerfile `COPY`.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Component, Path};

use bollard::models::{ContainerConfig, ContainerCreateBody};
use bollard::query_parameters::{CommitContainerOptionsBuilder, CreateContainerOptionsBuilder};
use bollard::Docker;
use rand::Rng;
use tokio::sync::mpsc;

use super::container::{self, Steps};
use super::{tarball, BuildRequest, BuildpackError};
use crate::stack::StackImages;

const LAUNCHER: &str = include_str!("launch.sh");
const DEPS_KEY_LABEL: &str = "paas.deps-key";
/// What an image with no process types runs: a message rather than a shell that exits at once.
const NO_TYPES: &str =
    "echo 'paas: this app declares no process types: add a Procfile (web: COMMAND)' >&2; exit 1";

pub(super) struct Assembled {
    pub image: String,
    pub dependencies_reused: bool,
}

/// Builds the slug image from the build container's `/app`, tagged `req.tag`.
pub(super) async fn assemble(
    docker: &Docker,
    build_container: &str,
    images: &StackImages,
    req: &BuildRequest,
    steps: &Steps,
    log: &mpsc::Sender<String>,
) -> Result<Assembled, BuildpackError> {
    let say = |line: String| async move {
        let _ = log.send(line).await;
    };
    let source_top = tarball::top_level(&req.source_tar)
        .map_err(|e| BuildpackError::io("read", "the source", e))?;
    let started = std::time::Instant::now();
    let app_tar = container::download(docker, build_container, "/app").await?;
    tracing::debug!(app = %req.app, bytes = app_tar.len(), elapsed = ?started.elapsed(), "downloaded /app");
    let run_id = images.run_id.clone();
    let layers = tokio::task::spawn_blocking(move || split(&app_tar, &source_top, &run_id))
        .await
        .map_err(|e| BuildpackError::io("split", "/app", std::io::Error::other(e)))?
        .map_err(|e| BuildpackError::io("split", "/app", e))?;

    tracing::debug!(app = %req.app, elapsed = ?started.elapsed(), "split /app into layers");
    let repo = req
        .tag
        .rsplit_once(':')
        .map_or(req.tag.as_str(), |(repo, _)| repo);
    let deps_tag = format!("{repo}:deps");
    let (base, reused) = if layers.deps.files == 0 {
        (images.run_id.clone(), false)
    } else {
        match cached_key(docker, &deps_tag).await {
            Some((id, key)) if key == layers.key => {
                say(format!(
                    "-----> Dependencies unchanged ({} files, {}): reusing their layer",
                    layers.deps.files,
                    mb(layers.deps.bytes)
                ))
                .await;
                (id, true)
            }
            _ => {
                say(format!(
                    "-----> New dependencies layer: {} files, {}",
                    layers.deps.files,
                    mb(layers.deps.bytes)
                ))
                .await;
                let body = ContainerCreateBody {
                    labels: Some(HashMap::from([(
                        DEPS_KEY_LABEL.to_string(),
                        layers.key.clone(),
                    )])),
                    ..Default::default()
                };
                let id = commit_layer(
                    docker,
                    &images.run_id,
                    layers.deps.tar,
                    body,
                    &deps_tag,
                    "paas: dependencies",
                )
                .await?;
                (id, false)
            }
        }
    };

    say(format!(
        "-----> Code layer: {} files, {}",
        layers.code.files,
        mb(layers.code.bytes)
    ))
    .await;
    let labels = HashMap::from([
        (
            "paas.slug.buildpacks".to_string(),
            steps.buildpacks.join(","),
        ),
        ("paas.slug.commit".to_string(), req.commit.clone()),
    ]);
    let body = ContainerCreateBody {
        user: Some(images.run_user.clone()),
        working_dir: Some("/app".into()),
        entrypoint: Some(vec!["/paas/launch".into()]),
        cmd: Some(vec!["/bin/sh".into(), "-c".into(), NO_TYPES.into()]),
        // bin/release's config_vars: defaults under the app's own config.
        env: Some(
            steps
                .config_vars
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
        ),
        labels: Some(labels),
        ..Default::default()
    };
    let committing = std::time::Instant::now();
    let image = commit_layer(docker, &base, layers.code.tar, body, &req.tag, "paas: code").await?;
    tracing::debug!(app = %req.app, elapsed = ?committing.elapsed(), "committed the code layer");
    Ok(Assembled {
        image,
        dependencies_reused: reused,
    })
}

fn mb(bytes: u64) -> String {
    if bytes < 1_000_000 {
        format!("{:.1} kB", bytes as f64 / 1e3)
    } else {
        format!("{:.1} MB", bytes as f64 / 1e6)
    }
}

async fn cached_key(docker: &Docker, tag: &str) -> Option<(String, String)> {
    let image = docker.inspect_image(tag).await.ok()?;
    let key = image.config?.labels?.get(DEPS_KEY_LABEL)?.clone();
    Some((image.id?, key))
}

/// A container of `base` with `body`'s settings, `tar` extracted at `/`, committed as `tag`.
async fn commit_layer(
    docker: &Docker,
    base: &str,
    tar: Vec<u8>,
    mut body: ContainerCreateBody,
    tag: &str,
    comment: &str,
) -> Result<String, BuildpackError> {
    body.image = Some(base.to_string());
    // Not labelled: labels would be committed into the image and inherited by every app
    // container. Never started, and removed right after the commit.
    let suffix: u32 = rand::thread_rng().gen();
    let name = format!("paas-slug-{suffix:08x}");
    let options = CreateContainerOptionsBuilder::new().name(&name).build();
    let id = docker.create_container(Some(options), body).await?.id;
    let result = async {
        container::upload(docker, &id, "/", tar).await?;
        let (repo, tag) = tag.rsplit_once(':').unwrap_or((tag, "latest"));
        let options = CommitContainerOptionsBuilder::new()
            .container(&id)
            .repo(repo)
            .tag(tag)
            .comment(comment)
            .pause(false)
            .build();
        let committed = docker
            .commit_container(options, ContainerConfig::default())
            .await?;
        Ok(committed.id)
    }
    .await;
    container::remove(docker, &id).await;
    result
}

/// One layer's tar.
pub(super) struct Layer {
    pub tar: Vec<u8>,
    pub files: usize,
    pub bytes: u64,
}

pub(super) struct Layers {
    pub deps: Layer,
    pub code: Layer,
    /// Identifies the dependencies layer's content and the stack under it.
    pub key: String,
}

/// Whether a top-level entry of /app belongs to the dependencies layer: something the build
/// added (not in the source) that buildpacks install dependencies into.
fn is_dependency(top: &str, source: &BTreeSet<String>) -> bool {
    !source.contains(top) && (top.starts_with('.') || top == "node_modules")
}

/// Splits a `GET archive` of `/app` (entries `app/...`) into the two layers.
pub(super) fn split(
    app_tar: &[u8],
    source: &BTreeSet<String>,
    stack: &str,
) -> std::io::Result<Layers> {
    let mut deps = LayerWriter::new();
    let mut code = LayerWriter::new();
    let mut key = Key::default();
    key.write(stack.as_bytes());
    let mut archive = tar::Archive::new(app_tar);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let link = entry.link_name()?.map(|l| l.into_owned());
        let header = entry.header().clone();
        let top = path.components().nth(1).and_then(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        });
        match top {
            // /app itself: both layers carry it, with its owner.
            None => {
                deps.append(&header, &path, link.as_deref(), &mut std::io::empty())?;
                code.append(&header, &path, link.as_deref(), &mut std::io::empty())?;
            }
            Some(top) if is_dependency(&top, source) => {
                let mut content = Vec::new();
                entry.read_to_end(&mut content)?;
                key.entry(&header, &path, link.as_deref(), &content)?;
                deps.append(&header, &path, link.as_deref(), &mut &content[..])?;
            }
            Some(_) => code.append(&header, &path, link.as_deref(), &mut entry)?,
        }
    }
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    code.append(&h, Path::new("paas"), None, &mut std::io::empty())?;
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(LAUNCHER.len() as u64);
    code.append(&h, Path::new("paas/launch"), None, &mut LAUNCHER.as_bytes())?;
    Ok(Layers {
        key: format!("{:016x}-{}", key.0, deps.files),
        deps: deps.finish()?,
        code: code.finish()?,
    })
}

struct LayerWriter {
    tar: tar::Builder<Vec<u8>>,
    files: usize,
    bytes: u64,
}

impl LayerWriter {
    fn new() -> Self {
        LayerWriter {
            tar: tar::Builder::new(Vec::new()),
            files: 0,
            bytes: 0,
        }
    }

    fn append(
        &mut self,
        header: &tar::Header,
        path: &Path,
        link: Option<&Path>,
        data: &mut dyn std::io::Read,
    ) -> std::io::Result<()> {
        let mut header = header.clone();
        match (header.entry_type(), link) {
            (tar::EntryType::Symlink | tar::EntryType::Link, Some(target)) => {
                self.tar.append_link(&mut header, path, target)?
            }
            _ => self.tar.append_data(&mut header, path, data)?,
        }
        if header.entry_type().is_file() {
            self.files += 1;
            self.bytes += header.size()?;
        }
        Ok(())
    }

    fn finish(self) -> std::io::Result<Layer> {
        Ok(Layer {
            tar: self.tar.into_inner()?,
            files: self.files,
            bytes: self.bytes,
        })
    }
}

/// The dependencies layer's identity: a word-at-a-time multiply-rotate hash (FxHash's mix) of
/// every entry's path, type, mode, owner, size, link and content, but not its times, so files
/// a buildpack restored from its cache or wrote again with the same content count as unchanged.
/// Fast even in unoptimised builds, and stable across builds of paas (unlike std's hasher), so
/// a key written into an image label stays comparable. Any single changed word changes the key.
struct Key(u64);

impl Default for Key {
    fn default() -> Self {
        Key(0xcbf2_9ce4_8422_2325)
    }
}

impl Key {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.mix(u64::from_le_bytes(word.try_into().expect("8 bytes")));
        }
        let mut last = [0u8; 8];
        last[..words.remainder().len()].copy_from_slice(words.remainder());
        self.mix(u64::from_le_bytes(last));
        self.mix(bytes.len() as u64);
    }

    fn entry(
        &mut self,
        h: &tar::Header,
        path: &Path,
        link: Option<&Path>,
        content: &[u8],
    ) -> std::io::Result<()> {
        use std::os::unix::ffi::OsStrExt;
        self.write(path.as_os_str().as_bytes());
        for n in [
            u64::from(h.entry_type().as_byte()),
            u64::from(h.mode()?),
            h.uid()?,
            h.gid()?,
            h.size()?,
        ] {
            self.mix(n);
        }
        self.write(link.map_or(&[][..], |l| l.as_os_str().as_bytes()));
        self.write(content);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app_tar(entries: &[(&str, &str, u64)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, content, mtime) in entries {
            let mut h = tar::Header::new_ustar();
            if path.ends_with('/') {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
            } else {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(content.len() as u64);
            }
            h.set_uid(1000);
            h.set_gid(1000);
            h.set_mtime(*mtime);
            b.append_data(&mut h, path, content.as_bytes()).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn paths(tar: &[u8]) -> Vec<String> {
        tar::Archive::new(tar)
            .entries()
            .unwrap()
            .map(|e| {
                e.unwrap()
                    .path()
                    .unwrap()
                    .display()
                    .to_string()
                    .trim_end_matches('/')
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn splits_dependencies_from_code() {
        let source = BTreeSet::from(["app.py".to_string(), ".profile".to_string()]);
        let long = format!("app/node_modules/{}/index.js", "x".repeat(120));
        let tar = app_tar(&[
            ("app/", "", 1),
            ("app/app.py", "print()", 5),
            ("app/.profile", "export A=1", 5),
            ("app/.heroku/", "", 7),
            ("app/.heroku/python/lib.py", "lib", 9),
            (&long, "js", 9),
            ("app/staticfiles/site.css", "css", 9),
        ]);
        let layers = split(&tar, &source, "stack1").unwrap();
        assert_eq!(
            paths(&layers.deps.tar),
            ["app", "app/.heroku", "app/.heroku/python/lib.py", &long]
        );
        assert_eq!(
            paths(&layers.code.tar),
            [
                "app",
                "app/app.py",
                "app/.profile",
                "app/staticfiles/site.css",
                "paas",
                "paas/launch"
            ]
        );
        assert_eq!((layers.deps.files, layers.deps.bytes), (2, 5));

        // Same dependency files, other code and other times: same key.
        let again = app_tar(&[
            ("app/", "", 2),
            ("app/app.py", "print('changed')", 6),
            ("app/.heroku/", "", 8),
            ("app/.heroku/python/lib.py", "lib", 19),
            (&long, "js", 9),
        ]);
        assert_eq!(split(&again, &source, "stack1").unwrap().key, layers.key);
        // Another version of a file, or another stack: another key.
        let upgraded = app_tar(&[
            ("app/.heroku/", "", 7),
            ("app/.heroku/python/lib.py", "lib2", 9),
            (&long, "js", 9),
        ]);
        assert_ne!(split(&upgraded, &source, "stack1").unwrap().key, layers.key);
        assert_ne!(split(&tar, &source, "stack2").unwrap().key, layers.key);
    }
}
