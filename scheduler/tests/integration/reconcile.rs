//! reconcile_app against the real engine.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use paas_scheduler::{
    reconcile_app, DockerRuntime, LogStream, LogsFrom, Process, ProcessSpec, ProcessState,
    ReconcileOptions, ReconcileReport, Runtime, RuntimeError,
};

use crate::harness::{
    desired, docker, docker_host, http_get, ids, log_lines, opts, wait_for, Engine, WEB,
};

const WORKER: &str = "echo DYNO=$DYNO PORT=$PORT; exec sleep 300";

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn all_up(ps: &[Process]) -> bool {
    ps.iter().all(|p| p.state == ProcessState::Up)
}

/// The real runtime, noting each start, and each removal with what was up at that moment.
struct Recording<'a> {
    inner: &'a DockerRuntime,
    events: Mutex<Vec<String>>,
}

impl<'a> Recording<'a> {
    fn new(inner: &'a DockerRuntime) -> Self {
        Recording {
            inner,
            events: Mutex::new(Vec::new()),
        }
    }

    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
}

fn label(p: &Process) -> String {
    format!("{}@v{}", p.name(), p.release)
}

#[async_trait]
impl Runtime for Recording<'_> {
    async fn list(&self, app: Option<&str>) -> Result<Vec<Process>, RuntimeError> {
        self.inner.list(app).await
    }
    async fn start(&self, spec: &ProcessSpec) -> Result<Process, RuntimeError> {
        let p = self.inner.start(spec).await?;
        self.events
            .lock()
            .unwrap()
            .push(format!("start {}", label(&p)));
        Ok(p)
    }
    async fn remove(&self, id: &str, grace_secs: u32) -> Result<(), RuntimeError> {
        let ps = self.inner.list(None).await?;
        let gone = ps
            .iter()
            .find(|p| p.id == id)
            .map(label)
            .unwrap_or_default();
        let mut up: Vec<String> = ps
            .iter()
            .filter(|p| p.state == ProcessState::Up)
            .map(label)
            .collect();
        up.sort();
        self.events
            .lock()
            .unwrap()
            .push(format!("remove {gone} while up: {}", up.join(" ")));
        self.inner.remove(id, grace_secs).await
    }
    async fn logs(
        &self,
        process: &Process,
        from: LogsFrom,
        follow: bool,
    ) -> Result<LogStream, RuntimeError> {
        self.inner.logs(process, from, follow).await
    }
    async fn run_task(
        &self,
        spec: &ProcessSpec,
        timeout: Duration,
        output: tokio::sync::mpsc::Sender<String>,
    ) -> Result<paas_scheduler::Exit, RuntimeError> {
        self.inner.run_task(spec, timeout, output).await
    }
    async fn image_exists(&self, image: &str) -> Result<bool, RuntimeError> {
        self.inner.image_exists(image).await
    }
}

async fn reconcile(
    rt: &dyn Runtime,
    d: &paas_scheduler::Desired,
    opts: &ReconcileOptions,
) -> ReconcileReport {
    reconcile_app(rt, &d.app, Some(d), opts)
        .await
        .expect("reconcile")
}

