//! A throwaway PostgreSQL server for tests of the `postgres://` store: its own data dir and
//! socket dir under a temp dir, on a free loopback port, trusting every local connection.
//! Dropping it stops the server and deletes its data, also when the test panicked.

use std::path::PathBuf;
use std::process::{Command, Output};

use anyhow::{bail, Context, Result};

/// Debian installs the server binaries outside PATH, one directory per major version.
const DEBIAN_BIN_DIRS: &str = "/usr/lib/postgresql";

pub struct Postgres {
    /// Holds `data/` and the unix socket; owned by the server's user.
    dir: tempfile::TempDir,
    bin_dir: PathBuf,
    pub port: u16,
    /// Postgres refuses to run as root: then every server command runs as `postgres`.
    run_as: Option<&'static str>,
    running: bool,
}

impl Postgres {
    /// initdb, then start the server and wait until it accepts connections.
    pub fn start() -> Result<Postgres> {
        let bin_dir = server_bin_dir()?;
        let run_as = is_root().then_some("postgres");
        let dir = tempfile::Builder::new().prefix("paas-pg-").tempdir()?;
        if let Some(user) = run_as {
            let out = Command::new("chown")
                .arg(format!("{user}:"))
                .arg(dir.path())
                .output()
                .context("cannot run chown")?;
            check(&out, &format!("chown {user} {}", dir.path().display()))?;
        }
        let mut pg = Postgres {
            dir,
            bin_dir,
            port: crate::free_port(),
            run_as,
            running: false,
        };
        let data = pg.data_dir();
        let out = pg
            .server_command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "--no-locale"])
            .args(["-E", "UTF8"])
            .output()
            .context("cannot run initdb")?;
        check(&out, "initdb")?;
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            pg.port,
            pg.dir.path().display()
        );
        // Marked running before the attempt so a half-started server is still stopped.
        pg.running = true;
        let out = pg
            .server_command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(pg.log_path())
            .args(["-o", &options, "-w", "-t", "60", "start"])
            .output()
            .context("cannot run pg_ctl start")?;
        if !out.status.success() {
            bail!(
                "pg_ctl start failed: {}\n--- server log ---\n{}",
                crate::output_text(&out),
                pg.log()
            );
        }
        Ok(pg)
    }

    /// Creates an empty database.
    pub fn create_db(&self, name: &str) -> Result<()> {
        let out = Command::new(self.bin_dir.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .arg(name)
            .output()
            .context("cannot run createdb")?;
        check(&out, &format!("createdb {name}"))
    }

    /// The URL paasd takes in `DATABASE_URL` for database `name` (over TCP, as a remote
    /// controller database would be reached).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// The server's log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Stops the server (fast shutdown); the data stays until drop.
    pub fn stop(&mut self) -> Result<()> {
        if !self.running {
            return Ok(());
        }
        self.running = false;
        let out = self
            .server_command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "fast", "-w", "-t", "60", "stop"])
            .output()
            .context("cannot run pg_ctl stop")?;
        check(&out, "pg_ctl stop")
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn server_command(&self, program: &str) -> Command {
        let program = self.bin_dir.join(program);
        let mut c = match self.run_as {
            Some(user) => {
                let mut c = Command::new(runuser());
                c.args(["-u", user, "--"]).arg(program);
                c
            }
            None => Command::new(program),
        };
        // The test's own directory may be closed to the server's user.
        c.current_dir(self.dir.path());
        c
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("throwaway postgres in {}: {e:#}", self.dir.path().display());
        }
        // The temp dir (data and socket) goes with `self.dir`.
    }
}

/// Where `initdb` and `pg_ctl` are: the newest Debian version directory, else PATH.
fn server_bin_dir() -> Result<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(DEBIAN_BIN_DIRS)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|d| d.join("initdb").exists() && d.join("pg_ctl").exists());
    on_path.with_context(|| {
        format!(
            "PostgreSQL server binaries (initdb, pg_ctl) not found in {DEBIAN_BIN_DIRS}/*/bin \
             or on PATH: install the `postgresql` package (deploy/test.sh does)"
        )
    })
}

/// util-linux's `runuser` lives in sbin, which a test's PATH may lack.
fn runuser() -> PathBuf {
    ["/usr/sbin/runuser", "/sbin/runuser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("runuser"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn check(out: &Output, what: &str) -> Result<()> {
    if !out.status.success() {
        bail!("{what} failed: {}", crate::output_text(out));
    }
    Ok(())
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("dir", &self.dir.path())
            .field("port", &self.port)
            .finish()
    }
}
