//! Desired state (current release × formation) against what runs, and the diff applied.

mod plan;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use futures_util::StreamExt;

pub use plan::{backoff, plan, Plan, ONE_OFF_TYPES};

use crate::health::{http_status, is_healthy, HealthCheck};
use crate::runtime::{Limits, LogsFrom, Process, ProcessState, Runtime};
use crate::RuntimeError;

/// One process type of the formation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredProcess {
    pub quantity: u32,
    /// The Procfile command; `None` runs the image's default.
    pub command: Option<String>,
    pub limits: Limits,
    /// Checked on new web processes before they take traffic.
    pub health: HealthCheck,
}

/// What one app should run: its current release at its formation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub app: String,
    /// The current release's version.
    pub release: i64,
    pub image: String,
    /// The release's config vars.
    pub env: BTreeMap<String, String>,
    /// Process type -> quantity and command.
    pub processes: BTreeMap<String, DesiredProcess>,
    /// Processes (container ids) to replace even though they match: a restart, done like a
    /// deploy (new process up first, then the old one retired).
    pub replace: BTreeSet<String>,
    /// A second release whose web processes run beside the current ones (a canary).
    pub canary: Option<CanaryRelease>,
}

/// The release a canary deploy tries on a share of the traffic: its own image and config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanaryRelease {
    pub release: i64,
    pub image: String,
    pub env: BTreeMap<String, String>,
    /// Its web processes.
    pub web: DesiredProcess,
}

/// Told when new processes are up and old ones are about to be retired, so traffic moves to
/// `release`'s processes, less the `retiring` ones, before those stop (the router's table is
/// swapped here).
#[async_trait::async_trait]
pub trait Switchover: Send + Sync {
    async fn switch(&self, app: &str, release: i64, retiring: &[Process]);
}

/// For callers with no router to tell.
pub struct NoSwitchover;

#[async_trait::async_trait]
impl Switchover for NoSwitchover {
    async fn switch(&self, _app: &str, _release: i64, _retiring: &[Process]) {}
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileOptions {
    /// `PORT` inside every container; web processes must listen on it.
    pub port: u16,
    /// How long a new web process has to accept connections.
    pub boot_timeout: Duration,
    /// SIGTERM to SIGKILL when removing a process.
    pub stop_grace_secs: u32,
    /// After traffic moved to new processes: time for requests in flight on the old ones to
    /// finish before those are stopped.
    pub drain: Duration,
}

impl Default for ReconcileOptions {
    fn default() -> Self {
        ReconcileOptions {
            port: 5000,
            boot_timeout: Duration::from_secs(60),
            stop_grace_secs: 30,
            drain: Duration::from_secs(1),
        }
    }
}

/// What one reconcile did. Processes are named `web.1@v3` (process, then release).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    pub started: Vec<String>,
    pub removed: Vec<String>,
    /// Processes that could not be started or did not come up, and removals that failed, with
    /// the reason.
    pub failed: Vec<(String, String)>,
}

impl ReconcileReport {
    /// Nothing was started or removed and nothing failed.
    pub fn is_noop(&self) -> bool {
        self.started.is_empty() && self.removed.is_empty() && self.failed.is_empty()
    }
}

/// A non-web process counts as up once it has run this long.
const MIN_RUN: Duration = Duration::from_secs(1);
const POLL: Duration = Duration::from_millis(200);

/// Makes what runs for `app` match `desired` (`None`: nothing may run), keeping every healthy
/// process that already matches: running it twice changes nothing, and after a daemon restart
/// it adopts what runs. New processes are started and awaited before old ones are removed; when
/// a new one fails, the old release keeps running and the failure is reported.
///
/// `Err` only when the engine cannot be asked what runs; everything else lands in the report.
pub async fn reconcile_app(
    rt: &dyn Runtime,
    app: &str,
    desired: Option<&Desired>,
    opts: &ReconcileOptions,
) -> Result<ReconcileReport, RuntimeError> {
    reconcile_app_with(rt, app, desired, opts, &NoSwitchover).await
}

