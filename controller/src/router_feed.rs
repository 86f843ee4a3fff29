//! What routers running on their own (`paasd router`) get from the controller and give back:
//! the route table in its wire form, the shared token they prove themselves with, and their
//! access log lines joining the apps' log streams and metrics (docs/parts.md).

use std::path::Path;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use paas_api::router_feed as wire;
use paas_telemetry::metrics::{Metrics, RequestSample};
use paas_telemetry::{LogHub, LogLine, Source};
use rand::RngCore;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::deploy::{RouteBackend, RouteTable};
use crate::error::ApiError;
use crate::state::AppState;

/// The secret routers send as `Authorization: Bearer TOKEN`, kept in
/// `DATA_DIR/secrets/router-token` (0600) so operators can copy it to router hosts.
pub struct RouterToken(String);

impl std::fmt::Debug for RouterToken {
    // Never in a log line, not even by accident through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RouterToken(..)")
    }
}

/// Shorter contents are not a token someone meant to keep; a fresh one replaces them.
const MIN_TOKEN_LEN: usize = 32;

impl RouterToken {
    /// Loads the token, generating it on first start.
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<RouterToken> {
        let path = data_dir.join("secrets").join("router-token");
        if let Ok(text) = std::fs::read_to_string(&path) {
            let token = text.trim();
            if token.len() >= MIN_TOKEN_LEN {
                return Ok(RouterToken(token.to_string()));
            }
        }
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        std::fs::create_dir_all(data_dir.join("secrets"))?;
        paas_api::private_file::write(&path, format!("{token}\n").as_bytes())?;
        Ok(RouterToken(token))
    }

    fn matches(&self, given: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), given.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// A request from a router holding the token.
pub struct RouterCaller;

impl FromRequestParts<AppState> for RouterCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<RouterCaller, ApiError> {
        let given = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "no router token: send `Authorization: Bearer TOKEN` with the token in the \
                     controller's DATA_DIR/secrets/router-token",
                )
            })?;
        if state.router_token.matches(given) {
            Ok(RouterCaller)
        } else {
            Err(ApiError::unauthorized(
                "wrong router token: use the one in the controller's DATA_DIR/secrets/router-token",
            ))
        }
    }
}

impl RouteTable {
    /// The table as routers receive it, with its version.
    pub fn to_wire(&self) -> wire::RouteTable {
        let backends = |list: &[RouteBackend]| -> Vec<wire::Backend> {
            list.iter()
                .map(|b| wire::Backend {
                    addr: b.addr,
                    release: b.release,
                    process: b.process.clone(),
                })
                .collect()
        };
        let apps = self
            .apps
            .iter()
            .map(|(name, routing)| {
                let route = wire::AppRoute {
                    backends: backends(&routing.backends),
                    domains: routing.domains.clone(),
                    maintenance: routing.maintenance,
                    canary: routing.canary.as_ref().map(|(weight, list)| wire::Canary {
                        weight: *weight,
                        backends: backends(list),
                    }),
                    settings: routing.settings.clone(),
                };
                (name.clone(), route)
            })
            .collect();
        let certificates = self
            .certificates
            .iter()
            .map(|(cert_pem, key_pem)| wire::Certificate {
                cert_pem: cert_pem.clone(),
                key_pem: key_pem.clone(),
            })
            .collect();
        let mut table = wire::RouteTable {
            version: 0,
            apps,
            certificates,
        };
        table.version = version_of(&table);
        table
    }
}

/// FNV-1a over the table's JSON (apps sorted by name): the same content gets the same version
/// in every controller process, so a restarted controller does not resend an unchanged table,
/// and cannot hand out an old number for new content as a counter starting over would.
fn version_of(table: &wire::RouteTable) -> u64 {
    let json = serde_json::to_vec(&(&table.apps, &table.certificates)).unwrap_or_default();
    let hash = json.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    // Exact in JSON numbers read as doubles.
    hash & ((1 << 53) - 1)
}

