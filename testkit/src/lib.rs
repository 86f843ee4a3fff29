//! The harness every integration test shares: a real `paasd` on free ports with a temp data
//! dir and its own instance id (so its containers are its own), the real `paas` CLI, the real
//! `git`, and requests through the real router. Dropping a [`Platform`] stops paasd and removes
//! every container it started.

mod git;
mod postgres;
mod router;
mod wait;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

pub use git::{commit_all, copy_example, examples_dir, git};
pub use postgres::Postgres;
pub use router::RouterProcess;
pub use wait::eventually;

/// A command's stdout and stderr together, for assertions and failure messages.
pub fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts the command failed with exit code 1 (the CLI's error exit); returns its stderr.
#[track_caller]
pub fn fails(out: Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected exit 1, got {:?}: {}",
        out.status,
        output_text(&out)
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// A built binary of the workspace (tests run after `cargo build --workspace --bins`, and
/// `cargo test --workspace` builds them too).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/debug/deps/test-xxxx -> target/debug/NAME
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} not built: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub struct Platform {
    pub data_dir: tempfile::TempDir,
    /// A home for the CLI and git, so tests never touch the user's own config.
    pub home: tempfile::TempDir,
    pub api_url: String,
    pub api_addr: SocketAddr,
    pub router_addr: SocketAddr,
    pub instance: String,
    child: Option<Child>,
    pub token: Option<String>,
    /// Extra environment for paasd (settings a test needs, e.g. a short boot timeout).
    env: Vec<(String, String)>,
    /// paasd's subcommand (none: all in one).
    args: Vec<String>,
    /// With an https API: the certificate the CLI (`PAAS_CA_FILE`) and the harness trust.
    pub ca_file: Option<PathBuf>,
}

impl Platform {
    /// Starts paasd and waits until its API answers.
    pub fn start() -> Result<Platform> {
        Platform::start_with(&[])
    }

    /// Starts paasd with extra environment (`PAAS_*` settings).
    pub fn start_with(env: &[(&str, &str)]) -> Result<Platform> {
        Platform::start_args(&[], env)
    }

    /// Starts paasd serving its API over HTTPS: with the certificate in `PAAS_API_TLS_CERT` if
    /// `env` has one, else the self-signed one paasd makes (`DATA_DIR/secrets/api-tls.crt`).
    /// `api_url` is https, and the CLI run through the harness trusts that certificate.
    pub fn start_tls(env: &[(&str, &str)]) -> Result<Platform> {
        let mut env = env.to_vec();
        env.push(("PAAS_API_TLS", "1"));
        Platform::start_with(&env)
    }

    /// Starts `paasd controller`: no router listens on `router_addr` (app URLs still name
    /// it), so a [`RouterProcess`] can take it.
    pub fn start_controller(env: &[(&str, &str)]) -> Result<Platform> {
        Platform::start_args(&["controller"], env)
    }

    fn start_args(args: &[&str], env: &[(&str, &str)]) -> Result<Platform> {
        let data_dir = tempfile::tempdir()?;
        let instance = format!(
            "test-{}",
            &data_dir
                .path()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .replace('.', "")
        );
        let instance = instance.to_ascii_lowercase();
        std::fs::write(data_dir.path().join("instance-id"), &instance)?;
        let api_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse()?;
        let router_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse()?;
        let setting = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        let given_cert = setting("PAAS_API_TLS_CERT").map(PathBuf::from);
        let tls = given_cert.is_some() || setting("PAAS_API_TLS").is_some_and(|v| v != "0");
        let ca_file =
            tls.then(|| given_cert.unwrap_or_else(|| data_dir.path().join("secrets/api-tls.crt")));
        let scheme = if tls { "https" } else { "http" };
        let mut p = Platform {
            data_dir,
            home: tempfile::tempdir()?,
            api_url: format!("{scheme}://{api_addr}"),
            api_addr,
            router_addr,
            instance,
            child: None,
            token: None,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            args: args.iter().map(|a| a.to_string()).collect(),
            ca_file,
        };
        p.spawn()?;
        Ok(p)
    }

    /// paasd's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log_path(&self) -> PathBuf {
        self.data_dir.path().join("paasd.log")
    }

    /// paasd's log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn spawn(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let child = paasd_command(self.data_dir.path(), self.api_addr, self.router_addr)
            .args(&self.args)
            .env("HOME", self.home.path())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .context("cannot start paasd")?;
        self.child = Some(child);
        let health = format!("{}/healthz", self.api_url);
        let up = eventually(Duration::from_secs(30), || {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(Some(format!("paasd exited with {status}")));
            }
            // A generated certificate only exists once paasd has made it.
            let client = self.http_client().build().map_err(|_| None)?;
            match client.get(&health).send() {
                Ok(r) if r.status().is_success() => Ok(()),
                _ => Err(None),
            }
        });
        if let Err(e) = up {
            bail!(
                "paasd did not come up: {e}\n--- paasd log ---\n{}",
                self.log()
            );
        }
        Ok(())
    }

    /// SIGKILL: the daemon dies without any chance to clean up, as in a crash.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait: a clean stop.
    /// Returns whether paasd exited successfully.
    pub fn stop(&mut self) -> bool {
        terminate(self.child.take())
    }

    pub fn restart(&mut self) -> Result<()> {
        self.kill();
        self.spawn()
    }

    /// Asserts the command succeeded (showing paasd's log when not); returns its output.
    #[track_caller]
    pub fn ok(&self, out: Output) -> String {
        assert!(
            out.status.success(),
            "command failed: {}\n--- paasd log ---\n{}",
            output_text(&out),
            self.log()
        );
        output_text(&out)
    }

    /// A client for the API: trusting its certificate when it serves HTTPS.
    pub fn http_client(&self) -> reqwest::blocking::ClientBuilder {
        let mut builder = reqwest::blocking::Client::builder();
        let pem = self.ca_file.as_ref().and_then(|f| std::fs::read(f).ok());
        if let Some(cert) = pem.and_then(|pem| reqwest::Certificate::from_pem(&pem).ok()) {
            builder = builder.add_root_certificate(cert);
        }
        builder
    }

    /// Registers the first user (admin) and keeps its token for later calls.
    pub fn register_admin(&mut self) -> Result<String> {
        let out = self.paas_as(
            None,
            &[
                "register",
                "--api",
                &self.api_url.clone(),
                "--username",
                "admin",
                "--password",
                "admin-password",
            ],
        );
        if !out.status.success() {
            bail!("register failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let out = self.paas_as(None, &["auth:token"]);
        let token = String::from_utf8(out.stdout)?.trim().to_string();
        if token.is_empty() {
            bail!(
                "no token after register: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        self.token = Some(token.clone());
        Ok(token)
    }

    /// Runs the CLI with this platform's API URL and the given token (none: from its config file).
    pub fn paas_as(&self, token: Option<&str>, args: &[&str]) -> Output {
        self.paas_in(token, args, self.home.path())
    }

    /// Runs the CLI as the registered admin.
    pub fn paas(&self, args: &[&str]) -> Output {
        self.paas_as(self.token.as_deref(), args)
    }

    pub fn paas_in(&self, token: Option<&str>, args: &[&str], cwd: &Path) -> Output {
        let mut cmd = Command::new(bin("paas"));
        cmd.args(args)
            .current_dir(cwd)
            .env("HOME", self.home.path())
            .env_remove("XDG_CONFIG_HOME")
            .env("PAAS_API_URL", &self.api_url);
        match &self.ca_file {
            Some(ca) => cmd.env("PAAS_CA_FILE", ca),
            None => cmd.env_remove("PAAS_CA_FILE"),
        };
        match token {
            Some(t) => cmd.env("PAAS_TOKEN", t),
            None => cmd.env_remove("PAAS_TOKEN"),
        };
        cmd.output().expect("run paas")
    }

    /// `GET path` through the router with `Host: HOST` -> (status, body).
    pub fn get_via_router(&self, host: &str, path: &str) -> Result<(u16, String)> {
        get_via(self.router_addr, host, path)
    }

    /// The token routers on their own (`paasd router`) need, from the data dir.
    pub fn router_token(&self) -> Result<String> {
        let path = self.data_dir.path().join("secrets/router-token");
        Ok(std::fs::read_to_string(path)?.trim().to_string())
    }

    /// An authenticated API request -> (status, JSON body).
    pub fn api(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Result<(u16, serde_json::Value)> {
        let client = self.http_client().build()?;
        let mut req = client.request(method.parse()?, format!("{}{path}", self.api_url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req
            .header("Accept", "application/vnd.heroku+json; version=3")
            .send()?;
        let status = res.status().as_u16();
        let text = res.text()?;
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        Ok((status, json))
    }

    /// Ids of this installation's containers (running or not), straight from the engine.
    pub fn containers(&self, app: &str) -> Vec<String> {
        let out = docker()
            .args(["ps", "-aq", "--no-trunc", "--filter"])
            .arg(format!("label=paas.instance={}", self.instance))
            .arg("--filter")
            .arg(format!("label=paas.app={app}"))
            .output()
            .expect("docker ps");
        let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        ids.sort();
        ids
    }

    fn remove_containers(&self) {
        let out = docker()
            .args(["ps", "-aq", "--filter"])
            .arg(format!("label=paas.instance={}", self.instance))
            .output();
        if let Ok(out) = out {
            let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_string)
                .collect();
            if !ids.is_empty() {
                let _ = docker().arg("rm").arg("-f").args(&ids).output();
            }
        }
    }
}

/// `GET path` from the router at `addr` with `Host: HOST` -> (status, body).
pub fn get_via(addr: SocketAddr, host: &str, path: &str) -> Result<(u16, String)> {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .build()?;
    let res = client
        .get(format!("http://{addr}{path}"))
        .header("Host", host)
        .send()?;
    let status = res.status().as_u16();
    Ok((status, res.text()?))
}

/// `paasd` with a clean environment: the given data dir and listeners, domain `localhost`, a
/// fast reconcile loop.
pub fn paasd_command(data_dir: &Path, api: SocketAddr, router: SocketAddr) -> Command {
    let mut cmd = Command::new(bin("paasd"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PAAS_DATA_DIR", data_dir)
        .env("PAAS_API_LISTEN", api.to_string())
        .env("PAAS_ROUTER_LISTEN", router.to_string())
        .env("PAAS_DOMAIN", "localhost")
        .env("PAAS_BUILDPACKS_DIR", repo_dir().join("buildpacks"))
        .env("PAAS_STACKS_DIR", repo_dir().join("deploy/stacks"))
        .env("PAAS_RECONCILE_INTERVAL", "2")
        .env("PAAS_LOG", "info,paas_controller=debug");
    cmd
}

/// The repository's root (its `buildpacks/`, `deploy/` and `examples/`).
pub fn repo_dir() -> PathBuf {
    // cargo and nextest tell a running test its package's directory. The path compiled into
    // this crate is only a fallback: a target dir shared by two checkouts reuses this crate
    // built in the other one.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir.parent().expect("workspace root").to_path_buf()
}

/// Two free loopback addresses (API, router).
pub fn free_addrs() -> (SocketAddr, SocketAddr) {
    let a = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let b = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    (a, b)
}

impl Platform {
    /// Destroys every app through the API while paasd runs, so their images leave the engine
    /// too (tests build many; the engine is shared).
    fn destroy_apps(&mut self) {
        let (Some(token), Some(_)) = (self.token.clone(), self.child.as_ref()) else {
            return;
        };
        let Ok(client) = self.http_client().timeout(Duration::from_secs(60)).build() else {
            return;
        };
        let apps: Vec<serde_json::Value> = client
            .get(format!("{}/apps", self.api_url))
            .bearer_auth(&token)
            .send()
            .and_then(|r| r.json())
            .unwrap_or_default();
        for name in apps.iter().filter_map(|a| a["name"].as_str()) {
            let _ = client
                .delete(format!("{}/apps/{name}", self.api_url))
                .bearer_auth(&token)
                .send();
        }
    }
}

/// Debian's client speaks the engine's API version; a newer client on PATH may not.
pub fn docker() -> Command {
    if Path::new("/usr/bin/docker").exists() {
        Command::new("/usr/bin/docker")
    } else {
        Command::new("docker")
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        self.destroy_apps();
        self.kill();
        self.remove_containers();
    }
}

/// SIGTERM to a process a test started, then wait; whether it exited successfully.
pub(crate) fn terminate(child: Option<Child>) -> bool {
    match child {
        Some(mut c) => {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            c.wait().map(|s| s.success()).unwrap_or(false)
        }
        None => false,
    }
}
