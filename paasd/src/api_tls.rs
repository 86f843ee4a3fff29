//! HTTPS on the API listener: git credential helpers only hand out passwords over https, so a
//! `git push` that asks a helper for its token needs the API behind TLS. The certificate is the
//! operator's (`--api-tls-cert`, `--api-tls-key`) or a self-signed one made on first start and
//! kept in the data dir, so clients told to trust it keep trusting it across restarts.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use axum::serve::ListenerExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::config::{local, Config};

/// A client that connects and never finishes its handshake must not hold a task forever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The API listener's TLS, when it is on.
pub struct ApiTls {
    acceptor: TlsAcceptor,
    /// paasd's own callers (the git pre-receive hook, the dashboard) reach the API over plain
    /// HTTP on loopback: they run on this host, and would otherwise have to trust whatever
    /// certificate the API serves, self-signed or issued for a public name only.
    internal: TcpListener,
}

impl ApiTls {
    /// The listener's TLS from the flags, or `None` when TLS is off. Fails, saying why, when a
    /// certificate or key cannot be read or they do not fit together.
    pub async fn setup(config: &Config) -> anyhow::Result<Option<ApiTls>> {
        if !config.api_tls_enabled() {
            return Ok(None);
        }
        let (cert, key) = match (&config.api_tls_cert, &config.api_tls_key) {
            (Some(cert), Some(key)) => (cert.clone(), key.clone()),
            (None, None) => self_signed(&config.data_dir, &names(config))?,
            (Some(_), None) => bail!(
                "--api-tls-cert (PAAS_API_TLS_CERT) needs --api-tls-key (PAAS_API_TLS_KEY) too"
            ),
            (None, Some(_)) => bail!(
                "--api-tls-key (PAAS_API_TLS_KEY) needs --api-tls-cert (PAAS_API_TLS_CERT) too"
            ),
        };
        let server = server_config(&cert, &key)?;
        if config
            .api_url
            .as_deref()
            .is_some_and(|u| u.trim().starts_with("http://"))
        {
            // Git remotes and log session URLs would point clients at plain HTTP on a TLS port.
            tracing::warn!("the API serves HTTPS but PAAS_API_URL is an http:// URL");
        }
        let internal = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .await
            .context("cannot listen on 127.0.0.1 for paasd's internal API address")?;
        Ok(Some(ApiTls {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            internal,
        }))
    }
}

/// Where paasd's own callers reach the API: the listener itself without TLS, else the plain
/// loopback one.
pub fn internal_url(tls: Option<&ApiTls>, api_addr: SocketAddr) -> anyhow::Result<String> {
    let addr = match tls {
        Some(tls) => tls.internal.local_addr()?,
        None => local(api_addr),
    };
    Ok(format!("http://{addr}"))
}

/// Serves `app` on the API listener (and, with TLS, on the internal one) until `stop`.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    tls: Option<ApiTls>,
    stop: watch::Receiver<bool>,
) {
    match tls {
        None => serve_plain(listener, app, stop).await,
        Some(ApiTls { acceptor, internal }) => {
            tokio::join!(
                serve_plain(internal, app.clone(), stop.clone()),
                serve_tls(listener, acceptor, app, stop),
            );
        }
    }
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn serve_plain(listener: TcpListener, app: axum::Router, stop: watch::Receiver<bool>) {
    // Streams (logs, build output, one-off sessions) write many small chunks: without
    // TCP_NODELAY each one waits on the client's delayed ACK.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let serving = axum::serve(listener, app).with_graceful_shutdown(stopped(stop));
    if let Err(e) = serving.await {
        tracing::error!(error = %e, "the API stopped serving");
    }
}

/// axum's `serve` takes plain TCP only, so TLS gets its own accept loop over hyper's server
/// connections (HTTP/1.1 with upgrades for one-off sessions, and HTTP/2), with the same
/// graceful stop: no new connections, and those open finish what they are doing.
async fn serve_tls(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: axum::Router,
    stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    let stopping = stopped(stop);
    tokio::pin!(stopping);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut stopping => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "cannot accept an API connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, app, builder) = (acceptor.clone(), app.clone(), builder.clone());
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            if !starts_tls(&tcp).await {
                refuse_plain_http(tcp).await;
                return;
            }
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "API TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "API TLS handshake timed out");
                    return;
                }
            };
            let service = TowerToHyperService::new(app);
            let conn = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%peer, error = %e, "API connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Whether the client opens with a TLS handshake record (what else it sends is most likely
/// plain HTTP from a URL with the wrong scheme).
async fn starts_tls(tcp: &tokio::net::TcpStream) -> bool {
    let mut first = [0u8; 1];
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tcp.peek(&mut first)).await {
        Ok(Ok(1)) => first[0] == TLS_HANDSHAKE_RECORD,
        // Closed or silent: let the handshake deal with it.
        _ => true,
    }
}

