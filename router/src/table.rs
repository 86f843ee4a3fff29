//! The compiled route table: immutable, built from [`AppRoute`]s when they change and swapped
//! whole, so the request path reads it without a lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::Arc;

use crate::error::RouterError;
use crate::host::{self, DomainPattern};
use crate::metrics::{Metrics, Series, SeriesKey};
use crate::route::{AppRoute, Backend};
use crate::shard::{Padded, SHARDS};
use crate::upstream::Upstream;

/// The processes of one release side (stable or canary) of an app.
pub(crate) struct Pool {
    pub(crate) upstreams: Box<[Arc<Upstream>]>,
    /// Round-robin position, per thread (each thread goes round on its own).
    pub(crate) next: [Padded<AtomicUsize>; SHARDS],
}

impl Pool {
    pub(crate) fn new(upstreams: Box<[Arc<Upstream>]>) -> Self {
        Pool {
            upstreams,
            next: Default::default(),
        }
    }
}

/// Which process of an entry served a request, without holding it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UpstreamRef {
    pub(crate) canary: bool,
    pub(crate) index: usize,
}

pub(crate) struct CanaryPool {
    pub(crate) pool: Pool,
    pub(crate) release: u64,
    pub(crate) weight: u8,
    /// Clients assigned so far; spreads them exactly by weight.
    pub(crate) assigned: AtomicU64,
}

/// An app's entry. Kept (with its counters) across swaps that leave its route unchanged.
pub(crate) struct AppEntry {
    pub(crate) name: Arc<str>,
    pub(crate) route: AppRoute,
    pub(crate) stable: Pool,
    pub(crate) canary: Option<CanaryPool>,
    /// For requests the router answers itself (maintenance, no processes, body too large).
    pub(crate) series: Arc<Series>,
}

impl AppEntry {
    pub(crate) fn upstream(&self, at: UpstreamRef) -> Option<&Arc<Upstream>> {
        let pool = if at.canary {
            &self.canary.as_ref()?.pool
        } else {
            &self.stable
        };
        pool.upstreams.get(at.index)
    }

    pub(crate) fn is_canary(&self, pool: &Pool) -> bool {
        self.canary
            .as_ref()
            .is_some_and(|c| std::ptr::eq(&c.pool, pool))
    }
}

/// Apps by name or domain. Every request hashes its host once: foldhash (seeded per process)
/// costs a fraction of std's SipHash there, and the keys are names the platform's users chose,
/// not ones a client can add.
pub(crate) type Names = HashMap<Box<str>, Arc<AppEntry>, foldhash::fast::RandomState>;

#[derive(Default)]
pub(crate) struct RouteTable {
    pub(crate) apps: Names,
    exact: Names,
    /// `*.example.com` under `example.com`.
    wildcard: Names,
}

impl RouteTable {
    /// The app serving a normalised host: an exact custom domain, then `APP.domain`, then the
    /// longest matching wildcard.
    pub(crate) fn resolve(&self, host: &str, domain: &str) -> Option<&Arc<AppEntry>> {
        if !self.exact.is_empty() {
            if let Some(entry) = self.exact.get(host) {
                return Some(entry);
            }
        }
        if let Some(label) = host::app_label(host, domain) {
            return self.apps.get(label);
        }
        if !self.wildcard.is_empty() {
            for (i, c) in host.bytes().enumerate() {
                if c == b'.' {
                    if let Some(entry) = self.wildcard.get(&host[i + 1..]) {
                        return Some(entry);
                    }
                }
            }
        }
        None
    }

    /// The routes this table was built from.
    pub(crate) fn routes(&self) -> HashMap<String, AppRoute> {
        self.apps
            .iter()
            .map(|(k, v)| (k.to_string(), v.route.clone()))
            .collect()
    }

    /// A table for `routes`, reusing `old`'s entries and processes where they are unchanged.
    /// What cannot be routed is left out and reported.
    pub(crate) fn build(
        old: &RouteTable,
        routes: HashMap<String, AppRoute>,
        domain: &str,
        metrics: &Metrics,
    ) -> (RouteTable, Vec<RouterError>) {
        let mut problems = Vec::new();
        let mut table = RouteTable::default();
        // Sorted, so that which app keeps a contested domain does not depend on hash order.
        let mut routes: Vec<_> = routes.into_iter().collect();
        routes.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, route) in routes {
            if !host::is_label(name.as_bytes()) {
                problems.push(RouterError::InvalidAppName { app: name });
                continue;
            }
            let key: Box<str> = name.to_ascii_lowercase().into();
            let previous = old.apps.get(&key);
            let entry = match previous {
                Some(entry) if entry.route == route => Arc::clone(entry),
                _ => build_entry(&key, route, previous.map(|e| &**e), metrics, &mut problems),
            };
            for name in &entry.route.domains {
                let (map, pattern) = match host::parse_custom_domain(name, domain) {
                    Ok(DomainPattern::Exact(d)) => (&mut table.exact, d),
                    Ok(DomainPattern::Wildcard(d)) => (&mut table.wildcard, d),
                    Err(reason) => {
                        problems.push(RouterError::InvalidDomain {
                            domain: name.clone(),
                            reason,
                        });
                        continue;
                    }
                };
                match map.get(pattern.as_str()) {
                    Some(other) if !Arc::ptr_eq(other, &entry) => {
                        problems.push(RouterError::DuplicateDomain {
                            domain: name.clone(),
                            app: key.to_string(),
                            taken_by: other.name.to_string(),
                        });
                    }
                    _ => {
                        map.insert(pattern.into(), Arc::clone(&entry));
                    }
                }
            }
            table.apps.insert(key, entry);
        }
        (table, problems)
    }
}

