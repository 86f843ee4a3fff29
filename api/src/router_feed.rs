//! The internal protocol between the controller and routers running on their own
//! (`paasd router`), on the controller's API listener with the shared router token as
//! `Authorization: Bearer TOKEN` (docs/parts.md):
//!
//! - `GET /internal/router/routes?after=VERSION[&wait=SECS]`: the [`RouteTable`] as soon as its
//!   version differs from `after`, or after `wait` seconds (25 by default) with the same one.
//! - `POST /internal/router/access-log`: an [`AccessLogBatch`] of what the router served, for
//!   the apps' log streams and metrics; answered with an [`AccessLogReceipt`].

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::RouterSettings;

/// Everything a router serves: each app's routing and the TLS certificates.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RouteTable {
    /// Changes whenever the rest does (derived from the content, so it survives a controller
    /// restart); a router sends it back as `after` to wait for the next change.
    pub version: u64,
    pub apps: BTreeMap<String, AppRoute>,
    pub certificates: Vec<Certificate>,
}

/// One app: where its requests go and how the router treats them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AppRoute {
    /// The current release's web processes that answer (none: the router answers 503).
    pub backends: Vec<Backend>,
    /// Custom domains besides APP.DOMAIN (exact names and `*.` wildcards).
    pub domains: Vec<String>,
    pub maintenance: bool,
    pub canary: Option<Canary>,
    pub settings: RouterSettings,
}

/// One process the router may send an app's requests to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Backend {
    pub addr: SocketAddr,
    /// The release it runs, for the access log and per-release metrics.
    pub release: i64,
    /// `web.1`
    pub process: String,
}

/// A second release's web processes and the percentage of clients (sticky) they get.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Canary {
    pub weight: u8,
    pub backends: Vec<Backend>,
}

/// A certificate chain and its private key, PEM.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Certificate {
    pub cert_pem: String,
    pub key_pem: String,
}

/// `POST /internal/router/access-log`
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AccessLogBatch {
    pub lines: Vec<AccessLogEntry>,
}

/// One request the router served.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessLogEntry {
    pub app: String,
    /// The release and process that answered; none when the router answered itself.
    pub release: Option<u64>,
    pub process: Option<String>,
    pub status: u16,
    /// Time to the response head, in microseconds.
    pub service_us: u64,
    pub bytes: u64,
    /// The line for the app's log stream (source `router`), in the Heroku router's style.
    pub line: String,
}

/// The answer to an [`AccessLogBatch`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessLogReceipt {
    pub accepted: usize,
    /// Lines for apps the controller does not route (e.g. destroyed meanwhile).
    pub ignored: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_survives_the_wire() {
        let backend = Backend {
            addr: "172.17.0.4:5000".parse().unwrap(),
            release: 3,
            process: "web.1".into(),
        };
        let mut table = RouteTable {
            version: 42,
            ..RouteTable::default()
        };
        table.apps.insert(
            "hello".into(),
            AppRoute {
                backends: vec![backend.clone()],
                domains: vec!["www.example.com".into()],
                maintenance: false,
                canary: Some(Canary {
                    weight: 10,
                    backends: vec![backend],
                }),
                settings: RouterSettings::default(),
            },
        );
        let json = serde_json::to_value(&table).unwrap();
        assert_eq!(
            json["apps"]["hello"]["backends"][0]["addr"],
            "172.17.0.4:5000"
        );
        assert_eq!(json["apps"]["hello"]["canary"]["weight"], 10);
        let back: RouteTable = serde_json::from_value(json).unwrap();
        assert_eq!(back, table);
    }
}
