//! The local Docker engine through bollard.

mod logs;
mod observe;
mod run;
mod task;
mod usage;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bollard::errors::Error as BollardError;
use bollard::models::{ContainerCreateBody, HostConfig, RestartPolicy, RestartPolicyNameEnum};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
    StopContainerOptionsBuilder,
};
use bollard::{Docker, API_DEFAULT_VERSION};
use rand::Rng;

use crate::runtime::{Exit, LogStream, LogsFrom, Process, ProcessSpec, Runtime};
use crate::{labels, RuntimeError};

/// Seconds bollard waits for an engine's response headers. Long enough for a `stop` with a
/// generous grace period; log streams are not bounded by it.
const REQUEST_TIMEOUT_SECS: u64 = 120;
/// How long `connect` waits for the engine to answer before calling it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct DockerRuntime {
    docker: Docker,
    instance: String,
    /// Short form of the instance for container names, which are for humans only: the scheduler
    /// identifies its containers by labels.
    name_prefix: String,
}

impl DockerRuntime {
    /// Connects to the engine at `docker_host` (`unix:///var/run/docker.sock`, `tcp://host:port`
    /// or `http://host:port`), speaking the newest API version both sides know.
    ///
    /// `instance` is written on every container this runtime creates, and only containers
    /// carrying it are listed.
    pub async fn connect(docker_host: &str, instance: &str) -> Result<DockerRuntime, RuntimeError> {
        if instance.trim().is_empty() {
            return Err(RuntimeError::Invalid(
                "the instance id must not be empty".into(),
            ));
        }
        let docker = open(docker_host)?;
        let unreachable =
            |e: BollardError| RuntimeError::Unreachable(format!("{docker_host}: {e}"));
        let docker = tokio::time::timeout(CONNECT_TIMEOUT, async {
            // Engines refuse clients newer than themselves (Debian's 20.10 stops at 1.41), and
            // bollard starts at its own newest version: ask the engine first.
            let docker = docker.negotiate_version().await.map_err(unreachable)?;
            docker.ping().await.map_err(unreachable)?;
            Ok::<_, RuntimeError>(docker)
        })
        .await
        .map_err(|_| {
            RuntimeError::Unreachable(format!(
                "{docker_host}: no answer within {}s",
                CONNECT_TIMEOUT.as_secs()
            ))
        })??;
        let version = docker.client_version();
        tracing::debug!(docker_host, api = %version, "connected to the container engine");
        Ok(DockerRuntime {
            docker,
            instance: instance.to_owned(),
            name_prefix: name_part(instance, 8),
        })
    }

    /// The instance id labelled on this runtime's containers.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The underlying client, for engine calls the [`Runtime`] trait does not cover.
    pub fn client(&self) -> &Docker {
        &self.docker
    }

    async fn list_with(
        &self,
        filters: HashMap<&str, Vec<String>>,
    ) -> Result<Vec<Process>, RuntimeError> {
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let containers = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(engine)?;
        Ok(observe::processes(&self.docker, containers).await)
    }

    fn container_name(&self, spec: &ProcessSpec) -> String {
        let suffix: u16 = rand::thread_rng().gen();
        format!(
            "paas-{}-{}-{}.{}-v{}-{suffix:04x}",
            self.name_prefix,
            name_part(&spec.app, 40),
            name_part(&spec.process_type, 40),
            spec.index,
            spec.release
        )
    }
}

impl DockerRuntime {
    /// Creates (does not start) a container for `spec` under a fresh random name; returns its
    /// id and name.
    async fn create(
        &self,
        spec: &ProcessSpec,
        body: ContainerCreateBody,
    ) -> Result<(String, String), RuntimeError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let name = self.container_name(spec);
            let options = CreateContainerOptionsBuilder::new().name(&name).build();
            match self
                .docker
                .create_container(Some(options), body.clone())
                .await
            {
                Ok(created) => return Ok((created.id, name)),
                // Another container took the random name: draw again.
                Err(e) if status(&e) == Some(409) && attempts < 3 => continue,
                Err(e) if status(&e) == Some(404) => {
                    return Err(RuntimeError::ImageMissing(spec.image.clone()))
                }
                Err(e) => return Err(engine(e)),
            }
        }
    }
}

