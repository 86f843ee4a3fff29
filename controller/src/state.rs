use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use paas_builder::dockerfile::BuildLimits;
use paas_scheduler::Runtime;

use crate::deploy::DeployOptions;

use crate::auth::{AuthUser, Keys};
use crate::deploy::Deployer;
use crate::error::ApiError;
use crate::logs::LogSessions;
use crate::store::{AppRow, Store};

/// What the controller needs to know about its installation.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    /// Apps are served at `APP.DOMAIN`.
    pub domain: String,
    /// The API's public base URL (git remotes point here), without a trailing slash.
    pub api_url: String,
    /// Where the git hook reaches this controller from the same host.
    pub internal_url: String,
    /// The router's port, for app URLs (omitted from them when 80).
    pub router_port: u16,
    /// Anyone may register; otherwise only the first user may, and admins add the rest.
    pub open_registration: bool,
    /// The `paasd` binary; git's pre-receive hook runs `paasd git-hook pre-receive`.
    pub paasd_exe: PathBuf,
    pub reconcile_interval: Duration,
    pub build_limits: BuildLimits,
    pub deploy: DeployOptions,
    /// Stacks, buildpacks and the CA bundle of buildpack builds.
    pub buildpacks: paas_builder::buildpack::BuildpackSettings,
    /// Each app keeps at most twice this much log history on disk.
    pub log_segment_bytes: u64,
    pub drains: paas_telemetry::drain::DrainSettings,
}

impl Settings {
    pub fn web_url(&self, app: &str) -> String {
        match self.router_port {
            80 => format!("http://{app}.{}/", self.domain),
            port => format!("http://{app}.{}:{port}/", self.domain),
        }
    }

    pub fn git_url(&self, app: &str) -> String {
        format!("{}/{app}.git", self.api_url)
    }

    pub fn repo_path(&self, app: &str) -> PathBuf {
        self.data_dir.join("repos").join(format!("{app}.git"))
    }
}

pub struct Inner {
    pub store: Store,
    pub keys: Keys,
    pub settings: Settings,
    pub runtime: Arc<dyn Runtime>,
    pub docker: bollard::Docker,
    pub deployer: Deployer,
    /// Proves to `/internal/git-hook` that a request comes from our own hook.
    pub hook_secret: String,
    pub log_sessions: LogSessions,
    /// Every app's log stream.
    pub logs: Arc<paas_telemetry::LogHub>,
    /// Requests and resource use per release, for comparing releases.
    pub metrics: Arc<paas_telemetry::metrics::Metrics>,
    /// Attach URLs and `run.N` numbers of one-off processes.
    pub run_sessions: crate::run::RunSessions,
    /// What routers running on their own prove themselves with.
    pub router_token: crate::router_feed::RouterToken,
    /// Cancelled when paasd stops, ending long polls that would hold up its shutdown.
    pub stopping: tokio_util::sync::CancellationToken,
}

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// A `platform` line in the app's log stream: what the platform did and who asked.
    pub fn platform_event(&self, app: &str, message: impl Into<String>) {
        let line = paas_telemetry::LogLine::new(paas_telemetry::Source::Platform, None, message);
        self.logs.publish(app, line);
    }

    /// The app named `name` if `user` may act on it: its owner, a collaborator, or an admin.
    pub async fn app_for(&self, user: &AuthUser, name: &str) -> Result<AppRow, ApiError> {
        let app = self.store.app_by_name(name).await?.ok_or_else(|| {
            ApiError::not_found(format!("app {name:?} not found; `paas apps` lists yours"))
        })?;
        if user.admin
            || app.owner_id == user.id
            || self.store.is_collaborator(&app.id, &user.id).await?
        {
            Ok(app)
        } else {
            Err(ApiError::forbidden(format!(
                "you do not have access to app {name:?}; its owner can grant it with `paas access:add`"
            )))
        }
    }
}
