//! The API listener over HTTPS: a generated self-signed certificate kept across restarts, or a
//! given one; `git push` and the CLI over https; paasd's own callers (the git hook) still
//! reaching it; and clear failures when TLS is misconfigured or not trusted.

use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::Arc;

use paas_testkit::{bin, git, Platform};
use rustls::pki_types::{CertificateDer, ServerName};

use crate::startup::{one_line_reason, refuses};
use crate::support::{checkout_for, fails, ok, served, text};

/// `git` trusting the platform's certificate, as a user would configure it.
fn git_trusting(p: &Platform, dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let ca = p.ca_file.as_ref().expect("an https platform");
    Command::new("git")
        .arg("-c")
        .arg(format!("http.sslCAInfo={}", ca.display()))
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        // It would override http.sslCAInfo (some hosts set it for everything).
        .env_remove("GIT_SSL_CAINFO")
        .output()
        .expect("run git")
}

#[test]
fn push_and_cli_over_https_with_a_generated_certificate() {
    let mut p = Platform::start_tls(&[]).expect("paasd starts with TLS");
    assert!(p.api_url.starts_with("https://"), "{}", p.api_url);
    let token = p.register_admin().expect("register over https");
    let checkout = checkout_for(&p, "tls-hello");

    // The app's git URL is https, and `paas git:remote` put it in the remote.
    let remote = git(checkout.path(), &["remote", "get-url", "platform"]);
    let remote = String::from_utf8_lossy(&remote.stdout).trim().to_string();
    assert!(
        remote.starts_with("https://paas:") && remote.ends_with("/tls-hello.git"),
        "{remote}"
    );

    // The push runs the pre-receive hook, which calls back into paasd over its internal
    // address: the build, release and deploy all happen.
    let out = git_trusting(&p, checkout.path(), &["push", "platform", "master"]);
    let log = text(&out);
    assert!(
        out.status.success(),
        "push over https failed: {log}\n--- paasd log ---\n{}",
        p.log()
    );
    let body = served(&p, "tls-hello.localhost");
    assert!(body.contains("hello from web.1 release=v1"), "{body}");

    // A one-off process attaches over a WebSocket through the same TLS listener, trusting
    // PAAS_CA_FILE too.
    let out = p.paas(&[
        "run",
        "-a",
        "tls-hello",
        "--",
        "echo attached $DYNO; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}\n{}", text(&out), p.log());
    assert!(text(&out).contains("attached run.1"), "{}", text(&out));

    // What the contract's TLS is for: git asks a credential helper for the token, which
    // helpers only answer over https.
    let bare = remote.replacen(&format!("paas:{token}@"), "", 1);
    assert!(!bare.contains(&token), "{bare}");
    let helper =
        format!("credential.helper=!f() {{ echo username=paas; echo password={token}; }}; f");
    let out = git_trusting(&p, checkout.path(), &["-c", &helper, "ls-remote", &bare]);
    assert!(
        out.status.success() && text(&out).contains("refs/heads/master"),
        "ls-remote with a credential helper: {}",
        text(&out)
    );

    // Without trusting the certificate, git refuses.
    let out = git(checkout.path(), &["ls-remote", "platform"]);
    assert!(!out.status.success(), "{}", text(&out));

    // Plain HTTP to the TLS port gets an answer saying so, not the API.
    let res = reqwest::blocking::get(format!("http://{}/apps", p.api_addr)).unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let body = res.text().unwrap();
    assert!(body.contains("HTTPS"), "{body}");

    // The CLI without PAAS_CA_FILE: a clear error naming the fix.
    let out = Command::new(bin("paas"))
        .arg("apps")
        .env("HOME", p.home.path())
        .env("PAAS_API_URL", &p.api_url)
        .env("PAAS_TOKEN", &token)
        .env_remove("PAAS_CA_FILE")
        .output()
        .unwrap();
    let err = fails(out);
    assert!(
        err.contains("not trusted") && err.contains("PAAS_CA_FILE"),
        "{err}"
    );
    // An http:// URL pointed at the TLS port says to use https.
    let out = Command::new(bin("paas"))
        .arg("apps")
        .env("HOME", p.home.path())
        .env("PAAS_API_URL", format!("http://{}", p.api_addr))
        .env("PAAS_TOKEN", &token)
        .output()
        .unwrap();
    let err = fails(out);
    assert!(err.contains("use an https:// URL"), "{err}");

    // The generated certificate and its key stay: clients trusting it keep working.
    let secrets = p.data_dir.path().join("secrets");
    let cert = std::fs::read(secrets.join("api-tls.crt")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let key_mode = std::fs::metadata(secrets.join("api-tls.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);
    p.restart().expect("paasd restarts");
    assert_eq!(std::fs::read(secrets.join("api-tls.crt")).unwrap(), cert);
    let apps = ok(&p, p.paas(&["apps"]));
    assert!(apps.contains("tls-hello"), "{apps}");
}

/// The certificate the server at `addr` presents, trusting only `trusted`.
fn served_certificate(
    addr: SocketAddr,
    trusted: &CertificateDer<'static>,
) -> CertificateDer<'static> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut tcp = TcpStream::connect(addr).unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).expect("TLS handshake");
    }
    conn.peer_certificates().expect("a certificate")[0]
        .clone()
        .into_owned()
}

#[test]
fn serves_a_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let given =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert, key) = (dir.path().join("api.crt"), dir.path().join("api.key"));
    std::fs::write(&cert, given.cert.pem()).unwrap();
    std::fs::write(&key, given.signing_key.serialize_pem()).unwrap();

    let mut p = Platform::start_with(&[
        ("PAAS_API_TLS_CERT", cert.to_str().unwrap()),
        ("PAAS_API_TLS_KEY", key.to_str().unwrap()),
    ])
    .expect("paasd starts with the given certificate");
    assert!(p.api_url.starts_with("https://"), "{}", p.api_url);
    let served = served_certificate(p.api_addr, given.cert.der());
    assert_eq!(&served, given.cert.der(), "the given certificate is served");
    assert!(
        !p.data_dir.path().join("secrets/api-tls.crt").exists(),
        "no certificate is generated when one is given"
    );
    // The CLI trusts it through PAAS_CA_FILE (the harness sets it to the given certificate).
    p.register_admin().expect("register over https");
    ok(&p, p.paas(&["apps:create", "tls-given"]));
}

