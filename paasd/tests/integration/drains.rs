//! Log drains: a real rsyslog gets lines over TCP; TLS syslog and HTTPS (logplex frames)
//! receivers get them over TLS; a dead drain slows nothing and its losses are told.

use std::path::Path;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use paas_testkit::eventually;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::support::{checkout_for, fails, ok, platform_with, push, served, set_procfile};

/// rsyslogd listening on TCP `port`, writing `HOST APP-NAME PROCID MSG` lines to `out`.
struct Rsyslog(Child);

impl Rsyslog {
    fn start(dir: &Path, port: u16) -> Rsyslog {
        let out = dir.join("received.log");
        let conf = dir.join("rsyslog.conf");
        std::fs::write(
            &conf,
            format!(
                r#"global(workDirectory="{dir}")
module(load="imtcp")
template(name="raw" type="string" string="%HOSTNAME% %APP-NAME% %PROCID% %msg%\n")
ruleset(name="paas") {{ action(type="omfile" file="{out}" template="raw") }}
input(type="imtcp" port="{port}" ruleset="paas")
"#,
                dir = dir.display(),
                out = out.display()
            ),
        )
        .unwrap();
        let child = Command::new("rsyslogd")
            .args(["-n", "-f"])
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .spawn()
            .expect("rsyslogd (Debian package rsyslog) runs");
        let up = eventually(
            Duration::from_secs(10),
            || match std::net::TcpStream::connect(("127.0.0.1", port)) {
                Ok(_) => Ok(()),
                Err(_) => Err(None),
            },
        );
        assert!(up.is_ok(), "rsyslogd listens");
        Rsyslog(child)
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_real_rsyslog_receives_the_apps_lines() {
    let p = platform_with(&[]);
    let checkout = checkout_for(&p, "drained");
    ok(&p, push(checkout.path()));
    served(&p, "drained.localhost");

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _rsyslog = Rsyslog::start(dir.path(), port);
    let url = format!("syslog://127.0.0.1:{port}");
    ok(&p, p.paas(&["drains:add", &url, "-a", "drained"]));
    assert!(ok(&p, p.paas(&["drains", "-a", "drained"])).contains(&url));
    let err = fails(p.paas(&["drains:add", "ftp://nowhere", "-a", "drained"]));
    assert!(err.contains("invalid drain URL"), "{err}");

    let _ = p.get_via_router("drained.localhost", "/?via=rsyslog");
    let received = eventually(Duration::from_secs(15), || {
        let got = std::fs::read_to_string(dir.path().join("received.log")).unwrap_or_default();
        let app = got
            .lines()
            .any(|l| l.starts_with("drained app web.1 ") && l.contains("GET /?via=rsyslog"));
        let router = got
            .lines()
            .any(|l| l.starts_with("drained router router ") && l.contains("via=rsyslog"));
        if app && router {
            Ok(got)
        } else {
            Err(None)
        }
    });
    assert!(
        received.is_ok(),
        "rsyslog got: {:?}",
        std::fs::read_to_string(dir.path().join("received.log"))
    );

    ok(&p, p.paas(&["drains:remove", &url, "-a", "drained"]));
    assert!(!ok(&p, p.paas(&["drains", "-a", "drained"])).contains(&url));
}

/// A self-signed certificate for `localhost`: (cert PEM, key PEM).
fn certificate() -> (String, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    (cert.cert.pem(), cert.signing_key.serialize_pem())
}

fn acceptor(cert_pem: &str, key_pem: &str) -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = vec![CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// Octet-counted syslog frames over TLS, collected.
async fn syslog_tls_receiver(
    listener: tokio::net::TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    got: Arc<Mutex<Vec<String>>>,
) {
    while let Ok((tcp, _)) = listener.accept().await {
        let (tls, got) = (tls.clone(), got.clone());
        tokio::spawn(async move {
            let Ok(stream) = tls.accept(tcp).await else {
                return;
            };
            let mut r = BufReader::new(stream);
            loop {
                let mut len = Vec::new();
                if r.read_until(b' ', &mut len).await.unwrap_or(0) == 0 {
                    return;
                }
                let n: usize = String::from_utf8_lossy(&len).trim().parse().unwrap();
                let mut msg = vec![0; n];
                if r.read_exact(&mut msg).await.is_err() {
                    return;
                }
                got.lock().unwrap().push(String::from_utf8(msg).unwrap());
            }
        });
    }
}

/// One POST a drain sent: its head and body.
type Post = (String, Vec<u8>);

/// HTTPS POSTs (headers, body) collected; answers 200.
async fn https_receiver(
    listener: tokio::net::TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    got: Arc<Mutex<Vec<Post>>>,
) {
    while let Ok((tcp, _)) = listener.accept().await {
        let (tls, got) = (tls.clone(), got.clone());
        tokio::spawn(async move {
            let Ok(stream) = tls.accept(tcp).await else {
                return;
            };
            let mut r = BufReader::new(stream);
            loop {
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                let mut body = vec![0; length];
                r.read_exact(&mut body).await.unwrap();
                got.lock().unwrap().push((head, body));
                r.get_mut()
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await
                    .unwrap();
            }
        });
    }
}

/// Splits a logplex body (`LEN MSG` repeated) into its messages.
fn frames(mut body: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let space = body.iter().position(|b| *b == b' ').unwrap();
        let n: usize = std::str::from_utf8(&body[..space])
            .unwrap()
            .parse()
            .unwrap();
        out.push(String::from_utf8(body[space + 1..space + 1 + n].to_vec()).unwrap());
        body = &body[space + 1 + n..];
    }
    out
}

#[test]
fn tls_syslog_and_https_drains_get_every_source() {
    let (cert, key) = certificate();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &cert).unwrap();
    let p = platform_with(&[("PAAS_DRAIN_CA_BUNDLE", ca.to_str().unwrap())]);
    let checkout = checkout_for(&p, "shipped");
    ok(&p, push(checkout.path()));
    served(&p, "shipped.localhost");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let syslog = Arc::new(Mutex::new(Vec::new()));
    let https = Arc::new(Mutex::new(Vec::new()));
    let (syslog_port, https_port) = rt.block_on(async {
        let a = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let b = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ports = (
            a.local_addr().unwrap().port(),
            b.local_addr().unwrap().port(),
        );
        tokio::spawn(syslog_tls_receiver(
            a,
            acceptor(&cert, &key),
            syslog.clone(),
        ));
        tokio::spawn(https_receiver(b, acceptor(&cert, &key), https.clone()));
        ports
    });
    ok(
        &p,
        p.paas(&[
            "drains:add",
            &format!("syslog+tls://localhost:{syslog_port}"),
            "-a",
            "shipped",
        ]),
    );
    ok(
        &p,
        p.paas(&[
            "drains:add",
            &format!("https://localhost:{https_port}/logs"),
            "-a",
            "shipped",
        ]),
    );
    ok(&p, p.paas(&["config:set", "SHIPPED=1", "-a", "shipped"]));
    let _ = p.get_via_router("shipped.localhost", "/?via=drain");

    let wanted = [
        "shipped app web.1 - - hello-docker: GET /?via=drain",
        "shipped router router - - at=info",
        "shipped platform platform - - Release v2 is live",
    ];
    let tls_ok = eventually(Duration::from_secs(15), || {
        let got = syslog.lock().unwrap().clone();
        if wanted.iter().all(|w| {
            got.iter()
                .any(|m| m.starts_with("<190>1 ") && m.contains(w))
        }) {
            Ok(())
        } else {
            Err(None)
        }
    });
    assert!(
        tls_ok.is_ok(),
        "syslog+tls got: {:#?}",
        syslog.lock().unwrap()
    );

    let https_ok = eventually(Duration::from_secs(15), || {
        let got = https.lock().unwrap().clone();
        let messages: Vec<String> = got.iter().flat_map(|(_, body)| frames(body)).collect();
        let app = messages
            .iter()
            .any(|m| m.contains(" shipped app web.1 - hello-docker: GET /?via=drain"));
        if app {
            Ok(got)
        } else {
            Err(None)
        }
    });
    let posts = https_ok.unwrap_or_else(|e| panic!("{e}: {:?}", https.lock().unwrap()));
    for (head, body) in &posts {
        let lower = head.to_ascii_lowercase();
        assert!(lower.starts_with("post /logs http/1.1"), "{head}");
        assert!(
            lower.contains("content-type: application/logplex-1"),
            "{head}"
        );
        let count = lower
            .lines()
            .find_map(|l| l.strip_prefix("logplex-msg-count:"))
            .unwrap()
            .trim()
            .parse::<usize>()
            .unwrap();
        assert_eq!(count, frames(body).len(), "{head}");
    }
}

#[test]
fn a_dead_drain_slows_nothing_and_its_losses_are_told() {
    let p = platform_with(&[]);
    let checkout = checkout_for(&p, "noisy");
    let flood = "i=0; while [ $i -lt 30000 ]; do echo flood $i; i=$((i+1)); done; sleep 600";
    set_procfile(
        checkout.path(),
        &format!("web: /app/start\nflood: {flood}\n"),
    );
    ok(&p, push(checkout.path()));
    served(&p, "noisy.localhost");
    // Nothing listens on port 1.
    ok(
        &p,
        p.paas(&["drains:add", "syslog://127.0.0.1:1", "-a", "noisy"]),
    );
    ok(&p, p.paas(&["scale", "flood=1", "-a", "noisy"]));

    let told = eventually(Duration::from_secs(30), || {
        let logs = ok(&p, p.paas(&["logs", "--source", "platform", "-a", "noisy"]));
        match logs
            .lines()
            .any(|l| l.contains("lines were not sent to drain syslog://127.0.0.1:1"))
        {
            true => Ok(()),
            false => Err(None),
        }
    });
    assert!(
        told.is_ok(),
        "{}\n--- paasd log ---\n{}",
        ok(&p, p.paas(&["logs", "--source", "platform", "-a", "noisy"])),
        p.log()
    );
    // Meanwhile the stream kept every line and the app kept answering.
    let all = eventually(Duration::from_secs(30), || {
        let logs = ok(
            &p,
            p.paas(&["logs", "-n", "5", "--ps", "flood.1", "-a", "noisy"]),
        );
        if logs.contains("flood 29999") {
            Ok(())
        } else {
            Err(None)
        }
    });
    assert!(all.is_ok(), "the last line reached the stream");
    let t = std::time::Instant::now();
    served(&p, "noisy.localhost");
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "the app answers promptly"
    );
}
