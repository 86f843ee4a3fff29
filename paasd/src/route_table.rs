//! The controller's route table (its wire form, the same in one process and across hosts) as
//! the router's routes and certificates.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use paas_api::router_feed as wire;
use tokio::sync::watch;

/// Applies tables to a router, installing certificates only when they change (parsing them
/// is the expensive part, and tables change on every scale or deploy).
pub struct Applier {
    router: Arc<paas_router::Router>,
    certificates: Option<Vec<wire::Certificate>>,
}

impl Applier {
    pub fn new(router: Arc<paas_router::Router>) -> Applier {
        Applier {
            router,
            certificates: None,
        }
    }

    pub fn apply(&mut self, table: &wire::RouteTable) {
        if self.certificates.as_ref() != Some(&table.certificates) {
            let entries = table
                .certificates
                .iter()
                .map(|c| paas_router::CertEntry {
                    cert_pem: c.cert_pem.clone(),
                    key_pem: c.key_pem.clone(),
                })
                .collect();
            for (i, problem) in self.router.set_certificates(entries) {
                tracing::warn!(certificate = i, error = %problem, "certificate not served");
            }
            self.certificates = Some(table.certificates.clone());
        }
        // Problems (e.g. a domain two apps claim) are logged by the router; the rest applies.
        self.router.replace_routes(app_routes(&table.apps));
    }
}

/// All in one process: follows the controller's table as it changes.
pub fn follow_local(
    mut routes: watch::Receiver<paas_controller::RouteTable>,
    router: Arc<paas_router::Router>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut applier = Applier::new(router);
        loop {
            let table = routes.borrow_and_update().to_wire();
            applier.apply(&table);
            if routes.changed().await.is_err() {
                return;
            }
        }
    })
}

/// The controller's view of where each app runs, as the router's table.
fn app_routes(apps: &BTreeMap<String, wire::AppRoute>) -> HashMap<String, paas_router::AppRoute> {
    apps.iter()
        .map(|(app, routing)| {
            let backends = routing.backends.iter().map(backend).collect();
            let mut route = paas_router::AppRoute::new(backends);
            route.domains = routing.domains.clone();
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
            route.canary = routing.canary.as_ref().map(|c| paas_router::Canary {
                backends: c.backends.iter().map(backend).collect(),
                weight: c.weight,
            });
            (app.clone(), route)
        })
        .collect()
}

fn backend(b: &wire::Backend) -> paas_router::Backend {
    paas_router::Backend::new(
        b.addr,
        u64::try_from(b.release).unwrap_or(0),
        b.process.clone(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_and_canary_carry_over() {
        let web = wire::Backend {
            addr: "127.0.0.1:5000".parse().unwrap(),
            release: 4,
            process: "web.1".into(),
        };
        let mut settings = paas_api::RouterSettings {
            response_timeout: 60.0,
            max_body: Some("10M".into()),
            balance: "least-outstanding".into(),
            ..Default::default()
        };
        settings.redirect_https = true;
        let apps = BTreeMap::from([(
            "hello".to_string(),
            wire::AppRoute {
                backends: vec![web.clone()],
                domains: vec!["www.example.com".into()],
                maintenance: true,
                canary: Some(wire::Canary {
                    weight: 10,
                    backends: vec![web],
                }),
                settings,
            },
        )]);
        let route = &app_routes(&apps)["hello"];
        assert_eq!(route.backends[0].process, "web.1");
        assert_eq!(route.backends[0].release, 4);
        assert_eq!(route.domains, ["www.example.com"]);
        assert!(route.maintenance && route.redirect_https);
        assert_eq!(route.timeouts.response, Duration::from_secs(60));
        assert_eq!(route.max_body_bytes, Some(10 << 20));
        assert_eq!(route.balance, paas_router::Balance::LeastOutstanding);
        assert_eq!(route.canary.as_ref().map(|c| c.weight), Some(10));
    }
}
