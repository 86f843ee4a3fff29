//! Drains: each app's lines forwarded to syslog (RFC 5424 over TCP with octet counting, plain
//! or TLS) or HTTPS (batched POSTs in Heroku's `application/logplex-1` framing). A drain has a
//! bounded queue: one that is down or slow loses lines (counted, and told in the app's log)
//! instead of slowing the app or the platform.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::line::LogLine;

/// Where a drain sends lines, from its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Syslog { host: String, port: u16, tls: bool },
    Https { url: String },
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, String> {
        let bad = |why: &str| format!("invalid drain URL {url:?}: {why}");
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("use syslog://HOST:PORT, syslog+tls://HOST:PORT or https://..."))?;
        match scheme {
            "syslog" | "syslog+tcp" | "syslog+tls" => {
                let authority = rest.trim_end_matches('/');
                let (host, port) = authority
                    .rsplit_once(':')
                    .ok_or_else(|| bad("give a port, e.g. syslog://logs.example.com:514"))?;
                let port: u16 = port.parse().map_err(|_| bad("the port is not a number"))?;
                let host = host.trim_start_matches('[').trim_end_matches(']');
                if host.is_empty() || port == 0 || host.contains(['/', '@', ' ']) {
                    return Err(bad("give a host and a port"));
                }
                Ok(Target::Syslog {
                    host: host.to_string(),
                    port,
                    tls: scheme == "syslog+tls",
                })
            }
            "https" | "http" => {
                if rest.is_empty() || rest.starts_with('/') || rest.contains(' ') {
                    return Err(bad("give a host"));
                }
                Ok(Target::Https {
                    url: url.to_string(),
                })
            }
            _ => Err(bad("use syslog://, syslog+tls:// or https://")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DrainSettings {
    /// Certificates trusted for TLS drains (the host's bundle by default, so a corporate CA works).
    pub ca_bundle: PathBuf,
    /// Lines a drain may fall behind before it loses some.
    pub queue: usize,
}

impl Default for DrainSettings {
    fn default() -> Self {
        DrainSettings {
            ca_bundle: PathBuf::from("/etc/ssl/certs/ca-certificates.crt"),
            queue: 10_000,
        }
    }
}

pub struct Drain {
    pub id: String,
    pub url: String,
    queue: mpsc::Sender<Arc<LogLine>>,
    dropped: AtomicU64,
    told: AtomicU64,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Drain {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Drain {
    /// Starts forwarding; `app` names the stream (the syslog HOSTNAME).
    pub fn start(
        app: &str,
        id: &str,
        url: &str,
        settings: &DrainSettings,
    ) -> Result<Arc<Drain>, String> {
        let target = Target::parse(url)?;
        let (tx, rx) = mpsc::channel(settings.queue.max(1));
        let sender = Sender {
            app: app.to_string(),
            target,
            ca_bundle: settings.ca_bundle.clone(),
        };
        let drain = Arc::new_cyclic(|weak: &std::sync::Weak<Drain>| {
            let weak = weak.clone();
            let task = tokio::spawn(async move { sender.run(rx, weak).await });
            Drain {
                id: id.to_string(),
                url: url.to_string(),
                queue: tx,
                dropped: AtomicU64::new(0),
                told: AtomicU64::new(0),
                task,
            }
        });
        Ok(drain)
    }

    /// Never waits.
    pub fn offer(&self, line: &Arc<LogLine>) {
        if self.queue.try_send(line.clone()).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn lost(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// Lines lost since the last call, if any (for the app's `platform` warning).
    pub fn newly_dropped(&self) -> Option<u64> {
        let dropped = self.dropped.load(Ordering::Relaxed);
        let told = self.told.swap(dropped, Ordering::Relaxed);
        (dropped > told).then(|| dropped - told)
    }
}

struct Sender {
    app: String,
    target: Target,
    ca_bundle: PathBuf,
}

const BATCH: usize = 500;
const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl Sender {
    async fn run(self, mut rx: mpsc::Receiver<Arc<LogLine>>, drain: std::sync::Weak<Drain>) {
        let lost = |n: usize| {
            if let Some(d) = drain.upgrade() {
                d.lost(n as u64);
            }
        };
        match &self.target {
            Target::Syslog { host, port, tls } => {
                self.syslog(host, *port, *tls, &mut rx, lost).await
            }
            Target::Https { url } => self.https(url, &mut rx, lost).await,
        }
    }

    async fn syslog(
        &self,
        host: &str,
        port: u16,
        tls: bool,
        rx: &mut mpsc::Receiver<Arc<LogLine>>,
        lost: impl Fn(usize),
    ) {
        let mut backoff = Duration::from_millis(500);
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let mut conn = match tls::connect(host, port, tls, &self.ca_bundle).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::debug!(app = %self.app, host, port, error = %e, "drain unreachable");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            backoff = Duration::from_millis(500);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                let mut frames = Vec::with_capacity(batch.len() * 128);
                for line in &batch {
                    let msg = syslog_message(&self.app, line, true);
                    frames.extend_from_slice(format!("{} {msg}", msg.len()).as_bytes());
                }
                let sent = batch.len();
                batch.clear();
                if let Err(e) = conn.write_all(&frames).await {
                    tracing::debug!(app = %self.app, error = %e, "drain connection lost");
                    lost(sent);
                    break;
                }
            }
            if rx.is_closed() {
                return;
            }
        }
    }

    async fn https(&self, url: &str, rx: &mut mpsc::Receiver<Arc<LogLine>>, lost: impl Fn(usize)) {
        let client = match tls::https_client(&self.ca_bundle) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(app = %self.app, error = %e, "drain client");
                return;
            }
        };
        let mut batch = Vec::with_capacity(BATCH);
        let mut frame_id: u64 = 0;
        while rx.recv_many(&mut batch, BATCH).await > 0 {
            let mut body = Vec::with_capacity(batch.len() * 128);
            for line in &batch {
                let msg = syslog_message(&self.app, line, false);
                body.extend_from_slice(format!("{} {msg}", msg.len()).as_bytes());
            }
            frame_id += 1;
            let sent = client
                .post(url)
                .header("Content-Type", "application/logplex-1")
                .header("Logplex-Msg-Count", batch.len().to_string())
                .header("Logplex-Frame-Id", frame_id.to_string())
                .header("Logplex-Drain-Token", format!("d.{}", self.app))
                .body(body)
                .send()
                .await;
            match sent {
                Ok(res) if res.status().is_success() => {}
                Ok(res) => {
                    tracing::debug!(app = %self.app, status = %res.status(), "drain refused a batch");
                    lost(batch.len());
                }
                Err(e) => {
                    tracing::debug!(app = %self.app, error = %e, "drain unreachable");
                    lost(batch.len());
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            batch.clear();
        }
    }
}

/// `<190>1 TIME HOST APP-NAME PROCID MSGID [SD] MSG`: local7.info, the app as the host, the
/// source as the app name (Heroku's drains say `app` and `heroku`), the process as PROCID.
/// Heroku's HTTPS drains leave out the structured-data field; syslog drains carry `-`.
pub fn syslog_message(app: &str, line: &LogLine, structured_data: bool) -> String {
    let procid = line.process.as_deref().unwrap_or(line.source.as_str());
    let sd = if structured_data { " -" } else { "" };
    let message = line.message.replace(['\n', '\r'], " ");
    format!(
        "<190>1 {} {app} {} {procid} -{sd} {message}",
        line.time.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
        line.source.as_str()
    )
}

mod tls {
    use std::path::Path;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::time::Duration;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use tokio::io::AsyncWrite;

    pub type Conn = Pin<Box<dyn AsyncWrite + Send>>;

    const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

    fn roots(bundle: &Path) -> Result<rustls::RootCertStore, String> {
        let mut roots = rustls::RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(bundle)
            .map_err(|e| format!("CA bundle {}: {e}", bundle.display()))?;
        for cert in certs.flatten() {
            let _ = roots.add(cert);
        }
        Ok(roots)
    }

    pub async fn connect(host: &str, port: u16, tls: bool, bundle: &Path) -> Result<Conn, String> {
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, super::TcpStream::connect((host, port)))
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        if !tls {
            return Ok(Box::pin(tcp));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots(bundle)?)
            .with_no_client_auth();
        let name = ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
        let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        Ok(Box::pin(stream))
    }

    pub fn https_client(bundle: &Path) -> Result<reqwest::Client, String> {
        let pem =
            std::fs::read(bundle).map_err(|e| format!("CA bundle {}: {e}", bundle.display()))?;
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(CONNECT_TIMEOUT)
            .tls_built_in_root_certs(false);
        for cert in reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| e.to_string())? {
            builder = builder.add_root_certificate(cert);
        }
        builder.build().map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::Source;

    #[test]
    fn drain_urls() {
        assert_eq!(
            Target::parse("syslog+tls://logs.example.com:6514").unwrap(),
            Target::Syslog {
                host: "logs.example.com".into(),
                port: 6514,
                tls: true
            }
        );
        assert_eq!(
            Target::parse("syslog://127.0.0.1:514").unwrap(),
            Target::Syslog {
                host: "127.0.0.1".into(),
                port: 514,
                tls: false
            }
        );
        assert!(matches!(
            Target::parse("https://h.example/logs?t=1").unwrap(),
            Target::Https { .. }
        ));
        for bad in [
            "",
            "logs.example.com:514",
            "syslog://host",
            "syslog://:514",
            "syslog://h:x",
            "ftp://h/x",
            "https://",
            "syslog://h:0",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rfc5424_messages() {
        let mut l = LogLine::new(Source::App, Some("web.1".into()), "hello\nworld");
        l.time = chrono::DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            syslog_message("shop", &l, true),
            "<190>1 2026-11-22T10:00:00.000000Z shop app web.1 - - hello world"
        );
        let r = LogLine {
            process: None,
            source: Source::Router,
            ..l
        };
        assert_eq!(
            syslog_message("shop", &r, false),
            "<190>1 2026-11-22T10:00:00.000000Z shop router router - hello world"
        );
    }
}
