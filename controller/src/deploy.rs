//! Turns a release into running processes and keeps them running: one deploy at a time per
//! app (queued, with a time limit), the release phase, health-gated switchover of the router,
//! a reconcile loop that restarts crashes (with backoff) and adopts what already runs, and
//! collection of old images.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use paas_scheduler::health::HealthCheck;
use paas_scheduler::reconcile::{reconcile_app_with, ReconcileOptions, Switchover};
use paas_scheduler::{
    CanaryRelease, Desired, DesiredProcess, Limits, Process, ProcessSpec, ProcessState, Runtime,
    RuntimeError,
};
use paas_telemetry::{LogHub, LogLine, Source};
use thiserror::Error;
use tokio::sync::{mpsc, watch, OwnedMutexGuard};
use tokio_util::sync::CancellationToken;

use crate::store::{AppRow, ProcessSettingsRow, ReleaseRow, Store, StoreError};

/// App name -> addresses of its web processes that answer. Apps with nothing running are in
/// the map with no addresses (the router answers 503 for them, 404 for unknown hosts).
pub type RouteMap = RouteTable;

/// What the router needs: each app's routing, and the TLS certificates to serve.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteTable {
    pub apps: HashMap<String, AppRouting>,
    /// (certificate chain, private key) PEMs.
    pub certificates: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppRouting {
    pub backends: Vec<RouteBackend>,
    /// Custom domains besides APP.DOMAIN (exact names and `*.` wildcards).
    pub domains: Vec<String>,
    pub maintenance: bool,
    /// A second release's web processes and the percentage of clients they get.
    pub canary: Option<(u8, Vec<RouteBackend>)>,
    pub settings: paas_api::RouterSettings,
}

/// One process the router may send an app's requests to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RouteBackend {
    pub addr: SocketAddr,
    /// The release it runs, for the access log and per-release metrics.
    pub release: i64,
    /// `web.1`
    pub process: String,
}

/// The Procfile entry run once per release before it goes live.
pub const RELEASE_TYPE: &str = "release";

#[derive(Debug, Error)]
pub enum DeployError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("release v{version} failed: {reason}; the previous release keeps running")]
    Failed { version: i64, reason: String },
    #[error("the deploy of release v{version} was cancelled; the previous release keeps running")]
    Cancelled { version: i64 },
    #[error("no deploy of {0} is running")]
    NothingToCancel(String),
    #[error("another deploy of {app} is still running after {}s; try again when it is done", .waited.as_secs())]
    Busy { app: String, waited: Duration },
}

/// How deploys behave; from paasd's settings.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    pub reconcile: ReconcileOptions,
    /// How long a deploy waits for the one before it.
    pub queue_timeout: Duration,
    /// Time limit of the release phase.
    pub release_timeout: Duration,
    /// Images of this many most recent releases are kept (plus whatever still runs).
    pub keep_releases: usize,
}

impl Default for DeployOptions {
    fn default() -> Self {
        DeployOptions {
            reconcile: ReconcileOptions::default(),
            queue_timeout: Duration::from_secs(600),
            release_timeout: Duration::from_secs(600),
            keep_releases: 5,
        }
    }
}

pub struct Deployer {
    store: Store,
    runtime: Arc<dyn Runtime>,
    docker: bollard::Docker,
    options: DeployOptions,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The deploy running per app: its release version and how to cancel it.
    running: Mutex<HashMap<String, (i64, CancellationToken)>>,
    logs: Arc<LogHub>,
    /// Per app: crashed containers already told in its log.
    reported: Mutex<HashMap<String, HashSet<String>>>,
    routes: watch::Sender<RouteMap>,
    /// Whether `routes` holds a table built from what runs: until then it holds the empty
    /// default, which a router elsewhere must not take for "nothing runs".
    routes_built: watch::Sender<bool>,
}

/// Moves an app's traffic to a release whose processes just came up, before the old ones stop.
struct RouteSwitch<'a>(&'a Deployer);

