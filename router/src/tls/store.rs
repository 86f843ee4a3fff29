//! The certificates the router serves, swapped whole like the route table.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

use super::certs::{self, CertEntry, CertInfo};
use crate::error::RouterError;

#[derive(Default)]
struct CertTable {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// `*.example.com` under `example.com`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    installed: Vec<CertInfo>,
}

#[derive(Debug)]
struct Resolver {
    table: ArcSwap<CertTable>,
    fallback: Arc<CertifiedKey>,
}

impl std::fmt::Debug for CertTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertTable")
            .field("installed", &self.installed.len())
            .finish()
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let Some(name) = hello.server_name() else {
            return Some(Arc::clone(&self.fallback));
        };
        let name = name.to_ascii_lowercase();
        let table = self.table.load();
        let found = table.exact.get(&name).or_else(|| {
            let (_, parent) = name.split_once('.')?;
            table.wildcard.get(parent)
        });
        Some(Arc::clone(found.unwrap_or(&self.fallback)))
    }
}

pub(crate) struct CertStore {
    resolver: Arc<Resolver>,
    fallback_pem: String,
    config: Arc<ServerConfig>,
}

impl CertStore {
    /// An empty store whose fallback is a fresh self-signed certificate for `domain` and
    /// `*.domain`.
    pub(crate) fn new(domain: &str) -> Result<Self, RouterError> {
        let self_signed = |e: rcgen::Error| RouterError::SelfSigned(e.to_string());
        let mut params =
            rcgen::CertificateParams::new(vec![format!("*.{domain}"), domain.to_owned()])
                .map_err(self_signed)?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("*.{domain}"));
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "paas (self-signed)");
        let key = rcgen::KeyPair::generate().map_err(self_signed)?;
        let fallback_pem = params.self_signed(&key).map_err(self_signed)?.pem();
        let (_, fallback) = certs::load(&fallback_pem, &key.serialize_pem())?;
        let resolver = Arc::new(Resolver {
            table: ArcSwap::from_pointee(CertTable::default()),
            fallback,
        });
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| RouterError::SelfSigned(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&resolver) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(CertStore {
            resolver,
            fallback_pem,
            config: Arc::new(config),
        })
    }

    pub(crate) fn config(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.config)
    }

    pub(crate) fn fallback_pem(&self) -> &str {
        &self.fallback_pem
    }

    pub(crate) fn installed(&self) -> Vec<CertInfo> {
        self.resolver.table.load().installed.clone()
    }

    pub(crate) fn replace(&self, entries: Vec<CertEntry>) -> Vec<(usize, RouterError)> {
        let now = SystemTime::now();
        let mut problems = Vec::new();
        let mut table = CertTable::default();
        // Per name, the certificate valid now that lasts longest.
        let mut best: HashMap<String, (bool, SystemTime)> = HashMap::new();
        for (i, entry) in entries.iter().enumerate() {
            let (info, key) = match certs::load(&entry.cert_pem, &entry.key_pem) {
                Ok(loaded) => loaded,
                Err(err) => {
                    problems.push((i, err));
                    continue;
                }
            };
            let valid = info.check_time(now);
            let rank = (valid.is_ok(), info.not_after);
            if let Err(err) = valid {
                problems.push((i, err));
            }
            for name in &info.names {
                if best.get(name).is_some_and(|b| *b >= rank) {
                    continue;
                }
                best.insert(name.clone(), rank);
                match name.strip_prefix("*.") {
                    Some(parent) => table.wildcard.insert(parent.to_owned(), Arc::clone(&key)),
                    None => table.exact.insert(name.clone(), Arc::clone(&key)),
                };
            }
            table.installed.push(info);
        }
        for (i, problem) in &problems {
            tracing::warn!(certificate = i, error = %problem, "certificate problem");
        }
        self.resolver.table.store(Arc::new(table));
        problems
    }
}
