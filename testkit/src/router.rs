//! `paasd router` as a process of its own, following a controller started with
//! [`Platform::start_controller`](crate::Platform::start_controller).

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::{bin, eventually, free_port, get_via};

pub struct RouterProcess {
    pub addr: SocketAddr,
    /// Its data dir (holding no token, so only the one given counts) and its log.
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RouterProcess {
    /// Starts a router on a free port.
    pub fn start(controller_url: &str, token: &str) -> Result<RouterProcess> {
        let addr = format!("127.0.0.1:{}", free_port()).parse()?;
        RouterProcess::start_on(addr, controller_url, token)
    }

    /// Starts a router on `addr` and waits until it accepts connections. It gets no Docker
    /// engine and no database: a router must need neither.
    pub fn start_on(addr: SocketAddr, controller_url: &str, token: &str) -> Result<RouterProcess> {
        let dir = tempfile::tempdir()?;
        let log = std::fs::File::create(dir.path().join("router.log"))?;
        let child = Command::new(bin("paasd"))
            .arg("router")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PAAS_DATA_DIR", dir.path())
            .env("PAAS_ROUTER_LISTEN", addr.to_string())
            .env("PAAS_DOMAIN", "localhost")
            .env("PAAS_CONTROLLER_URL", controller_url)
            .env("PAAS_ROUTER_TOKEN", token)
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .env("DATABASE_URL", "mysql://nowhere/none")
            .env("PAAS_LOG", "info,paasd=debug")
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .context("cannot start paasd router")?;
        let mut router = RouterProcess {
            addr,
            dir,
            child: Some(child),
        };
        let up = eventually(Duration::from_secs(30), || {
            if let Some(status) = router
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(Some(format!("paasd router exited with {status}")));
            }
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).map_err(|_| None)
        });
        if let Err(e) = up {
            bail!(
                "paasd router did not come up: {e}\n--- router log ---\n{}",
                router.log()
            );
        }
        Ok(router)
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("router.log")
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// `GET path` through this router with `Host: HOST` -> (status, body).
    pub fn get(&self, host: &str, path: &str) -> Result<(u16, String)> {
        get_via(self.addr, host, path)
    }

    /// SIGTERM and wait; whether it exited successfully.
    pub fn stop(&mut self) -> bool {
        crate::terminate(self.child.take())
    }
}

impl Drop for RouterProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