#[async_trait::async_trait]
impl Switchover for RouteSwitch<'_> {
    async fn switch(&self, app: &str, release: i64, retiring: &[Process]) {
        let retiring: BTreeSet<&str> = retiring.iter().map(|p| p.id.as_str()).collect();
        if let Err(e) = self
            .0
            .publish_routes_for(Some((app, release, &retiring)))
            .await
        {
            tracing::warn!(app, release, error = %e, "switching routes");
        }
    }
}

impl Deployer {
    pub fn new(
        store: Store,
        runtime: Arc<dyn Runtime>,
        docker: bollard::Docker,
        options: DeployOptions,
        logs: Arc<LogHub>,
    ) -> Deployer {
        Deployer {
            store,
            runtime,
            docker,
            options,
            locks: Mutex::new(HashMap::new()),
            running: Mutex::new(HashMap::new()),
            logs,
            reported: Mutex::new(HashMap::new()),
            routes: watch::Sender::new(RouteTable::default()),
            routes_built: watch::Sender::new(false),
        }
    }

    pub fn routes(&self) -> watch::Receiver<RouteMap> {
        self.routes.subscribe()
    }

    /// Resolves once a route table has been built from what runs (the first reconcile pass
    /// after a start, or any change before it).
    pub async fn routes_built(&self) {
        let mut built = self.routes_built.subscribe();
        let _ = built.wait_for(|b| *b).await;
    }

    /// Waits for the app's previous deploy (up to the queue timeout).
    async fn lock(&self, app: &str) -> Result<OwnedMutexGuard<()>, DeployError> {
        let lock = {
            let mut locks = self.locks.lock().expect("deploy lock map poisoned");
            locks.entry(app.to_string()).or_default().clone()
        };
        let waited = self.options.queue_timeout;
        tokio::time::timeout(waited, lock.lock_owned())
            .await
            .map_err(|_| DeployError::Busy {
                app: app.to_string(),
                waited,
            })
    }

    /// Deploys a new (pending) release: runs its release phase, starts its processes, moves
    /// traffic once they pass their health checks, stops the old ones, and marks it succeeded
    /// (it becomes current) or failed (the previous release keeps running, nothing else
    /// changes). Progress lines go to `progress` (the pusher) when given.
    pub async fn release(
        &self,
        app: &AppRow,
        release: &ReleaseRow,
        progress: Option<mpsc::Sender<String>>,
    ) -> Result<(), DeployError> {
        let _guard = self.lock(&app.name).await?;
        self.event(
            &app.name,
            None,
            format!(
                "Deploying v{} ({}) by {}",
                release.version, release.description, release.user_name
            ),
        );
        let cancel = CancellationToken::new();
        self.running
            .lock()
            .expect("running deploys poisoned")
            .insert(app.name.clone(), (release.version, cancel.clone()));
        let outcome = tokio::select! {
            outcome = self.roll_out(app, release, progress) => outcome.map_err(Some),
            _ = cancel.cancelled() => Err(None),
        };
        self.running
            .lock()
            .expect("running deploys poisoned")
            .remove(&app.name);
        if matches!(outcome, Err(None)) {
            // Whatever the cancelled rollout started goes (a release phase in flight too);
            // the current release stays.
            if let Err(e) = self.converge_locked(app, BTreeSet::new()).await {
                tracing::warn!(app = %app.name, error = %e, "cleaning up after a cancelled deploy");
            }
        }
        let status = if outcome.is_ok() {
            "succeeded"
        } else {
            "failed"
        };
        self.store.set_release_status(&release.id, status).await?;
        self.publish_routes().await?;
        tracing::info!(app = %app.name, release = release.version, status, "release deployed");
        match &outcome {
            Ok(()) => {
                self.event(
                    &app.name,
                    None,
                    format!("Release v{} is live", release.version),
                );
                self.collect_images(app).await;
            }
            Err(Some(reason)) => self.event(
                &app.name,
                None,
                format!("Release v{} failed: {reason}", release.version),
            ),
            Err(None) => self.event(
                &app.name,
                None,
                format!("Release v{} was cancelled", release.version),
            ),
        }
        outcome.map_err(|reason| match reason {
            Some(reason) => DeployError::Failed {
                version: release.version,
                reason,
            },
            None => DeployError::Cancelled {
                version: release.version,
            },
        })
    }

