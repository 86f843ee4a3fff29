//! The controller part: API (with git and the dashboard), builds, scheduler, logs, drains and
//! metrics, on the database and the Docker engine. `paasd controller` runs it alone; routers
//! on their own follow its route table through `/internal/router/*` on the API listener.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use paas_builder::buildpack::BuildpackSettings;
use paas_builder::dockerfile::BuildLimits;
use paas_builder::stack::Stack;
use paas_controller::{Controller, DeployOptions, Settings};
use paas_scheduler::reconcile::ReconcileOptions;
use paas_scheduler::DockerRuntime;
use rand::RngCore;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api_tls::{self, ApiTls};
use crate::config::Config;
use crate::metrics_endpoint;
use crate::shutdown;

pub struct ControllerPart {
    pub controller: Controller,
    pub api: ApiListener,
    pub instance: String,
    pub metrics_listener: Option<TcpListener>,
}

/// The API listener, bound but not serving yet.
pub struct ApiListener {
    pub addr: SocketAddr,
    listener: TcpListener,
    tls: Option<ApiTls>,
    /// Where the dashboard calls the API (plain HTTP on this host).
    internal_url: String,
}

/// Binds the API (and metrics) listener, connects to Docker and opens the store: everything
/// that can refuse to start, before anything is served.
pub async fn start(config: &Config, domain: &str) -> anyhow::Result<ControllerPart> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    let api_listener = bind(config.api_listen, "API").await?;
    let api_addr = api_listener.local_addr()?;
    let api_tls = ApiTls::setup(config).await?;
    let internal_url = api_tls::internal_url(api_tls.as_ref(), api_addr)?;
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(bind(addr, "metrics").await?),
        None => None,
    };

    let instance = instance_id(&config.data_dir)?;
    let runtime = DockerRuntime::connect(&config.docker_host, &instance)
        .await
        .with_context(|| format!("Docker unreachable at {}", config.docker_host))?;
    let docker = connect_docker(&config.docker_host).await?;

    if config.build_cpus <= 0.0 || config.build_memory_mb <= 0 {
        bail!("build limits must be positive (PAAS_BUILD_CPUS, PAAS_BUILD_MEMORY_MB)");
    }
    let settings = Settings {
        data_dir: config.data_dir.canonicalize()?,
        domain: domain.to_string(),
        api_url: config.api_url(api_addr),
        internal_url: internal_url.clone(),
        // App URLs name the router's port, wherever the router runs.
        router_port: config.router_listen.port(),
        open_registration: config.open_registration,
        paasd_exe: std::env::current_exe().context("cannot find the paasd binary for git hooks")?,
        reconcile_interval: Duration::from_secs(config.reconcile_interval.max(1)),
        buildpacks: BuildpackSettings {
            stack: Stack {
                build_image: config.build_stack.clone(),
                run_image: config.run_stack.clone(),
            },
            buildpacks_dir: config.buildpacks_dir.clone(),
            ca_bundle: config.ca_bundle.clone(),
            protected_dirs: vec![config.data_dir.clone()],
        },
        build_limits: BuildLimits {
            memory_bytes: config.build_memory_mb * 1024 * 1024,
            cpu_quota: (config.build_cpus * 100_000.0) as i64,
            timeout: Duration::from_secs(config.build_timeout),
        },
        deploy: DeployOptions {
            reconcile: ReconcileOptions {
                stop_grace_secs: config.stop_grace,
                boot_timeout: Duration::from_secs(config.boot_timeout),
                ..ReconcileOptions::default()
            },
            queue_timeout: Duration::from_secs(config.deploy_queue_timeout),
            release_timeout: Duration::from_secs(config.release_timeout),
            keep_releases: config.keep_releases,
        },
        log_segment_bytes: config.log_history_mb.max(1) * 1024 * 1024 / 2,
        drains: paas_telemetry::drain::DrainSettings {
            ca_bundle: config.drain_ca_bundle.clone(),
            ..Default::default()
        },
    };
    let controller = Controller::start(settings, &config.database_url(), Arc::new(runtime), docker)
        .await
        .context("cannot start the controller")?;
    Ok(ControllerPart {
        controller,
        api: ApiListener {
            addr: api_addr,
            listener: api_listener,
            tls: api_tls,
            internal_url,
        },
        instance,
        metrics_listener,
    })
}

