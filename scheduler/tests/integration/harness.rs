//! A private instance on the real engine per test, removed with everything it ran on drop.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use paas_scheduler::{
    Desired, DesiredProcess, DockerRuntime, LogsFrom, Process, ProcessSpec, ReconcileOptions,
    Runtime,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const IMAGE: &str = "paas/busybox:latest";

/// Prints its environment, then serves `/www` (a page naming the process) on `$PORT`.
pub const WEB: &str = "echo DYNO=$DYNO PORT=$PORT APP=$PAAS_APP RELEASE=$PAAS_RELEASE GREETING=$GREETING; \
     mkdir -p /www && echo \"hello from $DYNO\" > /www/index.html && exec httpd -f -p $PORT -h /www";

pub fn docker_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned())
}

/// Debian's client speaks to the local engine's API version; a newer one may be first on PATH.
fn docker_cli() -> Command {
    let bin = if std::path::Path::new("/usr/bin/docker").exists() {
        "/usr/bin/docker"
    } else {
        "docker"
    };
    Command::new(bin)
}

pub fn docker(args: &[&str]) -> String {
    let out = docker_cli()
        .args(args)
        .output()
        .expect("running the docker client");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ensure_image() {
    static MADE: OnceLock<()> = OnceLock::new();
    MADE.get_or_init(|| {
        if !docker(&["images", "-q", IMAGE]).trim().is_empty() {
            return;
        }
        let dir = std::env::temp_dir().join(format!("paas-bb-{}", std::process::id()));
        let script = format!(
            "set -e; mkdir -p {d}/bin && cp /bin/busybox {d}/bin/ && cd {d}/bin && \
             for a in $(./busybox --list); do [ -e $a ] || ln -s busybox $a; done && \
             tar -C {d} -c . | docker import -c 'CMD [\"sh\"]' - {IMAGE}; rm -rf {d}",
            d = dir.display()
        );
        let status = Command::new("sh")
            .arg("-c")
            .arg(script)
            .status()
            .expect("sh");
        assert!(status.success(), "making {IMAGE} from /bin/busybox failed");
    });
}

/// A runtime on its own instance id, so tests running side by side never see each other's
/// containers; on drop, every container with that id is removed, also after a failed assert.
pub struct Engine {
    pub rt: DockerRuntime,
    pub instance: String,
}

impl Engine {
    pub async fn new() -> Engine {
        ensure_image();
        let instance = format!("test-{}", uuid::Uuid::new_v4());
        let rt = DockerRuntime::connect(&docker_host(), &instance)
            .await
            .expect("connecting to docker");
        Engine { rt, instance }
    }

    /// Container ids of this instance, asked of the docker client rather than the code under test.
    pub fn container_ids(&self) -> Vec<String> {
        let filter = format!("label=paas.instance={}", self.instance);
        docker(&["ps", "-aq", "--no-trunc", "--filter", &filter])
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let ids = self.container_ids();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids.iter().map(String::as_str));
            let out = docker_cli().args(&args).output();
            if !matches!(&out, Ok(o) if o.status.success()) {
                eprintln!("cleanup of instance {} failed: {out:?}", self.instance);
            }
        }
    }
}

pub fn opts() -> ReconcileOptions {
    ReconcileOptions {
        port: 5000,
        boot_timeout: Duration::from_secs(15),
        stop_grace_secs: 2,
        drain: Duration::ZERO,
    }
}

pub fn desired(app: &str, release: i64, formation: &[(&str, u32, &str)]) -> Desired {
    Desired {
        app: app.to_owned(),
        release,
        image: IMAGE.to_owned(),
        env: BTreeMap::from([("GREETING".to_owned(), format!("hi-v{release}"))]),
        processes: formation
            .iter()
            .map(|(t, quantity, command)| {
                let command = Some(command.to_string());
                (
                    t.to_string(),
                    DesiredProcess {
                        quantity: *quantity,
                        command,
                        limits: Default::default(),
                        health: Default::default(),
                    },
                )
            })
            .collect(),
        replace: Default::default(),
        canary: None,
    }
}

pub fn web_spec(app: &str, release: i64, index: u32, command: &str) -> ProcessSpec {
    ProcessSpec {
        app: app.to_owned(),
        release,
        process_type: "web".to_owned(),
        index,
        image: IMAGE.to_owned(),
        command: Some(command.to_owned()),
        env: BTreeMap::from([
            ("PORT".to_owned(), "5000".to_owned()),
            ("DYNO".to_owned(), format!("web.{index}")),
        ]),
        port: Some(5000),
        restarts: 0,
        limits: Default::default(),
    }
}

/// Lists `app` until `done` holds (10 s at most) and returns that listing.
pub async fn wait_for(
    rt: &dyn Runtime,
    app: &str,
    done: impl Fn(&[Process]) -> bool,
) -> Vec<Process> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ps = rt.list(Some(app)).await.expect("list");
        if done(&ps) {
            return ps;
        }
        assert!(
            Instant::now() < deadline,
            "condition not reached; last listing: {ps:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sorted ids of the processes.
pub fn ids(ps: &[Process]) -> Vec<String> {
    let mut ids: Vec<String> = ps.iter().map(|p| p.id.clone()).collect();
    ids.sort();
    ids
}

/// The last `tail` log lines of a process, without following.
pub async fn log_lines(rt: &dyn Runtime, p: &Process, tail: usize) -> Vec<String> {
    log_lines_from(rt, p, LogsFrom::Tail(tail)).await
}

/// A process's log lines from `from`, without following.
pub async fn log_lines_from(rt: &dyn Runtime, p: &Process, from: LogsFrom) -> Vec<String> {
    let stream = rt.logs(p, from, false).await.expect("logs");
    let lines = tokio::time::timeout(Duration::from_secs(10), stream.collect::<Vec<_>>())
        .await
        .expect("a non-following log stream ends");
    lines.into_iter().map(|l| l.line).collect()
}

/// `GET /` over plain TCP; returns the whole response.
pub async fn http_get(addr: SocketAddr) -> String {
    let mut conn = TcpStream::connect(addr)
        .await
        .expect("connect to the process");
    conn.write_all(b"GET / HTTP/1.0\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(5), conn.read_to_string(&mut response))
        .await
        .expect("response in time")
        .expect("read response");
    response
}