/// What every process gets from the engine.
fn host_config(spec: &ProcessSpec) -> HostConfig {
    HostConfig {
        // The reconcile loop owns restarts (one-offs run once): an engine restarting on its own
        // would hide crashes from it and race with it.
        restart_policy: Some(RestartPolicy {
            name: Some(RestartPolicyNameEnum::NO),
            maximum_retry_count: None,
        }),
        // A tiny init as PID 1 forwards SIGTERM, so apps that install no handler still stop
        // within the grace period instead of being killed at its end.
        init: Some(true),
        network_mode: Some("bridge".to_owned()),
        memory: spec.limits.memory_bytes,
        // No swap beyond the limit, so exceeding it is an OOM kill, not a crawl.
        memory_swap: spec.limits.memory_bytes,
        nano_cpus: spec.limits.nano_cpus,
        ..Default::default()
    }
}

fn open(docker_host: &str) -> Result<Docker, RuntimeError> {
    let result = if let Some(path) = docker_host.strip_prefix("unix://") {
        Docker::connect_with_unix(path, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
    } else if docker_host.starts_with('/') {
        Docker::connect_with_unix(docker_host, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
    } else if docker_host.starts_with("tcp://") || docker_host.starts_with("http://") {
        Docker::connect_with_http(docker_host, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
    } else {
        return Err(RuntimeError::Invalid(format!(
            "unsupported docker host {docker_host:?}: use unix:///path/to/docker.sock or tcp://HOST:PORT"
        )));
    };
    result.map_err(|e| RuntimeError::Unreachable(format!("{docker_host}: {e}")))
}

#[async_trait]
impl Runtime for DockerRuntime {
    async fn list(&self, app: Option<&str>) -> Result<Vec<Process>, RuntimeError> {
        let mut label_filters = vec![format!("{}={}", labels::INSTANCE, self.instance)];
        if let Some(app) = app {
            label_filters.push(format!("{}={app}", labels::APP));
        }
        self.list_with(HashMap::from([("label", label_filters)]))
            .await
    }

    async fn start(&self, spec: &ProcessSpec) -> Result<Process, RuntimeError> {
        validate(spec)?;
        let port = spec.port.or_else(|| {
            (spec.process_type == "web")
                .then(|| spec.env.get("PORT").and_then(|p| p.parse().ok()))?
        });
        let mut container_labels = HashMap::from([
            (labels::INSTANCE.to_owned(), self.instance.clone()),
            (labels::APP.to_owned(), spec.app.clone()),
            (labels::RELEASE.to_owned(), spec.release.to_string()),
            (labels::PROCESS.to_owned(), spec.process_type.clone()),
            (labels::INDEX.to_owned(), spec.index.to_string()),
            (labels::RESTARTS.to_owned(), spec.restarts.to_string()),
        ]);
        if let Some(port) = port {
            container_labels.insert(labels::PORT.to_owned(), port.to_string());
        }
        if let Some(command) = &spec.command {
            container_labels.insert(labels::COMMAND.to_owned(), command.clone());
        }
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            cmd: spec
                .command
                .as_ref()
                .map(|c| vec!["/bin/sh".to_owned(), "-c".to_owned(), c.clone()]),
            labels: Some(container_labels),
            host_config: Some(host_config(spec)),
            ..Default::default()
        };

        let (id, name) = self.create(spec, body).await?;
        if let Err(e) = self
            .docker
            .start_container(
                &id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
        {
            // Leave nothing half-made behind: a created container would count as a process.
            if let Err(cleanup) = self.remove(&id, 0).await {
                tracing::warn!(container = %name, error = %cleanup, "removing a container that failed to start");
            }
            return Err(RuntimeError::Engine(format!(
                "starting {name}: {}",
                message(&e)
            )));
        }
        tracing::info!(app = %spec.app, release = spec.release, process = %format!("{}.{}", spec.process_type, spec.index), container = %name, "started");

        let mut found = self
            .list_with(HashMap::from([("id", vec![id.clone()])]))
            .await?;
        found.pop().ok_or_else(|| {
            RuntimeError::Engine(format!("container {name} vanished right after starting"))
        })
    }

    async fn remove(&self, id: &str, grace_secs: u32) -> Result<(), RuntimeError> {
        let grace = i32::try_from(grace_secs).unwrap_or(i32::MAX);
        let stop = StopContainerOptionsBuilder::new().t(grace).build();
        match self.docker.stop_container(id, Some(stop)).await {
            Ok(()) => {}
            Err(e) if status(&e) == Some(404) => return Ok(()),
            // The forced removal below still kills it.
            Err(e) => tracing::warn!(container = id, error = %message(&e), "stopping"),
        }
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            // 409: the engine is already removing it.
            Err(e) if matches!(status(&e), Some(404 | 409)) => Ok(()),
            Err(e) => Err(engine(e)),
        }
    }

    async fn logs(
        &self,
        process: &Process,
        from: LogsFrom,
        follow: bool,
    ) -> Result<LogStream, RuntimeError> {
        // Check first: the log stream would only fail once polled, with a vaguer message.
        match self
            .docker
            .inspect_container(
                &process.id,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
        {
            Ok(_) => {}
            Err(e) if status(&e) == Some(404) => {
                return Err(RuntimeError::Engine(format!(
                    "process {} ({}) no longer exists",
                    process.name(),
                    process.id
                )))
            }
            Err(e) => return Err(engine(e)),
        }
        Ok(logs::stream(&self.docker, process, from, follow))
    }

    async fn run_task(
        &self,
        spec: &ProcessSpec,
        timeout: Duration,
        output: tokio::sync::mpsc::Sender<String>,
    ) -> Result<Exit, RuntimeError> {
        task::run(self, spec, timeout, output).await
    }

    async fn create_one_off(
        &self,
        spec: &ProcessSpec,
        mode: crate::OneOffMode,
    ) -> Result<Process, RuntimeError> {
        run::create(self, spec, mode).await
    }

    async fn attach(&self, id: &str) -> Result<crate::Attachment, RuntimeError> {
        run::attach(self, id).await
    }

    async fn resize(&self, id: &str, cols: u16, rows: u16) -> Result<(), RuntimeError> {
        run::resize(self, id, cols, rows).await
    }

    async fn wait(&self, id: &str) -> Result<crate::Exit, RuntimeError> {
        run::wait(self, id).await
    }

    async fn usage(&self, process: &Process) -> Result<crate::runtime::Usage, RuntimeError> {
        usage::usage(self, process).await
    }

    async fn image_exists(&self, image: &str) -> Result<bool, RuntimeError> {
        match self.docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) if status(&e) == Some(404) => Ok(false),
            Err(e) => Err(engine(e)),
        }
    }
}

/// Process types and app names end up in container names, which docker restricts to
/// `[a-zA-Z0-9][a-zA-Z0-9_.-]*`; a type that cannot be told apart there is refused.
fn validate(spec: &ProcessSpec) -> Result<(), RuntimeError> {
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if !ok(&spec.process_type) {
        return Err(RuntimeError::Invalid(format!(
            "process type {:?} must be letters, digits, '-' or '_'",
            spec.process_type
        )));
    }
    if spec.app.is_empty() {
        return Err(RuntimeError::Invalid(
            "the app name must not be empty".into(),
        ));
    }
    if spec.image.is_empty() {
        return Err(RuntimeError::Invalid(format!(
            "no image given for {}",
            spec.app
        )));
    }
    Ok(())
}

/// `s` reduced to characters docker allows in names, at most `max` of them.
fn name_part(s: &str, max: usize) -> String {
    let part: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(max)
        .collect();
    if part.is_empty() {
        "x".to_owned()
    } else {
        part
    }
}

fn status(e: &BollardError) -> Option<u16> {
    match e {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

fn message(e: &BollardError) -> String {
    match e {
        BollardError::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

fn engine(e: BollardError) -> RuntimeError {
    match e {
        BollardError::DockerResponseServerError { message, .. } => RuntimeError::Engine(message),
        e @ (BollardError::HyperResponseError { .. }
        | BollardError::HyperLegacyError { .. }
        | BollardError::IOError { .. }
        | BollardError::RequestTimeoutError
        | BollardError::SocketNotFoundError(_)) => RuntimeError::Unreachable(e.to_string()),
        e => RuntimeError::Engine(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_parts_keep_only_what_docker_allows() {
        assert_eq!(name_part("test-1f0c/9a!x", 8), "test-1f0");
        assert_eq!(name_part("/var/lib/paas", 40), "varlibpaas");
        assert_eq!(name_part("///", 8), "x");
    }

    #[test]
    fn unknown_host_schemes_are_refused() {
        let err = open("ssh://somewhere").unwrap_err();
        assert!(matches!(err, RuntimeError::Invalid(_)), "{err:?}");
        assert!(err.to_string().contains("unix://"), "{err}");
    }

    #[test]
    fn a_missing_socket_is_unreachable() {
        let err = open("unix:///nonexistent/docker.sock").unwrap_err();
        assert!(matches!(err, RuntimeError::Unreachable(_)), "{err:?}");
    }
}
