//! Turns a release into running processes and keeps them running: one deploy at a time per
//! app, a reconcile loop that repairs drift and adopts what already runs, and the route table
//! the router serves from.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use paas_scheduler::reconcile::ReconcileOptions;
use paas_scheduler::{reconcile_app, Desired, DesiredProcess, ProcessState, Runtime, RuntimeError};
use thiserror::Error;
use tokio::sync::watch;

use crate::store::{AppRow, ReleaseRow, Store, StoreError};

/// App name -> addresses of its web processes that answer. Apps with nothing running are in
/// the map with no addresses (the router answers 503 for them, 404 for unknown hosts).
pub type RouteMap = HashMap<String, Vec<SocketAddr>>;

#[derive(Debug, Error)]
pub enum DeployError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("release v{version} failed to start: {reason}; the previous release keeps running")]
    Failed { version: i64, reason: String },
}

pub struct Deployer {
    store: Store,
    runtime: Arc<dyn Runtime>,
    options: ReconcileOptions,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    routes: watch::Sender<RouteMap>,
}

impl Deployer {
    pub fn new(store: Store, runtime: Arc<dyn Runtime>, options: ReconcileOptions) -> Deployer {
        Deployer {
            store,
            runtime,
            options,
            locks: Mutex::new(HashMap::new()),
            routes: watch::Sender::new(RouteMap::new()),
        }
    }

    pub fn routes(&self) -> watch::Receiver<RouteMap> {
        self.routes.subscribe()
    }

    fn lock_for(&self, app: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().expect("deploy lock map poisoned");
        locks.entry(app.to_string()).or_default().clone()
    }

    /// Deploys a new (pending) release: runs it, and marks it succeeded (it becomes current)
    /// or failed (the previous release keeps running, nothing else changes).
    pub async fn release(&self, app: &AppRow, release: &ReleaseRow) -> Result<(), DeployError> {
        let lock = self.lock_for(&app.name);
        let _guard = lock.lock().await;
        let desired = self.desired(app, release).await?;
        let outcome = match &desired {
            None => Ok(()),
            Some(d) => {
                match reconcile_app(self.runtime.as_ref(), &app.name, Some(d), &self.options).await
                {
                    Ok(report) if report.failed.is_empty() => Ok(()),
                    Ok(report) => Err(report
                        .failed
                        .iter()
                        .map(|(name, why)| format!("{name}: {why}"))
                        .collect::<Vec<_>>()
                        .join("; ")),
                    Err(e) => Err(e.to_string()),
                }
            }
        };
        let status = if outcome.is_ok() {
            "succeeded"
        } else {
            "failed"
        };
        self.store.set_release_status(&release.id, status).await?;
        self.publish_routes().await?;
        tracing::info!(app = %app.name, release = release.version, status, "release deployed");
        outcome.map_err(|reason| DeployError::Failed {
            version: release.version,
            reason,
        })
    }

    /// Makes what runs match the app's current release and formation.
    pub async fn converge(&self, app: &AppRow) -> Result<(), DeployError> {
        let lock = self.lock_for(&app.name);
        let _guard = lock.lock().await;
        let desired = match self.store.current_release(&app.id).await? {
            Some(r) => self.desired(app, &r).await?,
            None => None,
        };
        let report = reconcile_app(
            self.runtime.as_ref(),
            &app.name,
            desired.as_ref(),
            &self.options,
        )
        .await?;
        if !report.started.is_empty() || !report.removed.is_empty() {
            tracing::info!(app = %app.name, started = ?report.started, removed = ?report.removed, "reconciled");
        }
        for (name, why) in &report.failed {
            tracing::warn!(app = %app.name, process = %name, reason = %why, "process failed to start");
        }
        Ok(())
    }

    /// Stops everything an app runs (it is being destroyed).
    pub async fn stop_app(&self, app: &str) -> Result<(), DeployError> {
        let lock = self.lock_for(app);
        let _guard = lock.lock().await;
        reconcile_app(self.runtime.as_ref(), app, None, &self.options).await?;
        self.locks
            .lock()
            .expect("deploy lock map poisoned")
            .remove(app);
        Ok(())
    }

    /// One pass over every app, then a fresh route table. Runs at start (adopting what runs)
    /// and periodically (restarting what crashed or was removed behind our back).
    pub async fn converge_all(&self) -> Result<(), DeployError> {
        let apps = self.store.list_apps(None).await?;
        for app in &apps {
            if let Err(e) = self.converge(app).await {
                tracing::warn!(app = %app.name, error = %e, "reconcile failed");
            }
        }
        self.publish_routes().await
    }

    /// Rebuilds the route table from what the engine reports and publishes it if it changed.
    pub async fn publish_routes(&self) -> Result<(), DeployError> {
        let apps = self.store.list_apps(None).await?;
        let processes = self.runtime.list(None).await?;
        let mut table = RouteMap::new();
        for app in apps {
            let current = self
                .store
                .current_release(&app.id)
                .await?
                .map(|r| r.version);
            let mut backends: Vec<SocketAddr> = processes
                .iter()
                .filter(|p| {
                    p.app == app.name && p.process_type == "web" && Some(p.release) == current
                })
                .filter(|p| p.state == ProcessState::Up)
                .filter_map(|p| p.addr)
                .collect();
            backends.sort();
            table.insert(app.name, backends);
        }
        self.routes.send_if_modified(|old| {
            let changed = *old != table;
            *old = table;
            changed
        });
        Ok(())
    }

    /// What should run for `release`: nothing before the first build.
    async fn desired(
        &self,
        app: &AppRow,
        release: &ReleaseRow,
    ) -> Result<Option<Desired>, DeployError> {
        let Some(build_id) = &release.build_id else {
            return Ok(None);
        };
        let Some(build) = self.store.build_by_id(build_id).await? else {
            return Ok(None);
        };
        let Some(image) = build.image.clone() else {
            return Ok(None);
        };
        let commands = process_commands(&build.process_types());
        let formation = self.store.formation(&app.id).await?;
        let processes = formation
            .iter()
            .filter(|f| f.quantity > 0)
            .filter_map(|f| {
                let command = commands.get(&f.process_type)?.clone();
                let quantity = u32::try_from(f.quantity).ok()?;
                Some((f.process_type.clone(), DesiredProcess { quantity, command }))
            })
            .collect();
        Ok(Some(Desired {
            app: app.name.clone(),
            release: release.version,
            image,
            env: release.config(),
            processes,
        }))
    }
}

/// The process types an image can run: the Procfile's, or without one a `web` type running
/// the image's own CMD (as Heroku does for Docker builds).
pub fn process_commands(procfile: &BTreeMap<String, String>) -> BTreeMap<String, Option<String>> {
    if procfile.is_empty() {
        BTreeMap::from([("web".to_string(), None)])
    } else {
        procfile
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect()
    }
}
