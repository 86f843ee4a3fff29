use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// paas: a self-hosted Heroku. Runs the controller API (with git push and the dashboard), the
/// builder, the scheduler and the router in one process on SQLite and the local Docker engine.
#[derive(Debug, Parser)]
#[command(name = "paasd", version)]
pub struct Config {
    /// Database, git repositories, build cache and generated secrets.
    #[arg(
        long,
        env = "PAAS_DATA_DIR",
        default_value = "/var/lib/paas",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Controller API, git smart HTTP and dashboard.
    #[arg(
        long,
        env = "PAAS_API_LISTEN",
        default_value = "127.0.0.1:7000",
        global = true
    )]
    pub api_listen: SocketAddr,

    /// The API's public URL, used in git remotes and log session URLs
    /// [default: http://API_LISTEN (https:// with --api-tls), with 127.0.0.1 for an
    /// unspecified address].
    #[arg(long, env = "PAAS_API_URL", global = true)]
    pub api_url: Option<String>,

    /// Serve HTTPS on --api-listen (git credential helpers only answer over https); the env
    /// var takes 1/0, true/false, yes/no, on/off. Without --api-tls-cert and --api-tls-key, a
    /// self-signed certificate is generated once and kept in DATA_DIR/secrets/api-tls.crt and
    /// api-tls.key.
    #[arg(
        long,
        env = "PAAS_API_TLS",
        value_parser = clap::builder::BoolishValueParser::new(),
        global = true
    )]
    pub api_tls: bool,

    /// PEM certificate chain (leaf first) the API serves; implies --api-tls.
    #[arg(long, env = "PAAS_API_TLS_CERT", global = true)]
    pub api_tls_cert: Option<PathBuf>,

    /// PEM private key of --api-tls-cert; implies --api-tls.
    #[arg(long, env = "PAAS_API_TLS_KEY", global = true)]
    pub api_tls_key: Option<PathBuf>,

    /// HTTP router for apps.
    #[arg(
        long,
        env = "PAAS_ROUTER_LISTEN",
        default_value = "0.0.0.0:80",
        global = true
    )]
    pub router_listen: SocketAddr,

    /// HTTPS router for apps (certificates from `paas certs:add`, else a generated
    /// self-signed one for `*.DOMAIN`); off unless set, e.g. 0.0.0.0:443.
    #[arg(long, env = "PAAS_ROUTER_TLS_LISTEN", global = true)]
    pub router_tls_listen: Option<SocketAddr>,

    /// Prometheus metrics (requests per app, release and process type); off unless set.
    #[arg(long, env = "PAAS_METRICS_LISTEN", global = true)]
    pub metrics_listen: Option<SocketAddr>,

    /// Apps are served at APP.DOMAIN.
    #[arg(long, env = "PAAS_DOMAIN", default_value = "localhost", global = true)]
    pub domain: String,

    /// sqlite://PATH, or postgres://USER:PASSWORD@HOST:PORT/DB for a shared controller database
    /// [default: sqlite://DATA_DIR/paas.db].
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// Docker engine.
    #[arg(
        long,
        env = "DOCKER_HOST",
        default_value = "unix:///var/run/docker.sock",
        global = true
    )]
    pub docker_host: String,

    /// Let anyone register (otherwise only the first user registers; admins add the rest).
    #[arg(long, env = "PAAS_OPEN_REGISTRATION", global = true)]
    pub open_registration: bool,

    /// Seconds between reconcile passes (restarting crashed processes, repairing drift).
    #[arg(
        long,
        env = "PAAS_RECONCILE_INTERVAL",
        default_value_t = 5,
        global = true
    )]
    pub reconcile_interval: u64,

    /// Memory limit of a build, in MiB.
    #[arg(
        long,
        env = "PAAS_BUILD_MEMORY_MB",
        default_value_t = 2048,
        global = true
    )]
    pub build_memory_mb: i64,

    /// CPUs a build may use.
    #[arg(long, env = "PAAS_BUILD_CPUS", default_value_t = 1.5, global = true)]
    pub build_cpus: f64,

    /// Time limit of a build, in seconds.
    #[arg(
        long,
        env = "PAAS_BUILD_TIMEOUT",
        default_value_t = 1200,
        global = true
    )]
    pub build_timeout: u64,

    /// Seconds a stopping process gets between SIGTERM and SIGKILL.
    #[arg(long, env = "PAAS_STOP_GRACE", default_value_t = 30, global = true)]
    pub stop_grace: u32,

    /// Seconds a new web process has to pass its health check.
    #[arg(long, env = "PAAS_BOOT_TIMEOUT", default_value_t = 60, global = true)]
    pub boot_timeout: u64,

    /// Images of this many recent releases per app are kept; older ones are removed.
    #[arg(long, env = "PAAS_KEEP_RELEASES", default_value_t = 5, global = true)]
    pub keep_releases: usize,

    /// Seconds a deploy waits for the app's previous deploy before giving up.
    #[arg(
        long,
        env = "PAAS_DEPLOY_QUEUE_TIMEOUT",
        default_value_t = 600,
        global = true
    )]
    pub deploy_queue_timeout: u64,

    /// Time limit of a release phase (the Procfile's `release:` command), in seconds.
    #[arg(
        long,
        env = "PAAS_RELEASE_TIMEOUT",
        default_value_t = 600,
        global = true
    )]
    pub release_timeout: u64,

    /// Certificates trusted when sending logs to TLS drains (syslog+tls://, https://).
    #[arg(
        long,
        env = "PAAS_DRAIN_CA_BUNDLE",
        default_value = "/etc/ssl/certs/ca-certificates.crt",
        global = true
    )]
    pub drain_ca_bundle: std::path::PathBuf,

    /// Log history kept on disk per app, in MiB (the oldest lines go first).
    #[arg(long, env = "PAAS_LOG_HISTORY_MB", default_value_t = 8, global = true)]
    pub log_history_mb: u64,

    /// paas's own buildpacks (the repository's buildpacks/ folder; bootstrap installs it here).
    #[arg(
        long,
        env = "PAAS_BUILDPACKS_DIR",
        default_value = "/usr/local/share/paas/buildpacks",
        global = true
    )]
    pub buildpacks_dir: PathBuf,

    /// Stack recipes and their maker make.sh (the repository's deploy/stacks/ folder), for
    /// `paasd stack build`.
    #[arg(
        long,
        env = "PAAS_STACKS_DIR",
        default_value = "/usr/local/share/paas/deploy/stacks",
        global = true
    )]
    pub stacks_dir: PathBuf,

    /// Image buildpack builds run in.
    #[arg(
        long,
        env = "PAAS_BUILD_STACK",
        default_value = "paas/stack-build:bookworm",
        global = true
    )]
    pub build_stack: String,

    /// Image buildpack-built apps run on.
    #[arg(
        long,
        env = "PAAS_RUN_STACK",
        default_value = "paas/stack-run:bookworm",
        global = true
    )]
    pub run_stack: String,

    /// CA bundle that builds (and the stacks made by `paasd stack build`) trust.
    #[arg(
        long,
        env = "PAAS_CA_BUNDLE",
        default_value = "/etc/ssl/certs/ca-certificates.crt",
        global = true
    )]
    pub ca_bundle: PathBuf,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every part in this process (the default).
    All,
    /// Everything but the router: API, git, builds, scheduler, dashboard, logs, drains and
    /// metrics. Routers on their own (`paasd router`) follow its route table.
    Controller,
    /// Only the router, following a controller's route table over its API (needs neither
    /// Docker nor the database).
    Router(RouterArgs),
    /// Internal: run by git as the app repositories' hook.
    #[command(name = "git-hook", hide = true)]
    GitHook {
        /// The hook git runs (`pre-receive`).
        hook: String,
    },
    /// Stack images of buildpack builds.
    Stack {
        #[command(subcommand)]
        command: crate::stack::StackCommand,
    },
}

