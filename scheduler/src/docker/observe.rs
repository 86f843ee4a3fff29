//! Containers as the engine lists them, turned back into processes.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bollard::models::ContainerSummary;
use bollard::query_parameters::InspectContainerOptions;
use bollard::Docker;
use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use tokio::net::TcpStream;

use crate::labels;
use crate::runtime::{Exit, Process, ProcessState};

/// How long a web process gets to accept a connection before it counts as still starting.
const PROBE_TIMEOUT: Duration = Duration::from_millis(300);

/// Every container that carries complete paas labels, as a process. Running web processes are
/// probed on their port, all at once.
pub(super) async fn processes(docker: &Docker, containers: Vec<ContainerSummary>) -> Vec<Process> {
    let observed: Vec<Observed> = containers
        .into_iter()
        .filter_map(Observed::from_summary)
        .collect();
    join_all(observed.into_iter().map(|o| async move {
        let accepting = match (o.status.as_str(), o.addr()) {
            ("running", Some(addr)) => probe(addr).await,
            _ => false,
        };
        // Only ended containers are inspected: the listing does not say how they ended.
        let exit = match o.status.as_str() {
            "exited" | "dead" => exit_of(docker, &o.id).await,
            _ => None,
        };
        let mut p = o.into_process(accepting);
        p.exit = exit;
        p
    }))
    .await
}

async fn exit_of(docker: &Docker, id: &str) -> Option<Exit> {
    let state = docker
        .inspect_container(id, None::<InspectContainerOptions>)
        .await
        .ok()?
        .state?;
    let finished_at = state
        .finished_at
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    Some(Exit {
        code: state.exit_code.unwrap_or_default(),
        oom_killed: state.oom_killed.unwrap_or_default(),
        finished_at,
    })
}

async fn probe(addr: SocketAddr) -> bool {
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT, TcpStream::connect(addr)).await,
        Ok(Ok(_))
    )
}

/// What one container says about itself, before its port is probed.
#[derive(Debug, Clone, PartialEq)]
struct Observed {
    id: String,
    app: String,
    release: i64,
    process_type: String,
    index: u32,
    port: Option<u16>,
    command: Option<String>,
    restarts: u32,
    /// The engine's state word: `created`, `running`, `exited`, ...
    status: String,
    ip: Option<IpAddr>,
    created_at: DateTime<Utc>,
}

impl Observed {
    fn from_summary(c: ContainerSummary) -> Option<Observed> {
        let id = c.id?;
        let labels = c.labels.unwrap_or_default();
        let parsed = Labels::parse(&labels);
        let Some(l) = parsed else {
            tracing::warn!(container = %id, ?labels, "container with incomplete paas labels ignored");
            return None;
        };
        let ip = c
            .network_settings
            .and_then(|n| n.networks)
            .and_then(|networks| {
                // The default bridge first: that is where the scheduler puts processes.
                let mut endpoints: Vec<_> = networks.into_iter().collect();
                endpoints.sort_by_key(|(name, _)| name != "bridge");
                endpoints
                    .into_iter()
                    .find_map(|(_, e)| e.ip_address.and_then(|ip| ip.parse().ok()))
            });
        Some(Observed {
            id,
            app: l.app,
            release: l.release,
            process_type: l.process_type,
            index: l.index,
            port: l.port,
            command: l.command,
            restarts: l.restarts,
            status: c.state.map(|s| s.to_string()).unwrap_or_default(),
            ip,
            created_at: c
                .created
                .and_then(|secs| DateTime::from_timestamp(secs, 0))
                .unwrap_or_default(),
        })
    }

    fn addr(&self) -> Option<SocketAddr> {
        Some(SocketAddr::new(self.ip?, self.port?))
    }

    fn into_process(self, accepting: bool) -> Process {
        let state = match self.status.as_str() {
            "running" if self.port.is_none() || accepting => ProcessState::Up,
            "running" | "created" | "restarting" => ProcessState::Starting,
            "exited" | "dead" => ProcessState::Crashed,
            _ => ProcessState::Down,
        };
        Process {
            addr: self.addr(),
            id: self.id,
            app: self.app,
            release: self.release,
            process_type: self.process_type,
            index: self.index,
            state,
            command: self.command,
            created_at: self.created_at,
            restarts: self.restarts,
            exit: None,
        }
    }
}

