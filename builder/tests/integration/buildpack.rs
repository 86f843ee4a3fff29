//! `buildpack::build` against the real engine and the real stacks, with small buildpacks
//! written by the tests (paas's own are exercised end to end in paasd's tests).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use bollard::query_parameters::ListContainersOptionsBuilder;
use bollard::Docker;
use paas_builder::buildpack::{self, BuildRequest, BuildpackError, BuildpackSettings, Built};
use paas_builder::dockerfile::BuildLimits;
use paas_builder::stack::Stack;
use rand::Rng;
use tokio::sync::mpsc;

async fn docker() -> Docker {
    let docker = Docker::connect_with_unix_defaults()
        .unwrap()
        .negotiate_version()
        .await
        .expect("Docker engine at /var/run/docker.sock");
    let stack = Stack::default();
    for image in [&stack.build_image, &stack.run_image] {
        assert!(
            docker.inspect_image(image).await.is_ok(),
            "stack image {image} missing: make it with deploy/stacks/make.sh (deploy/test.sh does)"
        );
    }
    docker
}

/// Removes the test's images (every tag of its repository) when it ends, failed or not.
struct Repo(String);

impl Repo {
    fn new() -> Self {
        Repo(format!(
            "paas-test/bp-{:08x}",
            rand::thread_rng().gen::<u32>()
        ))
    }

    fn app(&self) -> String {
        self.0.trim_start_matches("paas-test/").to_string()
    }
}

impl Drop for Repo {
    fn drop(&mut self) {
        let out = std::process::Command::new("/usr/bin/docker")
            .args(["images", "--format", "{{.Repository}}:{{.Tag}}", &self.0])
            .output();
        if let Ok(out) = out {
            for tag in String::from_utf8_lossy(&out.stdout).lines() {
                let _ = std::process::Command::new("/usr/bin/docker")
                    .args(["rmi", "-f", tag])
                    .output();
            }
        }
    }
}

/// Writes an executable script.
fn script(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A buildpack `name` in `dir` with the given bin/detect, bin/compile and bin/release bodies.
fn buildpack(dir: &Path, name: &str, detect: &str, compile: &str, release: &str) {
    let bp = dir.join(name);
    script(&bp.join("bin/detect"), &format!("#!/bin/bash\n{detect}\n"));
    script(
        &bp.join("bin/compile"),
        &format!("#!/bin/bash\nset -e\n{compile}\n"),
    );
    if !release.is_empty() {
        script(
            &bp.join("bin/release"),
            &format!("#!/bin/bash\n{release}\n"),
        );
    }
}

fn source(files: &[(&str, &str)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, content) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, name, content.as_bytes()).unwrap();
    }
    tar.into_inner().unwrap()
}

struct Setup {
    settings: BuildpackSettings,
    cache: tempfile::TempDir,
    _buildpacks: tempfile::TempDir,
}

fn setup(make: impl FnOnce(&Path)) -> Setup {
    let buildpacks = tempfile::tempdir().unwrap();
    make(buildpacks.path());
    Setup {
        settings: BuildpackSettings::new(buildpacks.path().to_path_buf()),
        cache: tempfile::tempdir().unwrap(),
        _buildpacks: buildpacks,
    }
}

impl Setup {
    fn request(&self, repo: &Repo, tag: &str, files: &[(&str, &str)]) -> BuildRequest {
        BuildRequest {
            app: repo.app(),
            commit: "0123456789abcdef".into(),
            source_tar: source(files),
            config: BTreeMap::from([("GREETING".to_string(), "hello there".to_string())]),
            cache_dir: self.cache.path().join(repo.app()),
            tag: format!("{}:{tag}", repo.0),
            limits: BuildLimits::default(),
        }
    }
}

async fn build(
    docker: &Docker,
    settings: &BuildpackSettings,
    req: &BuildRequest,
) -> (Result<Built, BuildpackError>, Vec<String>) {
    let (tx, mut rx) = mpsc::channel(16);
    let collect = tokio::spawn(async move {
        let mut lines = Vec::new();
        while let Some(line) = rx.recv().await {
            lines.push(line);
        }
        lines
    });
    let result = buildpack::build(docker, settings, req, tx).await;
    (result, collect.await.unwrap())
}