    /// A release phase only runs while its deploy holds the app's lock, which the caller holds
    /// now: any release-phase container still there is left from an interrupted deploy (a
    /// cancel that raced the engine creating it, a daemon that died mid-deploy).
    async fn remove_stale_release_phases(&self, app: &AppRow) -> Result<(), DeployError> {
        for p in self.runtime.list(Some(&app.name)).await? {
            if p.process_type == RELEASE_TYPE {
                tracing::info!(app = %app.name, release = p.release, "removing a leftover release phase");
                self.runtime.remove(&p.id, 0).await?;
            }
        }
        Ok(())
    }

    /// Cancels the app's running deploy; it ends as failed and the current release stays.
    /// Returns the cancelled release's version.
    pub fn cancel(&self, app: &str) -> Result<i64, DeployError> {
        let running = self.running.lock().expect("running deploys poisoned");
        let (version, token) = running
            .get(app)
            .ok_or_else(|| DeployError::NothingToCancel(app.to_string()))?;
        token.cancel();
        tracing::info!(app, release = version, "deploy cancelled");
        Ok(*version)
    }

    async fn roll_out(
        &self,
        app: &AppRow,
        release: &ReleaseRow,
        progress: Option<mpsc::Sender<String>>,
    ) -> Result<(), String> {
        let Some((desired, release_command)) = self
            .desired(app, release)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        if let Some(command) = release_command {
            self.release_phase(&desired, command, progress).await?;
        }
        let report = reconcile_app_with(
            self.runtime.as_ref(),
            &app.name,
            Some(&desired),
            &self.options.reconcile,
            &RouteSwitch(self),
        )
        .await
        .map_err(|e| e.to_string())?;
        if report.failed.is_empty() {
            Ok(())
        } else {
            Err(report
                .failed
                .iter()
                .map(|(name, why)| format!("{name}: {why}"))
                .collect::<Vec<_>>()
                .join("; "))
        }
    }

    /// The Procfile's `release:` command in a one-off process of the new release; it must exit 0.
    async fn release_phase(
        &self,
        desired: &Desired,
        command: String,
        progress: Option<mpsc::Sender<String>>,
    ) -> Result<(), String> {
        let say = |line: String| {
            let progress = progress.clone();
            async move {
                if let Some(p) = progress {
                    let _ = p.send(line).await;
                }
            }
        };
        say(format!("-----> Running release command: {command}")).await;
        let mut env = desired.env.clone();
        env.insert("DYNO".into(), "release.1".into());
        env.insert("PAAS_APP".into(), desired.app.clone());
        env.insert("PAAS_RELEASE".into(), format!("v{}", desired.release));
        let spec = ProcessSpec {
            app: desired.app.clone(),
            release: desired.release,
            process_type: RELEASE_TYPE.into(),
            index: 1,
            image: desired.image.clone(),
            command: Some(command),
            env,
            port: None,
            restarts: 0,
            limits: Limits::default(),
        };
        let (tx, mut rx) = mpsc::channel::<String>(256);
        let task = self
            .runtime
            .run_task(&spec, self.options.release_timeout, tx);
        tokio::pin!(task);
        let mut tail: Vec<String> = Vec::new();
        let exit = loop {
            tokio::select! {
                Some(line) = rx.recv() => {
                    tail.push(line.clone());
                    say(format!("       {line}")).await;
                }
                exit = &mut task => break exit.map_err(|e| format!("release command: {e}"))?,
            }
        };
        while let Ok(line) = rx.try_recv() {
            tail.push(line.clone());
            say(format!("       {line}")).await;
        }
        if exit.code == 0 {
            return Ok(());
        }
        let last: Vec<&str> = tail
            .iter()
            .rev()
            .take(3)
            .rev()
            .map(String::as_str)
            .collect();
        Err(format!(
            "the release command exited with status {}{}",
            exit.code,
            if last.is_empty() {
                String::new()
            } else {
                format!("; last output: {}", last.join(" | "))
            }
        ))
    }

    /// Makes what runs match the app's current release and formation.
    pub async fn converge(&self, app: &AppRow) -> Result<(), DeployError> {
        let _guard = self.lock(&app.name).await?;
        self.converge_locked(app, BTreeSet::new()).await
    }

