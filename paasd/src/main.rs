//! `paasd`: the paas daemon.

mod config;
mod stack;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use axum::serve::ListenerExt;
use clap::Parser;
use paas_builder::buildpack::BuildpackSettings;
use paas_builder::dockerfile::BuildLimits;
use paas_builder::stack::Stack;
use paas_controller::{Controller, DeployOptions, Settings};
use paas_scheduler::reconcile::ReconcileOptions;
use paas_scheduler::DockerRuntime;
use rand::RngCore;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::{local, Command, Config};

fn main() {
    let config = Config::parse();
    if let Some(Command::GitHook { hook }) = &config.command {
        if hook != "pre-receive" {
            eprintln!("paasd git-hook: unknown hook {hook:?}");
            std::process::exit(2);
        }
        std::process::exit(paas_builder::hook::run_pre_receive());
    }
    if let Some(Command::Stack { command }) = &config.command {
        std::process::exit(stack::run(&config, command));
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PAAS_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("info,tower_http=warn,sqlx=warn")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    if let Err(e) = runtime.block_on(run(config)) {
        eprintln!("paasd: {e:#}");
        std::process::exit(1);
    }
}

/// The installation's id, labelled on every container it runs (kept in the data dir so a
/// restarted paasd adopts its own containers and no one else's).
fn instance_id(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("instance-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim();
        if !id.is_empty() {
            return Ok(id.to_string());
        }
    }
    let mut bytes = [0u8; 6];
    rand::thread_rng().fill_bytes(&mut bytes);
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(&path, &id).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(id)
}

async fn bind(addr: std::net::SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for the {what}"))
}

/// Builds can take many minutes; bollard's default request timeout would cut them off.
const BUILD_REQUEST_TIMEOUT_SECS: u64 = 3 * 3600;

async fn connect_docker(host: &str) -> anyhow::Result<bollard::Docker> {
    let docker = if let Some(path) = host.strip_prefix("unix://") {
        bollard::Docker::connect_with_unix(
            path,
            BUILD_REQUEST_TIMEOUT_SECS,
            bollard::API_DEFAULT_VERSION,
        )
    } else {
        let addr = host.replacen("tcp://", "http://", 1);
        bollard::Docker::connect_with_http(
            &addr,
            BUILD_REQUEST_TIMEOUT_SECS,
            bollard::API_DEFAULT_VERSION,
        )
    }
    .with_context(|| format!("cannot use Docker at {host}"))?;
    docker
        .negotiate_version()
        .await
        .with_context(|| format!("Docker unreachable at {host}"))
}

async fn run(config: Config) -> anyhow::Result<()> {
    let router = paas_router::Router::try_new(&config.domain).context("invalid --domain")?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    let api_listener = bind(config.api_listen, "API").await?;
    let api_addr = api_listener.local_addr()?;
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(bind(addr, "metrics").await?),
        None => None,
    };

    let instance = instance_id(&config.data_dir)?;
    let runtime = DockerRuntime::connect(&config.docker_host, &instance)
        .await
        .with_context(|| format!("Docker unreachable at {}", config.docker_host))?;
    let docker = connect_docker(&config.docker_host).await?;

    if config.build_cpus <= 0.0 || config.build_memory_mb <= 0 {
        bail!("build limits must be positive (PAAS_BUILD_CPUS, PAAS_BUILD_MEMORY_MB)");
    }
    let settings = Settings {
        data_dir: config.data_dir.canonicalize()?,
        domain: router.domain().to_string(),
        api_url: config.api_url(api_addr),
        internal_url: format!("http://{}", local(api_addr)),
        router_port: config.router_listen.port(),
        open_registration: config.open_registration,
        paasd_exe: std::env::current_exe().context("cannot find the paasd binary for git hooks")?,
        reconcile_interval: Duration::from_secs(config.reconcile_interval.max(1)),
        buildpacks: BuildpackSettings {
            stack: Stack {
                build_image: config.build_stack.clone(),
                run_image: config.run_stack.clone(),
            },
            buildpacks_dir: config.buildpacks_dir.clone(),
            ca_bundle: config.ca_bundle.clone(),
            protected_dirs: vec![config.data_dir.clone()],
        },
        build_limits: BuildLimits {
            memory_bytes: config.build_memory_mb * 1024 * 1024,
            cpu_quota: (config.build_cpus * 100_000.0) as i64,
            timeout: Duration::from_secs(config.build_timeout),
        },
        deploy: DeployOptions {
            reconcile: ReconcileOptions {
                stop_grace_secs: config.stop_grace,
                boot_timeout: Duration::from_secs(config.boot_timeout),
                ..ReconcileOptions::default()
            },
            queue_timeout: Duration::from_secs(config.deploy_queue_timeout),
            release_timeout: Duration::from_secs(config.release_timeout),
            keep_releases: config.keep_releases,
        },
        log_segment_bytes: config.log_history_mb.max(1) * 1024 * 1024 / 2,
        drains: paas_telemetry::drain::DrainSettings {
            ca_bundle: config.drain_ca_bundle.clone(),
            ..Default::default()
        },
    };
    let domain = settings.domain.clone();
    let controller = Controller::start(settings, &config.database_url(), Arc::new(runtime), docker)
        .await
        .context("cannot start the controller")?;
    // Serving starts only once everything else has: a daemon that cannot start says why on
    // its last line, with no router noise after it.
    // The router runs on threads of its own, one per core with its own socket, like nginx's
    // workers: about 1.5x the throughput of sharing paasd's runtime (bench/README.md).
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let serve_router = |addr, protocol, what: &str| {
        paas_router::serve_threads(addr, router.clone(), protocol, threads)
            .with_context(|| format!("cannot listen on {addr} for the {what}"))
    };
    let router_threads = serve_router(config.router_listen, paas_router::Protocol::Http, "router")?;
    let router_addr = router_threads.local_addr();
    let tls_threads = match config.router_tls_listen {
        Some(addr) => Some(serve_router(
            addr,
            paas_router::Protocol::Https,
            "HTTPS router",
        )?),
        None => None,
    };

    let mut routes = controller.routes();
    let table = router.clone();
    tokio::spawn(async move {
        let mut certificates: Vec<(String, String)> = Vec::new();
        loop {
            let map = routes.borrow_and_update().clone();
            let certificates_changed = map.certificates != certificates;
            if certificates_changed {
                certificates = map.certificates.clone();
                let entries = certificates
                    .iter()
                    .map(|(cert_pem, key_pem)| paas_router::CertEntry {
                        cert_pem: cert_pem.clone(),
                        key_pem: key_pem.clone(),
                    })
                    .collect();
                for (i, problem) in table.set_certificates(entries) {
                    tracing::warn!(certificate = i, error = %problem, "certificate not served");
                }
            }
            table.replace_routes(app_routes(map.apps));
            if routes.changed().await.is_err() {
                return;
            }
        }
    });
    let reconciler = controller.spawn_reconciler();
    let collector = controller.spawn_log_collector();
    let sampler = controller.spawn_usage_sampler();
    let drain_reporter = controller
        .start_drains()
        .await
        .context("cannot start log drains")?;
    tokio::spawn(access_log_into_streams(
        router.access_log(),
        controller.logs(),
        controller.metrics(),
    ));

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    // The dashboard calls the API like any client, over the internal address.
    let dashboard = paas_dashboard::router(paas_dashboard::DashboardConfig {
        secure_cookies: config.api_url(api_addr).starts_with("https://"),
        ..paas_dashboard::DashboardConfig::new(format!("http://{}", local(api_addr)))
    });
    // Streams (logs, build output, one-off sessions) write many small chunks: without
    // TCP_NODELAY each one waits on the client's delayed ACK.
    let api_listener = api_listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let api = axum::serve(api_listener, controller.http().merge(dashboard))
        .with_graceful_shutdown(stopped(stop_rx.clone()));
    if let Some(listener) = metrics_listener {
        let (router, usage) = (router.clone(), controller.metrics());
        let metrics = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let text = format!("{}{}", router.metrics_text(), usage.prometheus_usage());
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4",
                        )],
                        text,
                    )
                }
            }),
        );
        let serving =
            axum::serve(listener, metrics).with_graceful_shutdown(stopped(stop_rx.clone()));
        tokio::spawn(async move { serving.await });
    }
    tracing::info!(api = %api_addr, router = %router_addr, domain = %domain, instance = %instance, "paasd started");

    let api = tokio::spawn(async move { api.await });
    shutdown_signal().await;
    tracing::info!("stopping; app containers keep running and are adopted on the next start");
    reconciler.abort();
    collector.abort();
    sampler.abort();
    drain_reporter.abort();
    let _ = stop_tx.send(true);
    // In-flight requests (a push mid-build) get a moment to finish, not forever.
    let routers = tokio::task::spawn_blocking(move || {
        for threads in std::iter::once(router_threads).chain(tls_threads) {
            if let Err(e) = threads.shutdown() {
                tracing::warn!(error = %e, "stopping the router");
            }
        }
    });
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        let _ = api.await;
        let _ = routers.await;
    })
    .await;
    Ok(())
}