/// [`reconcile_app`], telling `switchover` once new processes are up, before old ones go.
pub async fn reconcile_app_with(
    rt: &dyn Runtime,
    app: &str,
    desired: Option<&Desired>,
    opts: &ReconcileOptions,
    switchover: &dyn Switchover,
) -> Result<ReconcileReport, RuntimeError> {
    if let Some(d) = desired.filter(|d| d.app != app) {
        return Err(RuntimeError::Invalid(format!(
            "desired state for {} passed to reconcile {app}",
            d.app
        )));
    }
    let running = rt.list(Some(app)).await?;
    let plan = plan(desired, &running, opts, chrono::Utc::now());
    let health: HashMap<&str, &HealthCheck> = desired
        .map(|d| {
            d.processes
                .iter()
                .map(|(t, p)| (t.as_str(), &p.health))
                .collect()
        })
        .unwrap_or_default();
    let mut report = ReconcileReport::default();

    let starts = join_all(plan.start.iter().map(|spec| async move {
        let name = format!("{}.{}@v{}", spec.process_type, spec.index, spec.release);
        (name, Instant::now(), rt.start(spec).await)
    }))
    .await;
    let mut pending = Vec::new();
    let mut start_failed = false;
    for (name, since, result) in starts {
        match result {
            Ok(p) => {
                report.started.push(name);
                pending.push((p, since));
            }
            Err(e) => {
                tracing::warn!(app, process = %name, error = %e, "start failed");
                start_failed = true;
                report.failed.push((name, e.to_string()));
            }
        }
    }

    remove_all(rt, &plan.remove, opts, &mut report).await;

    // Retiring is only safe once what replaces it is up, including processes an interrupted
    // earlier reconcile left starting.
    if !plan.retire.is_empty() {
        let now = chrono::Utc::now();
        for p in plan
            .keep
            .iter()
            .filter(|p| p.state == ProcessState::Starting)
        {
            let age = (now - p.created_at)
                .to_std()
                .unwrap_or_default()
                .min(opts.boot_timeout);
            pending.push((p.clone(), Instant::now() - age));
        }
    }

    let failures = wait_up(rt, app, pending, &health, opts).await?;
    let broken: Vec<Process> = failures.iter().map(|(p, _)| p.clone()).collect();
    for (p, reason) in failures {
        tracing::warn!(app, process = %label(&p), %reason, "did not come up");
        report.failed.push((label(&p), reason));
    }
    remove_all(rt, &broken, opts, &mut report).await;

    if start_failed || !broken.is_empty() {
        if !plan.retire.is_empty() {
            tracing::warn!(
                app,
                kept = plan.retire.len(),
                "new processes failed: the old ones keep running"
            );
        }
    } else if !plan.retire.is_empty() {
        if let Some(d) = desired {
            switchover.switch(app, d.release, &plan.retire).await;
        }
        tokio::time::sleep(opts.drain).await;
        remove_all(rt, &plan.retire, opts, &mut report).await;
    }
    Ok(report)
}

fn label(p: &Process) -> String {
    format!("{}@v{}", p.name(), p.release)
}

async fn remove_all(
    rt: &dyn Runtime,
    processes: &[Process],
    opts: &ReconcileOptions,
    report: &mut ReconcileReport,
) {
    let results = join_all(
        processes
            .iter()
            .map(|p| async move { (label(p), rt.remove(&p.id, opts.stop_grace_secs).await) }),
    )
    .await;
    for (name, result) in results {
        match result {
            Ok(()) => report.removed.push(name),
            Err(e) => report.failed.push((name, format!("removing: {e}"))),
        }
    }
}

