//! HTTPS: certificates by SNI, the self-signed fallback, hot swaps, HTTP/2 (checked with curl,
//! as a user would).

use std::path::Path;

use paas_router::{AppRoute, CertEntry};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
};

use crate::support::{backend, processes, start_router, TestRouter};

struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

fn test_ca() -> TestCa {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Leaf and CA must differ in name, or verifiers take the leaf for self-signed.
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "paas router test CA");
    let key = KeyPair::generate().unwrap();
    let pem = params.self_signed(&key).unwrap().pem();
    TestCa {
        issuer: Issuer::new(params, key),
        pem,
    }
}

fn leaf(ca: &TestCa, names: &[&str]) -> CertEntry {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    CertEntry {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// Runs curl against the router's TLS port for `host`; (exit code, body, HTTP version).
async fn curl(
    r: &TestRouter,
    ca: &Path,
    host: &str,
    path: &str,
    extra: &[&str],
) -> (i32, String, String) {
    let port = r.tls_addr.port();
    let output = tokio::process::Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(ca)
        .arg("--resolve")
        .arg(format!("{host}:{port}:127.0.0.1"))
        .args(extra)
        .args(["-w", "\n%{http_version}"])
        .arg(format!("https://{host}:{port}{path}"))
        .output()
        .await
        .expect("curl runs (deploy/test.sh installs it)");
    let mut stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        // The reason, for assertion messages.
        stdout = format!("{}\n", String::from_utf8_lossy(&output.stderr).trim());
    }
    let (body, version) = stdout.rsplit_once('\n').unwrap_or(("", ""));
    (
        output.status.code().unwrap_or(-1),
        body.to_owned(),
        version.to_owned(),
    )
}

#[tokio::test]
async fn certificates_are_chosen_by_sni_and_swapped_live() {
    let r = start_router().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = test_ca();
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, &ca.pem).unwrap();

    let mut one = AppRoute::new(processes(1, &[backend("backend-one").await]));
    one.domains = vec!["www.one.test".into()];
    let mut two = AppRoute::new(processes(1, &[backend("backend-two").await]));
    two.domains = vec!["*.two.test".into()];
    r.router.set_route("one", one);
    r.router.set_route("two", two);

    // Only the first certificate: the second host gets the fallback, which the CA did not sign.
    let problems = r
        .router
        .set_certificates(vec![leaf(&ca, &["www.one.test"])]);
    assert!(problems.is_empty(), "{problems:?}");
    let (code, body, _) = curl(&r, &ca_path, "www.one.test", "/", &[]).await;
    assert_eq!((code, body.as_str()), (0, "backend-one"));
    let (code, _, _) = curl(&r, &ca_path, "api.two.test", "/", &[]).await;
    assert_eq!(
        code, 60,
        "curl must refuse the fallback certificate for api.two.test"
    );

    // Both, without a restart: each host gets its own.
    let problems = r.router.set_certificates(vec![
        leaf(&ca, &["www.one.test"]),
        leaf(&ca, &["*.two.test"]),
    ]);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(r.router.certificates().len(), 2);
    for (host, expected) in [
        ("www.one.test", "backend-one"),
        ("api.two.test", "backend-two"),
    ] {
        let (code, body, _) = curl(&r, &ca_path, host, "/", &[]).await;
        assert_eq!((code, body.as_str()), (0, expected), "{host}");
    }
    // The one.test certificate does not cover two.test's hosts and vice versa: SNI decided.
    let (code, _, _) = curl(&r, &ca_path, "www.two.test", "/", &["--http1.1"]).await;
    assert_eq!(code, 0);

    // Requests arrive at the app marked as HTTPS.
    let (_, headers, _) = curl(&r, &ca_path, "www.one.test", "/headers", &[]).await;
    assert!(headers.contains("x-forwarded-proto: https"), "{headers}");
    assert!(
        headers.contains(&format!("x-forwarded-port: {}", r.tls_addr.port())),
        "{headers}"
    );
    r.stop().await;
}

#[tokio::test]
async fn app_domains_get_the_self_signed_fallback_and_http2() {
    let r = start_router().await;
    let dir = tempfile::tempdir().unwrap();
    let fallback = dir.path().join("fallback.pem");
    std::fs::write(&fallback, r.router.fallback_certificate_pem()).unwrap();
    r.router.set_route(
        "web",
        AppRoute::new(processes(1, &[backend("backend-web").await])),
    );

    let (code, body, version) = curl(&r, &fallback, "web.paas.test", "/", &["--http2"]).await;
    assert_eq!(
        (code, body.as_str(), version.as_str()),
        (0, "backend-web", "2")
    );
    let (code, body, version) = curl(&r, &fallback, "web.paas.test", "/", &["--http1.1"]).await;
    assert_eq!(
        (code, body.as_str(), version.as_str()),
        (0, "backend-web", "1.1")
    );

    // A large body over HTTP/2 streams both ways intact.
    let upload = dir.path().join("upload");
    std::fs::write(&upload, vec![b'z'; 3 * 1024 * 1024]).unwrap();
    let data = format!("@{}", upload.display());
    let (code, body, version) = curl(
        &r,
        &fallback,
        "web.paas.test",
        "/count",
        &["--http2", "--data-binary", &data],
    )
    .await;
    assert_eq!((code, body.as_str(), version.as_str()), (0, "3145728", "2"));

    // Unknown hosts get the 404 page over HTTP/2 too.
    let (code, body, _) = curl(&r, &fallback, "nope.paas.test", "/", &["--http2"]).await;
    assert_eq!(code, 0);
    assert!(
        body.contains("No app is configured at nope.paas.test"),
        "{body}"
    );
    r.stop().await;
}

#[tokio::test]
async fn unusable_certificates_are_reported_and_the_rest_served() {
    let r = start_router().await;
    let ca = test_ca();
    let good = leaf(&ca, &["good.example.com"]);
    let other = leaf(&ca, &["good.example.com"]);
    let mismatched = CertEntry {
        cert_pem: good.cert_pem.clone(),
        key_pem: other.key_pem.clone(),
    };
    let garbage = CertEntry {
        cert_pem: "not a pem".into(),
        key_pem: "nor this".into(),
    };
    let problems = r.router.set_certificates(vec![mismatched, good, garbage]);
    let problems: Vec<(usize, String)> = problems
        .into_iter()
        .map(|(i, e)| (i, e.to_string()))
        .collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(problems[0].0, 0);
    assert!(problems[0].1.contains("does not belong"), "{problems:?}");
    assert_eq!(problems[1].0, 2);
    assert_eq!(r.router.certificates().len(), 1);
    assert_eq!(r.router.certificates()[0].names, ["good.example.com"]);
    r.stop().await;
}

#[tokio::test]
async fn idle_http2_connections_are_closed() {
    let r = start_router().await;
    r.router.set_route(
        "web",
        AppRoute::new(processes(1, &[backend("backend-web").await])),
    );
    let mut settings = r.router.settings();
    settings.http2_idle_timeout = std::time::Duration::from_millis(400);
    r.router.set_settings(settings);

    let (mut sender, conn) = r.http2("web.paas.test").await;

    // Requests keep it open...
    for _ in 0..4 {
        let request = http::Request::get("https://web.paas.test/")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(&body[..], b"backend-web");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(!conn.is_finished(), "a busy connection stays open");
    // ...and silence closes it.
    tokio::time::timeout(std::time::Duration::from_secs(5), conn)
        .await
        .expect("the router closes an idle HTTP/2 connection")
        .unwrap()
        .unwrap();
    r.stop().await;
}
