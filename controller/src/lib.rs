//! The controller: the domain (apps, builds, releases, config, formation, users), its store,
//! and the Heroku-style HTTP API over it.

pub mod auth;
pub mod buildpacks;
pub mod deploy;
pub mod error;
pub mod images;
pub mod logs;
pub mod push;
pub mod range;
pub mod router;
pub mod router_feed;
pub mod routes;
pub mod run;
pub mod state;
pub mod store;
pub mod views;

use std::sync::Arc;

use paas_scheduler::Runtime;
use paas_telemetry::LogHub;
use rand::RngCore;
use thiserror::Error;
use tokio::sync::watch;

pub use deploy::{AppRouting, DeployOptions, RouteBackend, RouteMap, RouteTable};
pub use state::Settings;

use crate::auth::Keys;
use crate::deploy::Deployer;
use crate::logs::LogSessions;
use crate::state::{AppState, Inner};
use crate::store::{Store, StoreError};

#[derive(Debug, Error)]
pub enum ControllerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot use data dir {0}: {1}")]
    DataDir(String, std::io::Error),
}

pub struct Controller {
    state: AppState,
}

impl Controller {
    /// Opens the store (running migrations), loads or makes the signing key.
    pub async fn start(
        settings: Settings,
        database_url: &str,
        runtime: Arc<dyn Runtime>,
        docker: bollard::Docker,
    ) -> Result<Controller, ControllerError> {
        let data_dir = settings.data_dir.display().to_string();
        std::fs::create_dir_all(settings.data_dir.join("repos"))
            .map_err(|e| ControllerError::DataDir(data_dir.clone(), e))?;
        let keys = Keys::load_or_create(&settings.data_dir)
            .map_err(|e| ControllerError::DataDir(data_dir.clone(), e))?;
        let router_token = router_feed::RouterToken::load_or_create(&settings.data_dir)
            .map_err(|e| ControllerError::DataDir(data_dir, e))?;
        let store = Store::connect(database_url).await?;
        let logs = LogHub::new(settings.data_dir.join("logs"), settings.log_segment_bytes);
        let deployer = Deployer::new(
            store.clone(),
            runtime.clone(),
            docker.clone(),
            settings.deploy.clone(),
            logs.clone(),
        );
        let mut secret = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut secret);
        let hook_secret = secret.iter().map(|b| format!("{b:02x}")).collect();
        let inner = Inner {
            store,
            keys,
            settings,
            runtime,
            docker,
            deployer,
            hook_secret,
            log_sessions: LogSessions::default(),
            logs,
            metrics: Arc::default(),
            run_sessions: run::RunSessions::default(),
            router_token,
            stopping: tokio_util::sync::CancellationToken::new(),
        };
        Ok(Controller {
            state: AppState(Arc::new(inner)),
        })
    }

    /// The HTTP API (also serving git).
    pub fn http(&self) -> axum::Router {
        router::build(self.state.clone())
    }

    /// Every app's log stream (paasd feeds the router's access log into it).
    pub fn logs(&self) -> Arc<LogHub> {
        self.state.logs.clone()
    }

    /// Where paasd records what the router saw, per release.
    pub fn metrics(&self) -> Arc<paas_telemetry::metrics::Metrics> {
        self.state.metrics.clone()
    }

    /// Samples every running process's memory and CPU now and then.
    pub fn spawn_usage_sampler(&self) -> tokio::task::JoinHandle<()> {
        paas_telemetry::metrics::spawn_usage_sampler(
            self.state.metrics.clone(),
            self.state.runtime.clone(),
            std::time::Duration::from_secs(10),
        )
    }

    /// Follows every process's output into its app's log stream.
    pub fn spawn_log_collector(&self) -> tokio::task::JoinHandle<()> {
        paas_telemetry::collector::spawn(
            self.state.logs.clone(),
            self.state.runtime.clone(),
            std::time::Duration::from_millis(500),
        )
    }

    /// Starts every app's drains, and a task that tells each app's log when its drains lose
    /// lines.
    pub async fn start_drains(&self) -> Result<tokio::task::JoinHandle<()>, ControllerError> {
        let state = &self.state;
        let apps = state.store.list_apps(None).await?;
        let with_drains: std::collections::HashSet<String> = state
            .store
            .all_drains()
            .await?
            .into_iter()
            .map(|d| d.app_id)
            .collect();
        for app in apps.iter().filter(|a| with_drains.contains(&a.id)) {
            if let Err(e) = routes::log_drains::load_drains(state, app).await {
                tracing::warn!(app = %app.name, error = %e.message, "drains not started");
            }
        }
        Ok(state
            .logs
            .spawn_drain_reporter(std::time::Duration::from_secs(5)))
    }

    /// Ends the long polls of routers (`/internal/router/routes`) before the API stops, so
    /// they do not hold up the shutdown.
    pub fn begin_shutdown(&self) {
        self.state.stopping.cancel();
    }

    /// The route table for the router, updated whenever what runs changes.
    pub fn routes(&self) -> watch::Receiver<RouteMap> {
        self.state.deployer.routes()
    }

    /// Reconciles every app now (adopting what already runs), then every interval until the
    /// returned task is dropped or aborted.
    pub fn spawn_reconciler(&self) -> tokio::task::JoinHandle<()> {
        let state = self.state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(state.settings.reconcile_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                run::sweep(&state).await;
                if let Err(e) = state.deployer.converge_all().await {
                    tracing::warn!(error = %e, "reconcile pass failed");
                }
            }
        })
    }
}
