//! The route table: app name -> backends, immutable and swapped whole with `arc-swap`, so the
//! request path reads it without a lock.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use http::uri::Authority;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::body::ProxyBody;
use crate::error::RouterError;
use crate::host;

/// How long a backend may take to send its response head, unless changed with
/// [`Router::set_upstream_timeout`].
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);

/// A dead container's address can blackhole SYNs; give up early so the next backend gets a chance.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Below the usual 120 s+ keep-alive of app servers, so we rarely reuse a connection they closed.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// One web process of an app.
pub(crate) struct Backend {
    pub(crate) addr: SocketAddr,
    /// Prebuilt so a request URI costs no formatting.
    pub(crate) authority: Authority,
    /// Router-clock millisecond until which connecting is pointless (0: not down).
    pub(crate) down_until: AtomicU64,
}

/// An app's entry in the table. Kept (with its counter) across swaps that leave its backends
/// unchanged, so frequent table pushes do not reset round robin.
pub(crate) struct AppEntry {
    pub(crate) name: Box<str>,
    pub(crate) backends: Box<[Backend]>,
    /// Round-robin position.
    pub(crate) next: AtomicUsize,
}

impl AppEntry {
    fn new(name: &str, addrs: &[SocketAddr]) -> Arc<Self> {
        let backends = addrs
            .iter()
            .map(|&addr| Backend {
                addr,
                authority: Authority::try_from(addr.to_string())
                    .expect("a socket address is a valid URI authority"),
                down_until: AtomicU64::new(0),
            })
            .collect();
        Arc::new(AppEntry {
            name: name.into(),
            backends,
            next: AtomicUsize::new(0),
        })
    }

    fn has_backends(&self, addrs: &[SocketAddr]) -> bool {
        self.backends.len() == addrs.len()
            && self.backends.iter().zip(addrs).all(|(b, a)| b.addr == *a)
    }
}

#[derive(Clone, Default)]
struct RouteTable {
    apps: HashMap<Box<str>, Arc<AppEntry>>,
}

/// Routes `APP.DOMAIN` to the app's web processes. Cheap to share: wrap in an `Arc` (as
/// [`Router::new`] does) and hand it to [`serve`](crate::serve) and to whatever feeds the table.
pub struct Router {
    table: ArcSwap<RouteTable>,
    domain: Box<str>,
    pub(crate) client: Client<HttpConnector, ProxyBody>,
    upstream_timeout_ms: AtomicU64,
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
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build(connector);
        Ok(Arc::new(Router {
            table: ArcSwap::from_pointee(RouteTable::default()),
            domain: normalized.into(),
            client,
            upstream_timeout_ms: AtomicU64::new(DEFAULT_UPSTREAM_TIMEOUT.as_millis() as u64),
            epoch: Instant::now(),
        }))
    }

    /// The domain apps are served under, normalised (lower case, no trailing dot).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// How long a backend may take to send its response head before the client gets a 504.
    pub fn upstream_timeout(&self) -> Duration {
        Duration::from_millis(self.upstream_timeout_ms.load(Ordering::Relaxed))
    }

    /// Changes the upstream timeout for requests that start from now on.
    pub fn set_upstream_timeout(&self, timeout: Duration) {
        let ms = u64::try_from(timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        self.upstream_timeout_ms.store(ms, Ordering::Relaxed);
    }

    /// Replaces the whole table: app name -> addresses of its running web processes.
    /// An app present with no addresses is known but has nothing running (503).
    pub fn replace(&self, apps: HashMap<String, Vec<SocketAddr>>) {
        let old = self.table.load();
        let mut table = RouteTable::default();
        for (name, addrs) in apps {
            let Some(key) = app_key(&name) else { continue };
            let entry = match old.apps.get(&key) {
                Some(entry) if entry.has_backends(&addrs) => Arc::clone(entry),
                _ => AppEntry::new(&key, &addrs),
            };
            table.apps.insert(key, entry);
        }
        self.table.store(Arc::new(table));
    }

    /// Sets one app's backends (adding the app if new), keeping every other app as it is.
    pub fn set_app(&self, app: &str, backends: Vec<SocketAddr>) {
        let Some(key) = app_key(app) else { return };
        self.table.rcu(|old| {
            if old
                .apps
                .get(&key)
                .is_some_and(|e| e.has_backends(&backends))
            {
                return Arc::clone(old);
            }
            let mut table = RouteTable::clone(old);
            table
                .apps
                .insert(key.clone(), AppEntry::new(&key, &backends));
            Arc::new(table)
        });
    }

    /// Forgets an app: its host answers 404 from the next request on.
    pub fn remove_app(&self, app: &str) {
        let key = app.to_ascii_lowercase();
        self.table.rcu(|old| {
            if !old.apps.contains_key(key.as_str()) {
                return Arc::clone(old);
            }
            let mut table = RouteTable::clone(old);
            table.apps.remove(key.as_str());
            Arc::new(table)
        });
    }

    /// The backends the table holds for `app`, `None` when the app is not in the table.
    pub fn backends(&self, app: &str) -> Option<Vec<SocketAddr>> {
        let entry = self.lookup(&app.to_ascii_lowercase())?;
        Some(entry.backends.iter().map(|b| b.addr).collect())
    }

    /// The entry for a lower-cased app label.
    pub(crate) fn lookup(&self, app: &str) -> Option<Arc<AppEntry>> {
        self.table.load().apps.get(app).cloned()
    }

    /// Milliseconds on the router's own clock; never 0, which marks "not down".
    pub(crate) fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("domain", &self.domain)
            .field("apps", &self.table.load().apps.len())
            .field("upstream_timeout", &self.upstream_timeout())
            .finish()
    }
}

/// The table key for an app name, or `None` (logged) when no Host could ever name it.
fn app_key(app: &str) -> Option<Box<str>> {
    if !host::is_label(app.as_bytes()) {
        tracing::warn!(app, "app name is not a DNS label; it cannot be routed");
        return None;
    }
    Some(app.to_ascii_lowercase().into())
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
    }

    #[test]
    fn unchanged_backends_keep_their_entry() {
        let router = Router::new("paas.test");
        router.set_app("web", vec![addr(1), addr(2)]);
        let before = router.lookup("web").unwrap();
        router.set_app("web", vec![addr(1), addr(2)]);
        router.replace(HashMap::from([("web".to_owned(), vec![addr(1), addr(2)])]));
        assert!(Arc::ptr_eq(&before, &router.lookup("web").unwrap()));
        router.set_app("web", vec![addr(2), addr(1)]);
        assert!(!Arc::ptr_eq(&before, &router.lookup("web").unwrap()));
    }

    #[test]
    fn names_that_cannot_be_hosts_are_skipped() {
        let router = Router::new("paas.test");
        router.set_app("a.b", vec![addr(1)]);
        router.set_app("", vec![addr(1)]);
        assert_eq!(router.backends("a.b"), None);
        assert_eq!(router.backends(""), None);
    }

    #[test]
    fn bad_domain_is_an_error() {
        let err = Router::try_new("not a domain").unwrap_err();
        assert!(err.to_string().contains("not a domain"), "{err}");
        assert_eq!(Router::new("Paas.Test.").domain(), "paas.test");
    }
}
