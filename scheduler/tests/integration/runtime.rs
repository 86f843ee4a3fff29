//! DockerRuntime on its own.

use std::time::Duration;

use futures_util::StreamExt;
use paas_scheduler::{
    labels, DockerRuntime, LogsFrom, ProcessSpec, ProcessState, Runtime, RuntimeError,
};

use crate::harness::{
    docker, docker_host, http_get, log_lines, log_lines_from, wait_for, web_spec, Engine, IMAGE,
    WEB,
};

#[tokio::test]
async fn start_list_and_remove() {
    let engine = Engine::new().await;
    let rt = &engine.rt;
    let started = rt.start(&web_spec("shop", 4, 2, WEB)).await.expect("start");
    assert_eq!(
        (
            started.app.as_str(),
            started.release,
            started.name().as_str()
        ),
        ("shop", 4, "web.2")
    );
    assert_eq!(started.command.as_deref(), Some(WEB));
    let age = chrono::Utc::now() - started.created_at;
    assert!(
        age.num_seconds().abs() < 60,
        "created_at {} is not now",
        started.created_at
    );

    let ps = wait_for(rt, "shop", |ps| {
        ps.len() == 1 && ps[0].state == ProcessState::Up
    })
    .await;
    let p = &ps[0];
    assert_eq!(p.id, started.id);
    let addr = p.addr.expect("a web process has an address");
    assert_eq!(addr.port(), 5000);
    assert!(
        addr.ip().to_string().starts_with("172."),
        "bridge address expected, got {addr}"
    );
    let page = http_get(addr).await;
    assert!(page.contains("hello from web.2"), "{page}");

    // The labels the scheduler finds it by, and a name docker accepted.
    let inspect = docker(&[
        "inspect",
        "-f",
        "{{json .Config.Labels}} {{.Name}} {{.HostConfig.RestartPolicy.Name}}",
        &p.id,
    ]);
    assert!(
        inspect.contains(&format!("\"{}\":\"{}\"", labels::INSTANCE, engine.instance)),
        "{inspect}"
    );
    assert!(
        inspect.contains(&format!("\"{}\":\"4\"", labels::RELEASE)),
        "{inspect}"
    );
    assert!(inspect.contains(" /paas-test"), "{inspect}");
    assert!(inspect.contains("-shop-web.2-v4-"), "{inspect}");
    assert!(
        inspect.trim_end().ends_with(" no"),
        "the engine must not restart processes: {inspect}"
    );

    assert!(
        rt.list(Some("other")).await.unwrap().is_empty(),
        "app filter"
    );
    let stranger = DockerRuntime::connect(&docker_host(), "test-someone-else")
        .await
        .unwrap();
    assert!(
        !stranger
            .list(None)
            .await
            .unwrap()
            .iter()
            .any(|q| q.id == p.id),
        "another instance must not see this one's containers"
    );

    rt.remove(&p.id, 2).await.expect("remove");
    assert!(rt.list(None).await.unwrap().is_empty());
    assert!(
        engine.container_ids().is_empty(),
        "the container itself is gone"
    );
    rt.remove(&p.id, 2)
        .await
        .expect("removing a missing process is fine");
}

#[tokio::test]
async fn exited_processes_are_crashed_and_non_web_ones_have_no_address() {
    let engine = Engine::new().await;
    let rt = &engine.rt;
    let mut spec = web_spec("jobs", 1, 1, "exit 3");
    spec.process_type = "worker".into();
    spec.port = None;
    rt.start(&spec).await.expect("start");
    let ps = wait_for(rt, "jobs", |ps| {
        ps.iter().any(|p| p.state == ProcessState::Crashed)
    })
    .await;
    assert_eq!(ps[0].name(), "worker.1");
    assert_eq!(ps[0].addr, None, "a worker listens on nothing");

    let mut sleeper = spec.clone();
    sleeper.index = 2;
    sleeper.command = Some("exec sleep 300".into());
    rt.start(&sleeper).await.expect("start");
    let ps = wait_for(rt, "jobs", |ps| {
        ps.iter()
            .any(|p| p.index == 2 && p.state == ProcessState::Up)
    })
    .await;
    assert_eq!(ps.len(), 2);
}

#[tokio::test]
async fn a_web_process_not_listening_yet_is_starting() {
    let engine = Engine::new().await;
    let rt = &engine.rt;
    rt.start(&web_spec("slow", 1, 1, "sleep 3; exec httpd -f -p $PORT"))
        .await
        .unwrap();
    let ps = rt.list(Some("slow")).await.unwrap();
    assert_eq!(ps[0].state, ProcessState::Starting);
    wait_for(rt, "slow", |ps| ps[0].state == ProcessState::Up).await;
}

