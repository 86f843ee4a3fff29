//! `dockerfile::check` and `dockerfile::build` against the real engine.

use std::time::Duration;

use bollard::query_parameters::ListContainersOptionsBuilder;
use bollard::Docker;
use paas_builder::dockerfile::{self, BuildError, BuildLimits};
use rand::Rng;
use tokio::sync::mpsc;

const BUSYBOX: &str = "paas/busybox:latest";

async fn docker() -> Docker {
    let docker = Docker::connect_with_unix_defaults()
        .unwrap()
        .negotiate_version()
        .await
        .expect("Docker engine at /var/run/docker.sock");
    ensure_busybox(&docker).await;
    docker
}

/// Imports `paas/busybox:latest` from the host's busybox-static when it is missing.
async fn ensure_busybox(docker: &Docker) {
    if docker.inspect_image(BUSYBOX).await.is_ok() {
        return;
    }
    let script = r#"set -e
d=$(mktemp -d); mkdir -p $d/bin; cp /bin/busybox $d/bin/
cd $d/bin; for a in $(./busybox --list); do [ -e $a ] || ln -s busybox $a; done
tar -C $d -c . | docker import -c 'CMD ["sh"]' - paas/busybox:latest >/dev/null
rm -rf $d"#;
    let status = std::process::Command::new("sh")
        .args(["-c", script])
        .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
        .status()
        .unwrap();
    assert!(status.success(), "could not import {BUSYBOX}");
}

/// Removes the tag (and the image) when the test ends, failed or not.
struct Tag(String);

impl Tag {
    fn new() -> Self {
        Tag(format!(
            "paas-test/b-{:08x}:latest",
            rand::thread_rng().gen::<u32>()
        ))
    }
}

impl Drop for Tag {
    fn drop(&mut self) {
        let _ = std::process::Command::new("/usr/bin/docker")
            .args(["rmi", "-f", &self.0])
            .output();
    }
}

fn context(dockerfile: &str) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(dockerfile.len() as u64);
    h.set_mode(0o644);
    tar.append_data(&mut h, "Dockerfile", dockerfile.as_bytes())
        .unwrap();
    tar.into_inner().unwrap()
}

async fn build(
    docker: &Docker,
    dockerfile: &str,
    tag: &str,
    limits: &BuildLimits,
) -> (Result<String, BuildError>, Vec<String>) {
    let (tx, mut rx) = mpsc::channel(16);
    let collect = tokio::spawn(async move {
        let mut lines = Vec::new();
        while let Some(line) = rx.recv().await {
            lines.push(line);
        }
        lines
    });
    let result = dockerfile::build(docker, context(dockerfile), tag, limits, tx).await;
    (result, collect.await.unwrap())
}