/// The controller's loops: reconciling, collecting logs, sampling usage, draining logs.
pub struct Background(Vec<JoinHandle<()>>);

impl Background {
    pub fn abort(self) {
        for task in self.0 {
            task.abort();
        }
    }
}

impl ControllerPart {
    pub async fn spawn_background(&self) -> anyhow::Result<Background> {
        let c = &self.controller;
        let drains = c.start_drains().await.context("cannot start log drains")?;
        Ok(Background(vec![
            c.spawn_reconciler(),
            c.spawn_log_collector(),
            c.spawn_usage_sampler(),
            drains,
        ]))
    }
}

impl ApiListener {
    /// Serves the API, git and the dashboard until `stop` turns true.
    pub fn serve(
        self,
        controller: &Controller,
        config: &Config,
        stop: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        // The dashboard calls the API like any client, over the internal address.
        // Sign-ins are kept beside the other secrets, so a restart signs no one out.
        let dashboard = paas_dashboard::router(paas_dashboard::DashboardConfig {
            secure_cookies: config.api_url(self.addr).starts_with("https://"),
            session_file: Some(config.data_dir.join("secrets/dashboard-sessions.json")),
            ..paas_dashboard::DashboardConfig::new(self.internal_url)
        });
        let app = controller.http().merge(dashboard);
        tokio::spawn(api_tls::serve(self.listener, app, self.tls, stop))
    }
}

/// `paasd controller`: everything but the router.
pub async fn run(config: Config) -> anyhow::Result<()> {
    // The domain is checked the way the router checks it, so app URLs match what routers serve.
    let domain = paas_router::Router::try_new(&config.domain)
        .context("invalid --domain")?
        .domain()
        .to_string();
    let mut part = start(&config, &domain).await?;
    let background = part.spawn_background().await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    if let Some(listener) = part.metrics_listener.take() {
        let usage = part.controller.metrics();
        metrics_endpoint::serve(
            listener,
            Arc::new(move || usage.prometheus_usage()),
            stop_rx.clone(),
        );
    }
    let api_addr = part.api.addr;
    let api = part.api.serve(&part.controller, &config, stop_rx);
    tracing::info!(api = %api_addr, domain = %domain, instance = %part.instance, "paasd controller started; routers follow it at /internal/router/routes");

    shutdown::signal().await;
    tracing::info!("stopping; app containers keep running and are adopted on the next start");
    background.abort();
    part.controller.begin_shutdown();
    let _ = stop_tx.send(true);
    // In-flight requests (a push mid-build) get a moment to finish, not forever.
    let _ = tokio::time::timeout(Duration::from_secs(10), api).await;
    Ok(())
}

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for the {what}"))
}

/// The installation's id, labelled on every container it runs (kept in the data dir so a
/// restarted paasd adopts its own containers and no one else's).
fn instance_id(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("instance-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim();
        if !id.is_empty() {
            return Ok(id.to_string());
        }
    }
    let mut bytes = [0u8; 6];
    rand::thread_rng().fill_bytes(&mut bytes);
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(&path, &id).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(id)
}

/// Builds can take many minutes; bollard's default request timeout would cut them off.
const BUILD_REQUEST_TIMEOUT_SECS: u64 = 3 * 3600;

async fn connect_docker(host: &str) -> anyhow::Result<bollard::Docker> {
    let docker = if let Some(path) = host.strip_prefix("unix://") {
        bollard::Docker::connect_with_unix(
            path,
            BUILD_REQUEST_TIMEOUT_SECS,
            bollard::API_DEFAULT_VERSION,
        )
    } else {
        let addr = host.replacen("tcp://", "http://", 1);
        bollard::Docker::connect_with_http(
            &addr,
            BUILD_REQUEST_TIMEOUT_SECS,
            bollard::API_DEFAULT_VERSION,
        )
    }
    .with_context(|| format!("cannot use Docker at {host}"))?;
    docker
        .negotiate_version()
        .await
        .with_context(|| format!("Docker unreachable at {host}"))
}