/// Polls until every pending process is up (web: accepts connections; others: has run for
/// [`MIN_RUN`]) or has failed. Returns the failed ones with the reason.
async fn wait_up(
    rt: &dyn Runtime,
    app: &str,
    pending: Vec<(Process, Instant)>,
    health: &HashMap<&str, &HealthCheck>,
    opts: &ReconcileOptions,
) -> Result<Vec<(Process, String)>, RuntimeError> {
    let (up, mut failed) = wait_listening(rt, app, pending, opts).await?;
    let checks = join_all(up.into_iter().map(|(p, since)| async move {
        let check = health.get(p.process_type.as_str()).copied();
        let verdict = match (check, p.addr) {
            (Some(check), Some(addr)) if check.path.is_some() => {
                passes(addr, check, since, opts).await
            }
            _ => Ok(()),
        };
        (p, verdict)
    }))
    .await;
    for (p, verdict) in checks {
        if let Err(reason) = verdict {
            failed.push((p, reason));
        }
    }
    Ok(failed)
}

/// The HTTP health check, retried every `interval` until it passes, fails `attempts` times,
/// or the boot timeout (counted from the start) runs out.
async fn passes(
    addr: std::net::SocketAddr,
    check: &HealthCheck,
    since: Instant,
    opts: &ReconcileOptions,
) -> Result<(), String> {
    let path = check.path.as_deref().unwrap_or("/");
    let mut failures = 0;
    loop {
        let last = match http_status(addr, path, check.timeout).await {
            Ok(status) if is_healthy(status) => return Ok(()),
            Ok(status) => format!("answered {status}"),
            Err(e) => e,
        };
        failures += 1;
        if failures >= check.attempts.max(1) || since.elapsed() >= opts.boot_timeout {
            return Err(format!(
                "health check GET {path} failed {failures} times (last: {last})"
            ));
        }
        tokio::time::sleep(check.interval).await;
    }
}

/// Waits for each process to accept connections (web) or keep running (others); returns the
/// ones that did, with their start time, and the ones that failed, with the reason.
#[allow(clippy::type_complexity)]
async fn wait_listening(
    rt: &dyn Runtime,
    app: &str,
    mut pending: Vec<(Process, Instant)>,
    opts: &ReconcileOptions,
) -> Result<(Vec<(Process, Instant)>, Vec<(Process, String)>), RuntimeError> {
    let mut failed = Vec::new();
    let mut up = Vec::new();
    while !pending.is_empty() {
        let now: HashMap<String, Process> = rt
            .list(Some(app))
            .await?
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        let mut still = Vec::new();
        for (p, since) in pending {
            let current = now.get(&p.id);
            let listens = p.addr.is_some();
            match current.map(|c| c.state) {
                None => failed.push((p, "disappeared while starting".to_owned())),
                Some(ProcessState::Crashed | ProcessState::Down) => {
                    let output = last_output(rt, current.unwrap_or(&p)).await;
                    failed.push((p, format!("exited before coming up{output}")));
                }
                Some(ProcessState::Up)
                    if listens || since.elapsed() >= MIN_RUN.min(opts.boot_timeout) =>
                {
                    up.push((p, since));
                }
                Some(_) if since.elapsed() >= opts.boot_timeout => {
                    let secs = opts.boot_timeout.as_secs_f32();
                    let reason = match p.addr {
                        Some(addr) => {
                            format!("did not accept connections on {addr} within {secs}s")
                        }
                        None => format!("did not start within {secs}s"),
                    };
                    let output = last_output(rt, &p).await;
                    failed.push((p, format!("{reason}{output}")));
                }
                Some(_) => still.push((p, since)),
            }
        }
        pending = still;
        if !pending.is_empty() {
            tokio::time::sleep(POLL).await;
        }
    }
    Ok((up, failed))
}

/// The last lines a failed process printed, so the report says why a release is broken.
async fn last_output(rt: &dyn Runtime, p: &Process) -> String {
    let lines = async {
        let stream = rt.logs(p, LogsFrom::Tail(3), false).await.ok()?;
        Some(stream.map(|l| l.line).collect::<Vec<_>>().await)
    };
    match tokio::time::timeout(Duration::from_secs(2), lines).await {
        Ok(Some(lines)) if !lines.is_empty() => format!("; last output: {}", lines.join(" | ")),
        _ => String::new(),
    }
}
