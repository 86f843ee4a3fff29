//! Which certificates the CLI trusts for an https API: the usual public roots, plus those in
//! `PAAS_CA_FILE` (PEM), for a platform serving a self-signed certificate (a copy of its
//! `DATA_DIR/secrets/api-tls.crt`) or one from a private CA.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

pub const ENV_CA_FILE: &str = "PAAS_CA_FILE";

/// What to tell someone whose API's certificate is not trusted.
pub const UNTRUSTED_HINT: &str = "if the platform serves a self-signed certificate, set \
     PAAS_CA_FILE to a copy of it (the server's DATA_DIR/secrets/api-tls.crt)";

/// The certificates of `PAAS_CA_FILE`, when it is set.
fn extra_roots() -> Result<Option<Vec<CertificateDer<'static>>>> {
    let Some(path) = std::env::var_os(ENV_CA_FILE).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let path = PathBuf::from(path);
    let pem = std::fs::read(&path)
        .with_context(|| format!("cannot read {ENV_CA_FILE} {}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{ENV_CA_FILE} {} is not PEM", path.display()))?;
    if certs.is_empty() {
        bail!(
            "{ENV_CA_FILE} {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        );
    }
    Ok(Some(certs))
}

/// `builder` trusting `PAAS_CA_FILE` as well as the public roots.
pub fn trusting(
    mut builder: reqwest::blocking::ClientBuilder,
) -> Result<reqwest::blocking::ClientBuilder> {
    for der in extra_roots()?.unwrap_or_default() {
        let cert = reqwest::Certificate::from_der(&der)
            .with_context(|| format!("{ENV_CA_FILE} holds a certificate that cannot be used"))?;
        builder = builder.add_root_certificate(cert);
    }
    Ok(builder)
}

/// A WebSocket connector trusting `PAAS_CA_FILE` as well as the public roots; `None` (the
/// library's own) when it is not set.
pub fn websocket_connector() -> Result<Option<tokio_tungstenite::Connector>> {
    let Some(extra) = extra_roots()? else {
        return Ok(None);
    };
    let mut roots =
        rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for der in extra {
        roots
            .add(der)
            .with_context(|| format!("{ENV_CA_FILE} holds a certificate that cannot be used"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("cannot set up TLS")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Some(tokio_tungstenite::Connector::Rustls(Arc::new(config))))
}

/// Why the server's certificate was refused, when that is what `e` (or one of its causes) is.
pub fn refused_certificate(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(rustls::Error::InvalidCertificate(reason)) = err.downcast_ref::<rustls::Error>()
        {
            return Some(describe(reason));
        }
        // io::Error's `source` skips the error it wraps (itself often another io::Error), so
        // step inside it by hand.
        cur = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

fn describe(reason: &rustls::CertificateError) -> String {
    use rustls::CertificateError as E;
    match reason {
        E::UnknownIssuer => "it is not signed by an authority this computer trusts".into(),
        E::Expired | E::ExpiredContext { .. } => "it has expired".into(),
        E::NotValidForName | E::NotValidForNameContext { .. } => {
            "it was not issued for the API URL's host".into()
        }
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_issuer_is_found_inside_io_errors() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        // As hyper-util hands it over: wrapped once more.
        let io = std::io::Error::other(io);
        let e = anyhow::Error::new(io).context("sending failed");
        let found = refused_certificate(e.as_ref()).unwrap();
        assert!(found.contains("not signed by an authority"), "{found}");
        let other = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(refused_certificate(&other), None);
    }
}
