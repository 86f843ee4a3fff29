//! The [`Router`]: the route table, certificates, settings, access log and metrics, shared by
//! the listeners that serve it.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::sync::broadcast;

use crate::access_log::{AccessLog, AccessLogLine};
use crate::error::RouterError;
use crate::host;
use crate::metrics::Metrics;
use crate::route::{AppRoute, Backend};
use crate::table::{AppEntry, RouteTable};
use crate::tls::{CertEntry, CertInfo, CertStore};

/// Access log lines buffered for slow subscribers; beyond this they lose the oldest.
const ACCESS_LOG_CAPACITY: usize = 4096;

/// Limits on client connections. Changes apply to connections accepted afterwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterSettings {
    /// A client must send a whole request head within this (slowloris guard). It also closes
    /// keep-alive connections idle this long, and bounds a TLS handshake.
    pub header_read_timeout: Duration,
    /// Largest request head (request line and headers); beyond it the client gets a 431.
    pub max_header_bytes: usize,
    /// Most headers in one request (431 beyond).
    pub max_headers: usize,
    /// Concurrent streams per HTTP/2 client connection.
    pub http2_max_streams: u32,
    /// An HTTP/2 client connection on which nothing moved this long is closed (GOAWAY; streams
    /// still open finish first). HTTP/1.1 keep-alive connections wait for their next request
    /// at most `header_read_timeout`.
    pub http2_idle_timeout: Duration,
    /// On shutdown, requests in flight get this long before their connections are cut.
    pub shutdown_grace: Duration,
    /// The HTTPS port named in redirects from HTTP; `None`: the port [`serve_tls`](crate::serve_tls)
    /// listens on (443 before it starts).
    pub https_port: Option<u16>,
}

impl Default for RouterSettings {
    fn default() -> Self {
        RouterSettings {
            header_read_timeout: Duration::from_secs(30),
            max_header_bytes: 64 * 1024,
            max_headers: 100,
            http2_max_streams: 256,
            // Heroku's router closes idle client connections after 90 s.
            http2_idle_timeout: Duration::from_secs(90),
            shutdown_grace: Duration::from_secs(10),
            https_port: None,
        }
    }
}

/// Routes `APP.DOMAIN` and custom domains to the apps' processes. Cheap to share: wrap in an
/// `Arc` (as [`Router::new`] does) and hand it to the listeners and to whatever feeds the table.
pub struct Router {
    table: ArcSwap<RouteTable>,
    /// Serialises table changes (readers never take it).
    writer: Mutex<()>,
    domain: Box<str>,
    settings: ArcSwap<RouterSettings>,
    pub(crate) metrics: Metrics,
    pub(crate) access_log: Arc<AccessLog>,
    pub(crate) certs: CertStore,
    pub(crate) tls_port: AtomicU16,
    epoch: Instant,
}

impl Router {
    /// A router serving apps at `APP.domain`, with an empty table.
    ///
    /// # Panics
    /// When `domain` is not a DNS name; use [`Router::try_new`] for input from users.
    pub fn new(domain: &str) -> Arc<Router> {
        Self::try_new(domain).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`Router::new`], with an error for a domain that is not a DNS name (or is an IP).
    pub fn try_new(domain: &str) -> Result<Arc<Router>, RouterError> {
        let normalized =
            host::normalize_domain(domain).map_err(|reason| RouterError::InvalidDomain {
                domain: domain.to_owned(),
                reason,
            })?;
        let certs = CertStore::new(&normalized)?;
        Ok(Arc::new(Router {
            table: ArcSwap::from_pointee(RouteTable::default()),
            writer: Mutex::new(()),
            domain: normalized.into(),
            settings: ArcSwap::from_pointee(RouterSettings::default()),
            metrics: Metrics::default(),
            access_log: AccessLog::new(ACCESS_LOG_CAPACITY),
            certs,
            tls_port: AtomicU16::new(0),
            epoch: Instant::now(),
        }))
    }