/// How a router on its own reaches its controller.
#[derive(Debug, clap::Args)]
pub struct RouterArgs {
    /// The controller's API URL, e.g. http://10.0.0.2:7000.
    #[arg(long, env = "PAAS_CONTROLLER_URL")]
    pub controller_url: String,

    /// The controller's router token (the contents of its DATA_DIR/secrets/router-token)
    /// [default: read from DATA_DIR/secrets/router-token, when the controller shares the host].
    #[arg(long, env = "PAAS_ROUTER_TOKEN", hide_env_values = true)]
    pub router_token: Option<String>,

    /// A PEM certificate to trust for an https controller URL (e.g. the controller's
    /// self-signed one), besides the usual roots.
    #[arg(long, env = "PAAS_CONTROLLER_CA")]
    pub controller_ca: Option<PathBuf>,
}

impl Config {
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("paas.db").display()))
    }

    pub fn api_url(&self, bound: SocketAddr) -> String {
        match &self.api_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => {
                let scheme = if self.api_tls_enabled() {
                    "https"
                } else {
                    "http"
                };
                format!("{scheme}://{}", local(bound))
            }
        }
    }

    /// Whether the API listener serves HTTPS (asked for, or implied by a certificate or key).
    pub fn api_tls_enabled(&self) -> bool {
        self.api_tls || self.api_tls_cert.is_some() || self.api_tls_key.is_some()
    }
}

/// An address this host can connect to for a listener bound to `addr`.
pub fn local(addr: SocketAddr) -> SocketAddr {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    addr
}