fn build_entry(
    name: &str,
    mut route: AppRoute,
    previous: Option<&AppEntry>,
    metrics: &Metrics,
    problems: &mut Vec<RouterError>,
) -> Arc<AppEntry> {
    let name: Arc<str> = name.into();
    let old_upstreams: Vec<&Arc<Upstream>> = previous
        .into_iter()
        .flat_map(|e| {
            let canary = e.canary.iter().flat_map(|c| c.pool.upstreams.iter());
            e.stable.upstreams.iter().chain(canary)
        })
        .collect();
    let pool = |backends: &[Backend]| {
        Pool::new(
            backends
                .iter()
                .map(|b| {
                    let old = old_upstreams
                        .iter()
                        .find(|u| u.is_same(b.addr, &b.process, b.release));
                    match old {
                        Some(u) => Arc::clone(u),
                        None => {
                            let series = metrics.series(SeriesKey {
                                app: name.as_ref().into(),
                                release: Some(b.release),
                                process_type: b.process_type().into(),
                            });
                            Arc::new(Upstream::new(b.addr, &b.process, b.release, series))
                        }
                    }
                })
                .collect(),
        )
    };
    if let Some(canary) = &mut route.canary {
        if canary.weight > 100 {
            problems.push(RouterError::InvalidCanaryWeight {
                app: name.to_string(),
                weight: canary.weight,
            });
            canary.weight = 100;
        }
    }
    let canary = route.canary.as_ref().map(|c| CanaryPool {
        pool: pool(&c.backends),
        release: c.backends.first().map_or(0, |b| b.release),
        weight: c.weight,
        assigned: AtomicU64::new(0),
    });
    let series = metrics.series(SeriesKey {
        app: name.as_ref().into(),
        release: None,
        process_type: "".into(),
    });
    Arc::new(AppEntry {
        stable: pool(&route.backends),
        canary,
        series,
        route,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn route(domains: &[&str]) -> AppRoute {
        AppRoute {
            domains: domains.iter().map(|d| d.to_string()).collect(),
            ..AppRoute::new(vec![Backend::new(
                SocketAddr::from(([127, 0, 0, 1], 1)),
                1,
                "web.1",
            )])
        }
    }

    fn resolve(table: &RouteTable, host: &str) -> Option<String> {
        table.resolve(host, "paas.test").map(|e| e.name.to_string())
    }

    #[test]
    fn most_specific_domain_wins() {
        let metrics = Metrics::default();
        let routes = HashMap::from([
            ("a".to_owned(), route(&["*.example.com", "www.example.com"])),
            ("b".to_owned(), route(&["*.shop.example.com"])),
            ("c".to_owned(), route(&["api.shop.example.com"])),
        ]);
        let (table, problems) =
            RouteTable::build(&RouteTable::default(), routes, "paas.test", &metrics);
        assert!(problems.is_empty(), "{problems:?}");
        for (host, app) in [
            ("www.example.com", Some("a")),
            ("x.example.com", Some("a")),
            ("x.y.example.com", Some("a")),
            ("shop.example.com", Some("a")),
            ("x.shop.example.com", Some("b")),
            ("api.shop.example.com", Some("c")),
            ("example.com", None),
            ("a.paas.test", Some("a")),
            ("b.paas.test", Some("b")),
            ("z.paas.test", None),
            ("www.example.org", None),
        ] {
            assert_eq!(resolve(&table, host).as_deref(), app, "{host}");
        }
    }

    #[test]
    fn conflicts_and_bad_names_are_reported() {
        let metrics = Metrics::default();
        let routes = HashMap::from([
            ("a".to_owned(), route(&["www.example.com", "x.paas.test"])),
            (
                "b".to_owned(),
                route(&["WWW.example.com.", "ok.example.com"]),
            ),
            ("bad.name".to_owned(), route(&[])),
        ]);
        let (table, problems) =
            RouteTable::build(&RouteTable::default(), routes, "paas.test", &metrics);
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(text.iter().any(|t| t.contains("bad.name")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("x.paas.test")), "{text:?}");
        assert!(
            text.iter()
                .any(|t| t.contains("WWW.example.com.") && t.contains("a")),
            "{text:?}"
        );
        assert_eq!(resolve(&table, "www.example.com").as_deref(), Some("a"));
        assert_eq!(resolve(&table, "ok.example.com").as_deref(), Some("b"));
    }
}
