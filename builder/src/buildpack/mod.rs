//! Heroku classic buildpacks: source without a Dockerfile becomes an image on the run stack.
//!
//! One build-stack container (CPU, memory and time limits; the host's CA bundle trusted) runs
//! `bin/detect`, `bin/compile BUILD_DIR CACHE_DIR ENV_DIR` and `bin/release` of the chosen
//! buildpacks (`runner.sh`), with the per-app cache dir mounted and its output streamed line by
//! line. The built `/app` is then split into a dependencies layer (reused while unchanged) and
//! a code layer, each added to the run stack with create + `PUT archive` + commit.

mod container;
mod release;
mod select;
mod slug;
mod tarball;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bollard::Docker;
use thiserror::Error;
use tokio::sync::mpsc;

use crate::dockerfile::BuildLimits;
use crate::stack::Stack;

pub use release::{parse as parse_release, Release};

/// How buildpack builds are set up on this installation.
#[derive(Debug, Clone)]
pub struct BuildpackSettings {
    pub stack: Stack,
    /// paas's own buildpacks, detected in the order of its `order` file.
    pub buildpacks_dir: PathBuf,
    /// CA bundle builds trust (bind-mounted read-only), so that a TLS-intercepting proxy's CA
    /// works for pip, npm and git inside builds.
    pub ca_bundle: PathBuf,
    /// Host directories `BUILDPACK_URL` may not point into (the data dir: other apps'
    /// repositories and caches are there).
    pub protected_dirs: Vec<PathBuf>,
}

impl BuildpackSettings {
    pub fn new(buildpacks_dir: PathBuf) -> Self {
        BuildpackSettings {
            stack: Stack::default(),
            buildpacks_dir,
            ca_bundle: PathBuf::from("/etc/ssl/certs/ca-certificates.crt"),
            protected_dirs: Vec::new(),
        }
    }
}

/// One buildpack build.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    pub app: String,
    pub commit: String,
    /// The source tree as a tar (`source::export`).
    pub source_tar: Vec<u8>,
    /// The app's config vars: `ENV_DIR`, and `BUILDPACK_URL`.
    pub config: BTreeMap<String, String>,
    /// Kept between builds of the app (`CACHE_DIR`).
    pub cache_dir: PathBuf,
    /// The image's tag (`paas-app/APP:BUILD`).
    pub tag: String,
    pub limits: BuildLimits,
}

/// A built slug image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// Image id (`sha256:...`).
    pub image: String,
    /// The buildpacks' `default_process_types` (a later buildpack's win); a Procfile overrides.
    pub default_process_types: BTreeMap<String, String>,
    /// Names of the buildpacks that ran, in order.
    pub buildpacks: Vec<String>,
    /// Whether the dependencies layer of an earlier build was reused.
    pub dependencies_reused: bool,
}

#[derive(Debug, Error)]
pub enum BuildpackError {
    #[error("the stack image {image} is missing: make the stacks with `paasd stack build` (deploy/bootstrap.sh does), or set --build-stack / --run-stack to images that `docker images` lists")]
    StackMissing { image: String },

    #[error("no buildpack applies to this app. Each looks for:{}\n       Add what one of them needs (or a Dockerfile), or choose buildpacks with `paas config:set BUILDPACK_URL=GIT_URL_OR_NAME` or a .buildpacks file", list(.looked_for))]
    NoneDetected { looked_for: Vec<(String, String)> },

    #[error("the {buildpack} buildpack does not apply to this app (its bin/detect failed{}); it was chosen by {chosen_by}", detail(.output))]
    NotCompatible {
        buildpack: String,
        output: String,
        chosen_by: String,
    },

    #[error(
        "the {buildpack} buildpack failed: bin/compile exited with {code} (its output is above)"
    )]
    CompileFailed { buildpack: String, code: i64 },

    #[error("the {buildpack} buildpack has no executable bin/compile")]
    NoCompile { buildpack: String },

    #[error("the {buildpack} buildpack's bin/release failed: {message}")]
    Release { buildpack: String, message: String },

    #[error("{0}")]
    Select(String),

    #[error("could not fetch buildpack {url}: {message}")]
    Fetch { url: String, message: String },

    #[error("the build took longer than the limit of {} s and was stopped: make it faster or ask the operator to raise PAAS_BUILD_TIMEOUT", limit.as_secs())]
    Timeout { limit: Duration },

    #[error("the build container ended without a result (exit {code}): {message}")]
    Runner { code: i64, message: String },

    #[error("could not {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("talking to the Docker engine: {0}")]
    Docker(#[from] bollard::errors::Error),
}

fn list(items: &[(String, String)]) -> String {
    items
        .iter()
        .map(|(name, what)| format!("\n         {name}: {what}"))
        .collect()
}

fn detail(output: &str) -> String {
    match output.trim() {
        "" => String::new(),
        out => format!(": {out}"),
    }
}

impl BuildpackError {
    fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        BuildpackError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Builds `req` with buildpacks into an image tagged `req.tag`. Every line of build output goes
/// to `log` as it arrives. Builds of one app wait for each other (they share its cache).
pub async fn build(
    docker: &Docker,
    settings: &BuildpackSettings,
    req: &BuildRequest,
    log: mpsc::Sender<String>,
) -> Result<Built, BuildpackError> {
    let images = settings.stack.resolve(docker).await?;
    let plan = select::plan(settings, req, &log).await?;

    let lock = cache_lock(&req.cache_dir);
    let _guard = lock.lock().await;
    container::prepare_cache(&req.cache_dir)?;
    let created = std::time::Instant::now();
    let id = container::create(docker, settings, &images, req, &plan).await?;
    tracing::debug!(app = %req.app, elapsed = ?created.elapsed(), "build container created");
    let result = async {
        let started = std::time::Instant::now();
        let outcome = container::run(docker, &id, req.limits.timeout, &log).await?;
        tracing::debug!(app = %req.app, elapsed = ?started.elapsed(), "buildpacks ran");
        let steps = outcome.interpret(&plan)?;
        let layers = slug::assemble(docker, &id, &images, req, &steps, &log).await?;
        tracing::debug!(app = %req.app, elapsed = ?started.elapsed(), "slug assembled");
        Ok(Built {
            image: layers.image,
            default_process_types: steps.process_types,
            buildpacks: steps.buildpacks,
            dependencies_reused: layers.dependencies_reused,
        })
    }
    .await;
    // Removing a container whose layer holds the whole build takes a second or more; the
    // result does not wait for it.
    let docker = docker.clone();
    tokio::spawn(async move { container::remove(&docker, &id).await });
    result
}

/// Removes what buildpack builds keep for an app between builds: its cache directory and the
/// tag of its dependencies image (`REPO:deps`, the image goes with the app's last image). For
/// `apps:destroy`; missing pieces are fine.
pub async fn forget_app(
    docker: &Docker,
    repo: &str,
    cache_dir: &std::path::Path,
) -> Result<(), BuildpackError> {
    match docker
        .remove_image(
            &format!("{repo}:deps"),
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await
    {
        Ok(_)
        | Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        Err(e) => return Err(e.into()),
    }
    match tokio::fs::remove_dir_all(cache_dir).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(BuildpackError::io("remove the build cache", cache_dir, e))
        }
        _ => Ok(()),
    }
}

/// One lock per cache directory: two builds of an app at once would corrupt its cache.
fn cache_lock(dir: &std::path::Path) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let mut locks = LOCKS
        .get_or_init(Default::default)
        .lock()
        .expect("cache lock map poisoned");
    locks.entry(dir.to_path_buf()).or_default().clone()
}