#[test]
fn refuses_to_start_with_unusable_tls_files() {
    let dir = tempfile::tempdir().unwrap();
    let write_pair = |name: &str| {
        let pair = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert = dir.path().join(format!("{name}.crt"));
        let key = dir.path().join(format!("{name}.key"));
        std::fs::write(&cert, pair.cert.pem()).unwrap();
        std::fs::write(&key, pair.signing_key.serialize_pem()).unwrap();
        (cert, key)
    };
    let (cert, _) = write_pair("a");
    let (_, other_key) = write_pair("b");

    let out = refuses(|c| {
        c.env("PAAS_API_TLS_CERT", &cert)
            .env("PAAS_API_TLS_KEY", "/nonexistent/api.key");
    });
    one_line_reason(&out, "cannot read the API's TLS key /nonexistent/api.key");

    let out = refuses(|c| {
        c.env("PAAS_API_TLS_CERT", &cert)
            .env("PAAS_API_TLS_KEY", &other_key);
    });
    one_line_reason(&out, "does not go with its certificate");

    let out = refuses(|c| {
        c.env("PAAS_API_TLS_CERT", &other_key)
            .env("PAAS_API_TLS_KEY", &other_key);
    });
    one_line_reason(&out, "no PEM certificate in");

    let out = refuses(|c| {
        c.env("PAAS_API_TLS_CERT", &cert);
    });
    one_line_reason(&out, "needs --api-tls-key");
}