#[tokio::test]
async fn starts_the_formation_with_its_environment_then_adopts_it() {
    let engine = Engine::new().await;
    let rt = &engine.rt;
    let v1 = desired("shop", 1, &[("web", 2, WEB), ("worker", 1, WORKER)]);

    let report = reconcile(rt, &v1, &opts()).await;
    assert_eq!(
        sorted(report.started),
        ["web.1@v1", "web.2@v1", "worker.1@v1"]
    );
    assert!(
        report.removed.is_empty() && report.failed.is_empty(),
        "{:?}",
        report.failed
    );

    let ps = rt.list(Some("shop")).await.unwrap();
    assert_eq!(ps.len(), 3);
    assert!(
        all_up(&ps),
        "reconcile returns once the new processes are up: {ps:#?}"
    );
    for p in &ps {
        let first = log_lines(rt, p, 100)
            .await
            .into_iter()
            .next()
            .unwrap_or_default();
        match p.process_type.as_str() {
            "web" => {
                let want = format!(
                    "DYNO={} PORT=5000 APP=shop RELEASE=v1 GREETING=hi-v1",
                    p.name()
                );
                assert_eq!(first, want);
                let page = http_get(p.addr.expect("web address")).await;
                assert!(page.contains(&format!("hello from {}", p.name())), "{page}");
            }
            _ => {
                assert_eq!(first, "DYNO=worker.1 PORT=5000");
                assert_eq!(p.addr, None);
            }
        }
    }

    let again = reconcile(rt, &v1, &opts()).await;
    assert!(again.is_noop(), "{again:?}");
    assert_eq!(ids(&rt.list(Some("shop")).await.unwrap()), ids(&ps));

    // A daemon restart: a new runtime on the same instance adopts everything.
    let restarted = DockerRuntime::connect(&docker_host(), &engine.instance)
        .await
        .unwrap();
    let adopted = reconcile(&restarted, &v1, &opts()).await;
    assert!(adopted.is_noop(), "{adopted:?}");
    assert_eq!(ids(&restarted.list(Some("shop")).await.unwrap()), ids(&ps));
}

#[tokio::test]
async fn a_new_release_replaces_every_process_once_it_is_up() {
    let engine = Engine::new().await;
    let v1 = desired("shop", 1, &[("web", 2, WEB), ("worker", 1, WORKER)]);
    reconcile(&engine.rt, &v1, &opts()).await;
    let old = engine.rt.list(Some("shop")).await.unwrap();

    let rec = Recording::new(&engine.rt);
    let v2 = desired("shop", 2, &[("web", 2, WEB)]);
    let report = reconcile(&rec, &v2, &opts()).await;
    assert_eq!(sorted(report.started), ["web.1@v2", "web.2@v2"]);
    assert_eq!(
        sorted(report.removed),
        ["web.1@v1", "web.2@v1", "worker.1@v1"]
    );
    assert!(report.failed.is_empty(), "{:?}", report.failed);

    let events = rec.events();
    assert_eq!(events.len(), 5, "{events:#?}");
    assert!(
        events[..2].iter().all(|e| e.starts_with("start ")),
        "starts come first: {events:#?}"
    );
    for removal in &events[2..] {
        let (_, up) = removal.split_once("while up: ").expect(removal);
        let up: Vec<&str> = up.split(' ').collect();
        assert!(
            up.contains(&"web.1@v2") && up.contains(&"web.2@v2"),
            "{removal}"
        );
    }

    let now = engine.rt.list(Some("shop")).await.unwrap();
    assert_eq!(now.len(), 2);
    assert!(
        now.iter()
            .all(|p| p.release == 2 && p.state == ProcessState::Up),
        "{now:#?}"
    );
    let left = engine.container_ids();
    assert!(
        old.iter().all(|p| !left.contains(&p.id)),
        "old containers are removed, not just stopped"
    );
    let first = log_lines(&engine.rt, &now[0], 1).await;
    assert!(first[0].ends_with("RELEASE=v2 GREETING=hi-v2"), "{first:?}");
}

#[tokio::test]
async fn scaling_down_and_destroying() {
    let engine = Engine::new().await;
    let rt = &engine.rt;
    reconcile(rt, &desired("shop", 1, &[("web", 3, WEB)]), &opts()).await;
    let before = rt.list(Some("shop")).await.unwrap();
    let web1 = before.iter().find(|p| p.index == 1).unwrap().id.clone();

    let report = reconcile(rt, &desired("shop", 1, &[("web", 1, WEB)]), &opts()).await;
    assert!(report.started.is_empty(), "{report:?}");
    assert_eq!(sorted(report.removed), ["web.2@v1", "web.3@v1"]);
    let now = rt.list(Some("shop")).await.unwrap();
    assert_eq!(ids(&now), [web1], "web.1 is kept as it was");

    let report = reconcile(rt, &desired("shop", 1, &[("web", 0, WEB)]), &opts()).await;
    assert_eq!(report.removed, ["web.1@v1"]);
    assert!(rt.list(Some("shop")).await.unwrap().is_empty());

    // Another app of the same installation is untouched by all this, until destroyed.
    reconcile(rt, &desired("jobs", 4, &[("worker", 2, WORKER)]), &opts()).await;
    assert_eq!(rt.list(Some("jobs")).await.unwrap().len(), 2);
    let report = reconcile_app(rt, "jobs", None, &opts()).await.unwrap();
    assert_eq!(sorted(report.removed), ["worker.1@v4", "worker.2@v4"]);
    assert!(engine.container_ids().is_empty());
}