/// The controller's view of where each app runs, as the router's table.
fn app_routes(
    apps: std::collections::HashMap<String, paas_controller::AppRouting>,
) -> std::collections::HashMap<String, paas_router::AppRoute> {
    apps.into_iter()
        .map(|(app, routing)| {
            let backends = routing.backends.into_iter().map(backend).collect();
            let mut route = paas_router::AppRoute::new(backends);
            route.domains = routing.domains;
            route.maintenance = routing.maintenance;
            let secs = |v: f64| Duration::from_secs_f64(v.max(0.001));
            route.timeouts = paas_router::Timeouts {
                connect: secs(routing.settings.connect_timeout),
                response: secs(routing.settings.response_timeout),
                idle: secs(routing.settings.idle_timeout),
            };
            route.max_body_bytes = routing
                .settings
                .max_body
                .as_deref()
                .and_then(|m| paas_api::parse_memory(m).ok())
                .and_then(|b| u64::try_from(b).ok());
            route.redirect_https = routing.settings.redirect_https;
            route.balance = match routing.settings.balance.as_str() {
                "least-outstanding" => paas_router::Balance::LeastOutstanding,
                _ => paas_router::Balance::RoundRobin,
            };
            route.canary = routing
                .canary
                .map(|(weight, backends)| paas_router::Canary {
                    backends: backends.into_iter().map(backend).collect(),
                    weight,
                });
            (app, route)
        })
        .collect()
}

fn backend(b: paas_controller::RouteBackend) -> paas_router::Backend {
    paas_router::Backend::new(b.addr, u64::try_from(b.release).unwrap_or(0), b.process)
}

/// The router's access log lines join each app's log stream (source `router`), and its
/// requests the app's per-release metrics.
async fn access_log_into_streams(
    mut lines: tokio::sync::broadcast::Receiver<paas_router::AccessLogLine>,
    logs: Arc<paas_telemetry::LogHub>,
    metrics: Arc<paas_telemetry::metrics::Metrics>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match lines.recv().await {
            Ok(l) => {
                if let (Some(release), Some(process)) = (l.release, &l.process) {
                    let sample = paas_telemetry::metrics::RequestSample {
                        release: i64::try_from(release).unwrap_or(0),
                        process_type: process.split('.').next().unwrap_or(process).to_string(),
                        status: l.status,
                        service: l.service,
                        bytes: l.bytes,
                    };
                    metrics.record_request(&l.app, &sample);
                }
                let line =
                    paas_telemetry::LogLine::new(paas_telemetry::Source::Router, None, l.line);
                logs.publish(&l.app, line);
            }
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(lines = n, "access log lines dropped: logging fell behind")
            }
            Err(RecvError::Closed) => return,
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