#[tokio::test]
async fn check_rejects_syntax_directive() {
    let docker = docker().await;
    let err = dockerfile::check(
        &docker,
        "# syntax=docker/dockerfile:1\nFROM paas/busybox:latest\n",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, BuildError::SyntaxDirective { line: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("remove that line"), "{err}");
}

#[tokio::test]
async fn check_names_missing_images() {
    let docker = docker().await;
    let err = dockerfile::check(&docker, "FROM nonexistent/image:1\nRUN true\n")
        .await
        .unwrap_err();
    assert!(
        matches!(err, BuildError::MissingImage { line: 1, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("nonexistent/image:1") && msg.contains("cannot pull"),
        "{msg}"
    );

    let err = dockerfile::check(
        &docker,
        "FROM paas/busybox:latest AS b\nCOPY --from=nonexistent/other:2 /x /x\n",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, BuildError::MissingImage { line: 2, image } if image == "nonexistent/other:2"),
        "{err:?}"
    );
}

#[tokio::test]
async fn check_accepts_local_images_stages_and_arg_defaults() {
    let docker = docker().await;
    dockerfile::check(&docker, "FROM paas/busybox:latest\nCMD [\"sh\"]\n")
        .await
        .unwrap();
    dockerfile::check(&docker, "FROM paas/busybox:latest AS b\nRUN true\nFROM b\nCOPY --from=b /bin /bin\nCOPY --from=0 /x /x\n")
        .await
        .unwrap();
    dockerfile::check(&docker, "ARG BASE=paas/busybox:latest\nFROM ${BASE}\n")
        .await
        .unwrap();
    dockerfile::check(&docker, "FROM scratch\nCOPY a /a\n")
        .await
        .unwrap();
}

#[tokio::test]
async fn check_rejects_unresolvable_and_missing_from() {
    let docker = docker().await;
    let err = dockerfile::check(&docker, "ARG BASE\nFROM $BASE\n")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BuildError::UnresolvedArg { line: 2, name, .. } if name == "BASE"),
        "{err:?}"
    );
    assert!(err.to_string().contains("ARG BASE=VALUE"), "{err}");

    let err = dockerfile::check(&docker, "# just a comment\nRUN true\n")
        .await
        .unwrap_err();
    assert!(matches!(err, BuildError::NoFrom), "{err:?}");

    let err = dockerfile::check(&docker, "FROM a b c d\n")
        .await
        .unwrap_err();
    assert!(
        matches!(err, BuildError::Invalid { line: 1, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn build_tags_an_image_and_streams_the_log() {
    let docker = docker().await;
    let tag = Tag::new();
    let text = "FROM paas/busybox:latest\nRUN echo hi > /x\nCMD [\"cat\", \"/x\"]\n";
    let (result, lines) = build(&docker, text, &tag.0, &BuildLimits::default()).await;
    let id = result.unwrap();
    assert!(id.starts_with("sha256:"), "{id}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Step 1/3 : FROM paas/busybox:latest")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Step 2/3 : RUN echo hi")),
        "{lines:?}"
    );
    assert!(lines.iter().all(|l| !l.contains('\n')), "{lines:?}");

    let image = docker.inspect_image(&tag.0).await.unwrap();
    assert_eq!(image.id.as_deref(), Some(id.as_str()));
    let cmd = image.config.and_then(|c| c.cmd).unwrap();
    assert_eq!(cmd, ["cat", "/x"]);
}

#[tokio::test]
async fn failing_step_is_a_build_failure() {
    let docker = docker().await;
    let tag = Tag::new();
    let (result, lines) = build(
        &docker,
        "FROM paas/busybox:latest\nRUN exit 3\n",
        &tag.0,
        &BuildLimits::default(),
    )
    .await;
    let err = result.unwrap_err();
    let BuildError::Failed { message } = &err else {
        panic!("expected Failed, got {err:?}");
    };
    assert!(message.contains("returned a non-zero code: 3"), "{message}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("returned a non-zero code: 3")),
        "{lines:?}"
    );
    assert!(
        docker.inspect_image(&tag.0).await.is_err(),
        "a failed build must not be tagged"
    );
}

#[tokio::test]
async fn build_stops_at_the_time_limit_and_cleans_up() {
    let docker = docker().await;
    let tag = Tag::new();
    let marker = format!("sleep {}", 300 + rand::thread_rng().gen_range(0..600));
    let limits = BuildLimits {
        timeout: Duration::from_secs(3),
        ..BuildLimits::default()
    };
    let started = std::time::Instant::now();
    let (result, _) = build(
        &docker,
        &format!("FROM paas/busybox:latest\nRUN {marker}\n"),
        &tag.0,
        &limits,
    )
    .await;
    let err = result.unwrap_err();
    assert!(matches!(err, BuildError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(err.to_string().contains("3 s"), "{err}");

    // The engine cancels the build and `forcerm` removes the step's container.
    let options = ListContainersOptionsBuilder::new().all(true).build();
    let mut left = Vec::new();
    for _ in 0..100 {
        let containers = docker.list_containers(Some(options.clone())).await.unwrap();
        left = containers
            .into_iter()
            .filter(|c| c.command.as_deref().unwrap_or("").contains(&marker))
            .collect();
        if left.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("build containers left behind: {left:?}");
}