/// The table once its version differs from `after`, or after `wait` with the same one.
/// Ends early, with the current table, when the controller is stopping: a held poll must not
/// hold up its shutdown.
pub async fn next_table(
    mut routes: watch::Receiver<RouteTable>,
    after: Option<u64>,
    wait: Duration,
    stopping: &CancellationToken,
) -> wire::RouteTable {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let table = routes.borrow_and_update().to_wire();
        if after != Some(table.version) {
            return table;
        }
        tokio::select! {
            changed = tokio::time::timeout_at(deadline, routes.changed()) => match changed {
                Ok(Ok(())) => continue,
                // Timed out: the router asks again.
                _ => return table,
            },
            _ = stopping.cancelled() => return table,
        }
    }
}

/// One request a router served joins its app's log stream (source `router`) and the app's
/// per-release metrics; the same in one process and across hosts.
pub fn record_access(logs: &LogHub, metrics: &Metrics, entry: wire::AccessLogEntry) {
    if let (Some(release), Some(process)) = (entry.release, &entry.process) {
        let sample = RequestSample {
            release: i64::try_from(release).unwrap_or(0),
            process_type: process.split('.').next().unwrap_or(process).to_string(),
            status: entry.status,
            service: Duration::from_micros(entry.service_us),
            bytes: entry.bytes,
        };
        metrics.record_request(&entry.app, &sample);
    }
    logs.publish(&entry.app, LogLine::new(Source::Router, None, entry.line));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::AppRouting;

    fn table(port: u16) -> RouteTable {
        let mut table = RouteTable::default();
        table.apps.insert(
            "hello".into(),
            AppRouting {
                backends: vec![RouteBackend {
                    addr: format!("172.17.0.2:{port}").parse().unwrap(),
                    release: 2,
                    process: "web.1".into(),
                }],
                canary: Some((10, Vec::new())),
                ..AppRouting::default()
            },
        );
        table
    }

    #[test]
    fn the_version_follows_the_content() {
        let a = table(5000).to_wire();
        assert_eq!(a.version, table(5000).to_wire().version);
        assert_ne!(a.version, table(5001).to_wire().version);
        assert_eq!(a.apps["hello"].backends[0].process, "web.1");
        assert_eq!(a.apps["hello"].canary.as_ref().map(|c| c.weight), Some(10));
    }

    #[tokio::test]
    async fn a_poll_waits_for_a_change() {
        let (tx, rx) = watch::channel(table(5000));
        let stop = CancellationToken::new();
        let current = table(5000).to_wire().version;
        let unchanged =
            next_table(rx.clone(), Some(current), Duration::from_millis(50), &stop).await;
        assert_eq!(unchanged.version, current);
        let now = next_table(
            rx.clone(),
            Some(current + 1),
            Duration::from_secs(60),
            &stop,
        )
        .await;
        assert_eq!(now.version, current);

        let waiting = {
            let (rx, stop) = (rx.clone(), stop.clone());
            tokio::spawn(async move {
                next_table(rx, Some(current), Duration::from_secs(60), &stop).await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        tx.send(table(5001)).unwrap();
        let changed = waiting.await.unwrap();
        assert_eq!(changed.apps["hello"].backends[0].addr.port(), 5001);

        let next = changed.version;
        let waiting = {
            let stop = stop.clone();
            tokio::spawn(
                async move { next_table(rx, Some(next), Duration::from_secs(60), &stop).await },
            )
        };
        stop.cancel();
        let released = tokio::time::timeout(Duration::from_secs(5), waiting).await;
        assert_eq!(
            released.unwrap().unwrap().version,
            next,
            "stopping ends a poll"
        );
    }

    #[test]
    fn the_token_is_kept_private_and_compared_whole() {
        let dir = tempfile::tempdir().unwrap();
        let token = RouterToken::load_or_create(dir.path()).unwrap();
        let path = dir.path().join("secrets/router-token");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = RouterToken::load_or_create(dir.path()).unwrap();
        assert!(again.matches(&token.0));
        assert!(!token.matches(&token.0[1..]));
        assert!(!token.matches(""));
        assert_eq!(format!("{token:?}"), "RouterToken(..)");
    }
}