/// `docker run --rm IMAGE /bin/sh -c COMMAND`'s output: the image's entrypoint runs first.
fn run(image: &str, command: &str) -> String {
    let out = std::process::Command::new("/usr/bin/docker")
        .args(["run", "--rm", "--label", "paas.test=buildpack", image])
        .args(["/bin/sh", "-c", command])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn layers(docker: &Docker, image: &str) -> Vec<String> {
    let inspect = docker.inspect_image(image).await.unwrap();
    inspect.root_fs.unwrap().layers.unwrap()
}

/// Waits until the app's build containers are gone (they are removed in the background).
async fn no_build_containers(docker: &Docker, app: &str) {
    let filters = std::collections::HashMap::from([(
        "label".to_string(),
        vec![format!("paas.build.app={app}")],
    )]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    for _ in 0..100 {
        if docker
            .list_containers(Some(options.clone()))
            .await
            .unwrap()
            .is_empty()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("build containers of {app} left behind");
}

const FAKE_COMPILE: &str = r#"
echo "compile: user=$(id -un) cache=$2 env=$3 greeting=$(cat "$3/GREETING")"
mkdir -p "$1/.deps" "$1/.profile.d"
echo "a dependency" >"$1/.deps/lib.txt"
echo 'export FAKE_PROFILE=sourced' >"$1/.profile.d/fake.sh"
cat "$3/GREETING" >"$1/greeting.txt"
echo $(( $(cat "$2/count" 2>/dev/null || echo 0) + 1 )) >"$2/count"
echo "export FROM_FAKE=exported" >"$(dirname "$0")/../export"
"#;

#[tokio::test]
async fn runs_the_classic_api_and_layers_the_slug_on_the_run_stack() {
    let docker = docker().await;
    let repo = Repo::new();
    let s = setup(|dir| {
        buildpack(
            dir,
            "fake",
            "[ -f \"$1/fake.txt\" ] && echo Fake",
            FAKE_COMPILE,
            "printf -- '---\\nconfig_vars:\\n  FROM_RELEASE: yes\\ndefault_process_types:\\n  web: cat greeting.txt\\n'",
        );
        buildpack(
            dir,
            "second",
            "exit 0",
            "echo \"second: FROM_FAKE=$FROM_FAKE\"",
            "",
        );
    });
    // Two buildpacks through .buildpacks: the first's `export` reaches the second.
    let files = [
        ("fake.txt", "x"),
        (".buildpacks", "fake\n# comment\nsecond\n"),
    ];
    let req = s.request(&repo, "one", &files);
    let (built, log) = build(&docker, &s.settings, &req).await;
    let built = built.unwrap_or_else(|e| panic!("{e}\n{}", log.join("\n")));
    let text = log.join("\n");
    assert!(text.contains("-----> Fake app detected"), "{text}");
    assert!(
        text.contains("compile: user=app cache=/cache env=/paas/env greeting=hello there"),
        "{text}"
    );
    assert!(text.contains("second: FROM_FAKE=exported"), "{text}");
    assert!(text.contains("New dependencies layer: 2 files"), "{text}");
    assert_eq!(built.buildpacks, ["fake", "second"]);
    assert_eq!(
        built.default_process_types,
        BTreeMap::from([("web".to_string(), "cat greeting.txt".to_string())])
    );
    assert!(!built.dependencies_reused);

    let image = docker.inspect_image(&req.tag).await.unwrap();
    let config = image.config.unwrap();
    assert_eq!(config.user.as_deref(), Some("app"));
    assert_eq!(config.entrypoint, Some(vec!["/paas/launch".to_string()]));
    assert!(config
        .env
        .unwrap()
        .contains(&"FROM_RELEASE=yes".to_string()));
    // The launcher sources .profile.d and runs in /app as the stack's user.
    let out = run(
        &req.tag,
        "echo $FAKE_PROFILE; echo $(cat greeting.txt); id -un; pwd",
    );
    assert_eq!(out, "sourced\nhello there\napp\n/app\n");

    // A code-only change: the same dependency files, so their layer is reused.
    let files = [
        ("fake.txt", "y"),
        ("new.txt", "code"),
        (".buildpacks", "fake\nsecond\n"),
    ];
    let req2 = s.request(&repo, "two", &files);
    let (built2, log) = build(&docker, &s.settings, &req2).await;
    let built2 = built2.unwrap_or_else(|e| panic!("{e}\n{}", log.join("\n")));
    assert!(built2.dependencies_reused, "{}", log.join("\n"));
    assert!(log.iter().any(|l| l.contains("Dependencies unchanged")));
    let (one, two) = (
        layers(&docker, &req.tag).await,
        layers(&docker, &req2.tag).await,
    );
    assert_eq!(one.len(), two.len());
    assert_eq!(one[..one.len() - 1], two[..two.len() - 1], "shared layers");
    assert_ne!(one.last(), two.last(), "a new code layer");
    assert_eq!(run(&req2.tag, "cat new.txt"), "code");
    // The cache dir is kept between builds.
    let count = std::fs::read_to_string(req.cache_dir.join("count")).unwrap();
    assert_eq!(count.trim(), "2");
    no_build_containers(&docker, &repo.app()).await;

    // Destroying the app forgets its cache and dependencies tag.
    buildpack::forget_app(&docker, &repo.0, &req.cache_dir)
        .await
        .unwrap();
    assert!(!req.cache_dir.exists());
    let deps = format!("{}:deps", repo.0);
    assert!(docker.inspect_image(&deps).await.is_err(), "{deps} is gone");
    assert!(docker.inspect_image(&req2.tag).await.is_ok(), "builds stay");
}

#[tokio::test]
async fn detection_failure_lists_what_each_buildpack_looks_for() {
    let docker = docker().await;
    let repo = Repo::new();
    let s = setup(|dir| {
        buildpack(
            dir,
            "alpha",
            "[ -f \"$1/alpha.txt\" ] || { echo 'alpha.txt or alpha/'; exit 1; }",
            "",
            "",
        );
        buildpack(dir, "beta", "exit 1", "", "");
        std::fs::write(dir.join("order"), "beta\nalpha\n").unwrap();
    });
    let req = s.request(&repo, "one", &[("README", "nothing to build")]);
    let (result, _) = build(&docker, &s.settings, &req).await;
    let err = result.unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, BuildpackError::NoneDetected { .. }),
        "{err:?}"
    );
    let beta = message
        .find("beta: its bin/detect did not match")
        .expect(&message);
    let alpha = message.find("alpha: alpha.txt or alpha/").expect(&message);
    assert!(beta < alpha, "in detection order: {message}");
    assert!(message.contains("BUILDPACK_URL"), "{message}");

    // A buildpack chosen by name must apply.
    let mut req = s.request(&repo, "two", &[("README", "x")]);
    req.config.insert("BUILDPACK_URL".into(), "alpha".into());
    let (result, _) = build(&docker, &s.settings, &req).await;
    let message = result.unwrap_err().to_string();
    assert!(
        message.contains("the alpha buildpack does not apply") && message.contains("BUILDPACK_URL"),
        "{message}"
    );
    req.config.insert("BUILDPACK_URL".into(), "gamma".into());
    let (result, _) = build(&docker, &s.settings, &req).await;
    let message = result.unwrap_err().to_string();
    assert!(
        message.contains("not a built-in buildpack (beta, alpha)"),
        "{message}"
    );
    no_build_containers(&docker, &repo.app()).await;
}

#[tokio::test]
async fn a_failing_compile_is_reported_and_the_time_limit_stops_a_build() {
    let docker = docker().await;
    let repo = Repo::new();
    let s = setup(|dir| {
        buildpack(
            dir,
            "failing",
            "[ -f \"$1/fail\" ]",
            "echo 'custom failure: nothing here compiles'; exit 3",
            "",
        );
        buildpack(
            dir,
            "slow",
            "[ -f \"$1/slow\" ]",
            "echo starting; sleep 600",
            "",
        );
    });
    let req = s.request(&repo, "one", &[("fail", "")]);
    let (result, log) = build(&docker, &s.settings, &req).await;
    let err = result.unwrap_err();
    assert!(
        matches!(&err, BuildpackError::CompileFailed { buildpack, code: 3 } if buildpack == "failing"),
        "{err:?}"
    );
    assert!(
        log.contains(&"custom failure: nothing here compiles".to_string()),
        "{log:?}"
    );
    assert!(docker.inspect_image(&req.tag).await.is_err(), "no image");

    let mut req = s.request(&repo, "two", &[("slow", "")]);
    req.limits.timeout = Duration::from_secs(3);
    let started = std::time::Instant::now();
    let (result, log) = build(&docker, &s.settings, &req).await;
    let err = result.unwrap_err();
    assert!(matches!(err, BuildpackError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(log.contains(&"starting".to_string()), "{log:?}");
    no_build_containers(&docker, &repo.app()).await;
}