struct Labels {
    app: String,
    release: i64,
    process_type: String,
    index: u32,
    port: Option<u16>,
    command: Option<String>,
    restarts: u32,
}

impl Labels {
    fn parse(labels: &HashMap<String, String>) -> Option<Labels> {
        Some(Labels {
            app: labels.get(labels::APP)?.clone(),
            release: labels.get(labels::RELEASE)?.parse().ok()?,
            process_type: labels.get(labels::PROCESS)?.clone(),
            index: labels.get(labels::INDEX)?.parse().ok()?,
            port: labels.get(labels::PORT).and_then(|p| p.parse().ok()),
            command: labels.get(labels::COMMAND).cloned(),
            restarts: labels
                .get(labels::RESTARTS)
                .and_then(|r| r.parse().ok())
                .unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{
        ContainerSummaryNetworkSettings, ContainerSummaryStateEnum, EndpointSettings,
    };

    fn summary(state: ContainerSummaryStateEnum, port: Option<&str>) -> ContainerSummary {
        let mut labels = HashMap::from([
            (labels::INSTANCE.to_owned(), "i".to_owned()),
            (labels::APP.to_owned(), "shop".to_owned()),
            (labels::RELEASE.to_owned(), "7".to_owned()),
            (labels::PROCESS.to_owned(), "web".to_owned()),
            (labels::INDEX.to_owned(), "2".to_owned()),
        ]);
        if let Some(port) = port {
            labels.insert(labels::PORT.to_owned(), port.to_owned());
        }
        let endpoint = EndpointSettings {
            ip_address: Some("172.17.0.9".to_owned()),
            ..Default::default()
        };
        ContainerSummary {
            id: Some("abc".to_owned()),
            labels: Some(labels),
            state: Some(state),
            created: Some(1_700_000_000),
            network_settings: Some(ContainerSummaryNetworkSettings {
                networks: Some(HashMap::from([("bridge".to_owned(), endpoint)])),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn labels_and_network_make_the_process() {
        let o = Observed::from_summary(summary(ContainerSummaryStateEnum::RUNNING, Some("5000")))
            .unwrap();
        let p = o.into_process(true);
        assert_eq!(
            (p.app.as_str(), p.release, p.name().as_str()),
            ("shop", 7, "web.2")
        );
        assert_eq!(p.addr, Some("172.17.0.9:5000".parse().unwrap()));
        assert_eq!(p.state, ProcessState::Up);
        assert_eq!(p.created_at.timestamp(), 1_700_000_000);
    }

    #[test]
    fn states_map_from_the_engine() {
        let state = |s, port, accepting| {
            Observed::from_summary(summary(s, port))
                .unwrap()
                .into_process(accepting)
                .state
        };
        use ContainerSummaryStateEnum as S;
        assert_eq!(
            state(S::RUNNING, Some("5000"), false),
            ProcessState::Starting
        );
        assert_eq!(state(S::RUNNING, None, false), ProcessState::Up);
        assert_eq!(state(S::CREATED, None, false), ProcessState::Starting);
        assert_eq!(state(S::EXITED, Some("5000"), false), ProcessState::Crashed);
        assert_eq!(state(S::DEAD, None, false), ProcessState::Crashed);
        assert_eq!(state(S::REMOVING, None, false), ProcessState::Down);
        assert_eq!(state(S::PAUSED, None, false), ProcessState::Down);
    }

    #[test]
    fn containers_without_complete_labels_are_skipped() {
        let mut c = summary(ContainerSummaryStateEnum::RUNNING, None);
        c.labels
            .as_mut()
            .unwrap()
            .insert(labels::INDEX.to_owned(), "two".to_owned());
        assert_eq!(Observed::from_summary(c), None);
    }
}