    /// The domain apps are served under, normalised (lower case, no trailing dot).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    pub fn settings(&self) -> RouterSettings {
        RouterSettings::clone(&self.settings.load())
    }

    /// New limits for connections accepted from now on.
    pub fn set_settings(&self, settings: RouterSettings) {
        self.settings.store(Arc::new(settings));
    }

    pub(crate) fn current_settings(&self) -> Arc<RouterSettings> {
        self.settings.load_full()
    }

    /// Replaces the whole table with full routes: app name -> [`AppRoute`]. Returns what could
    /// not be applied (an app name that is not a DNS label, a bad or contested domain); the
    /// rest is in force from the next request on. Apps whose route is unchanged keep their
    /// state (round robin position, processes marked down, pooled connections).
    pub fn replace_routes(&self, apps: HashMap<String, AppRoute>) -> Vec<RouterError> {
        let _writing = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let (table, problems) =
            RouteTable::build(&self.table.load(), apps, &self.domain, &self.metrics);
        self.table.store(Arc::new(table));
        self.metrics.prune();
        for problem in &problems {
            tracing::warn!(error = %problem, "route table entry not applied");
        }
        problems
    }

    /// Replaces the whole table: app name -> addresses of its running web processes (release
    /// 0, processes `web.1`, `web.2`, ... in order), every other setting at its default.
    /// An app present with no addresses is known but has nothing running (503).
    pub fn replace(&self, apps: HashMap<String, Vec<SocketAddr>>) {
        let routes = apps
            .into_iter()
            .map(|(name, addrs)| (name, AppRoute::new(web_backends(&addrs))))
            .collect();
        self.replace_routes(routes);
    }

    /// Sets one app's route (adding the app if new), keeping every other app as it is.
    pub fn set_route(&self, app: &str, route: AppRoute) -> Vec<RouterError> {
        self.update(|routes| {
            routes.retain(|name, _| !name.eq_ignore_ascii_case(app));
            routes.insert(app.to_owned(), route);
        })
    }

    /// Sets one app's backends like [`Router::replace`] does, keeping its other settings.
    pub fn set_app(&self, app: &str, backends: Vec<SocketAddr>) {
        let mut route = self.route(app).unwrap_or_default();
        route.backends = web_backends(&backends);
        self.set_route(app, route);
    }

    /// Forgets an app: its hosts answer 404 from the next request on.
    pub fn remove_app(&self, app: &str) {
        self.update(|routes| routes.retain(|name, _| !name.eq_ignore_ascii_case(app)));
    }

    fn update(&self, change: impl FnOnce(&mut HashMap<String, AppRoute>)) -> Vec<RouterError> {
        let _writing = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let old = self.table.load();
        let mut routes = old.routes();
        change(&mut routes);
        let (table, problems) = RouteTable::build(&old, routes, &self.domain, &self.metrics);
        self.table.store(Arc::new(table));
        self.metrics.prune();
        problems
    }

    /// The route the table holds for `app`.
    pub fn route(&self, app: &str) -> Option<AppRoute> {
        self.lookup(&app.to_ascii_lowercase())
            .map(|e| e.route.clone())
    }

    /// The addresses of `app`'s stable processes, `None` when the app is not in the table.
    pub fn backends(&self, app: &str) -> Option<Vec<SocketAddr>> {
        let entry = self.lookup(&app.to_ascii_lowercase())?;
        Some(entry.route.backends.iter().map(|b| b.addr).collect())
    }

    /// Installs the certificates served by SNI, replacing the previous set; handshakes from
    /// now on use them (connections already open keep theirs). Entries that cannot be used are
    /// left out and returned with their index; expired ones are still served (a browser
    /// warning beats a wrong name) but reported too. Hosts no certificate covers get the
    /// self-signed fallback for `*.DOMAIN`.
    pub fn set_certificates(&self, certs: Vec<CertEntry>) -> Vec<(usize, RouterError)> {
        self.certs.replace(certs)
    }

    /// What is installed, in the order given to [`Router::set_certificates`], skipping the
    /// entries that were refused.
    pub fn certificates(&self) -> Vec<CertInfo> {
        self.certs.installed()
    }

    /// The self-signed fallback certificate (PEM), for clients that should trust it.
    pub fn fallback_certificate_pem(&self) -> String {
        self.certs.fallback_pem().to_owned()
    }

    /// A subscription to the access log: one line per request in the Heroku router's
    /// `key=value` style. Lines are dropped rather than slowing requests: when nobody
    /// subscribes, or for a subscriber more than 4096 lines behind (its next `recv` reports
    /// `Lagged`).
    pub fn access_log(&self) -> broadcast::Receiver<AccessLogLine> {
        self.access_log.subscribe()
    }

    /// Metrics in the Prometheus text format (what [`serve_metrics`](crate::serve_metrics)
    /// serves).
    pub fn metrics_text(&self) -> String {
        self.metrics.render()
    }

    /// The entry for a lower-cased app label.
    pub(crate) fn lookup(&self, app: &str) -> Option<Arc<AppEntry>> {
        self.table.load().apps.get(app).cloned()
    }

    pub(crate) fn table(&self) -> arc_swap::Guard<Arc<RouteTable>> {
        self.table.load()
    }

    /// The port redirects to HTTPS name.
    pub(crate) fn https_port(&self, settings: &RouterSettings) -> u16 {
        settings
            .https_port
            .unwrap_or_else(|| match self.tls_port.load(Ordering::Relaxed) {
                0 => 443,
                port => port,
            })
    }

    /// Milliseconds on the router's own clock; never 0, which marks "not down".
    pub(crate) fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }
}