    /// Replaces the given processes (`web.2`, or a whole type `web`, or all when `None`) the
    /// way a deploy does: new ones up first, then the old ones stopped. Returns how many.
    pub async fn restart(&self, app: &AppRow, which: Option<&str>) -> Result<usize, DeployError> {
        let _guard = self.lock(&app.name).await?;
        let processes = self.runtime.list(Some(&app.name)).await?;
        let replace: BTreeSet<String> = processes
            .iter()
            .filter(|p| {
                !paas_scheduler::reconcile::ONE_OFF_TYPES.contains(&p.process_type.as_str())
            })
            .filter(|p| match which {
                None => true,
                Some(w) if w.contains('.') => p.name() == w,
                Some(t) => p.process_type == t,
            })
            .map(|p| p.id.clone())
            .collect();
        let count = replace.len();
        if count > 0 {
            self.converge_locked(app, replace).await?;
        }
        Ok(count)
    }

    async fn converge_locked(
        &self,
        app: &AppRow,
        replace: BTreeSet<String>,
    ) -> Result<(), DeployError> {
        let crashed = self.report_crashes(app).await;
        self.remove_stale_release_phases(app).await?;
        let desired = match self.store.current_release(&app.id).await? {
            Some(r) => self.desired(app, &r).await?.map(|(mut d, _)| {
                d.replace = replace;
                d
            }),
            None => None,
        };
        let report = reconcile_app_with(
            self.runtime.as_ref(),
            &app.name,
            desired.as_ref(),
            &self.options.reconcile,
            &RouteSwitch(self),
        )
        .await?;
        if !report.started.is_empty() || !report.removed.is_empty() {
            tracing::info!(app = %app.name, started = ?report.started, removed = ?report.removed, "reconciled");
        }
        for started in &report.started {
            let name = started.split('@').next().unwrap_or(started);
            if crashed.iter().any(|c| c == name) {
                self.event(
                    &app.name,
                    Some(name),
                    format!("Starting {name} again after its crash"),
                );
            }
        }
        for (name, why) in &report.failed {
            self.event(
                &app.name,
                name.split('@').next(),
                format!("{name} failed to start: {why}"),
            );
            tracing::warn!(app = %app.name, process = %name, reason = %why, "process failed to start");
        }
        Ok(())
    }

    /// A `platform` line in the app's log stream.
    fn event(&self, app: &str, process: Option<&str>, message: String) {
        self.logs.publish(
            app,
            LogLine::new(Source::Platform, process.map(str::to_string), message),
        );
    }

    /// Tells the log about each process that ended since the last pass (once per container);
    /// returns their names.
    async fn report_crashes(&self, app: &AppRow) -> Vec<String> {
        let Ok(processes) = self.runtime.list(Some(&app.name)).await else {
            return Vec::new();
        };
        let mut all = self.reported.lock().expect("crash reports poisoned");
        let reported = all.entry(app.name.clone()).or_default();
        let mut names = Vec::new();
        for p in processes
            .iter()
            .filter(|p| p.state == ProcessState::Crashed)
        {
            names.push(p.name());
            if !reported.insert(p.id.clone()) {
                continue;
            }
            let how = match p.exit {
                Some(e) if e.oom_killed => {
                    "was killed: out of memory (over its memory limit)".to_string()
                }
                Some(e) => format!("crashed (exit status {})", e.code),
                None => "crashed".to_string(),
            };
            self.event(&app.name, Some(&p.name()), format!("{} {how}", p.name()));
        }
        let ids: HashSet<&str> = processes.iter().map(|p| p.id.as_str()).collect();
        reported.retain(|id| ids.contains(id.as_str()));
        names
    }

    /// Stops everything an app runs (it is being destroyed).
    pub async fn stop_app(&self, app: &str) -> Result<(), DeployError> {
        let _guard = self.lock(app).await?;
        let processes = self.runtime.list(Some(app)).await?;
        for p in processes {
            self.runtime
                .remove(&p.id, self.options.reconcile.stop_grace_secs)
                .await?;
        }
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
        self.publish_routes_for(None).await
    }

