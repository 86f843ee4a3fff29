//! The collector follows what processes print into their app's log.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use paas_scheduler::{DockerRuntime, OneOffMode, ProcessSpec, Runtime, ONE_OFF};
use paas_telemetry::{collector, Filter, LogHub};

use crate::harness::{docker_host, log_lines, Engine, IMAGE};

/// The engine ends a follow at once for a container that is not running yet; the collector
/// must come back to it once it runs (this lost a new release's first lines now and then).
#[tokio::test(flavor = "multi_thread")]
async fn output_of_a_process_seen_before_it_started_is_collected() {
    let engine = Engine::new().await;
    let dir = tempfile::tempdir().unwrap();
    let hub = LogHub::new(dir.path().to_path_buf(), 1 << 20);
    let observer: Arc<dyn Runtime> = Arc::new(
        DockerRuntime::connect(&docker_host(), &engine.instance)
            .await
            .expect("connecting to docker"),
    );
    let every = Duration::from_millis(100);
    let task = collector::spawn(hub.clone(), observer, every);

    let spec = ProcessSpec {
        app: "late".to_owned(),
        release: 1,
        process_type: ONE_OFF.to_owned(),
        index: 1,
        image: IMAGE.to_owned(),
        command: Some("echo first-line; sleep 1; echo second-line".to_owned()),
        env: Default::default(),
        port: None,
        restarts: 0,
        limits: Default::default(),
    };
    // Created, not started: the collector sees it in several listings before it runs.
    let p = engine
        .rt
        .create_one_off(&spec, OneOffMode::Attached { tty: false })
        .await
        .expect("create");
    tokio::time::sleep(every * 5).await;
    let attachment = engine.rt.attach(&p.id).await.expect("attach and start");
    let printed: Vec<_> = tokio::time::timeout(
        Duration::from_secs(10),
        attachment.output.collect::<Vec<_>>(),
    )
    .await
    .expect("the process ends");
    assert!(!printed.is_empty(), "the process printed nothing");

    let deadline = Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let (lines, _) = hub.read("late", 100, &Filter::default());
        let lines: Vec<String> = lines.iter().map(|(_, l)| l.message.clone()).collect();
        if lines.len() >= 2 || Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    task.abort();
    assert_eq!(lines, ["first-line", "second-line"]);
}

/// A process that printed more than the newest lines before the collector first listed it is
/// read from its start: a burst at start-up is not cut to its tail (drains and history get it
/// all).
#[tokio::test(flavor = "multi_thread")]
async fn a_burst_before_the_first_listing_is_collected_whole() {
    const LINES: usize = 4000;
    let engine = Engine::new().await;
    let dir = tempfile::tempdir().unwrap();
    let hub = LogHub::new(dir.path().to_path_buf(), 1 << 20);
    let spec = ProcessSpec {
        app: "burst".to_owned(),
        release: 1,
        process_type: "worker".to_owned(),
        index: 1,
        image: IMAGE.to_owned(),
        command: Some(format!(
            "i=1; while [ $i -le {LINES} ]; do echo burst-$i; i=$((i+1)); done; sleep 600"
        )),
        env: Default::default(),
        port: None,
        restarts: 0,
        limits: Default::default(),
    };
    engine.rt.start(&spec).await.expect("start");
    // Printed in full before anyone follows it.
    let deadline = Instant::now() + Duration::from_secs(20);
    let p = engine.rt.list(Some("burst")).await.unwrap().remove(0);
    loop {
        let tail = log_lines(&engine.rt, &p, 1).await;
        if tail.first().is_some_and(|l| *l == format!("burst-{LINES}")) {
            break;
        }
        assert!(Instant::now() < deadline, "the burst never ended: {tail:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (_, mut live) = hub.read("burst", 0, &Filter::default());
    let observer: Arc<dyn Runtime> = Arc::new(
        DockerRuntime::connect(&docker_host(), &engine.instance)
            .await
            .expect("connecting to docker"),
    );
    let task = collector::spawn(hub.clone(), observer, Duration::from_millis(100));
    let mut got = Vec::new();
    while got.len() < LINES {
        match tokio::time::timeout(Duration::from_secs(10), live.recv()).await {
            Ok(Ok((_, line))) => got.push(line.message.clone()),
            other => panic!("after {} lines: {other:?}", got.len()),
        }
    }
    task.abort();
    assert_eq!(got[0], "burst-1");
    assert_eq!(got[LINES - 1], format!("burst-{LINES}"));
}