#[tokio::test]
async fn a_broken_release_leaves_the_old_one_running() {
    let engine = Engine::new().await;
    reconcile(&engine.rt, &desired("shop", 1, &[("web", 1, WEB)]), &opts()).await;
    let old = engine.rt.list(Some("shop")).await.unwrap();

    let rec = Recording::new(&engine.rt);
    let broken = desired(
        "shop",
        2,
        &[("web", 1, "echo cannot find settings.py; exit 1")],
    );
    let report = reconcile(&rec, &broken, &opts()).await;
    assert_eq!(report.started, ["web.1@v2"]);
    assert_eq!(report.failed.len(), 1, "{report:?}");
    let (name, reason) = &report.failed[0];
    assert_eq!(name, "web.1@v2");
    assert!(
        reason.contains("exited") && reason.contains("cannot find settings.py"),
        "{reason}"
    );
    assert_eq!(
        report.removed,
        ["web.1@v2"],
        "only the failed new process is removed"
    );
    assert!(
        rec.events()
            .iter()
            .all(|e| !e.starts_with("remove web.1@v1")),
        "{:#?}",
        rec.events()
    );

    let now = engine.rt.list(Some("shop")).await.unwrap();
    assert_eq!(ids(&now), ids(&old));
    assert!(all_up(&now));

    // A release whose web process never listens fails at the boot timeout, just the same.
    let hanging = desired("shop", 3, &[("web", 1, "exec sleep 300")]);
    let quick = ReconcileOptions {
        boot_timeout: Duration::from_secs(2),
        ..opts()
    };
    let report = reconcile(&engine.rt, &hanging, &quick).await;
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(
        report.failed[0].1.contains("did not accept connections"),
        "{:?}",
        report.failed
    );
    assert_eq!(ids(&engine.rt.list(Some("shop")).await.unwrap()), ids(&old));
}

#[tokio::test]
async fn processes_lost_behind_its_back_are_replaced() {
    let engine = Engine::new().await;
    let rt = &engine.rt;
    let v1 = desired("shop", 1, &[("web", 2, WEB)]);
    reconcile(rt, &v1, &opts()).await;
    let before = rt.list(Some("shop")).await.unwrap();
    let web1 = before.iter().find(|p| p.index == 1).unwrap();
    let web2 = before.iter().find(|p| p.index == 2).unwrap();

    docker(&["rm", "-f", &web1.id]);
    docker(&["kill", &web2.id]);
    wait_for(rt, "shop", |ps| {
        ps.len() == 1 && ps[0].state == ProcessState::Crashed
    })
    .await;

    // The removed one comes back at once; the crashed one waits out its first backoff.
    let report = reconcile(rt, &v1, &opts()).await;
    assert_eq!(sorted(report.started), ["web.1@v1"]);
    assert!(report.removed.is_empty(), "{:?}", report.removed);
    tokio::time::sleep(paas_scheduler::reconcile::backoff(0)).await;
    let report = reconcile(rt, &v1, &opts()).await;
    assert_eq!(sorted(report.started), ["web.2@v1"]);
    assert_eq!(
        report.removed,
        ["web.2@v1"],
        "the crashed container is cleared away"
    );
    let now = rt.list(Some("shop")).await.unwrap();
    let restarts: Vec<(u32, u32)> = now.iter().map(|p| (p.index, p.restarts)).collect();
    assert!(
        restarts.contains(&(2, 1)),
        "the restart is counted: {restarts:?}"
    );
    assert_eq!(now.len(), 2);
    assert!(all_up(&now), "{now:#?}");
    assert!(now.iter().all(|p| p.id != web1.id && p.id != web2.id));
    let mut names: Vec<String> = now.iter().map(Process::name).collect();
    names.sort();
    assert_eq!(names, ["web.1", "web.2"]);
}