    /// Routes go to the current release's web processes that answer; `switching` names an
    /// app whose release takes over (before it is marked current) and the processes that
    /// must get no more requests because they are about to stop.
    async fn publish_routes_for(
        &self,
        switching: Option<(&str, i64, &BTreeSet<&str>)>,
    ) -> Result<(), DeployError> {
        let apps = self.store.list_apps(None).await?;
        let processes = self.runtime.list(None).await?;
        let mut table = RouteTable::default();
        let mut domains: HashMap<String, Vec<String>> = HashMap::new();
        for d in self.store.all_domains().await? {
            domains.entry(d.app_id).or_default().push(d.hostname);
        }
        table.certificates = self
            .store
            .all_certificates()
            .await?
            .into_iter()
            .map(|c| (c.cert_pem, c.key_pem))
            .collect();
        for app in apps {
            let (serving, retiring) = match switching {
                Some((name, version, retiring)) if name == app.name => {
                    (Some(version), Some(retiring))
                }
                _ => (
                    self.store
                        .current_release(&app.id)
                        .await?
                        .map(|r| r.version),
                    None,
                ),
            };
            let mut backends: Vec<RouteBackend> = processes
                .iter()
                .filter(|p| {
                    p.app == app.name && p.process_type == "web" && Some(p.release) == serving
                })
                .filter(|p| retiring.is_none_or(|r| !r.contains(p.id.as_str())))
                .filter(|p| p.state == ProcessState::Up)
                .filter_map(|p| {
                    let addr = p.addr?;
                    Some(RouteBackend {
                        addr,
                        release: p.release,
                        process: p.name(),
                    })
                })
                .collect();
            backends.sort();
            let canary = app
                .canary_release
                .filter(|r| Some(*r) != serving)
                .map(|release| {
                    let mut canary: Vec<RouteBackend> = processes
                        .iter()
                        .filter(|p| {
                            p.app == app.name && p.process_type == "web" && p.release == release
                        })
                        .filter(|p| p.state == ProcessState::Up)
                        .filter_map(|p| {
                            Some(RouteBackend {
                                addr: p.addr?,
                                release: p.release,
                                process: p.name(),
                            })
                        })
                        .collect();
                    canary.sort();
                    (
                        u8::try_from(app.canary_weight.clamp(0, 100)).unwrap_or(0),
                        canary,
                    )
                });
            let routing = AppRouting {
                backends,
                domains: domains.remove(&app.id).unwrap_or_default(),
                maintenance: app.maintenance,
                canary,
                settings: serde_json::from_str(&app.router_settings).unwrap_or_default(),
            };
            table.apps.insert(app.name, routing);
        }
        self.routes.send_if_modified(|old| {
            let changed = *old != table;
            *old = table;
            changed
        });
        self.routes_built
            .send_if_modified(|built| !std::mem::replace(built, true));
        Ok(())
    }

    /// What should run for `release` (nothing before the first build), and its release command.
    async fn desired(
        &self,
        app: &AppRow,
        release: &ReleaseRow,
    ) -> Result<Option<(Desired, Option<String>)>, DeployError> {
        let Some(build_id) = &release.build_id else {
            return Ok(None);
        };
        let Some(build) = self.store.build_by_id(build_id).await? else {
            return Ok(None);
        };
        let Some(image) = build.image.clone() else {
            return Ok(None);
        };
        let procfile = build.process_types();
        let release_command = procfile.get(RELEASE_TYPE).cloned();
        let commands = process_commands(&procfile);
        let settings: HashMap<String, ProcessSettingsRow> = self
            .store
            .process_settings(&app.id)
            .await?
            .into_iter()
            .map(|s| (s.process_type.clone(), s))
            .collect();
        let formation = self.store.formation(&app.id).await?;
        let processes = formation
            .iter()
            .filter(|f| f.quantity > 0)
            .filter_map(|f| {
                let command = commands.get(&f.process_type)?.clone();
                let quantity = u32::try_from(f.quantity).ok()?;
                let s = settings
                    .get(&f.process_type)
                    .cloned()
                    .unwrap_or_else(|| ProcessSettingsRow::defaults(&f.process_type));
                let desired = DesiredProcess {
                    quantity,
                    command,
                    limits: limits(&s),
                    health: health(&s),
                };
                Some((f.process_type.clone(), desired))
            })
            .collect();
        let desired = Desired {
            app: app.name.clone(),
            release: release.version,
            image,
            env: release.config(),
            processes,
            replace: BTreeSet::new(),
            canary: self.canary(app, release.version).await?,
        };
        Ok(Some((desired, release_command)))
    }