fn web_backends(addrs: &[SocketAddr]) -> Vec<Backend> {
    addrs
        .iter()
        .enumerate()
        .map(|(i, &addr)| Backend::new(addr, 0, format!("web.{}", i + 1)))
        .collect()
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("domain", &self.domain)
            .field("apps", &self.table.load().apps.len())
            .finish()
    }
}

/// Checks a custom domain as [`AppRoute::domains`] takes it (`www.example.com` or
/// `*.example.com`) and returns it normalised, so the controller can refuse it up front.
pub fn validate_domain(router_domain: &str, name: &str) -> Result<String, RouterError> {
    let domain =
        host::normalize_domain(router_domain).map_err(|reason| RouterError::InvalidDomain {
            domain: router_domain.to_owned(),
            reason,
        })?;
    match host::parse_custom_domain(name, &domain) {
        Ok(host::DomainPattern::Exact(d)) => Ok(d),
        Ok(host::DomainPattern::Wildcard(d)) => Ok(format!("*.{d}")),
        Err(reason) => Err(RouterError::InvalidDomain {
            domain: name.to_owned(),
            reason,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn set_replace_remove() {
        let router = Router::new("paas.test");
        router.set_app("Web", vec![addr(1), addr(2)]);
        router.set_app("idle", vec![]);
        assert_eq!(router.backends("web"), Some(vec![addr(1), addr(2)]));
        assert_eq!(router.backends("IDLE"), Some(vec![]));
        assert_eq!(router.backends("other"), None);

        router.remove_app("web");
        assert_eq!(router.backends("web"), None);
        assert_eq!(router.backends("idle"), Some(vec![]));

        router.replace(HashMap::from([("new".to_owned(), vec![addr(3)])]));
        assert_eq!(router.backends("idle"), None);
        assert_eq!(router.backends("new"), Some(vec![addr(3)]));
        let route = router.route("new").unwrap();
        assert_eq!(route.backends[0].process, "web.1");
    }

    #[test]
    fn unchanged_routes_keep_their_entry() {
        let router = Router::new("paas.test");
        router.set_app("web", vec![addr(1), addr(2)]);
        let before = router.lookup("web").unwrap();
        router.set_app("web", vec![addr(1), addr(2)]);
        router.replace(HashMap::from([("web".to_owned(), vec![addr(1), addr(2)])]));
        assert!(Arc::ptr_eq(&before, &router.lookup("web").unwrap()));
        router.set_app("web", vec![addr(1), addr(2), addr(3)]);
        let after = router.lookup("web").unwrap();
        assert!(!Arc::ptr_eq(&before, &after));
        // Processes that stayed keep their state (pool, health) under the new entry.
        assert!(Arc::ptr_eq(
            &before.stable.upstreams[1],
            &after.stable.upstreams[1]
        ));
    }

    #[test]
    fn names_that_cannot_be_hosts_are_reported() {
        let router = Router::new("paas.test");
        let problems = router.set_route("a.b", AppRoute::default());
        assert!(matches!(problems[..], [RouterError::InvalidAppName { .. }]));
        router.set_app("", vec![addr(1)]);
        assert_eq!(router.backends("a.b"), None);
        assert_eq!(router.backends(""), None);
    }

    #[test]
    fn bad_domain_is_an_error() {
        let err = Router::try_new("not a domain").unwrap_err();
        assert!(err.to_string().contains("not a domain"), "{err}");
        assert_eq!(Router::new("Paas.Test.").domain(), "paas.test");
        assert_eq!(
            validate_domain("paas.test", "*.Example.com").unwrap(),
            "*.example.com"
        );
        assert!(validate_domain("paas.test", "web.paas.test").is_err());
    }
}