const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// An answer a client speaking plain HTTP can show, in the API's error shape, instead of a
/// TLS alert it would report as garbage.
async fn refuse_plain_http(mut tcp: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = r#"{"id":"bad_request","message":"this address serves the paas API over HTTPS: use an https:// URL"}"#;
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    // The request is read first and the rest drained after: closing a socket with unread
    // input resets the connection, and the client might lose the answer.
    let mut buf = vec![0u8; 16 * 1024];
    let mut seen = Vec::new();
    let head = async {
        while let Ok(n) = tcp.read(&mut buf).await {
            seen.extend_from_slice(&buf[..n]);
            if n == 0 || seen.windows(4).any(|w| w == b"\r\n\r\n") || seen.len() > 64 * 1024 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), head).await;
    if tcp.write_all(answer.as_bytes()).await.is_err() || tcp.shutdown().await.is_err() {
        return;
    }
    let drain = async { while matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

/// The names a generated certificate covers: this host over loopback, the listen address, and
/// the public API URL's host.
fn names(config: &Config) -> Vec<String> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let ip = config.api_listen.ip();
    if !ip.is_unspecified() {
        names.push(ip.to_string());
    }
    if let Some(host) = config.api_url.as_deref().and_then(url_host) {
        names.push(host);
    }
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

fn url_host(url: &str) -> Option<String> {
    let uri: axum::http::Uri = url.trim().parse().ok()?;
    let host = uri.host()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(ip) => Some(ip.to_string()),
        Err(_) => Some(host.to_ascii_lowercase()),
    }
}

/// DATA_DIR/secrets/api-tls.{crt,key}, made on first use and kept: clients that were told to
/// trust the certificate must not be broken by a restart. Deleting both makes a new one.
fn self_signed(data_dir: &Path, names: &[String]) -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = data_dir.join("secrets");
    let (cert_path, key_path) = (dir.join("api-tls.crt"), dir.join("api-tls.key"));
    if cert_path.exists() && key_path.exists() {
        return Ok((cert_path, key_path));
    }
    let failed = |e: rcgen::Error| anyhow!("cannot make a self-signed API certificate: {e}");
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(failed)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "paas API");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "paas (self-signed)");
    let key = rcgen::KeyPair::generate().map_err(failed)?;
    let cert = params.self_signed(&key).map_err(failed)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write_new(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
    write_new(&cert_path, cert.pem().as_bytes(), 0o644)?;
    tracing::info!(
        certificate = %cert_path.display(),
        names = ?names,
        "generated a self-signed certificate for the API (clients trust it with PAAS_CA_FILE, git with http.sslCAInfo)"
    );
    Ok((cert_path, key_path))
}

/// Writes through a temporary file and a rename, so a crash never leaves half a key behind to
/// be reused on the next start.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    written.with_context(|| format!("cannot write {}", path.display()))
}

fn server_config(cert_path: &Path, key_path: &Path) -> anyhow::Result<rustls::ServerConfig> {
    let read = |path: &Path, what: &str| {
        std::fs::read(path)
            .with_context(|| format!("cannot read the API's TLS {what} {}", path.display()))
    };
    let cert_pem = read(cert_path, "certificate")?;
    let key_pem = read(key_path, "key")?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("{} is not a PEM certificate: {e}", cert_path.display()))?;
    if chain.is_empty() {
        bail!("no PEM certificate in {}", cert_path.display());
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            anyhow!("no PEM private key in {}", key_path.display())
        }
        e => anyhow!("{} is not a PEM private key: {e}", key_path.display()),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS setup")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            anyhow!(
                "the API's TLS key {} does not go with its certificate {}: {e}",
                key_path.display(),
                cert_path.display()
            )
        })?;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(server)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_api_urls() {
        assert_eq!(
            url_host("https://Paas.Example.com:7000/").as_deref(),
            Some("paas.example.com")
        );
        assert_eq!(url_host("https://[::1]:7000").as_deref(), Some("::1"));
        assert_eq!(url_host("http://10.0.0.2").as_deref(), Some("10.0.0.2"));
        assert_eq!(url_host("not a url"), None);
    }

    #[test]
    fn generated_certificate_is_kept_and_its_key_private() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let (cert, key) = self_signed(dir.path(), &names).unwrap();
        let first = std::fs::read(&cert).unwrap();
        server_config(&cert, &key).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        self_signed(dir.path(), &names).unwrap();
        assert_eq!(std::fs::read(&cert).unwrap(), first, "reused, not remade");
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let names = vec!["localhost".to_string()];
        let (cert, _) = self_signed(a.path(), &names).unwrap();
        let (_, key) = self_signed(b.path(), &names).unwrap();
        let e = server_config(&cert, &key).unwrap_err().to_string();
        assert!(e.contains("does not go with"), "{e}");
        let e = server_config(&cert, &a.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read the API's TLS key"), "{e}");
    }
}