    /// The app's canary release as the scheduler runs it: one web process of that release's
    /// build and config (none when it is the release being run, or has no build).
    async fn canary(
        &self,
        app: &AppRow,
        running: i64,
    ) -> Result<Option<CanaryRelease>, DeployError> {
        let Some(version) = app.canary_release.filter(|v| *v != running) else {
            return Ok(None);
        };
        let Some(release) = self.store.release_by_version(&app.id, version).await? else {
            return Ok(None);
        };
        let Some(build) = release.build_id.as_deref() else {
            return Ok(None);
        };
        let Some(build) = self.store.build_by_id(build).await? else {
            return Ok(None);
        };
        let Some(image) = build.image.clone() else {
            return Ok(None);
        };
        let command = process_commands(&build.process_types())
            .remove("web")
            .flatten();
        let web = DesiredProcess {
            quantity: 1,
            command,
            limits: Limits::default(),
            health: HealthCheck::default(),
        };
        Ok(Some(CanaryRelease {
            release: version,
            image,
            env: release.config(),
            web,
        }))
    }

    /// Removes the images of builds no recent release uses; the engine refuses (and we skip)
    /// any image a container still uses.
    async fn collect_images(&self, app: &AppRow) {
        let Ok(releases) = self.store.list_releases(&app.id).await else {
            return;
        };
        let mut keep: BTreeSet<&str> = releases
            .iter()
            .rev()
            .filter(|r| r.status == "succeeded")
            .take(self.options.keep_releases.max(1))
            .filter_map(|r| r.build_id.as_deref())
            .collect();
        // A canary keeps its image however old its release.
        if let Some(canary) = app
            .canary_release
            .and_then(|v| releases.iter().find(|r| r.version == v))
        {
            keep.extend(canary.build_id.as_deref());
        }
        let Ok(builds) = self.store.list_builds(&app.id).await else {
            return;
        };
        for build in builds.iter().filter(|b| !keep.contains(b.id.as_str())) {
            if build.image.is_none() {
                continue;
            }
            match crate::images::remove(&self.docker, &app.name, &build.id).await {
                Ok(true) => {
                    tracing::info!(app = %app.name, build = %build.id, "old image removed");
                    let _ = self.store.forget_build_image(&build.id).await;
                }
                Ok(false) => {
                    tracing::debug!(app = %app.name, build = %build.id, "image still in use: kept")
                }
                Err(e) => {
                    tracing::warn!(app = %app.name, build = %build.id, error = %e, "removing an old image")
                }
            }
        }
    }
}

fn limits(s: &ProcessSettingsRow) -> Limits {
    Limits {
        memory_bytes: s.memory_bytes,
        nano_cpus: s.nano_cpus,
    }
}

fn health(s: &ProcessSettingsRow) -> HealthCheck {
    let ms = |v: i64| Duration::from_millis(u64::try_from(v).unwrap_or(0));
    HealthCheck {
        path: s.health_path.clone(),
        attempts: u32::try_from(s.health_attempts).unwrap_or(3),
        interval: ms(s.health_interval_ms),
        timeout: ms(s.health_timeout_ms),
    }
}

/// The process types an image can run: the Procfile's (less the release phase), or without
/// one a `web` type running the image's own CMD (as Heroku does for Docker builds).
pub fn process_commands(procfile: &BTreeMap<String, String>) -> BTreeMap<String, Option<String>> {
    let types: BTreeMap<String, Option<String>> = procfile
        .iter()
        .filter(|(k, _)| k.as_str() != RELEASE_TYPE)
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    if types.is_empty() {
        BTreeMap::from([("web".to_string(), None)])
    } else {
        types
    }
}