#[tokio::test]
async fn logs_tail_and_follow() {
    let engine = Engine::new().await;
    let rt = &engine.rt;
    let printer = "for i in 1 2 3 4 5; do echo line-$i; done; echo oops >&2; \
                   i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.3; done";
    let p = rt.start(&web_spec("chatty", 1, 1, printer)).await.unwrap();
    // Ticks come every 0.3 s: after a second, the two newest lines are ticks.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let all = log_lines(rt, &p, 1000).await;
    // stdout and stderr are separate pipes: their lines keep order only within each.
    let stdout: Vec<&String> = all.iter().filter(|l| *l != "oops").collect();
    assert_eq!(
        stdout[..5],
        ["line-1", "line-2", "line-3", "line-4", "line-5"],
        "{all:?}"
    );
    assert_eq!(
        all.iter().filter(|l| *l == "oops").count(),
        1,
        "stderr is in the logs too: {all:?}"
    );
    let last = log_lines(rt, &p, 2).await;
    assert_eq!(last.len(), 2, "{last:?}");
    assert!(
        last.iter().all(|l| l.starts_with("tick-")),
        "the tail is the newest lines: {last:?}"
    );

    // From a time: everything since, however many lines; nothing from a time to come.
    let from_start = log_lines_from(rt, &p, LogsFrom::Since(p.created_at)).await;
    assert_eq!(
        from_start.iter().find(|l| *l != "oops").map(String::as_str),
        Some("line-1"),
        "{from_start:?}"
    );
    assert!(from_start.len() > 6, "{from_start:?}");
    let later = log_lines_from(
        rt,
        &p,
        LogsFrom::Since(chrono::Utc::now() + chrono::Duration::hours(1)),
    )
    .await;
    assert!(later.is_empty(), "{later:?}");

    let stream = rt.logs(&p, LogsFrom::Tail(0), true).await.expect("follow");
    let lines: Vec<_> =
        tokio::time::timeout(Duration::from_secs(10), stream.take(3).collect::<Vec<_>>())
            .await
            .expect("three new lines within 10s");
    let ticks: Vec<u32> = lines
        .iter()
        .map(|l| {
            l.line
                .strip_prefix("tick-")
                .and_then(|n| n.parse().ok())
                .expect(&l.line)
        })
        .collect();
    assert_eq!(ticks[1], ticks[0] + 1);
    assert_eq!(ticks[2], ticks[0] + 2);
    for l in &lines {
        assert_eq!(l.process, "web.1");
        assert!(
            (chrono::Utc::now() - l.time).num_seconds().abs() < 30,
            "engine timestamp {}",
            l.time
        );
    }

    rt.remove(&p.id, 1).await.unwrap();
    let err = rt
        .logs(&p, LogsFrom::Tail(10), false)
        .await
        .err()
        .expect("logs of a removed process fail");
    assert!(err.to_string().contains("no longer exists"), "{err}");
}

#[tokio::test]
async fn images_and_bad_input() {
    let engine = Engine::new().await;
    let rt = &engine.rt;
    assert!(rt.image_exists(IMAGE).await.unwrap());
    assert!(!rt.image_exists("paas/no-such-image:v9").await.unwrap());

    let missing = ProcessSpec {
        image: "paas/no-such-image:v9".into(),
        ..web_spec("x", 1, 1, WEB)
    };
    let err = rt.start(&missing).await.unwrap_err();
    assert!(
        matches!(err, RuntimeError::ImageMissing(ref i) if i == "paas/no-such-image:v9"),
        "{err:?}"
    );

    let bad_type = ProcessSpec {
        process_type: "web/../x".into(),
        ..web_spec("x", 1, 1, WEB)
    };
    assert!(matches!(
        rt.start(&bad_type).await.unwrap_err(),
        RuntimeError::Invalid(_)
    ));
    assert!(
        engine.container_ids().is_empty(),
        "failed starts leave nothing behind"
    );
}

#[tokio::test]
async fn connect_errors_are_clear() {
    let err = DockerRuntime::connect("unix:///nonexistent/docker.sock", "i")
        .await
        .err()
        .unwrap();
    assert!(matches!(err, RuntimeError::Unreachable(_)), "{err:?}");
    assert!(
        err.to_string().contains("/nonexistent/docker.sock"),
        "{err}"
    );

    // Nothing listens on port 1.
    let err = DockerRuntime::connect("tcp://127.0.0.1:1", "i")
        .await
        .err()
        .unwrap();
    assert!(matches!(err, RuntimeError::Unreachable(_)), "{err:?}");

    let err = DockerRuntime::connect("ftp://example", "i")
        .await
        .err()
        .unwrap();
    assert!(matches!(err, RuntimeError::Invalid(_)), "{err:?}");
    let err = DockerRuntime::connect(&docker_host(), " ")
        .await
        .err()
        .unwrap();
    assert!(matches!(err, RuntimeError::Invalid(_)), "{err:?}");
}
