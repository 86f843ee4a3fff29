//! Certificates as users hand them in: parsing, checking, describing.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::crypto::ring::sign::any_supported_type;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use x509_parser::extensions::GeneralName;

use crate::error::RouterError;

/// A certificate chain (leaf first) and its private key, both PEM, as `paas certs:add` takes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertEntry {
    pub cert_pem: String,
    pub key_pem: String,
}

/// What a certificate says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    /// The DNS names it covers (subject alternative names, else the common name), lower case;
    /// wildcards as `*.example.com`.
    pub names: Vec<String>,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    pub subject: String,
    pub issuer: String,
}

impl CertInfo {
    /// Whether the certificate is good for `host` (a wildcard covers exactly one label).
    pub fn covers(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.names.iter().any(|name| name_covers(name, &host))
    }

    /// An error when the certificate is expired or not yet valid at `now`.
    pub fn check_time(&self, now: SystemTime) -> Result<(), RouterError> {
        if now > self.not_after {
            return Err(RouterError::CertificateExpired {
                not_after: self.not_after,
            });
        }
        if now < self.not_before {
            return Err(RouterError::CertificateNotYetValid {
                not_before: self.not_before,
            });
        }
        Ok(())
    }
}

fn name_covers(name: &str, host: &str) -> bool {
    match name.strip_prefix("*.") {
        Some(parent) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => name == host,
    }
}

/// Parses a certificate and key and checks that the key belongs to the certificate.
pub fn inspect_certificate(cert_pem: &str, key_pem: &str) -> Result<CertInfo, RouterError> {
    load(cert_pem, key_pem).map(|(info, _)| info)
}

/// What `paas certs:add` checks: the key matches, the certificate is valid now, and it covers
/// every one of `hosts` (e.g. the app's custom domains).
pub fn validate_certificate(
    cert_pem: &str,
    key_pem: &str,
    hosts: &[&str],
) -> Result<CertInfo, RouterError> {
    let info = inspect_certificate(cert_pem, key_pem)?;
    info.check_time(SystemTime::now())?;
    for host in hosts {
        if !info.covers(host) {
            return Err(RouterError::CertificateDoesNotCover {
                host: host.to_string(),
                names: info.names.clone(),
            });
        }
    }
    Ok(info)
}

/// The certificate's description and the key rustls signs with.
pub(crate) fn load(
    cert_pem: &str,
    key_pem: &str,
) -> Result<(CertInfo, Arc<CertifiedKey>), RouterError> {
    let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| RouterError::BadPem {
            what: "certificate",
            reason: e.to_string(),
        })?;
    let leaf = chain.first().ok_or(RouterError::NoCertificate)?;
    let info = describe(leaf)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => RouterError::NoPrivateKey,
        e => RouterError::BadPem {
            what: "private key",
            reason: e.to_string(),
        },
    })?;
    let key = any_supported_type(&key).map_err(|e| RouterError::BadPrivateKey(e.to_string()))?;
    let certified = CertifiedKey::new(chain, key);
    certified
        .keys_match()
        .map_err(|_| RouterError::KeyMismatch)?;
    Ok((info, Arc::new(certified)))
}

fn describe(der: &CertificateDer<'_>) -> Result<CertInfo, RouterError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| RouterError::BadCertificate(e.to_string()))?;
    let time = |t: x509_parser::time::ASN1Time| {
        let secs = t.timestamp();
        if secs >= 0 {
            SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64)
        } else {
            SystemTime::UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
        }
    };
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let GeneralName::DNSName(name) = name {
                names.push(name.to_ascii_lowercase());
            }
        }
    }
    if names.is_empty() {
        // Old certificates name their host only in the subject.
        names.extend(
            cert.subject()
                .iter_common_name()
                .filter_map(|cn| cn.as_str().ok())
                .map(str::to_ascii_lowercase),
        );
    }
    Ok(CertInfo {
        names,
        not_before: time(cert.validity().not_before),
        not_after: time(cert.validity().not_after),
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(names: &[&str]) -> (String, String) {
        let c = rcgen::generate_simple_self_signed(
            names.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
        )
        .unwrap();
        (c.cert.pem(), c.signing_key.serialize_pem())
    }

    #[test]
    fn a_good_certificate_passes() {
        let (c, k) = cert(&["www.example.com", "*.example.org"]);
        let info = validate_certificate(&c, &k, &["www.example.com", "a.example.org"]).unwrap();
        assert_eq!(info.names, ["www.example.com", "*.example.org"]);
        assert!(info.covers("WWW.example.com."));
        assert!(!info.covers("example.org"));
        assert!(!info.covers("a.b.example.org"));
    }

    #[test]
    fn problems_are_named() {
        let (c, k) = cert(&["www.example.com"]);
        let (_, other_key) = cert(&["www.example.com"]);
        let err = |r: Result<CertInfo, RouterError>| r.unwrap_err().to_string();
        assert_eq!(
            err(validate_certificate(&c, &other_key, &[])),
            "the private key does not belong to the certificate"
        );
        assert!(err(validate_certificate(&c, &k, &["api.example.com"]))
            .contains("does not cover api.example.com; it covers: www.example.com"));
        assert!(err(validate_certificate("", &k, &[])).contains("no certificate"));
        assert!(err(validate_certificate(&c, "", &[])).contains("no private key"));
        assert!(err(validate_certificate(&k, &c, &[])).contains("no certificate"));

        let mut params = rcgen::CertificateParams::new(vec!["old.example.com".into()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        let key = rcgen::KeyPair::generate().unwrap();
        let old = params.self_signed(&key).unwrap().pem();
        assert_eq!(
            err(validate_certificate(&old, &key.serialize_pem(), &[])),
            "the certificate expired at 2001-01-01 00:00:00 (UTC)"
        );
    }
}
